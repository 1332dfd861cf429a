/**
 * Finding the run to resume and reconciling variant names with older run files.
 *
 * Variant naming (one rule everywhere: CLI, editor, engine host): an adapter variant is named after the adapter,
 * i.e. its folder's name (`demo-narrow-r1`, `demo-narrow-r1@0.5`). The CLI's `adapter` is an alias for the first
 * adapter and is written under that adapter's name. Run files written before this rule by the CLI name the
 * variant `adapter` (`adapter@0.5`, `adapter+ablate:…`): resuming such a file keeps its names
 * (adoptLegacyVariantNames), so a plain re-run completes it instead of failing on a variant mismatch.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { parsePromptSet } from '../prompts/promptSet';
import { runCompleteness, type RunCompleteness } from './completeness';
import type { RunContents } from './parse';
import { readRun } from './reader';
import { wantedCells, wantedRowCount } from './resume';
import type { RunHeader, VariantSpec } from './schema';

/** The first line of a run file, parsed (read in 64 KiB chunks up to the first newline). */
export function readHeaderLine(file: string): RunHeader {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      const nl = buf.subarray(0, n).indexOf(10);
      chunks.push(Buffer.from(buf.subarray(0, nl >= 0 ? nl : n)));
      if (nl >= 0) break;
      pos += n;
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as RunHeader;
  } finally {
    closeSync(fd);
  }
}

/** Planned samples of an older header (no extra.planned_samples) from its prompt set, when that file is unchanged. */
export function expectedFromPromptSet(header: RunHeader): number | null {
  const file = header.prompt_set?.path;
  if (!file || !existsSync(file)) return null;
  let set;
  try {
    set = parsePromptSet(file);
  } catch {
    return null;
  }
  if (set.hash !== header.prompt_set.hash) return null;
  const ids = Array.isArray(header.extra?.question_ids) ? (header.extra!.question_ids as string[]) : null;
  const samples = typeof header.extra?.samples === 'number' ? (header.extra.samples as number) : null;
  const questions = set.questions.filter((q) => !ids || ids.includes(q.id));
  const only = header.conditions?.map((c) => c.name);
  const conditions = set.conditions && only ? set.conditions.filter((c) => only.includes(c.name)) : undefined;
  return wantedRowCount(wantedCells(questions, { samples, conditions }), header.variants.length);
}

/** Completeness of a run file (or its parsed contents), with the prompt-set fallback for older headers. */
export function runFileCompleteness(run: string | Pick<RunContents, 'header' | 'samples'>): RunCompleteness {
  const r = typeof run === 'string' ? readRun(run) : run;
  const c = runCompleteness(r.header, r.samples);
  return c.expected === null ? runCompleteness(r.header, r.samples, expectedFromPromptSet(r.header)) : c;
}

export interface ResumableRun {
  file: string;
  header: RunHeader;
  completeness: RunCompleteness;
}

const sameSet = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => {
  const x = [...(a ?? [])].sort();
  const y = [...(b ?? [])].sort();
  return JSON.stringify(x) === JSON.stringify(y);
};

/**
 * The newest incomplete run file under `<prompt set dir>/runs/` made from this prompt set as it is now (same
 * hash) with the same question selection (`questionIds`, none = all), that `accept` (e.g. "its model and
 * adapters are the loaded ones") does not reject. Null when there is none.
 */
export function findResumableRun(promptSetPath: string, opts: { questionIds?: string[]; accept?: (header: RunHeader) => boolean } = {}): ResumableRun | null {
  const dir = path.join(path.dirname(promptSetPath), 'runs');
  if (!existsSync(dir)) return null;
  const abs = path.resolve(promptSetPath);
  let hash: string;
  try {
    hash = parsePromptSet(abs).hash;
  } catch {
    return null;
  }
  const files = readdirSync(dir)
    .filter((n) => n.endsWith('.run.jsonl'))
    .map((n) => path.join(dir, n))
    .map((f) => ({ f, t: statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? -1 })) // a file deleted meanwhile sorts last
    .filter((x) => x.t >= 0)
    .sort((a, b) => b.t - a.t);
  for (const { f } of files) {
    let run;
    try {
      // Cheap filter on the header line before reading the whole file.
      const h = readHeaderLine(f);
      if (h?.type !== 'header' || path.resolve(h.prompt_set?.path ?? '') !== abs) continue;
      run = readRun(f);
    } catch {
      continue;
    }
    const h = run.header;
    if (h.prompt_set.hash !== hash) continue;
    const ids = Array.isArray(h.extra?.question_ids) ? (h.extra!.question_ids as string[]) : undefined;
    if (!sameSet(ids, opts.questionIds)) continue;
    if (opts.accept && !opts.accept(h)) continue;
    const completeness = runFileCompleteness(run);
    if (completeness.incomplete) return { file: f, header: h, completeness };
  }
  return null;
}

const LEGACY_ALIAS = /^adapter(?=$|@|\+)/;

/**
 * `wanted` with each variant renamed to the existing file's name for it when that file was written with the
 * CLI's old `adapter` alias (same adapter, scale, steering and ablation; the name equal up to the alias).
 */
export function legacyVariantNames(existing: RunHeader, wanted: VariantSpec[]): VariantSpec[] {
  if (existing.adapters.some((a) => a.name === 'adapter')) return wanted; // a real adapter named "adapter"
  const key = (v: VariantSpec) => JSON.stringify([v.adapter ?? null, v.adapter ? v.adapter_scale ?? 1 : 0, v.steer ?? null, v.ablate ?? null]);
  return wanted.map((w) => {
    if (!w.adapter || existing.variants.some((e) => e.name === w.name)) return w;
    const old = existing.variants.find((e) => LEGACY_ALIAS.test(e.name) && key(e) === key(w) && e.name.replace(LEGACY_ALIAS, w.adapter!) === w.name);
    return old ? { ...w, name: old.name } : w;
  });
}

/** legacyVariantNames against the header of `out` when that run file exists (unreadable: `wanted` unchanged). */
export function adoptLegacyVariantNames(out: string, wanted: VariantSpec[]): VariantSpec[] {
  if (!existsSync(out)) return wanted;
  try {
    const header = readHeaderLine(out);
    if (header?.type !== 'header' || !Array.isArray(header.variants) || !Array.isArray(header.adapters)) return wanted;
    return legacyVariantNames(header, wanted);
  } catch {
    return wanted;
  }
}
