/**
 * Scheduling tests of the decoding loop against a small exact reference "model" (./hashModel.ts): its
 * next-token logits are a hash of every (token, position) it can see through the attention mask and
 * the KV cache, so any error in padding, masks, position ids, row removal, refill merging or column
 * trimming changes the tokens. Open calls and per-row parameters: generateOpenCall.test.ts. The real-model checks against Hugging Face are in generateGolden.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runGeneration } from '../../../../src/engine/runtime/generateLoop';
import { divergenceIndex } from '../../../../src/engine/runtime/generateStop';
import type { GenerationParams, GenerationRequestRow, RowVariant } from '../../../../src/engine/runtime/generationTypes';
import { HashModel, V } from './hashModel';

const baseVariant: RowVariant = { adapter: null, adapterScale: 0 };
const params = (p: Partial<GenerationParams> = {}): GenerationParams => ({
  temperature: 0,
  topP: 1,
  topK: 0,
  minP: 0,
  maxNewTokens: 12,
  eosTokenIds: [],
  stop: [],
  ...p,
});

function rowsOf(n: number, seed = (i: number) => i): GenerationRequestRow[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `r${i}`,
    promptIds: Array.from({ length: 2 + ((i * 5) % 9) }, (_, j) => (i * 7 + j * 3) % V),
    variant: baseVariant,
    seed: seed(i),
  }));
}

test('batched generation with refill equals each row generated alone (greedy and sampled, with EOS)', async () => {
  for (const p of [params({ eosTokenIds: [3, 11] }), params({ temperature: 0.9, topP: 0.95, eosTokenIds: [5], maxNewTokens: 20 })]) {
    const rows = rowsOf(11);
    const alone = [];
    for (const r of rows) alone.push((await runGeneration(new HashModel(), [r], p))[0]);
    for (const maxBatchSize of [2, 4, 11]) {
      const model = new HashModel();
      const done: string[] = [];
      const got = await runGeneration(model, rows, { ...p, maxBatchSize }, { onRowDone: (r) => done.push(r.key) });
      assert.deepEqual(got, alone, `maxBatchSize ${maxBatchSize}`);
      assert.equal(new Set(done).size, rows.length, 'onRowDone once per row');
    }
    assert.ok(alone.some((r) => r.finishReason === 'eos') && alone.some((r) => r.finishReason === 'length'), 'both finish reasons exercised');
  }
});

test('finished rows leave the batch: forwards track the longest row, not the sum', async () => {
  const rows = rowsOf(4);
  const model = new HashModel();
  const res = await runGeneration(model, rows, params({ eosTokenIds: [1, 2, 3, 4, 5, 6, 7] , maxNewTokens: 30 }));
  const longest = Math.max(...res.map((r) => r.tokenIds.length));
  assert.equal(model.forwards, longest, 'one prefill + one forward per extra token of the longest row');
});

test('same seed gives the same samples, different seeds differ', async () => {
  const p = params({ temperature: 1, maxNewTokens: 16 });
  const a = await runGeneration(new HashModel(), rowsOf(3, () => 7), p);
  const b = await runGeneration(new HashModel(), rowsOf(3, () => 7), p);
  const c = await runGeneration(new HashModel(), rowsOf(3, (i) => 1000 + i), p);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.tokenIds), c.map((r) => r.tokenIds));
});

test('paired base/adapter rows are identical at scale 0 and diverge at the first differing token otherwise', async () => {
  const prompt = [1, 2, 3, 4];
  const p = params({ temperature: 1, maxNewTokens: 24 });
  const pair = (scale: number): GenerationRequestRow[] => [
    { key: 'base', promptIds: prompt, variant: baseVariant, seed: 99 },
    { key: 'adapter', promptIds: prompt, variant: { adapter: 'a', adapterScale: scale }, seed: 99 },
  ];
  const [b0, a0] = await runGeneration(new HashModel(), pair(0), p);
  assert.deepEqual(a0.tokenIds, b0.tokenIds);
  assert.deepEqual(a0.logprobs, b0.logprobs);
  assert.equal(divergenceIndex(b0.tokenIds, a0.tokenIds), null);
  const [b1, a1] = await runGeneration(new HashModel(), pair(1), p);
  const d = divergenceIndex(b1.tokenIds, a1.tokenIds);
  assert.notEqual(d, null);
  assert.deepEqual(a1.tokenIds.slice(0, d!), b1.tokenIds.slice(0, d!));
  assert.notEqual(a1.tokenIds[d!], b1.tokenIds[d!]);
  assert.equal(divergenceIndex([1, 2], [1, 2, 3]), 2);
});

test('cancellation stops between steps and marks every unfinished row cancelled', async () => {
  const ac = new AbortController();
  const model = new HashModel();
  let tokens = 0;
  const done: string[] = [];
  const res = await runGeneration(model, rowsOf(6), params({ maxNewTokens: 50, maxBatchSize: 3 }), {
    signal: ac.signal,
    onToken: () => {
      if (++tokens === 10) ac.abort();
    },
    onRowDone: (r) => done.push(r.finishReason),
  });
  assert.ok(res.every((r) => r.finishReason === 'cancelled'));
  assert.ok(model.forwards <= 5, `stopped quickly (${model.forwards} forwards)`);
  assert.equal(res.filter((r) => r.tokenIds.length === 0).length, 3, 'rows never started are cancelled with no tokens');
  assert.equal(done.length, 6);
});

test('stop strings end a row and are cut from its text; logprobs are kept per token', async () => {
  const decode = (ids: number[]): string => ids.map((t) => String.fromCharCode(97 + (t % 26))).join('');
  const p = params({ maxNewTokens: 30, decode });
  const [free] = await runGeneration(new HashModel(), rowsOf(1), p);
  const text = decode(free.tokenIds);
  const stop = text.slice(5, 7);
  const [r] = await runGeneration(new HashModel(), rowsOf(1), { ...p, stop: [stop, 'zzzzzz'] });
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.text, text.slice(0, text.indexOf(stop)));
  assert.equal(r.logprobs.length, r.tokenIds.length);
  for (const lp of r.logprobs) assert.ok(lp < 0 && Number.isFinite(lp));
});

test('bad requests get clear errors', async () => {
  await assert.rejects(runGeneration(new HashModel(), rowsOf(1), params({ maxNewTokens: 0 })), /maxNewTokens = 0/);
  await assert.rejects(runGeneration(new HashModel(), [{ key: 'k', promptIds: [], variant: baseVariant, seed: 0 }], params()), /\(key "k"\) has an empty prompt/);
  await assert.rejects(runGeneration(new HashModel(), rowsOf(1), params({ stop: ['x'] })), /no decode function/);
});

test('long prompts are prefilled in groups under the token cap and still match solo generation', async () => {
  const rows: GenerationRequestRow[] = Array.from({ length: 5 }, (_, i) => ({
    key: `long${i}`,
    promptIds: Array.from({ length: 1200 + 300 * i }, (_, j) => (i * 13 + j * 7) % V),
    variant: baseVariant,
    seed: i,
  }));
  const p = params({ maxNewTokens: 6, eosTokenIds: [9] });
  const alone = [];
  for (const r of rows) alone.push((await runGeneration(new HashModel(), [r], p))[0]);
  const model = new HashModel();
  const seqLens: number[] = [];
  const orig = model.forward.bind(model);
  model.forward = async (a) => {
    if (a.seqLen > 1) seqLens.push(a.batch * a.seqLen);
    return orig(a);
  };
  assert.deepEqual(await runGeneration(model, rows, { ...p, maxBatchSize: 5 }), alone);
  assert.ok(seqLens.length >= 3, `several prefill groups (${seqLens.join(', ')})`);
  assert.ok(seqLens.every((n) => n <= 4096), `each prefill within the cap (${seqLens.join(', ')})`);
});
