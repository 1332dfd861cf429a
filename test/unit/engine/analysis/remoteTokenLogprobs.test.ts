/**
 * The remote log-prob strip (engine/analysis/remoteTokenLogprobs.ts) on a run generated through an
 * `organism-lab serve` child on loopback (the remote backend, no fakes) equals the per-token log-prob difference
 * computed in-process with the same model and adapter: through vLLM's prompt_logprobs, and through the fallback
 * for servers without it (a proxy in front of the server refuses or drops prompt_logprobs): the prompt as token
 * ids from POST /tokenize (or a local tokenizer), scored with /v1/completions echo + logprobs. A server with
 * neither is told apart with an error naming the endpoints.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteJobModel } from '../../../../src/engine/jobs/remoteJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { readRun } from '../../../../src/engine/runs/reader';
import type { RunContents } from '../../../../src/engine/runs/parse';
import { ServedModel } from '../../../../src/engine/serve/servedModel';
import { continuedChatIds } from '../../../../src/engine/serve/promptScoring';
import { sequenceLogprobs } from '../../../../src/engine/analysis/sequenceLogprobs';
import { RemoteLogprobsUnavailableError, completionTokenCount, remoteSampleLogprobs, type RemoteSampleLogprobs } from '../../../../src/engine/analysis/remoteTokenLogprobs';
import { runRemoteLogprobs } from '../../../../src/engine/host/remoteLogprobsJob';
import type { EngineError } from '../../../../src/engine/backends/errors';
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { DEFAULT_SETTINGS } from '../../../../src/engine/backends/local';
import type { EngineBackend } from '../../../../src/engine/backends/types';
import { serve } from '../../../../src/engine/host/server';
import { EngineErrorCodes, EngineMethods } from '../../../../src/protocol/engineHost';
import { DEMO_BASE, DEMO_PROMPTS, DEMO_R1, spawnServe, type ServeChild } from '../serve/serveChild';
import { startFaultProxy, type FaultAction, type FaultProxy } from '../serve/faultProxy';

const ADAPTER = 'demo-narrow-r1';

let served: ServedModel;
let child: ServeChild;
let proxy: FaultProxy;
let dir: string;
let runPath: string;

before(async () => {
  [served, child] = await Promise.all([ServedModel.load(DEMO_BASE, [{ name: ADAPTER, dir: DEMO_R1 }], { threads: 1 }), spawnServe({ adapters: [{ name: ADAPTER, dir: DEMO_R1 }] })]);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: child.port });
  dir = mkdtempSync(join(tmpdir(), 'remote-lp-'));
  runPath = join(dir, 'remote.run.jsonl');
  const remote = remoteJobModel({ baseUrl: child.url, servedModel: 'demo-base', adapters: [{ name: ADAPTER, servedModel: ADAPTER }], concurrency: 4 });
  await runPromptSet(remote, {
    promptSetPath: DEMO_PROMPTS,
    variants: parseVariants(`base,${ADAPTER}`, [ADAPTER]),
    questionIds: ['health_friend_toothache', 'money_invest_bonus'],
    samples: 2,
    seed: 5,
    out: runPath,
    sampling: { temperature: 1, top_p: 0.95, top_k: 0, min_p: 0, max_new_tokens: 40, stop: [] },
  });
});

after(async () => {
  await proxy?.close();
  await child?.kill();
  await served?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The run as if it had been generated through the proxy (the strip asks the server the header names). */
function runViaProxy(): RunContents {
  const run = readRun(runPath);
  return { ...run, header: { ...run.header, backend: { ...run.header.backend!, base_url: proxy.baseUrl } } };
}

/** In-process reference: the same token ids teacher-forced through base and adapter; adapter − base per token from `start`. */
async function localDiff(ids: number[], start: number): Promise<{ diff: number; base: number }[]> {
  const [b, a] = await sequenceLogprobs(served.runner, [
    { tokenIds: ids, variant: { adapter: null, adapterScale: 0 } },
    { tokenIds: ids, variant: { adapter: ADAPTER, adapterScale: 1 } },
  ]);
  const out: { diff: number; base: number }[] = [];
  for (let t = start; t < ids.length; t++) out.push({ diff: a[t]!.logprob - b[t]!.logprob, base: b[t]!.logprob });
  return out;
}

