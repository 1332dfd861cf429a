/**
 * Engine-host requests that read run files and compute over them (no model needed): the Run Report of one run
 * (computeReport, the numbers the Report and Compare panels show) and the diff of two runs (diffRuns). They run in
 * the engine host so the extension host does no report computation of its own.
 */
import { computeReport } from '../judges/metrics';
import { readRunContent } from '../judges/runAccess';
import { diffRuns, RunMismatchError } from '../review/runDiff';
import { runFileCompleteness } from '../runs/resumeCandidates';
import type { RunDiffParams, RunDiffResult, RunReportParams, RunReportResult } from '../../protocol/engineHost';

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
