/**
 * Resuming a run: compare the existing header with the one a new invocation would write, and list the
 * (cell, condition, variant) rows that have no finished sample yet.
 */
import { questionConditions } from '../prompts/conditions';
import type { PromptQuestion } from '../prompts/types';
import type { ConditionSpec, RunHeader, SampleRow, VariantSpec } from './schema';
import { cellId, sampleId } from './schema';

/** Differences that make appending to an existing run file wrong (different model, prompts, sampling…). */
export function headerDifferences(existing: RunHeader, wanted: RunHeader): string[] {
  const diffs: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (existing.model.hash !== wanted.model.hash) {
    diffs.push(
      sampledFingerprint(existing.model.hash, wanted.model.hash)
        ? `model fingerprint scheme changed: this run file's model hash ${existing.model.hash.slice(0, 19)} (${existing.model.path}) was computed by an older Organism Lab that sampled weight files over 64 MiB (64 blocks of 64 KiB, which can miss a fine-tune merged into one matrix); the model is now hashed by its full content (${wanted.model.hash.slice(0, 24)}, ${wanted.model.path}), so whether it is the same model cannot be checked. Start a new run file, or, if you are sure it is the same model, append anyway`
        : `model hash ${existing.model.hash.slice(0, 12)} (${existing.model.path}) ≠ ${wanted.model.hash.slice(0, 12)} (${wanted.model.path})`,
    );
  }
  const adapters = (h: RunHeader) => Object.fromEntries(h.adapters.map((a) => [a.name, a.hash]));
  if (!same(adapters(existing), adapters(wanted))) {
    const rescheme = existing.adapters.filter((a) => wanted.adapters.some((b) => b.name === a.name && sampledFingerprint(a.hash, b.hash))).map((a) => a.name);
    diffs.push(
      `adapters ${JSON.stringify(adapters(existing))} ≠ ${JSON.stringify(adapters(wanted))}` +
        (rescheme.length ? ` (fingerprint scheme changed for ${rescheme.join(', ')}: the run file has the older sampled hash of a weight file over 64 MiB, this version hashes the full content, so they cannot be compared)` : ''),
    );
  }
  if (existing.prompt_set.hash !== wanted.prompt_set.hash) diffs.push(`prompt set hash ${existing.prompt_set.hash.slice(0, 12)} (${existing.prompt_set.path}) ≠ ${wanted.prompt_set.hash.slice(0, 12)} (${wanted.prompt_set.path})`);
  const norm = (v: VariantSpec[]) => v.map((x) => ({ name: x.name, adapter: x.adapter ?? null, scale: x.adapter ? x.adapter_scale ?? 1 : 0, steer: x.steer ?? null, ablate: x.ablate ?? null }));
  if (!same(norm(existing.variants), norm(wanted.variants))) diffs.push(`variants ${existing.variants.map((v) => v.name).join(',')} ≠ ${wanted.variants.map((v) => v.name).join(',')} (or their settings)`);
  for (const k of Object.keys({ ...existing.sampling, ...wanted.sampling }) as (keyof RunHeader['sampling'])[]) {
    if (!same(existing.sampling[k], wanted.sampling[k])) diffs.push(`sampling.${k} ${JSON.stringify(existing.sampling[k])} ≠ ${JSON.stringify(wanted.sampling[k])}`);
  }
  if (existing.seed !== wanted.seed) diffs.push(`seed ${existing.seed} ≠ ${wanted.seed}`);
  if (!same(existing.conditions ?? null, wanted.conditions ?? null)) {
    const names = (h: RunHeader) => (h.conditions ? h.conditions.map((c) => c.name).join(',') : '(none)');
    diffs.push(`conditions ${names(existing)} ≠ ${names(wanted)} (or their settings)`);
  }
  return diffs;
}

/**
 * A run header written before full-content fingerprints (hashing.ts) has "sha256:" where the same folder
 * now gives "sha256-full:" (a weight file over 64 MiB, which was sampled then).
 */
export function sampledFingerprint(existingHash: string, wantedHash: string): boolean {
  return existingHash.startsWith('sha256:') && wantedHash.startsWith('sha256-full:');
}