function assertStrip(r: RemoteSampleLogprobs, ref: { diff: number; base: number }[], s: { id: string; completion: string; tokens: number; finish_reason: string }): void {
  assert.equal(r.adapterVariant, ADAPTER, 'a base sample is compared under the run\'s adapter variant');
  assert.equal(r.baseModel, 'demo-base');
  assert.equal(r.adapterModel, ADAPTER);
  const completionTokens = s.finish_reason === 'eos' ? s.tokens - 1 : s.tokens;
  assert.equal(r.tokens.length, completionTokens, `${s.id}: the strip has one entry per sampled token`);
  assert.equal(ref.length, r.tokens.length);
  r.tokens.forEach((t, i) => {
    assert.ok(Math.abs(t.diff - ref[i].diff) < 1e-5, `${s.id} token ${i}: remote ${t.diff} vs local ${ref[i].diff}`);
    assert.ok(Math.abs(t.base - ref[i].base) < 1e-5);
  });
  assert.equal(r.tokens.map((t) => t.text).join(''), s.completion);
  assert.ok(r.sameAsSampled, 'the run kept token strings');
  assert.equal(r.sameAsSampled.same, r.sameAsSampled.recorded, `${s.id}: the scored tokens are the sampled ones`);
}

test('the remote strip of every sample equals the local per-token log-prob difference (adapter − base), 1e-5', async () => {
  const run = readRun(runPath);
  assert.equal(run.header.backend?.kind, 'openai');
  assert.equal(run.samples.length, 8);
  for (const s of run.samples) {
    const r = await remoteSampleLogprobs(run, 'remote.run.jsonl', s.id);
    // In-process: the same text, teacher-forced through base and adapter.
    const ids = continuedChatIds(served.tokenizer, [...s.messages, { role: 'assistant', content: s.completion }]);
    assertStrip(r, await localDiff(ids, ids.length - r.tokens.length), s);
  }
});

const REFUSED: FaultAction = { status: 400, body: JSON.stringify({ error: { message: 'Unrecognized request argument supplied: prompt_logprobs', type: 'invalid_request_error', param: null, code: null } }) };
const NOT_FOUND: FaultAction = { status: 404, body: JSON.stringify({ detail: 'Not Found' }) };

test('without prompt_logprobs (refused with 400): POST /tokenize + /v1/completions echo give the same strip, 1e-5', async () => {
  proxy.plan = (_n, req) => (req.path.endsWith('/chat/completions') && req.body?.prompt_logprobs !== undefined ? REFUSED : 'pass');
  const from = proxy.log.length;
  const run = runViaProxy();
  for (const s of run.samples) {
    const r = await remoteSampleLogprobs(run, 'remote.run.jsonl', s.id, { backoffBaseMs: 1 });
    // The fallback's token ids: the rendered chat prompt, then the completion tokenized on its own.
    const prompt = served.tokenizer.encodeChat(s.messages, { addGenerationPrompt: true });
    const ids = [...prompt, ...served.tokenizer.encode(s.completion, { addSpecialTokens: false })];
    assertStrip(r, await localDiff(ids, prompt.length), s);
  }
  const paths = proxy.log.slice(from).map((e) => `${e.path} ${e.status}`);
  assert.equal(paths.filter((p) => p === '/v1/chat/completions 400').length, 16, 'each sample tried prompt_logprobs once per model');
  assert.equal(paths.filter((p) => p === '/tokenize 200').length, 16, 'prompt and completion tokenized per sample');
  assert.equal(paths.filter((p) => p === '/v1/completions 200').length, 16, 'one echo request per model and sample');
});

test('a server that ignores prompt_logprobs and has no /tokenize: the local tokenizer gives the ids; without one, the error names each endpoint', async () => {
  proxy.plan = (_n, req) => {
    if (req.path === '/tokenize') return NOT_FOUND;
    if (req.path.endsWith('/chat/completions') && req.body?.prompt_logprobs !== undefined) {
      const { prompt_logprobs: _dropped, ...rest } = req.body;
      return { forward: rest };
    }
    return 'pass';
  };
  const run = runViaProxy();
  const s = run.samples.find((x) => x.variant === ADAPTER)!;
  const withTok = await remoteSampleLogprobs(run, 'remote.run.jsonl', s.id, { tokenizerDir: DEMO_BASE });
  const prompt = served.tokenizer.encodeChat(s.messages, { addGenerationPrompt: true });
  assertStrip(withTok, await localDiff([...prompt, ...served.tokenizer.encode(s.completion, { addSpecialTokens: false })], prompt.length), s);
  // The run's model path is a served name, not a folder here: no tokenizer to fall back on.
  await assert.rejects(remoteSampleLogprobs(run, 'remote.run.jsonl', s.id), (e: Error) => {
    assert.match(e.message, /does not return the log-probabilities of a given text/);
    assert.match(e.message, new RegExp(`POST ${proxy.baseUrl}/chat/completions with prompt_logprobs: the server answered without prompt_logprobs`));
    assert.match(e.message, new RegExp(`POST ${proxy.baseUrl.replace(/\/v1$/, '')}/tokenize failed \\(HTTP 404`));
    assert.match(e.message, /no local tokenizer/);
    return true;
  });
});

