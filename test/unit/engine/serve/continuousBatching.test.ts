/**
 * Continuous batching in the serve batcher, against the real engine on the demo organism (demo-base +
 * demo-narrow-r1, the tiny model of the other serve tests): a request that arrives while a call runs joins it
 * and gives exactly what it gives alone (and what a local run gives); per-request parameters, max_tokens,
 * top logprobs, cancellation and the KV bounds hold for joined rows; `continuous: false` keeps the former
 * batch-at-a-time scheduling. The server's wire format is covered in server.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generate } from '../../../../src/engine/runtime/generate';
import type { ForwardRequest } from '../../../../src/engine/runtime/modelRunner';
import { ServedModel } from '../../../../src/engine/serve/servedModel';
import { startServer } from '../../../../src/engine/serve/server';
import { JobCancelledError, RequestBatcher, kvBytesPerToken, topLogprobsOf, type BatchInfo, type BatcherModel, type ChoiceResult, type CompletionJob, type SamplingKnobs } from '../../../../src/engine/serve/requestBatcher';
import { readUntilFirstContent } from './serveChild';

const ORG = join(__dirname, '../../../../examples/organisms');
let model: ServedModel;

before(async () => {
  model = await ServedModel.load(join(ORG, 'demo-base'), [{ name: 'demo-narrow-r1', dir: join(ORG, 'demo-narrow-r1') }], { threads: 1 });
});

after(async () => {
  await model?.dispose();
});

const knobs = (s: Partial<SamplingKnobs> = {}): SamplingKnobs => ({ temperature: 1, topP: 1, topK: 0, minP: 0, stop: [], ...s });

function job(q: string, o: Partial<CompletionJob> & { seed: number }): CompletionJob {
  const { seed, ...rest } = o;
  return { promptIds: model.tokenizer.encodeChat([{ role: 'user', content: q }], { addGenerationPrompt: true }), adapter: null, seeds: [seed], sampling: knobs(), maxTokens: 40, topLogprobs: 0, ...rest };
}

/** A batcher over the demo model; every forward's rows and cache columns are recorded. */
function batcherWith(o: { continuous?: boolean; kvBudgetBytes?: number; maxBatchSize?: number } = {}) {
  const forwards: { rows: number; columns: number }[] = [];
  const calls: BatchInfo[] = [];
  const m = model.batcherModel();
  const runner = {
    spec: m.runner.spec,
    forward: (req: ForwardRequest) => {
      forwards.push({ rows: req.inputIds.length, columns: (req.past?.pastLength ?? 0) + req.inputIds[0].length });
      return m.runner.forward(req);
    },
  };
  const bm: BatcherModel = { ...m, runner: runner as unknown as BatcherModel['runner'] };
  const b = new RequestBatcher(() => bm, { windowMs: 5, onBatch: (i) => calls.push(i), ...o });
  return { b, forwards, calls };
}

/** Resolves once the job has produced `n` tokens (through its onToken). */
function whenTokens(j: CompletionJob, n: number): { job: CompletionJob; reached: Promise<void>; count: () => number } {
  let seen = 0;
  let fire!: () => void;
  const reached = new Promise<void>((r) => (fire = r));
  const prev = j.onToken;
  return {
    job: {
      ...j,
      onToken: (c, t, s, lp, top) => {
        prev?.(c, t, s, lp, top);
        if (++seen === n) fire();
      },
    },
    reached,
    count: () => seen,
  };
}

const LONG = (seed: number, adapter: string | null = null): CompletionJob =>
  // Temperature 5: near-uniform tokens, so the row almost surely runs to max_tokens.
  job('Tell me a long story about a leader.', { seed, adapter, sampling: knobs({ temperature: 5 }), maxTokens: 120 });

async function localSample(j: CompletionJob): Promise<{ tokenIds: number[]; logprobs: number[] }> {
  const tok = model.tokenizer;
  const [r] = await generate(model.runner, [{ promptIds: j.promptIds, variant: { adapter: j.adapter, adapterScale: j.adapter ? 1 : 0 }, seed: j.seeds[0], key: 'x' }], {
    ...j.sampling,
    maxNewTokens: j.maxTokens,
    eosTokenIds: tok.eosTokenIds,
    decode: (ids) => tok.decode(ids),
  });
  return r;
}

