/**
 * The engine host's judging job (engine/judgeRun): every judge type runs here, so a run file has one writer
 * (the host, which also appends the samples of a run). Rules and OpenAI-compatible judges need no model and run
 * directly; a local-model judge goes to the backend, which loads the judge's model for the job.
 */
import type { EngineBackend, JobHooks } from '../backends/types';
import { judgeRun, type JudgeProgress, type JudgeRunResult } from '../jobs/judgeRun';
import { recompileRules } from '../judges/judgesFile';
import type { JudgeRunParams } from '../../protocol/engineHost';

/** Progress goes out at most this often (a rule judge scores thousands of cells a second); the last count always goes. */
export const JUDGE_PROGRESS_INTERVAL_MS = 100;

export function runJudgeJob(backend: EngineBackend, request: Omit<JudgeRunParams, 'token'>, hooks: JobHooks, now: () => number = Date.now): Promise<JudgeRunResult> {
  const { judge, apiKey, ...rest } = request;
  if (judge.type === 'local') return backend.judgeRunLocal({ ...rest, judge }, hooks);
  let lastAt = -Infinity;
  const onProgress = (p: JudgeProgress) => {
    const t = now();
    if (p.done < p.total && t - lastAt < JUDGE_PROGRESS_INTERVAL_MS) return;
    lastAt = t;
    hooks.onProgress({ done: p.done, total: p.total, message: p.failed ? `${p.failed} failed` : undefined });
  };
  // A rules judge arrives as data: its patterns are compiled here (under the same limits as in a judges file).
  return judgeRun(request.runPath, judge.type === 'rules' ? recompileRules(judge) : judge, {
    signal: hooks.signal,
    variants: request.variants,
    secrets: { apiKey },
    onProgress,
    log: (m) => hooks.log('info', `[judge] ${m}`),
  });
}
