/**
 * Judge a run file: every (sample, metric) cell not yet judged by this judge is scored and appended to
 * the run file as a `judgement` row the moment its answer arrives.
 *
 *  - Resumable: cells that already have a row for (sample id, judge id, metric) are skipped.
 *  - Bounded concurrency: at most `concurrency` requests in flight.
 *  - Cancellable: aborting `signal` stops new requests and drops the in-flight ones; everything
 *    answered before is already on disk. The result says cancelled = true.
 *  - A fatal judge error (bad key, unknown model or URL) stops the whole job and is thrown after the
 *    in-flight cells settle; cell errors (retries exhausted, malformed answers) are collected, their
 *    cells stay unjudged, and a later run retries them.
 */
import type { JudgementRow, SampleRow } from '../runs/schema';
import { createJudge, type Judge, type JudgeContext } from '../judges/judges';
import { judgeId, type JudgeSpec } from '../judges/judgesFile';
import { JudgeFatalError } from '../judges/openaiClient';
import { loadPromptSetJudgePrompts, locatePromptSet } from '../judges/prompts';
import { questionText } from '../judges/runAccess';
import { RunWriter } from '../runs/writer';
import type { JudgeCellFailure, JudgeRunResult } from '../../protocol/engineJobs';

export type { JudgeCellFailure, JudgeRunResult };

export interface JudgeProgress {
  judge: string;
  total: number; // cells to judge in this run (after skipping)
  done: number;
  failed: number;
  skipped: number; // cells already judged before this run
}

export interface JudgeRunOptions {
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: JudgeProgress) => void;
  /** Secrets for remote judges; never logged or written. */
  secrets?: { apiKey?: string };
  /** Only these variants (default: all). */
  variants?: string[];
  /** Test hooks and advanced settings (client timeouts/retries, local judge factory). */
  context?: Omit<JudgeContext, 'apiKey' | 'promptSetJudgePrompts'>;
  /** A ready judge (bypasses createJudge; used by the engine host for local judges). */
  judge?: Judge;
  /** Warnings and retry notes (never contain the key). */
  log?: (message: string) => void;
  /** Clock for created_at (tests). */
  now?: () => Date;
}

function isAbort(e: unknown): boolean {
  return (e as Error)?.name === 'AbortError';
}

export async function judgeRun(runPath: string, judgeSpec: JudgeSpec, options: JudgeRunOptions = {}): Promise<JudgeRunResult> {
  // Opening the writer parses the file under the run's lock. Every judgement is appended under that lock
  // too (a run or labels may be appending from another process); a torn last line is set aside then.
  const writer = await RunWriter.openAsync(runPath, { onWarning: (m) => options.log?.(m) });
  try {
    return await judgeOpenRun(runPath, writer, judgeSpec, options);
  } finally {
    writer.close();
  }
}

async function judgeOpenRun(runPath: string, writer: RunWriter, judgeSpec: JudgeSpec, options: JudgeRunOptions): Promise<JudgeRunResult> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  const log = options.log ?? (() => {});
  const run = writer.existing!;
  const warnings = run.warnings.map((w) => w.message);
  warnings.forEach((w) => log(w));

  let promptSetJudgePrompts;
  if (judgeSpec.type !== 'rules' && !judgeSpec.prompts && !options.judge) {
    const ps = await locatePromptSet(run.header?.prompt_set.path, runPath);
    if (ps) promptSetJudgePrompts = await loadPromptSetJudgePrompts(ps);
    else {
      const w = `The run's prompt set (${run.header?.prompt_set.path ?? 'not recorded'}) was not found; questions use Organism Lab's default aligned/coherent judge prompts.`;
      warnings.push(w);
      log(w);
    }
  }
  const judge =
    options.judge ??
    (await createJudge(judgeSpec, {
      ...options.context,
      apiKey: options.secrets?.apiKey,
      promptSetJudgePrompts,
      client: { ...options.context?.client, onRetry: options.context?.client?.onRetry ?? ((r) => log(`judge retry in ${r.delayMs} ms: ${r.reason}`)) },
    }));
  const id = options.judge ? judge.id : judgeId(judgeSpec);

  const done = new Set<string>();
  for (const j of run.judgements) if (j.judge === id) done.add(`${j.sample_id}\u0000${j.metric}`);
  const only = options.variants ? new Set(options.variants) : null;
  const cells: { sample: SampleRow; metric: string }[] = [];
  let skipped = 0;
  const seenSample = new Set<string>();
  for (const s of run.samples) {
    if (only && !only.has(s.variant)) continue;
    if (seenSample.has(s.id)) continue; // a duplicated sample row is judged once
    seenSample.add(s.id);
    for (const metric of judge.metricsFor(s.question_id)) {
      if (done.has(`${s.id}\u0000${metric}`)) skipped++;
      else cells.push({ sample: s, metric });
    }
  }

  const progress: JudgeProgress = { judge: id, total: cells.length, done: 0, failed: 0, skipped };
  const failed: JudgeCellFailure[] = [];
  options.onProgress?.({ ...progress });

  const inner = new AbortController();
  const onOuterAbort = () => inner.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) inner.abort();
  let fatal: Error | null = null;
  const now = options.now ?? (() => new Date());

  let next = 0;
  const worker = async () => {
    while (!inner.signal.aborted && next < cells.length) {
      const { sample, metric } = cells[next++];
      let out;
      try {
        out = await judge.judge(
          { sampleId: sample.id, questionId: sample.question_id, question: questionText(sample), answer: sample.completion },
          metric,
          inner.signal,
        );
      } catch (e) {
        if (isAbort(e) && inner.signal.aborted) return;
        if (e instanceof JudgeFatalError) {
          fatal ??= e;
          inner.abort();
          return;
        }
        progress.failed++;
        const message = (e as Error)?.message ?? String(e);
        failed.push({ sampleId: sample.id, metric, message });
        log(`${sample.id} ${metric}: ${message}`);
        options.onProgress?.({ ...progress });
        continue;
      }
      // An answer that arrived after a cancel is still a real judgement: it is kept.
      const row: JudgementRow = { type: 'judgement', sample_id: sample.id, judge: id, metric, score: out.score, raw: out.raw, created_at: now().toISOString() };
      try {
        await writer.appendAsync(row); // lock, one write + fsync: on disk before the next cell is counted
      } catch (e) {
        fatal ??= new Error(`Cannot append judgements to ${runPath}: ${(e as Error).message}. Check that the file is writable and the disk is not full.`);
        inner.abort();
        return;
      }
      progress.done++;
      options.onProgress?.({ ...progress });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, cells.length)) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (!options.judge) await judge.dispose?.();
  }
  if (fatal) throw fatal;
  return {
    judge: id,
    total: cells.length,
    judged: progress.done,
    skipped,
    failed,
    cancelled: !!options.signal?.aborted && progress.done + progress.failed < cells.length,
    warnings,
  };
}
