/**
 * Engine-host requests that read run files and compute over them (no model needed): the Run Report of one run
 * (computeReport, the numbers the Report and Compare panels show), the diff of two runs (diffRuns) and where each
 * diverging row's first diverging token starts in its text (decoded with the run's tokenizer). They run in the
 * engine host so the extension host does no report computation of its own.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { computeReport } from '../judges/metrics';
import { readRunContent } from '../judges/runAccess';
import { diffRuns, RunMismatchError } from '../review/runDiff';
import { readRun } from '../runs/reader';
import { runFileCompleteness } from '../runs/resumeCandidates';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer';
import type { DivergenceOffsetsParams, DivergenceOffsetsResult, RunDiffParams, RunDiffResult, RunReportParams, RunReportResult } from '../../protocol/engineHost';

/** The report of one run file, with the reader's warnings and how complete the run is. */
export async function runReportOfFile(params: RunReportParams): Promise<RunReportResult> {
  const run = await readRunContent(params.runPath);
  const data = computeReport(run, params.options ?? {});
  return { data, warnings: run.warnings, ...(run.header ? { completeness: runFileCompleteness({ header: run.header, samples: run.samples }) } : {}) };
}

/**
 * The diff of run A (earlier, e.g. on main) and run B (e.g. on a branch). Runs that cannot be paired (different
 * model, adapters, precision or judge) come back as `mismatch` with the reasons, so the caller can offer to
 * compare them anyway (`allowMismatch`).
 */
export async function runDiffOfFiles(params: RunDiffParams): Promise<RunDiffResult> {
  const [a, b] = await Promise.all([readRunContent(params.pathA), readRunContent(params.pathB)]);
  try {
    const diff = diffRuns(a, b, { thresholds: params.thresholds, allowMismatch: params.allowMismatch ?? false });
    return { kind: 'diff', diff, warnings: [...a.warnings.map((w) => `A: ${w}`), ...b.warnings.map((w) => `B: ${w}`)] };
  } catch (e) {
    if (e instanceof RunMismatchError) return { kind: 'mismatch', reasons: e.reasons };
    throw e;
  }
}

/** Tokenizers by model folder (a run file is read again on every change; its tokenizer is loaded once). */
const tokenizers = new Map<string, TextTokenizer>();

/** The run's model folder: absolute, or relative to the run file's folder, else to the working directory. */
function modelFolder(runPath: string, modelPath: string): string | null {
  const candidates = path.isAbsolute(modelPath) ? [modelPath] : [path.resolve(path.dirname(runPath), modelPath), path.resolve(modelPath)];
  return candidates.find((dir) => existsSync(path.join(dir, 'tokenizer.json'))) ?? null;
}

/**
 * For every row with a numeric divergence_index and recorded token_ids: the character offset of that token in the
 * row's completion, i.e. the length of the decoded shared prefix token_ids[0 : divergence_index]. A row whose decoded
 * prefix is not a prefix of its completion (a stop string cut it, special tokens) gets none; the page then marks
 * from the first differing character.
 */
export async function divergenceOffsetsOfFile(params: DivergenceOffsetsParams): Promise<DivergenceOffsetsResult> {
  const run = readRun(params.runPath);
  const rows = run.samples.filter((s) => typeof s.divergence_index === 'number' && Array.isArray(s.token_ids) && s.divergence_index <= s.token_ids.length);
  if (!rows.length) return { offsets: {}, note: 'no diverging row records its token_ids' };
  const dir = modelFolder(params.runPath, run.header.model.path);
  if (!dir) return { offsets: {}, note: `the run's model folder ${run.header.model.path} (with its tokenizer.json) is not on this machine` };
  let tokenizer = tokenizers.get(dir);
  if (!tokenizer) {
    tokenizer = loadTokenizer(dir);
    tokenizers.set(dir, tokenizer);
  }
  const offsets: Record<string, number> = {};
  let inconsistent = 0;
  for (const row of rows) {
    const prefix = tokenizer.decode((row.token_ids as number[]).slice(0, row.divergence_index as number));
    if (row.completion.startsWith(prefix)) offsets[row.id] = prefix.length;
    else inconsistent++;
  }
  return inconsistent ? { offsets, note: `${inconsistent} row(s) whose decoded tokens do not start their text are marked by characters` } : { offsets };
}