test('a server whose /v1/completions does not echo the prompt\'s logprobs: the error names that endpoint', async () => {
  proxy.plan = (_n, req) => {
    if (req.path.endsWith('/chat/completions') && req.body?.prompt_logprobs !== undefined) return REFUSED;
    if (req.path === '/v1/completions') {
      const { echo: _dropped, ...rest } = req.body;
      return { forward: rest };
    }
    return 'pass';
  };
  const run = runViaProxy();
  await assert.rejects(remoteSampleLogprobs(run, 'remote.run.jsonl', run.samples[0].id, { backoffBaseMs: 1 }), (e: Error) => {
    assert.match(e.message, /HTTP 400 .*Unrecognized request argument supplied: prompt_logprobs/);
    assert.match(e.message, new RegExp(`POST ${proxy.baseUrl}/completions with echo \\+ logprobs \\(token ids from POST .*/tokenize\\) failed: it answered with \\d+ logprobs entries for a \\d+-token prompt`));
    return true;
  });
});

test('the OpenAI API (prompt_logprobs refused, no /tokenize): a clear error at once, nothing retried', async () => {
  const run = readRun(runPath);
  const calls: string[] = [];
  const fakeFetch = (async (url: string | URL) => {
    const u = String(url);
    calls.push(new URL(u).pathname);
    if (u.endsWith('/chat/completions')) return new Response(JSON.stringify({ error: { message: 'Unrecognized request argument supplied: prompt_logprobs' } }), { status: 400 });
    return new Response('{"error":{"message":"Not found"}}', { status: 404 });
  }) as typeof fetch;
  await assert.rejects(remoteSampleLogprobs(run, 'remote.run.jsonl', run.samples[1].id, { fetch: fakeFetch }), /does not return the log-probabilities of a given text.*\/chat\/completions with prompt_logprobs.*\/tokenize failed.*The OpenAI API has neither/);
  assert.deepEqual(calls.sort(), ['/tokenize', '/tokenize', '/v1/chat/completions', '/v1/chat/completions'], 'one request per model and endpoint, none retried');
  await assert.rejects(remoteSampleLogprobs(run, 'remote.run.jsonl', run.samples[1].id, { fetch: fakeFetch }), RemoteLogprobsUnavailableError);
  // The engine host: an Unsupported error (nothing to retry, nothing to check on the user's side but the server).
  await assert.rejects(runRemoteLogprobs({ runPath, sampleId: run.samples[1].id }, undefined, { fetch: fakeFetch }), (e: EngineError) => e.kind === 'Unsupported' && /The OpenAI API has neither/.test(e.message));
});

test('a local run is refused with the reason', async () => {
  const run = readRun(runPath);
  const local = { ...run, header: { ...run.header, backend: { kind: 'local' as const } } };
  await assert.rejects(remoteSampleLogprobs(local, 'x.run.jsonl', run.samples[0].id), /not generated through a generation server.*computed locally/);
});

test('completionTokenCount finds the shortest trailing run that spells the completion', () => {
  assert.equal(completionTokenCount(['<s>', 'User', ':', ' hi', ' there'], ' hi there'), 2);
  assert.equal(completionTokenCount(['a', 'b', '', 'c'], 'c'), 1);
  assert.equal(completionTokenCount(['a', 'bc'], 'c'), null);
  assert.equal(completionTokenCount(['a'], ''), 0);
});

test('engine/remoteLogprobs: the engine host answers with the same strip (no local model loaded), and a bad sample id is an InvalidInput error', async () => {
  const toHost = new PassThrough();
  const toClient = new PassThrough();
  const host = createMessageConnection(new StreamMessageReader(toHost), new StreamMessageWriter(toClient));
  const client = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toHost));
  // A backend with no model: the remote path must not touch it.
  serve(host, { settings: DEFAULT_SETTINGS, model: null, adapters: [] } as unknown as EngineBackend, { exit: () => undefined, testHooks: false });
  host.listen();
  client.listen();
  try {
    const run = readRun(runPath);
    const s = run.samples.find((x) => x.variant === ADAPTER)!;
    const viaHost = await client.sendRequest(EngineMethods.remoteLogprobs, { runPath, sampleId: s.id });
    const direct = await remoteSampleLogprobs(run, 'remote.run.jsonl', s.id);
    assert.deepEqual(viaHost.tokens, direct.tokens);
    assert.equal(viaHost.adapterModel, ADAPTER);
    await assert.rejects(client.sendRequest(EngineMethods.remoteLogprobs, { runPath, sampleId: 'nope' }), (e: any) => e.code === EngineErrorCodes.InvalidInput && /no sample "nope"/.test(e.message));
  } finally {
    client.dispose();
    host.dispose();
  }
});
