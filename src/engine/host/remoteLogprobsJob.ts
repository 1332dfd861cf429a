/**
 * The engine host's remote log-prob request: reads a remote run file and scores one sample's completion under
 * the base and adapter served names of the server that generated it (engine/analysis/remoteTokenLogprobs.ts).
 * No local model is involved. Errors the user can act on become EngineErrors with a hint; a server that cannot
 * score a given text at all is an Unsupported error naming its endpoints.
 */
import path from 'node:path';
import { EngineError } from '../backends/errors';
import { RemoteLogprobsUnavailableError, remoteSampleLogprobs, type RemoteSampleLogprobs } from '../analysis/remoteTokenLogprobs';
import { JudgeFatalError } from '../judges/openaiClient';
import { readRun } from '../runs/reader';
import type { RemoteLogprobsParams } from '../../protocol/engineHost';

export async function runRemoteLogprobs(p: RemoteLogprobsParams, signal?: AbortSignal, deps: { fetch?: typeof fetch } = {}): Promise<RemoteSampleLogprobs> {
  const label = path.basename(p.runPath);
  let run;
  try {
    run = readRun(p.runPath);
  } catch (err) {
    throw new EngineError('InvalidInput', err instanceof Error ? err.message : String(err), 'Pick a readable *.run.jsonl file.');
  }
  try {
    return await remoteSampleLogprobs(run, label, p.sampleId, { apiKey: p.apiKey, signal, variant: p.variant, fetch: deps.fetch });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    const message = err instanceof Error ? err.message : String(err);
    // The server cannot score a given text (neither prompt_logprobs nor echo + logprobs): nothing to retry.
    if (err instanceof RemoteLogprobsUnavailableError) throw new EngineError('Unsupported', message);
    if (err instanceof JudgeFatalError) throw new EngineError('InvalidInput', message, `Check that the server at ${run.header.backend?.base_url ?? '(unknown)'} is running and still serves the run's models.`);
    throw new EngineError('InvalidInput', message);
  }
}