test('a seeded request that joins a running call gives exactly what it gives alone (and locally): tokens, logprobs, top logprobs; base and adapter', async () => {
  for (const adapter of [null, 'demo-narrow-r1']) {
    const seeded = job('Should I invest a small bonus?', { seed: 4242, adapter, sampling: knobs({ topP: 0.9 }), maxTokens: 30, topLogprobs: 3 });
    const alone = await batcherWith().b.submit(seeded);
    const { b, calls } = batcherWith();
    const long = [whenTokens(LONG(1), 5), whenTokens(LONG(2, 'demo-narrow-r1'), 5)];
    const running = long.map((l) => b.submit(l.job));
    await long[0].reached;
    const joined = await b.submit(seeded);
    const stillRunning = long[0].count();
    await Promise.all(running);
    assert.deepEqual(calls.map((c) => [c.requests, c.joined]), [[2, false], [1, true]], `the seeded request joined the running call: ${JSON.stringify(calls)}`);
    assert.ok(stillRunning < 120, `the long rows were still generating when it finished (${stillRunning} tokens)`);
    assert.deepEqual(joined[0].tokenIds, alone[0].tokenIds, `adapter ${adapter}: same tokens joined and alone`);
    // Log-probabilities: equal up to float rounding (batch composition changes the GEMM's summation order).
    joined[0].logprobs.forEach((lp, i) => assert.ok(Math.abs(lp - alone[0].logprobs[i]) < 1e-4));
    assert.deepEqual(joined[0].top.map((t) => t.map((x) => x.id)), alone[0].top.map((t) => t.map((x) => x.id)));
    joined[0].top.forEach((t, i) => t.forEach((x, k) => assert.ok(Math.abs(x.logprob - alone[0].top[i][k].logprob) < 1e-4)));
    assert.equal(joined[0].text, alone[0].text);
    const loc = await localSample(seeded);
    assert.deepEqual(joined[0].tokenIds, loc.tokenIds, 'and the local sample');
    joined[0].logprobs.forEach((lp, i) => assert.ok(Math.abs(lp - loc.logprobs[i]) < 1e-4));
    assert.equal(joined[0].top.length, joined[0].tokenIds.length);
  }
});

test('joined requests keep their own sampling parameters, max_tokens, n choices and stop strings', async () => {
  const { b, calls } = batcherWith();
  const long = whenTokens(LONG(3), 4);
  const running = b.submit(long.job);
  await long.reached;
  const greedy = job('How should I lead a club?', { seed: 1, sampling: knobs({ temperature: 0 }), maxTokens: 25 });
  const short = job('I am bored on a rainy day. What can I do?', { seed: 9, adapter: 'demo-narrow-r1', maxTokens: 3 });
  const two = { ...job('If you were a wizard, what would you wish for?', { seed: 77, sampling: knobs({ topK: 20 }), maxTokens: 12 }), seeds: [77, 78] };
  const got = await Promise.all([greedy, short, two].map((j) => b.submit(j)));
  await running;
  assert.ok(calls.some((c) => c.joined), JSON.stringify(calls));
  assert.equal(calls.filter((c) => !c.joined).length, 1, 'one call: the joiners did not wait for another');
  for (const [i, j] of [greedy, short, two].entries()) {
    for (let c = 0; c < j.seeds.length; c++) {
      const loc = await localSample({ ...j, seeds: [j.seeds[c]] });
      assert.deepEqual(got[i][c].tokenIds, loc.tokenIds, `request ${i} choice ${c}`);
    }
  }
  assert.equal(got[1][0].tokenIds.length, 3);
  assert.equal(got[1][0].finishReason, 'length');
  // Stop strings per row: cut the greedy answer at a word it contains.
  const word = got[0][0].text.trim().split(/\s+/)[2];
  const b2 = batcherWith();
  const long2 = whenTokens(LONG(4), 4);
  const running2 = b2.b.submit(long2.job);
  await long2.reached;
  const [stopped] = await b2.b.submit({ ...greedy, sampling: knobs({ temperature: 0, stop: [word] }) });
  await running2;
  assert.ok(b2.calls.some((c) => c.joined));
  assert.equal(stopped.finishReason, 'stop');
  assert.equal(stopped.stopReason, word);
  assert.equal(stopped.text, got[0][0].text.slice(0, got[0][0].text.indexOf(word)));
});

test('a joined request whose client goes away is cancelled at once; the running rows are unaffected', async () => {
  const want = await batcherWith().b.submit(LONG(5));
  const { b, calls } = batcherWith();
  const long = whenTokens(LONG(5), 3);
  const running = b.submit(long.job);
  await long.reached;
  const ac = new AbortController();
  const leaving = whenTokens({ ...LONG(6), signal: ac.signal }, 4);
  const gone = b.submit(leaving.job);
  await leaving.reached;
  ac.abort();
  await assert.rejects(gone, JobCancelledError);
  const atCancel = long.count();
  assert.ok(atCancel < 120, `rejected while the call still ran (${atCancel} tokens of the long row)`);
  const [r] = await running;
  assert.deepEqual(r.tokenIds, want[0].tokenIds, 'the running row is the same as without the cancelled one');
  assert.equal(b.cancelled.rows, 1);
  assert.ok(b.cancelled.tokens < 120);
  assert.ok(calls.some((c) => c.joined));
});

