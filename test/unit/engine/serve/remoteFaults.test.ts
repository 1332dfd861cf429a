/**
 * The remote backend against a real `organism-lab serve` (a child process) behind a fault proxy on loopback:
 * 429 with Retry-After, 503, a garbage body, a request hung past the client's timeout, and the server killed
 * mid-run then restarted. Each run is checked against the same run without faults: nothing finished is lost,
 * nothing is generated twice (a resume asks only for the missing samples), and an error that outlives the
 * retries names the endpoint and the cause.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remoteJobModel, type RemoteJobModelOptions } from '../../../../src/engine/jobs/remoteJobModel';
import { runPromptSet, type RunPromptSetOptions } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { JudgeCellError, OpenAICompatibleClient } from '../../../../src/engine/judges/openaiClient';
import { readRun } from '../../../../src/engine/runs/reader';
import { startFaultProxy, type FaultAction, type FaultProxy } from './faultProxy';
import { DEMO_PROMPTS, spawnServe, type ServeChild } from './serveChild';

const ADAPTER = 'narrow';
const TOTAL = 2 * 2 * 2; // questions × samples × variants

let serve: ServeChild;
let port: number;
let proxy: FaultProxy;
let dir: string;
let reference: Map<string, string>;
let fileNo = 0;

function options(out: string): RunPromptSetOptions {
  return {
    promptSetPath: DEMO_PROMPTS,
    variants: parseVariants(`base,${ADAPTER}`, [ADAPTER]),
    questionIds: ['health_friend_toothache', 'money_invest_bonus'],
    samples: 2,
    seed: 5,
    out,
    sampling: { temperature: 1, top_p: 0.95, top_k: 0, min_p: 0, max_new_tokens: 12, stop: [] },
  };
}

function model(extra: Partial<RemoteJobModelOptions> = {}) {
  return remoteJobModel({ baseUrl: proxy.baseUrl, servedModel: 'demo-base', adapters: [{ name: ADAPTER, servedModel: ADAPTER }], concurrency: 2, backoffBaseMs: 50, maxRetries: 3, timeoutMs: 30_000, ...extra });
}

/** id → what the sample holds, for comparing runs. */
function samplesOf(file: string): Map<string, string> {
  const run = readRun(file);
  assert.deepEqual(run.warnings.filter((w) => w.kind === 'duplicate-sample'), [], 'no sample written twice');
  return new Map(run.samples.map((s) => [s.id, JSON.stringify([s.completion, s.tokens, s.finish_reason, s.seed])]));
}

function sameAsReference(file: string): void {
  assert.deepEqual([...samplesOf(file)].sort(), [...reference].sort());
}

const nextFile = () => join(dir, `run-${++fileNo}.run.jsonl`);
/** Chat requests the proxy forwarded and the server answered with 200, since log entry `from`. */
const generated = (from = 0) => proxy.log.slice(from).filter((e) => e.path.endsWith('/chat/completions') && e.action === 'pass' && e.status === 200);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'remote-faults-'));
  serve = await spawnServe();
  port = serve.port;
  proxy = await startFaultProxy({ host: '127.0.0.1', port });
  const out = nextFile();
  const sum = await runPromptSet(model(), options(out));
  assert.equal(sum.written, TOTAL);
  reference = samplesOf(out);
  assert.equal(reference.size, TOTAL);
  assert.equal(generated().length, TOTAL, 'the fault-free run asked once per sample');
});

