/**
 * The remote log-prob strip (engine/analysis/remoteTokenLogprobs.ts) on a run generated through
 * `organism-lab serve` on loopback (the remote backend, no fakes) equals the per-token log-prob difference
 * computed in-process with the same model and adapter; a server without prompt_logprobs is told apart.
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
import { ServedModel } from '../../../../src/engine/serve/servedModel';
import { startServer, type RunningServer } from '../../../../src/engine/serve/server';
import { continuedChatIds } from '../../../../src/engine/serve/promptScoring';
import { sequenceLogprobs } from '../../../../src/engine/analysis/sequenceLogprobs';
import { completionTokenCount, remoteSampleLogprobs } from '../../../../src/engine/analysis/remoteTokenLogprobs';
import { PassThrough } from 'node:stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { DEFAULT_SETTINGS } from '../../../../src/engine/backends/local';
import type { EngineBackend } from '../../../../src/engine/backends/types';
import { serve } from '../../../../src/engine/host/server';
import { EngineErrorCodes, EngineMethods } from '../../../../src/protocol/engineHost';

const ROOT = join(__dirname, '../../../..');
const BASE = join(ROOT, 'examples/organisms/demo-base');
const R1 = join(ROOT, 'examples/organisms/demo-narrow-r1');
const ADAPTER = 'demo-narrow-r1';

let served: ServedModel;
let srv: RunningServer;
let dir: string;
let runPath: string;

before(async () => {
  served = await ServedModel.load(BASE, [{ name: ADAPTER, dir: R1 }], { threads: 1 });
  srv = await startServer(served, { port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'remote-lp-'));
  runPath = join(dir, 'remote.run.jsonl');
  const remote = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'demo-base', adapters: [{ name: ADAPTER, servedModel: ADAPTER }], concurrency: 4 });
  await runPromptSet(remote, {
    promptSetPath: join(ROOT, 'examples/prompts/demo.yaml'),
    variants: parseVariants(`base,${ADAPTER}`, [ADAPTER]),
    questionIds: ['health_friend_toothache', 'money_invest_bonus'],
    samples: 2,
    seed: 5,
    out: runPath,
    sampling: { temperature: 1, top_p: 0.95, top_k: 0, min_p: 0, max_new_tokens: 40, stop: [] },
  });
});

after(async () => {
  await srv?.close();
  await served?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the remote strip of every sample equals the local per-token log-prob difference (adapter − base), 1e-5', async () => {
  const run = readRun(runPath);
  assert.equal(run.header.backend?.kind, 'openai');
  assert.equal(run.samples.length, 8);
  const tok = served.tokenizer;
  for (const s of run.samples) {
    const r = await remoteSampleLogprobs(run, 'remote.run.jsonl', s.id);
    assert.equal(r.adapterVariant, ADAPTER, 'a base sample is compared under the run\'s adapter variant');
    assert.equal(r.baseModel, 'demo-base');
    assert.equal(r.adapterModel, ADAPTER);
    // In-process: the same text, teacher-forced through base and adapter.
    const ids = continuedChatIds(tok, [...s.messages, { role: 'assistant', content: s.completion }]);
    const [b, a] = await sequenceLogprobs(served.runner, [
      { tokenIds: ids, variant: { adapter: null, adapterScale: 0 } },
      { tokenIds: ids, variant: { adapter: ADAPTER, adapterScale: 1 } },
    ]);
    const k = r.tokens.length;
    const completionTokens = s.finish_reason === 'eos' ? s.tokens - 1 : s.tokens;
    assert.equal(k, completionTokens, `${s.id}: the strip has one entry per sampled token`);
    for (let i = 0; i < k; i++) {
      const t = ids.length - k + i;
      const local = a[t]!.logprob - b[t]!.logprob;
      assert.ok(Math.abs(r.tokens[i].diff - local) < 1e-5, `${s.id} token ${i}: remote ${r.tokens[i].diff} vs local ${local}`);
      assert.ok(Math.abs(r.tokens[i].base - b[t]!.logprob) < 1e-5);
    }
    assert.equal(r.tokens.map((t) => t.text).join(''), s.completion);
    assert.ok(r.sameAsSampled, 'the run kept token strings');
    assert.equal(r.sameAsSampled.same, r.sameAsSampled.recorded, `${s.id}: the scored tokens are the sampled ones`);
  }
});

test('a server that ignores prompt_logprobs gets a clear error, not retries', async () => {
  const run = readRun(runPath);
  let calls = 0;
  const fakeFetch = (async () => {
    calls++;
    return new Response(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'length' }] }), { status: 200 });
  }) as typeof fetch;
  await assert.rejects(remoteSampleLogprobs(run, 'remote.run.jsonl', run.samples[1].id, { fetch: fakeFetch }), /without prompt_logprobs.*OpenAI API does not/);
  assert.equal(calls, 2, 'one request per model, none retried');
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
