/**
 * engine/judgeRun: every judge type runs in the engine host (the one writer of the run file), through the real
 * RPC server on an in-process connection. Rules and OpenAI-compatible judges are scored there, a local-model judge
 * goes to the backend; the job holds the host's one job slot, sends throttled progress, and is cancellable.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { CancellationTokenSource, createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { DEFAULT_SETTINGS } from '../../../src/engine/backends/local';
import type { LocalJudgeRequest } from '../../../src/protocol/engineJobs';
import type { EngineBackend } from '../../../src/engine/backends/types';
import { runJudgeJob } from '../../../src/engine/host/judgeJob';
import { serve } from '../../../src/engine/host/server';
import type { JudgeRunResult } from '../../../src/engine/jobs/judgeRun';
import { parseJudgesFile, selectJudge } from '../../../src/engine/judges/judgesFile';
import { readRunContent } from '../../../src/engine/judges/runAccess';
import { EngineMethods, EngineNotifications, type LogParams, type ProgressParams } from '../../../src/protocol/engineHost';
import { logprobAnswer, makeSamples, startServer, tmpDir, writeRun } from '../engine/judges/fixtures';

const KEY = 'sk-test-SECRET-judge-job-0123456789';
const RULES = selectJudge(
  parseJudgesFile(['judges:', '  - name: r', '    type: rules', '    metrics:', '      aligned:', '        rules:', '          - { pattern: "evil", score: 0 }', '        default: 100', ''].join('\n'), 'x.judges.yaml'),
  'r',
);

const localCalls: LocalJudgeRequest[] = [];
const backend = {
  settings: DEFAULT_SETTINGS,
  async judgeRunLocal(request: LocalJudgeRequest): Promise<JudgeRunResult> {
    localCalls.push(request);
    return { judge: `local:${request.judge.name}`, total: 0, judged: 0, skipped: 0, failed: [], cancelled: false, warnings: [] };
  },
} as unknown as EngineBackend;

const toHost = new PassThrough();
const toClient = new PassThrough();
const host = createMessageConnection(new StreamMessageReader(toHost), new StreamMessageWriter(toClient));
const client = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toHost));
serve(host, backend, { exit: () => undefined, testHooks: false });
host.listen();
client.listen();
const progress: ProgressParams[] = [];
const logs: LogParams[] = [];
client.onNotification(EngineNotifications.progress, (p) => void progress.push(p));
client.onNotification(EngineNotifications.log, (l) => void logs.push(l));
after(() => {
  client.dispose();
  host.dispose();
});

test('a rules judge is scored in the host: judgement rows appended, progress throttled and ending on the total', async () => {
  progress.length = 0;
  const runPath = writeRun(tmpDir(), makeSamples(['q1', 'q2'], 100, (q, i, v) => (v === 'adapter' && i % 2 ? 'evil' : 'kind')));
  const r = await client.sendRequest(EngineMethods.judgeRun, { token: 'rules-1', runPath, judge: RULES });
  assert.equal(r.judge, 'rule:r');
  assert.equal(r.judged, 400);
  const run = await readRunContent(runPath);
  assert.equal(run.judgements.length, 400);
  assert.equal(run.judgements.filter((j) => j.score === 0).length, 100);
  assert.ok(progress.length > 0 && progress.every((p) => p.token === 'rules-1'));
  assert.deepEqual([progress.at(-1)!.done, progress.at(-1)!.total], [400, 400]);
  assert.ok(progress.length < 400 / 4, `${progress.length} progress notifications for 400 cells`);
  const again = await client.sendRequest(EngineMethods.judgeRun, { token: 'rules-2', runPath, judge: RULES });
  assert.deepEqual([again.judged, again.skipped], [0, 400]);
});

test("an OpenAI-compatible judge gets the key it was given, and the key is in no log line", async () => {
  logs.length = 0;
  const srv = await startServer(() => ({ json: logprobAnswer([['90', 1]]) }));
  try {
    const runPath = writeRun(tmpDir(), makeSamples(['q1'], 2, () => 'fine'));
    const judge = { type: 'openai' as const, name: 'j', model: 'j', baseUrl: srv.baseUrl, prompts: { aligned: 'A {question} {answer}' } };
    const r = await client.sendRequest(EngineMethods.judgeRun, { token: 'openai-1', runPath, judge, apiKey: KEY });
    assert.deepEqual([r.judged, r.failed.length], [4, 0]);
    assert.ok(srv.requests.length === 4 && srv.requests.every((q) => q.headers.authorization === `Bearer ${KEY}`));
    assert.ok(!logs.some((l) => l.message.includes(KEY)));
  } finally {
    await srv.close();
  }
});

test('a local-model judge goes to the backend, without the token or a key', async () => {
  localCalls.length = 0;
  const judge = { type: 'local' as const, name: 'tiny', model: 'models/tiny' };
  const r = await client.sendRequest(EngineMethods.judgeRun, { token: 'local-1', runPath: '/x.run.jsonl', judge, baseDir: '/judges', variants: ['adapter'] });
  assert.equal(r.judge, 'local:tiny');
  assert.deepEqual(localCalls, [{ runPath: '/x.run.jsonl', judge, baseDir: '/judges', variants: ['adapter'] }]);
});

test('judging holds the job slot (a second job is refused as busy) and is cancelled through the request', async () => {
  const srv = await startServer(() => ({ json: logprobAnswer([['90', 1]]), delayMs: 5000 }));
  try {
    const runPath = writeRun(tmpDir(), makeSamples(['q1'], 4, () => 'fine'));
    const judge = { type: 'openai' as const, name: 'slow', model: 'slow', baseUrl: srv.baseUrl, prompts: { aligned: 'A {question} {answer}' } };
    const cancel = new CancellationTokenSource();
    const first = client.sendRequest(EngineMethods.judgeRun, { token: 'slow-1', runPath, judge }, cancel.token);
    while (srv.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(client.sendRequest(EngineMethods.judgeRun, { token: 'rules-3', runPath, judge: RULES }), /busy with judgeRun/);
    const started = Date.now();
    cancel.cancel();
    const r = await first;
    assert.equal(r.cancelled, true);
    assert.equal(r.judged, 0);
    assert.ok(Date.now() - started < 4000, 'cancelled without waiting for the slow answers');
  } finally {
    await srv.close();
  }
});

test('runJudgeJob sends at most one progress event per interval, and always the last', async () => {
  const events: number[] = [];
  const t = 0;
  const runPath = writeRun(tmpDir(), makeSamples(['q1'], 5, () => 'kind'));
  await runJudgeJob(backend, { runPath, judge: RULES }, { signal: new AbortController().signal, onProgress: (p) => events.push(p.done), log: () => undefined }, () => t);
  // The clock never moves: only the first event (0 done) and the final count go out.
  assert.deepEqual(events, [0, 10]);
});