/** Throws a clear error listing the differences unless `force`. */
export function assertResumable(file: string, existing: RunHeader, wanted: RunHeader, force = false): string[] {
  const diffs = headerDifferences(existing, wanted);
  if (diffs.length && !force) {
    throw new Error(`${file} was written with different settings, so its rows cannot be completed by this run:\n  - ${diffs.join('\n  - ')}\nWrite to another run file (CLI: --out), or append anyway (CLI: --force; the header keeps the original settings).`);
  }
  return diffs;
}

export interface WantedCell {
  questionId: string;
  paraphraseIndex: number;
  sampleIndex: number;
  /** The conditions the cell runs under, in order (the first is the cell's reference); absent: no condition. */
  conditions?: string[];
}

/** One row of a cell: a variant, under a condition when the cell has conditions. */
export interface CellRow {
  variant: string;
  condition?: string;
}

/** The rows of a cell in run order: condition-major, the reference row (first condition, first variant) first. */
export function cellRows(cell: WantedCell, variants: readonly string[]): CellRow[] {
  if (!cell.conditions) return variants.map((variant) => ({ variant }));
  return cell.conditions.flatMap((condition) => variants.map((variant) => ({ variant, condition })));
}

/**
 * The cells a run of these questions wants: every (question, paraphrase, sample) with the conditions the question
 * runs under (its opt-in subset, or none when it opts out or the run has no conditions).
 */
export function wantedCells(questions: readonly PromptQuestion[], o: { samples?: number | null; conditions?: ConditionSpec[] }): WantedCell[] {
  const out: WantedCell[] = [];
  for (const q of questions) {
    const n = o.samples ?? q.samplesPerParaphrase;
    const conds = questionConditions(q, o.conditions)?.map((c) => c.name);
    // A question that opts in only to conditions this run leaves out (--conditions) has nothing to run.
    if (conds && conds.length === 0) continue;
    for (let p = 0; p < q.paraphrases.length; p++) {
      for (let s = 0; s < n; s++) out.push({ questionId: q.id, paraphraseIndex: p, sampleIndex: s, ...(conds ? { conditions: conds } : {}) });
    }
  }
  return out;
}

/** Rows a complete run of these cells holds (cells × their conditions × variants). */
export function wantedRowCount(wanted: readonly WantedCell[], variantCount: number): number {
  return wanted.reduce((a, c) => a + (c.conditions?.length ?? 1) * variantCount, 0);
}

export interface ResumePlan {
  /** Cells with at least one row missing, in the wanted order, with the missing rows (and their variants). */
  todo: { cell: WantedCell; rows: CellRow[]; variants: string[] }[];
  /** Finished samples already in the file, by sample id (for divergence against an existing reference row). */
  done: Map<string, SampleRow>;
  total: number; // wanted (cell, condition, variant) rows
  remaining: number;
}

/** A sample counts as done when its row exists with a finish reason other than cancelled/error. */
export function planResume(header: RunHeader, existing: SampleRow[], wanted: WantedCell[]): ResumePlan {
  const done = new Map<string, SampleRow>();
  for (const s of existing) if (s.finish_reason !== 'cancelled' && s.finish_reason !== 'error') done.set(s.id, s);
  const todo: ResumePlan['todo'] = [];
  let remaining = 0;
  let total = 0;
  const seen = new Set<string>();
  const names = header.variants.map((v) => v.name);
  for (const cell of wanted) {
    const cid = cellId(cell.questionId, cell.paraphraseIndex, cell.sampleIndex);
    if (seen.has(cid)) continue;
    seen.add(cid);
    const all = cellRows(cell, names);
    total += all.length;
    const rows = all.filter((r) => !done.has(sampleId(cell.questionId, cell.paraphraseIndex, cell.sampleIndex, r.variant, r.condition)));
    if (rows.length) todo.push({ cell, rows, variants: [...new Set(rows.map((r) => r.variant))] });
    remaining += rows.length;
  }
  return { todo, done, total, remaining };
}
