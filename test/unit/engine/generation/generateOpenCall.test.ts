/**
 * Open generation calls (hooks.more: rows that join a running batch) and per-row sampling parameters,
 * against the exact hash model (./hashModel.ts): a joined row, whenever it joins, computes what it computes
 * alone; the batch and its cache stay within their bounds; the call ends when nothing is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runGeneration } from '../../../../src/engine/runtime/generateLoop';
import type { GenerationParams, GenerationRequestRow, GenerationResultRow } from '../../../../src/engine/runtime/generationTypes';
import { HashModel, V } from './hashModel';

const params = (p: Partial<GenerationParams> = {}): GenerationParams => ({ temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: 12, eosTokenIds: [], stop: [], ...p });

function row(i: number, extra: Partial<GenerationRequestRow> = {}): GenerationRequestRow {
  return {
    key: `r${i}`,
    promptIds: Array.from({ length: 2 + ((i * 5) % 9) }, (_, j) => (i * 7 + j * 3) % V),
    variant: { adapter: i % 2 ? 'a' : null, adapterScale: i % 2 ? 1 : 0 },
    seed: 1000 + i,
    ...extra,
  };
}

async function alone(r: GenerationRequestRow, p: GenerationParams): Promise<GenerationResultRow> {
  return (await runGeneration(new HashModel(), [r], p))[0];
}

test('rows that join a running call (at different steps) equal each row generated alone, sampled and greedy', async () => {
  for (const p of [params({ temperature: 1, topP: 0.9, eosTokenIds: [5], maxNewTokens: 20 }), params({ eosTokenIds: [3, 11] })]) {
    const first = [row(0), row(1)];
    const later = Array.from({ length: 7 }, (_, i) => row(2 + i));
    const want = new Map<string, GenerationResultRow>();
    for (const r of [...first, ...later]) want.set(r.key, await alone(r, p));
    // Feed the later rows once the call has produced 2, 3, 5, ... tokens (or when nothing else is active,
    // so that the call does not end before they are all in).
    let tokens = 0;
    const joinAt = [2, 3, 5, 5, 7, 9, 11];
    let calls = 0;
    let running = first.length;
    const done: GenerationResultRow[] = [];
    const returned = await runGeneration(new HashModel(), first, { ...p, maxBatchSize: 4 }, {
      onToken: () => void tokens++,
      onRowDone: (r) => {
        running--;
        done.push(r);
      },
      more: () => {
        calls++;
        const out: GenerationRequestRow[] = [];
        while (later.length > 0 && (joinAt[7 - later.length] <= tokens || running === 0)) out.push(later.shift()!);
        running += out.length;
        return out;
      },
    });
    assert.equal(later.length, 0, 'every later row was taken');
    assert.deepEqual(returned.map((r) => r.key), ['r0', 'r1'], 'the call returns its request rows');
    assert.equal(done.length, 9, 'onRowDone once per row, joined rows included');
    assert.equal(new Set(done.map((r) => r.key)).size, 9);
    for (const r of done) assert.deepEqual(r, want.get(r.key), `row ${r.key}`);
    for (const r of returned) assert.equal(r, done.find((d) => d.key === r.key));
    assert.ok(calls > 3, 'more() is asked again as the call runs');
  }
});

test('a joined row runs in the same batch as the running rows (no wait for the batch to end)', async () => {
  const p = params({ temperature: 1, maxNewTokens: 40 });
  const model = new HashModel();
  const batchSizes: number[] = [];
  const orig = model.forward.bind(model);
  model.forward = async (a) => {
    if (a.seqLen === 1) batchSizes.push(a.batch);
    return orig(a);
  };
  let fed = false;
  let tokens = 0;
  const joined = row(5, { sampling: { maxNewTokens: 5 } });
  const got: GenerationResultRow[] = [];
  await runGeneration(model, [row(0)], { ...p, maxBatchSize: 8 }, {
    onRowDone: (r) => got.push(r),
    onToken: () => void tokens++,
    more: () => (!fed && tokens >= 4 ? ((fed = true), [joined]) : []),
  });
  assert.deepEqual(got.map((r) => r.key), ['r5', 'r0'], 'the joined row finished first');
  assert.equal(got[0].tokenIds.length, 5);
  assert.deepEqual(got[0], await alone(joined, p));
  assert.equal(got[1].tokenIds.length, 40);
  // The joined row finished long before the first one: it did not wait for the running batch.
  assert.equal(batchSizes.filter((b) => b === 2).length, 4, 'the joined row took 4 decode steps next to the running one (its first token came from its prefill)');
});

test('per-row sampling parameters: each row equals the row run alone with its parameters as the call\'s', async () => {
  const decode = (ids: number[]): string => ids.map((t) => String.fromCharCode(97 + (t % 26))).join('');
  const call = params({ temperature: 1, maxNewTokens: 16, decode, eosTokenIds: [7] });
  const stopText = decode((await alone(row(3), { ...call, temperature: 0.5 })).tokenIds).slice(4, 6);
  const variants = [
    {},
    { temperature: 0 },
    { temperature: 0.5, stop: [stopText] },
    { topP: 0.5, maxNewTokens: 6 },
    { topK: 3, minP: 0.1, maxNewTokens: 30 },
  ];
  const rows = variants.map((s, i) => row(i === 2 ? 3 : i, { key: `v${i}`, sampling: s }));
  const got = await runGeneration(new HashModel(), rows, { ...call, maxBatchSize: 3 });
  for (let i = 0; i < rows.length; i++) {
    const { sampling, ...plain } = rows[i];
    assert.deepEqual(got[i], await alone(plain, { ...call, ...sampling }), `row ${i} ${JSON.stringify(sampling)}`);
  }
  assert.equal(got[2].finishReason, 'stop');
  assert.equal(got[3].tokenIds.length <= 6, true);
  assert.ok(got.some((r) => r.tokenIds.length > 16), 'a row may run past the call\'s maxNewTokens with its own');
  assert.notDeepEqual(got[0].tokenIds, got[1].tokenIds);
});

test('bounds: never more rows than maxBatchSize, never more cache columns than the longest prompt + max new tokens of the active rows; more() is not asked while the batch is full', async () => {
  const model = new HashModel();
  const maxBatch = 3;
  let peakBatch = 0;
  let peakCols = 0;
  const orig = model.forward.bind(model);
  model.forward = async (a) => {
    peakBatch = Math.max(peakBatch, a.batch);
    peakCols = Math.max(peakCols, a.pastLength + a.seqLen);
    return orig(a);
  };
  const feed = Array.from({ length: 12 }, (_, i) => row(i + 1, { sampling: { maxNewTokens: 4 + (i % 5) * 3 } }));
  const bound = Math.max(...[row(0), ...feed].map((r) => r.promptIds.length + (r.sampling?.maxNewTokens ?? 10)));
  let askedWhileFull = 0;
  let active = 1;
  let finished = 0;
  await runGeneration(model, [row(0)], params({ temperature: 1, maxNewTokens: 10, maxBatchSize: maxBatch }), {
    onRowDone: () => {
      active--;
      finished++;
    },
    more: () => {
      if (active >= maxBatch) askedWhileFull++;
      const r = feed.shift();
      if (!r) return [];
      active++;
      return [r];
    },
  });
  assert.equal(finished, 13);
  assert.equal(peakBatch, maxBatch);
  assert.ok(peakCols <= bound, `cache columns ${peakCols} <= ${bound}`);
  assert.equal(askedWhileFull, 0);
});

test('an open call ends when more() has nothing; cancellation also ends joined rows; a bad joined row is a clear error', async () => {
  const empty = await runGeneration(new HashModel(), [], params(), { more: () => [] });
  assert.deepEqual(empty, []);
  let given = false;
  const fromNothing: GenerationResultRow[] = [];
  await runGeneration(new HashModel(), [], params(), { more: () => (given ? [] : ((given = true), [row(1)])), onRowDone: (r) => fromNothing.push(r) });
  assert.deepEqual(fromNothing, [await alone(row(1), params())]);

  const ac = new AbortController();
  let n = 0;
  const res: GenerationResultRow[] = [];
  await runGeneration(new HashModel(), [row(0)], params({ maxNewTokens: 50, maxBatchSize: 4 }), {
    signal: ac.signal,
    onRowDone: (r) => res.push(r),
    onToken: () => {
      if (++n === 12) ac.abort();
    },
    more: () => (n === 3 ? [row(2)] : []),
  });
  assert.equal(res.length, 2);
  assert.ok(res.every((r) => r.finishReason === 'cancelled'));

  await assert.rejects(runGeneration(new HashModel(), [row(0)], params(), { more: () => [row(9, { key: 'bad', promptIds: [] })] }), /row 1 \(key "bad"\) has an empty prompt/);
  await assert.rejects(runGeneration(new HashModel(), [row(0, { sampling: { topP: 2 } })], params()), /row 0 \(key "r0"\): sampling: topP = 2 is invalid/);
  await assert.rejects(runGeneration(new HashModel(), [row(0, { sampling: { maxNewTokens: 0 } })], params()), /sampling.maxNewTokens = 0 is invalid/);
  await assert.rejects(runGeneration(new HashModel(), [row(0, { sampling: { stop: ['x'] } })], params()), /stop strings but the call has no decode function/);
});