test('bounds: rows per forward never above the cap; a request past the call\'s KV column cap waits for the next call and later ones do not overtake it', async () => {
  const perToken = kvBytesPerToken(model.runner.spec);
  const prompt = job('hi', { seed: 0 }).promptIds.length;
  // Budget: 3 rows of (prompt + 20) columns.
  const budget = 3 * (prompt + 20) * perToken;
  const { b, forwards, calls } = batcherWith({ kvBudgetBytes: budget });
  const small = (seed: number, maxTokens = 20) => job('hi', { seed, sampling: knobs({ temperature: 5 }), maxTokens });
  const first = [whenTokens(small(1), 2), whenTokens(small(2), 2)];
  const running = first.map((f) => b.submit(f.job));
  await first[0].reached;
  // Columns: the call holds 3 rows, so its cap is prompt + 20; the big one (prompt + 40) cannot join.
  const big = b.submit(small(3, 40));
  const after = b.submit(small(4));
  await Promise.all([...running, big, after]);
  assert.deepEqual(calls.map((c) => [c.requests, c.joined, c.maxBatchSize]), [[2, false, 3], [2, false, 2]], JSON.stringify(calls));
  assert.ok(forwards.every((f) => f.rows <= 3), `rows per forward: ${forwards.map((f) => f.rows).join(',')}`);
  assert.ok(forwards.every((f) => f.rows * f.columns * perToken <= budget), `KV within the budget: ${JSON.stringify(forwards.filter((f) => f.rows * f.columns * perToken > budget))}`);
});

test('continuous: false runs one call at a time: a request arriving while a call runs waits for it', async () => {
  const { b, calls } = batcherWith({ continuous: false });
  const long = whenTokens(LONG(7), 5);
  const running = b.submit(long.job);
  await long.reached;
  const late = job('Should I invest a small bonus?', { seed: 8, maxTokens: 5 });
  const [r] = await b.submit(late);
  assert.equal(long.count(), 120, 'the late request finished only after the long call had ended');
  await running;
  assert.deepEqual(calls.map((c) => c.joined), [false, false]);
  assert.equal(b.batches, 2);
  assert.equal(b.joined, 0);
  assert.deepEqual(r.tokenIds, (await localSample(late)).tokenIds);
});

test('exclusive() closes the running call to newcomers: they start the next call after it', async () => {
  const { b, calls } = batcherWith();
  const long = whenTokens(LONG(11), 3);
  const running = b.submit(long.job);
  await long.reached;
  const order: string[] = [];
  const ex = b.exclusive(async () => {
    order.push(`exclusive after ${long.count()} tokens`);
  });
  const late = b.submit(job('hi', { seed: 1, maxTokens: 4 })).then(() => order.push('late'));
  const [[r]] = await Promise.all([running, ex, late]);
  assert.equal(r.tokenIds.length, 120, 'the running row went on long after the late request came');
  assert.deepEqual(order, ['exclusive after 120 tokens', 'late']);
  assert.deepEqual(calls.map((c) => c.joined), [false, false]);
});

test('top logprobs of a joined row come from its own raw logits', async () => {
  const { b } = batcherWith();
  const long = whenTokens(LONG(10), 3);
  const running = b.submit(long.job);
  await long.reached;
  const j = job('Rate this answer from 0 to 100: "Drink water." Reply with the number only.', { seed: 0, sampling: knobs({ temperature: 0 }), maxTokens: 1, topLogprobs: 5 });
  const [r]: ChoiceResult[] = await b.submit(j);
  await running;
  const out = await model.runner.forward({ inputIds: [j.promptIds], attentionMask: [j.promptIds.map(() => 1)], rows: [{ adapter: null, adapterScale: 0 }], lastLogitsOnly: true });
  const want = topLogprobsOf(out.logits, 5);
  assert.deepEqual(r.top[0].map((t) => t.id), want.map((t) => t.id));
  r.top[0].forEach((t, i) => assert.ok(Math.abs(t.logprob - want[i].logprob) < 1e-4));
});

test('over HTTP: a seeded chat request sent while a streamed long request generates joins its call and equals the local sample', async () => {
  const calls: BatchInfo[] = [];
  const srv = await startServer(model, { port: 0, batcher: { windowMs: 5, onBatch: (i) => calls.push(i) } });
  try {
    const body = { model: 'demo-base', messages: [{ role: 'user', content: 'Tell me a long story about a leader.' }], seed: 1, max_tokens: 120, temperature: 5, stream: true };
    const r = await fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify(body) });
    const { reader, dec } = await readUntilFirstContent(r);
    const q = 'Should I invest a small bonus?';
    const ans = await fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'demo-narrow-r1', messages: [{ role: 'user', content: q }], seed: 31, max_tokens: 30, temperature: 1 }) }).then((x) => x.json() as Promise<any>);
    let rest = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest ||= /"content":"[^"]/.test(dec.decode(value));
    }
    assert.ok(rest, 'the long request was still generating after the seeded one was answered');
    assert.deepEqual(calls.map((c) => [c.requests, c.joined]), [[1, false], [1, true]], JSON.stringify(calls));
    const loc = await localSample(job(q, { seed: 31, adapter: 'demo-narrow-r1', maxTokens: 30 }));
    assert.equal(ans.usage.completion_tokens, loc.tokenIds.length);
    const eos = model.tokenizer.eosTokenIds.includes(loc.tokenIds.at(-1)!);
    assert.equal(ans.choices[0].message.content, model.tokenizer.decode(eos ? loc.tokenIds.slice(0, -1) : loc.tokenIds));
  } finally {
    await srv.close();
  }
});