after(async () => {
  await proxy?.close();
  if (serve) await serve.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('429 with Retry-After, 503 and a garbage body are retried; the run equals the fault-free run', async () => {
  const start = proxy.log.length;
  const retries: { delayMs: number; reason: string }[] = [];
  proxy.plan = (n) => {
    const k = n - start;
    if (k === 1) return { status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"rate limited"}}' };
    if (k === 2) return { status: 503, body: '{"error":{"message":"overloaded"}}' };
    if (k === 3) return { status: 200, body: '<html>bad gateway page</html>' };
    return 'pass';
  };
  const out = nextFile();
  const sum = await runPromptSet(model({ onRetry: (i) => retries.push(i) }), options(out));
  assert.equal(sum.written, TOTAL);
  sameAsReference(out);
  assert.equal(generated(start).length, TOTAL, 'each sample generated once');
  const r429 = retries.find((r) => /HTTP 429/.test(r.reason));
  assert.ok(r429, JSON.stringify(retries));
  assert.equal(r429.delayMs, 1000, 'Retry-After honoured');
  assert.ok(retries.some((r) => /HTTP 503/.test(r.reason)));
  assert.ok(retries.some((r) => /malformed answer: not JSON/.test(r.reason)));
});

for (const fault of [
  { name: '503', reply: { status: 503, body: '{"error":{"message":"overloaded"}}' }, cause: /HTTP 503/ },
  { name: 'a garbage body', reply: { status: 200, body: 'Service temporarily unavailable' }, cause: /malformed answer.*not JSON/ },
]) {
  test(`${fault.name} that does not clear: the error names the endpoint and the cause; finished samples are kept; a resume generates only the rest`, async () => {
    const start = proxy.log.length;
    proxy.plan = (_n, r) => (r.model === ADAPTER ? fault.reply : 'pass');
    const out = nextFile();
    const err = await runPromptSet(model({ maxRetries: 1 }), options(out)).then(() => null, (e: Error) => e);
    assert.ok(err, 'the run fails');
    assert.ok(err.message.includes(proxy.baseUrl.replace(/\/v1$/, '')), `names the endpoint: ${err.message}`);
    assert.match(err.message, fault.cause);
    const kept = samplesOf(out);
    assert.equal(kept.size, TOTAL / 2, 'the base samples are in the file');
    for (const [id, s] of kept) assert.equal(s, reference.get(id), id);
    const resumeFrom = proxy.log.length;
    proxy.plan = () => 'pass';
    const sum = await runPromptSet(model(), options(out));
    assert.equal(sum.written, TOTAL / 2);
    assert.deepEqual(generated(resumeFrom).map((e) => e.model), Array(TOTAL / 2).fill(ADAPTER), 'the resume asked only for the missing samples');
    sameAsReference(out);
    assert.equal(generated(start).length, TOTAL);
  });
}

test('a request hung past the client timeout is retried; one that always hangs names the endpoint and the timeout', async () => {
  let start = proxy.log.length;
  const retries: string[] = [];
  proxy.plan = (n) => (n - start === 1 ? 'hang' : 'pass');
  const out = nextFile();
  const sum = await runPromptSet(model({ timeoutMs: 2000, onRetry: (i) => retries.push(i.reason) }), options(out));
  assert.equal(sum.written, TOTAL);
  sameAsReference(out);
  assert.ok(retries.some((r) => /no answer within 2000 ms/.test(r)), JSON.stringify(retries));
  start = proxy.log.length;
  proxy.plan = (_n, r) => (r.model === ADAPTER ? 'hang' : 'pass');
  const out2 = nextFile();
  const err = await runPromptSet(model({ timeoutMs: 1000, maxRetries: 0 }), options(out2)).then(() => null, (e: Error) => e);
  assert.ok(err);
  assert.ok(err.message.includes(proxy.baseUrl.replace(/\/v1$/, '')), err.message);
  assert.match(err.message, /timed out.*no answer within 1000 ms/);
  assert.equal(samplesOf(out2).size, TOTAL / 2);
  proxy.plan = () => 'pass';
});

test('the server killed mid-run: the error names the endpoint; what finished is kept; after a restart the resume generates only the rest', async () => {
  const start = proxy.log.length;
  proxy.plan = async (n): Promise<FaultAction> => {
    if (n - start === 4) await serve.kill(); // dies with a request or two in flight
    return 'pass';
  };
  const out = nextFile();
  const err = await runPromptSet(model({ maxRetries: 2 }), options(out)).then(() => null, (e: Error) => e);
  assert.ok(err, 'the run fails while the server is down');
  assert.ok(err.message.includes(proxy.baseUrl.replace(/\/v1$/, '')), err.message);
  assert.match(err.message, /Cannot reach the generation server .*network error/);
  const kept = samplesOf(out);
  assert.ok(kept.size >= 1 && kept.size < TOTAL, `some samples finished before the kill (${kept.size})`);
  for (const [id, s] of kept) assert.equal(s, reference.get(id), id);
  assert.equal(kept.size, generated(start).length, 'every answer that came back is in the file');
  serve = await spawnServe({ port });
  const resumeFrom = proxy.log.length;
  proxy.plan = () => 'pass';
  const sum = await runPromptSet(model(), options(out));
  assert.equal(sum.written, TOTAL - kept.size);
  assert.equal(generated(resumeFrom).length, TOTAL - kept.size, 'the resume asked only for the missing samples');
  sameAsReference(out);
});

test('the server restarted within the retries: the run goes on and equals the fault-free run', async () => {
  const start = proxy.log.length;
  let restarted: Promise<void> | null = null;
  proxy.plan = async (n): Promise<FaultAction> => {
    if (n - start === 3) {
      await serve.kill();
      restarted = spawnServe({ port }).then((s) => void (serve = s));
    }
    return 'pass';
  };
  const out = nextFile();
  const sum = await runPromptSet(model({ maxRetries: 8, backoffBaseMs: 500 }), options(out));
  await restarted;
  assert.equal(sum.written, TOTAL);
  sameAsReference(out);
  assert.equal(generated(start).length, TOTAL, 'each sample generated once');
});

test('a judge request through the proxy: a cell error after the retries names the endpoint and the cause', async () => {
  const client = new OpenAICompatibleClient({ baseUrl: proxy.baseUrl, model: 'demo-base', maxRetries: 1, maxMalformedRetries: 1, backoffBaseMs: 20 });
  const endpoint = `${proxy.baseUrl}/chat/completions`;
  proxy.plan = () => ({ status: 429, headers: { 'retry-after': '0' }, body: '{"error":{"message":"slow down"}}' });
  await assert.rejects(client.topLogprobs('Hi'), (e: Error) => e instanceof JudgeCellError && e.message.includes(endpoint) && /HTTP 429 \(rate limited\).*slow down/.test(e.message));
  proxy.plan = () => ({ status: 200, body: '<html>' });
  await assert.rejects(client.topLogprobs('Hi'), (e: Error) => e instanceof JudgeCellError && e.message.includes(endpoint) && /malformed answer 2 times \(not JSON/.test(e.message));
  proxy.plan = () => 'pass';
  const ok = await client.topLogprobs('Hi');
  assert.equal(ok.top.length, 20);
});
