/**
 * A prompt set run against an OpenAI-compatible generation server (vLLM with LoRA adapters served under their own
 * names), as the engine host runs it for the extension: the same JobModel the CLI builds for --backend openai
 * (engine/jobs/remoteJobModel.ts, so the same run-file header and rows), no local model involved. Errors the user
 * can fix (bad URL, unreachable server, refused key, unknown model, steering variants) become EngineErrors whose
 * hints name the organismLab.server.* settings.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { JudgeFatalError, type ChatRequestWording } from '../judges/openaiClient';
import { checkRemoteVariants, remoteJobModel } from '../jobs/remoteJobModel';
import { runPromptSet } from '../jobs/runPromptSet';
import { EngineError } from './errors';
import type { RemoteGenerationServer, RunPromptSetRequest, RunPromptSetResult } from '../../protocol/engineJobs';
import type { JobHooks } from './types';
import { armLabel } from '../runs/schema';

/** Error wording for the extension: keys and served names come from its settings, not from CLI flags. */
export const EXTENSION_REMOTE_WORDING: ChatRequestWording = {
  request: 'Generation request',
  server: 'generation server',
  cellLeft: 'that sample is not written; run the prompt set again to resume.',
  keyHint: '"Organism Lab: Set Generation Server API Key"',
  modelHint: ' (the base model is organismLab.server.model; an adapter\'s served name comes from organismLab.server.adapters, vLLM --lora-modules NAME=PATH)',
  badRequestHint: () => 'does it accept logprobs=true, seed and the sampling parameters given? is maxNewTokens within the model context?',
};

const SETTINGS_HINT = 'Check organismLab.server.baseUrl, organismLab.server.model and organismLab.server.adapters (Settings, search "organismLab.server"), and that the server is running.';

export interface RemoteRunDeps {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Retry tuning (tests). */
  maxRetries?: number;
  backoffBaseMs?: number;
}

function checkServer(server: RemoteGenerationServer): void {
  let ok = false;
  try {
    const u = new URL(server.baseUrl);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) throw new EngineError('InvalidInput', `organismLab.server.baseUrl ${JSON.stringify(server.baseUrl)} is not an http(s) URL.`, 'Set it to the server\'s API root, e.g. http://localhost:8000/v1.');
  if (!server.servedModel?.trim()) throw new EngineError('InvalidInput', 'organismLab.server.model is empty: the generation server needs the base model\'s served name.', 'Set it to the name vLLM serves the base model under (--served-model-name, or the model path it was started with).');
  const names = new Set<string>();
  for (const a of server.adapters) {
    if (!a.name || !a.servedModel) throw new EngineError('InvalidInput', `organismLab.server.adapters: entry ${JSON.stringify(a)} needs a variant name and a served LoRA name.`, 'Write it as {"variant-name": "served-lora-name"}.');
    if (a.name === 'base') throw new EngineError('InvalidInput', 'organismLab.server.adapters: "base" is the variant without an adapter; give the adapter another name.');
    if (names.has(a.name)) throw new EngineError('InvalidInput', `organismLab.server.adapters: "${a.name}" appears twice.`);
    names.add(a.name);
  }
  if (server.concurrency !== undefined && !(Number.isInteger(server.concurrency) && server.concurrency > 0)) {
    throw new EngineError('InvalidInput', `organismLab.server.concurrency must be a positive integer, got ${server.concurrency}.`);
  }
}

/** Runs the prompt set against the server and writes the run file sample by sample (resumable, cancellable). */
export async function runRemotePromptSet(request: RunPromptSetRequest, server: RemoteGenerationServer, hooks: JobHooks, deps: RemoteRunDeps = {}): Promise<RunPromptSetResult> {
  checkServer(server);
  try {
    checkRemoteVariants(request.variants);
  } catch (e) {
    throw new EngineError('InvalidInput', (e as Error).message, 'Run steering, ablation and scaled-adapter variants with organismLab.backend set to "local".');
  }
  const served = new Set(server.adapters.map((a) => a.name));
  for (const v of request.variants) {
    if (v.adapter && !served.has(v.adapter)) {
      throw new EngineError('InvalidInput', `Variant "${v.name}" uses adapter "${v.adapter}", which organismLab.server.adapters does not list (listed: ${[...served].join(', ') || 'none'}).`, 'Add it to organismLab.server.adapters as {"' + v.adapter + '": "<served LoRA name>"}.');
    }
  }
  const model = remoteJobModel({
    baseUrl: server.baseUrl,
    servedModel: server.servedModel,
    adapters: server.adapters,
    apiKey: server.apiKey || undefined,
    concurrency: server.concurrency,
    fetch: deps.fetch,
    maxRetries: deps.maxRetries,
    backoffBaseMs: deps.backoffBaseMs,
    wording: EXTENSION_REMOTE_WORDING,
    onRetry: (i) => hooks.log('warn', `generation server: retrying in ${(i.delayMs / 1000).toFixed(1)} s (${i.reason})`),
  });
  // The default run file lives in a runs/ folder next to the prompt set, which may not exist yet.
  mkdirSync(path.dirname(path.resolve(request.out)), { recursive: true });
  try {
    const summary = await runPromptSet(model, { ...request }, {
      signal: hooks.signal,
      onProgress: (e) => hooks.onProgress({ done: e.done, total: e.total, questionId: e.cell.split('#')[0], variant: armLabel(e.variant, e.condition) }),
      log: (level, m) => hooks.log(level, m),
    });
    return { out: summary.out, written: summary.written, total: summary.total, cancelled: summary.cancelled, elapsedMs: summary.elapsedMs, warnings: summary.warnings };
  } catch (e) {
    // Unreachable server, refused key, unknown model name: the message names the URL and what to check.
    if (e instanceof JudgeFatalError) throw new EngineError('InvalidInput', e.message, SETTINGS_HINT);
    throw e;
  }
}
