/**
 * Engine-host requests that read run files and compute over them (no model needed): a run file's rows for a reader
 * that follows it (Compare), the Run Report of one run (computeReport, the numbers the Report and Compare panels
 * show), the diff of two runs (diffRuns), where each diverging row's first diverging token starts in its text
 * (decoded with the run's tokenizer), and the export of a run (CSV, JSONL, LLM Comparator). They run in the engine
 * host so the extension host neither reads run files for these views nor computes over them (nor for the arms an
 * LLM Comparator export offers as its sides). A Compare view asks for several of these on the same file version: the file is parsed once for all of them (RunFileCache).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../backends/errors';
import { computeReport } from '../judges/metrics';
import { runContentOf } from '../judges/runAccess';
import { diffRuns, RunMismatchError } from '../review/runDiff';
import { plannedSamples } from '../runs/completeness';
import { exportRun } from '../runs/export';
import { comparatorArms } from '../runs/exportComparator';
import { runFileVersion, sameVersion } from '../runs/fileVersion';
import type { RunContents } from '../runs/parse';
import { expectedFromPromptSet, runFileCompleteness } from '../runs/resumeCandidates';
import { runRowsSince } from '../runs/runRows';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer';
import { RunFileCache } from './runFileCache';
import type {
  DivergenceOffsetsParams,
  DivergenceOffsetsResult,
  RunDiffParams,
  RunDiffResult,
  RunReportParams,
  RunReportResult,
  RunRowsParams,
  RunRowsResult,
} from '../../protocol/engineHost';
import type { ExportResult, ExportRunParams, RunArmsParams, RunArmsResult } from '../../protocol/runExport';

/** The run files these requests parsed, by path (one version each). */
const runFiles = new RunFileCache();

function runContent(file: string) {
  return runContentOf(file, runFiles.read(file).contents);
}

/** Planned samples of an older run file (no extra.planned_samples), from its unchanged prompt set; else null. */
function expectedFallback(run: RunContents): number | null {
  if (plannedSamples(run.header) !== null) return null;
  try {
    return expectedFromPromptSet(run.header);
  } catch {
    return null;
  }
}

/** The rows of a run file for a reader at `since` (engine/runs/runRows.ts); an unchanged file is not read. */
export function runRowsOfFile(params: RunRowsParams): RunRowsResult {
  const now = runFileVersion(params.runPath);
  if (!now) throw new EngineError('InvalidInput', `${params.runPath}: the run file no longer exists.`);
  if (params.since && sameVersion(params.since, now)) return { kind: 'unchanged', cursor: params.since };
  const { version, contents } = runFiles.read(params.runPath);
  return runRowsSince(contents, version, params.since, { wholeOnChange: params.wholeOnChange, expectedSamples: expectedFallback });
}

/** Export a run file (engine/runs/export.ts); every failure is a bad input (format, sides, run file, output folder). */
export async function exportRunFile(params: ExportRunParams): Promise<ExportResult> {
  try {
    return await exportRun(params.runPath, params.format, params.outPath, { judge: params.judge, variantA: params.variantA, variantB: params.variantB });
  } catch (e) {
    throw new EngineError('InvalidInput', (e as Error).message);
  }
}

/** The arms of a run file an LLM Comparator export can compare (its header, parsed and checked by the reader). */
export function runArmsOfFile(params: RunArmsParams): RunArmsResult {
  return comparatorArms(runFiles.read(params.runPath).contents.header);
}

/** The report of one run file, with the reader's warnings and how complete the run is. */
export async function runReportOfFile(params: RunReportParams): Promise<RunReportResult> {
  const run = runContent(params.runPath);
  const data = computeReport(run, params.options ?? {});
  return { data, warnings: run.warnings, ...(run.header ? { completeness: runFileCompleteness({ header: run.header, samples: run.samples }) } : {}) };
}

/**
 * The diff of run A (earlier, e.g. on main) and run B (e.g. on a branch). Runs that cannot be paired (different
 * model, adapters, precision or judge) come back as `mismatch` with the reasons, so the caller can offer to
 * compare them anyway (`allowMismatch`).
 */
export async function runDiffOfFiles(params: RunDiffParams): Promise<RunDiffResult> {
  const [a, b] = [runContent(params.pathA), runContent(params.pathB)];
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
  const run = runFiles.read(params.runPath).contents;
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
