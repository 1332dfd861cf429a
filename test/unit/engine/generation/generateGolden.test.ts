// generate() on the real ModelRunner against Hugging Face generate() (greedy) for every family in
// ../shared/golden (test/unit/helpers/golden.ts; ORGANISM_LAB_GOLDEN overrides), plus seeded sampling and paired rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GOLDEN_FAMILIES, goldenFamily, loadGoldenRunner, logSoftmaxAt, openExpected } from '../../helpers/golden';
import { generate, divergenceIndex } from '../../../../src/engine/runtime/generate';
import type { GenerationParams, GenerationRequestRow, RowVariant } from '../../../../src/engine/runtime/generationTypes';

const BASE: RowVariant = { adapter: null, adapterScale: 0 };
const LORA_A: RowVariant = { adapter: 'lora_a', adapterScale: 1 };
const GREEDY: GenerationParams = { temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: 8, eosTokenIds: [], stop: [] };

for (const fam of GOLDEN_FAMILIES) {
  const { dir, skip } = goldenFamily(fam);
  test(`generate matches HF greedy generate: ${fam}`, { skip }, async (t) => {
    const ex = openExpected(dir);
    const runner = await loadGoldenRunner(dir);
    try {
      const V = runner.spec.vocabSize;
      const single = ex.readInts('input_ids_single');
      const batchIds = ex.readInts('input_ids_batch');
      const batchMask = ex.readInts('attention_mask_batch');
      const Sb = batchIds.length / 2;
      const prompts = [0, 1].map((b) => batchIds.slice(b * Sb, (b + 1) * Sb).filter((_, s) => batchMask[b * Sb + s] === 1));
      // Expected: [prompt tokens..., 8 generated]; step logits [8, B, V].
      const cases: { key: string; prompt: number[]; variant: RowVariant; seq: string; logits: string; B: number; b: number; width: number }[] = [
        { key: 'single', prompt: single, variant: BASE, seq: 'generate_single_sequences', logits: 'generate_single_step_logits', B: 1, b: 0, width: single.length },
        { key: 'single_lora_a', prompt: single, variant: LORA_A, seq: 'generate_single_lora_a_sequences', logits: 'generate_single_lora_a_step_logits', B: 1, b: 0, width: single.length },
        { key: 'batch0', prompt: prompts[0], variant: BASE, seq: 'generate_batch_sequences', logits: 'generate_batch_step_logits', B: 2, b: 0, width: Sb },
        { key: 'batch1', prompt: prompts[1], variant: BASE, seq: 'generate_batch_sequences', logits: 'generate_batch_step_logits', B: 2, b: 1, width: Sb },
      ];
      const expected = (c: (typeof cases)[number], eos: number[]): number[] => {
        const seq = ex.readInts(c.seq);
        const W = seq.length / c.B;
        const want = seq.slice(c.b * W + c.width, (c.b + 1) * W);
        const stop = want.findIndex((x) => eos.includes(x));
        return stop < 0 ? want : want.slice(0, stop + 1);
      };
      const check = (label: string, res: { key: string; tokenIds: number[]; logprobs: number[] }[], eos: number[] = []) => {
        let worst = 0;
        for (const c of cases) {
          const r = res.find((x) => x.key === c.key)!;
          const want = expected(c, eos);
          assert.deepEqual(r.tokenIds, want, `${fam} ${label} ${c.key}: tokens differ from HF generate()`);
          const stepLogits = ex.readFloat32(c.logits);
          for (let s = 0; s < want.length; s++) {
            const row = stepLogits.subarray((s * c.B + c.b) * V, (s * c.B + c.b + 1) * V);
            worst = Math.max(worst, Math.abs(r.logprobs[s] - logSoftmaxAt(row, want[s])));
          }
        }
        t.diagnostic(`${fam} ${label}: max |logprob - HF log-softmax(step logits)| = ${worst.toExponential(2)}`);
        assert.ok(worst < 1e-3, `${fam} ${label}: step log-probabilities off by ${worst}`);
      };
      const rows: GenerationRequestRow[] = cases.map((c) => ({ key: c.key, promptIds: c.prompt, variant: c.variant, seed: 0 }));
      // All four rows in one batch (left padding of different prompt lengths, base and adapter rows together).
      check('one batch', await generate(runner, rows, GREEDY));
      // Rows ending early on an EOS id while others continue, two or three at a time: exercises rows
      // leaving the batch, refill with a separate prefill and merging caches of different lengths.
      const eos = [expected(cases[0], [])[2]];
      const finishOrder: string[] = [];
      for (const maxBatchSize of [2, 3]) {
        const res = await generate(runner, rows, { ...GREEDY, maxBatchSize, eosTokenIds: eos }, { onRowDone: (r) => finishOrder.push(r.key) });
        check(`maxBatchSize ${maxBatchSize}, eos ${eos[0]}`, res, eos);
        assert.equal(res[0].finishReason, 'eos');
      }
      t.diagnostic(`${fam}: rows finished in order ${finishOrder.join(', ')}`);
      // max_new_tokens cuts every row at the same length.
      const short = await generate(runner, rows, { ...GREEDY, maxNewTokens: 3 });
      assert.deepEqual(short.map((r) => r.tokenIds), cases.map((c) => expected(c, []).slice(0, 3)));
      assert.ok(short.every((r) => r.finishReason === 'length'));

      // Seeded sampling: reproducible, seed-dependent; paired rows agree at adapter scale 0.
      const sp: GenerationParams = { ...GREEDY, temperature: 1.5, maxNewTokens: 12 };
      const samp = (seeds: number[], variants: RowVariant[]) =>
        generate(runner, seeds.map((seed, i) => ({ key: `s${i}`, promptIds: single, variant: variants[i], seed })), sp);
      const a = await samp([1, 2, 3], [BASE, BASE, BASE]);
      const b = await samp([1, 2, 3], [BASE, BASE, BASE]);
      assert.deepEqual(a, b, 'same seeds, same samples');
      assert.notDeepEqual(a[0].tokenIds, a[1].tokenIds, 'different seeds, different samples');
      const pair0 = await samp([7, 7], [BASE, { adapter: 'lora_b', adapterScale: 0 }]);
      assert.deepEqual(pair0[1].tokenIds, pair0[0].tokenIds, 'adapter at scale 0 = base, token for token');
      assert.deepEqual(pair0[1].logprobs, pair0[0].logprobs, 'adapter at scale 0 = base, bit for bit');
      const pair1 = await samp([7, 7], [BASE, { adapter: 'lora_b', adapterScale: 1 }]);
      const d = divergenceIndex(pair1[0].tokenIds, pair1[1].tokenIds);
      t.diagnostic(`${fam}: base vs lora_b (same seed) diverge at token ${d}`);
      if (d !== null) assert.deepEqual(pair1[0].tokenIds.slice(0, d), pair1[1].tokenIds.slice(0, d));

      // Cancellation on the real model.
      const ac = new AbortController();
      const cancelled = await generate(runner, rows, { ...GREEDY, maxNewTokens: 50 }, { signal: ac.signal, onToken: (_k, _t, step) => step === 2 && ac.abort() });
      assert.ok(cancelled.every((r) => r.finishReason === 'cancelled' && r.tokenIds.length === 3));
    } finally {
      await runner.dispose();
    }
  });
}
