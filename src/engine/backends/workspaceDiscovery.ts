/**
 * What the extension's views show, decided here (below the extension layer, no vscode): which folders are
 * checkpoints, which files are prompt sets (a cheap look at the file's head before the real parser), and
 * what a run file holds (sample counts per variant and per question, judged rates when it has judgements).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { judgedRates, type JudgedRates } from '../judges/questionRates';
import type { RunCompleteness } from '../runs/completeness';
import { readRun } from '../runs/reader';
import { runFileCompleteness } from '../runs/resumeCandidates';
import { checkpointSteps } from '../checkpoint/trainingRun';

export type CheckpointKind = 'model' | 'adapter' | 'trainingRun';

/** model: config.json + safetensors weights; adapter: adapter_config.json; trainingRun: checkpoint-N/ subfolders. */
export function classifyFolder(dir: string): CheckpointKind | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  if (names.includes('adapter_config.json')) return 'adapter';
  if (names.includes('config.json') && names.some((n) => n.endsWith('.safetensors') || n === 'model.safetensors.index.json')) return 'model';
  if (checkpointSteps(dir).length > 0) return 'trainingRun';
  return null;
}

export { checkpointSteps };

/**
 * A cheap test on the first few KB of a file: emergent-misalignment YAML (a list whose items have `id:` and
 * `paraphrases:`, or the prompt-conditions mapping: a top-level `conditions:` list of `- name:` items) or JSONL whose
 * first object has "id" and "messages"/"prompt". Run files are never prompt sets.
 */
export function looksLikePromptSet(fileName: string, head: string): boolean {
  const name = fileName.toLowerCase();
  if (name.endsWith('.run.jsonl')) return false;
  if (name.endsWith('.yaml') || name.endsWith('.yml')) {
    if (/^\s*-\s+(?:id\s*:|&\S+\s+id\s*:)/m.test(head) && /^\s+paraphrases\s*:/m.test(head)) return true;
    // The conditions format (a mapping): its conditions block may fill the head before the first question.
    return /^conditions\s*:/m.test(head) && /^\s*-\s+name\s*:/m.test(head);
  }
  if (name.endsWith('.jsonl')) {
    // The first question line decides; a prompt-conditions line ({"type": "conditions", …}) may come before it.
    for (const line of head.split('\n').filter((l) => l.trim() !== '').slice(0, 2)) {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return false;
      }
      if (typeof obj !== 'object' || obj === null) return false;
      if (obj.type === 'conditions' && !('id' in obj)) continue;
      return 'id' in obj && ('messages' in obj || 'prompt' in obj) && obj.type !== 'header';
    }
    return false;
  }
  return false;
}

export function readHead(file: string, bytes = 4096): string {
  try {
    const buf = readFileSync(file);
    return buf.subarray(0, bytes).toString('utf8');
  } catch {
    return '';
  }
}

export interface QuestionCounts {
  /** variant → sample rows */
  byVariant: Record<string, number>;
  /** variant → finish reason → rows */
  finishReasons: Record<string, Record<string, number>>;
  /** variant → rows that diverge from the reference variant */
  diverged: Record<string, number>;
}

export interface RunSummary {
  file: string;
  createdAt: string;
  model: string;
  promptSet: string;
  variants: string[];
  samples: number;
  byVariant: Record<string, number>;
  byQuestion: Record<string, QuestionCounts>;
  /**
   * Judged rates per question and variant (the Run report's default judge), null when the run has no
   * judgements; only computed when asked for (`summarizeRun(file, { rates: true })`: the hover), since the
   * Runs view shows counts only and would otherwise build a full report per run file on every refresh.
   */
  rates?: JudgedRates | null;
  /** Finished samples against the samples the run planned (incomplete: cancelled or crashed before the end). */
  completeness: RunCompleteness;
  warnings: string[];
}

export function summarizeRun(file: string, options: { rates?: boolean } = {}): RunSummary {
  const run = readRun(file);
  const byVariant: Record<string, number> = {};
  const byQuestion: Record<string, QuestionCounts> = {};
  for (const s of run.samples) {
    byVariant[s.variant] = (byVariant[s.variant] ?? 0) + 1;
    const q = (byQuestion[s.question_id] ??= { byVariant: {}, finishReasons: {}, diverged: {} });
    q.byVariant[s.variant] = (q.byVariant[s.variant] ?? 0) + 1;
    const fr = (q.finishReasons[s.variant] ??= {});
    fr[s.finish_reason] = (fr[s.finish_reason] ?? 0) + 1;
    if (typeof s.divergence_index === 'number') q.diverged[s.variant] = (q.diverged[s.variant] ?? 0) + 1;
  }
  return {
    file,
    createdAt: run.header.created_at,
    model: run.header.model.path,
    promptSet: run.header.prompt_set.path,
    variants: run.header.variants.map((v) => v.name),
    samples: run.samples.length,
    byVariant,
    byQuestion,
    completeness: runFileCompleteness(run),
    ...(options.rates ? { rates: judgedRates({ path: file, header: run.header, samples: run.samples, judgements: run.judgements, labels: run.labels }) } : {}),
    warnings: run.warnings.map((w) => `line ${w.line}: ${w.message}`),
  };
}

/** The newest run file (by modification time) under `<prompt set dir>/runs/` that was made from this prompt set. */
export function latestRunFor(promptSetPath: string): string | null {
  const dir = path.join(path.dirname(promptSetPath), 'runs');
  if (!existsSync(dir)) return null;
  const stem = path.basename(promptSetPath).replace(/\.(ya?ml|jsonl)$/i, '');
  const candidates = readdirSync(dir)
    .filter((n) => n.endsWith('.run.jsonl') && (n.startsWith(`${stem}-`) || n === `${stem}.run.jsonl`))
    .map((n) => path.join(dir, n))
    .map((f) => ({ f, t: statSync(f).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return candidates[0]?.f ?? null;
}

/**
 * `<dir of prompt set>/runs/<stem>-<YYYYMMDD-HHMMSS>.run.jsonl`, with `-2`, `-3`, … before `.run.jsonl` when a file
 * of that name exists already (two runs started within one second must not land in one file: the second would
 * be refused as "written with different settings", or worse, appended to it).
 */
export function defaultRunPath(promptSetPath: string, now = new Date(), exists: (file: string) => boolean = existsSync): string {
  const stem = path.basename(promptSetPath).replace(/\.(ya?ml|jsonl)$/i, '');
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  const dir = path.join(path.dirname(promptSetPath), 'runs');
  for (let n = 1; ; n++) {
    const file = path.join(dir, `${stem}-${stamp}${n === 1 ? '' : `-${n}`}.run.jsonl`);
    if (!exists(file)) return file;
  }
}
