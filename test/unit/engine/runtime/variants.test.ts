// Row variants in one session: scale 0 and strength 0 are bit-identical to the base model, a LoRA on
// layer k leaves earlier hidden states bit-identical, ablation removes the direction, and the KV cache
// can drop rows and merge rows of different lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { KvCache } from '../../../../src/engine/runtime/kvCache';
import type { RowVariant } from '../../../../src/engine/runtime/generationTypes';
import { goldenPath, goldenSkip } from '../../helpers/golden';
import { maxAbsDiff } from '../../helpers/arrays';

const GOLDEN = goldenPath();
const skip = goldenSkip('qwen2');
const BASE: RowVariant = { adapter: null, adapterScale: 0 };
const PROMPT = [5, 17, 300, 42, 7, 99, 128, 64, 3];
const ones = (n: number) => Array.from({ length: n }, () => 1);


for (const fam of ['qwen2', 'gemma2']) {
  let plain: ModelRunner;
  let full: ModelRunner;
  const dir = path.join(GOLDEN, fam);
  test(`${fam}: variants`, { skip }, async (t) => {
    plain = await ModelRunner.load(path.join(dir, 'model'), { threads: 1 });
    full = await ModelRunner.load(path.join(dir, 'model'), {
      threads: 1,
      adapters: [{ name: 'a', dir: path.join(dir, 'lora_a') }, { name: 'b', dir: path.join(dir, 'lora_b') }],
      steerLayers: [0, 1],
      ablateLayers: [1],
    });
    const H = full.spec.hiddenSize;
    const L = full.spec.numLayers;
    const v = Float32Array.from({ length: H }, (_, i) => Math.sin(i + 1));

    await t.test('scale 0 / strength 0 / no adapter give the base model bit for bit', async () => {
      const ref = await plain.forward({ inputIds: [PROMPT], attentionMask: [ones(PROMPT.length)], rows: [BASE], outputHiddenStates: true });
      const rows: RowVariant[] = [
        BASE,
        { adapter: 'b', adapterScale: 0 },
        { adapter: 'a', adapterScale: 0, steer: { vector: v, layer: 1, strength: 0 } },
        { adapter: 'b', adapterScale: 1 }, // an adapted row in the same batch
      ];
      const out = await full.forward({ inputIds: rows.map(() => PROMPT), attentionMask: rows.map(() => ones(PROMPT.length)), rows, outputHiddenStates: true });
      const per = ref.logits.length;
      for (let b = 0; b < 3; b++) {
        assert.deepEqual(out.logits.subarray(b * per, (b + 1) * per), ref.logits, `row ${b} logits not bit-identical`);
        for (let i = 0; i <= L; i++) {
          const n = ref.hiddenStates![i].length;
          assert.deepEqual(out.hiddenStates![i].subarray(b * n, (b + 1) * n), ref.hiddenStates![i], `row ${b} hidden ${i}`);
        }
      }
      assert.ok(maxAbsDiff(out.logits.subarray(3 * per, 4 * per), ref.logits) > 1e-3, 'adapted row must differ');
    });

    await t.test('LoRA only on layer 1 leaves hidden states 0..1 bit-identical', async () => {
      const rows: RowVariant[] = [BASE, { adapter: 'a', adapterScale: 1 }];
      const out = await full.forward({ inputIds: [PROMPT, PROMPT], attentionMask: [ones(9), ones(9)], rows, outputHiddenStates: true });
      for (let i = 0; i <= L; i++) {
        const hs = out.hiddenStates![i];
        const n = hs.length / 2;
        const d = maxAbsDiff(hs.subarray(0, n), hs.subarray(n));
        if (i <= 1) assert.equal(d, 0, `hidden_states[${i}] changed before the adapted layer`);
        else assert.ok(d > 1e-4, `hidden_states[${i}] should change after the adapted layer (diff ${d})`);
      }
    });

    await t.test('ablation projects the direction out at layer 1 only', async () => {
      const rows: RowVariant[] = [BASE, { adapter: null, adapterScale: 0, ablate: { vector: v, layers: [1] } }];
      const out = await full.forward({ inputIds: [PROMPT, PROMPT], attentionMask: [ones(9), ones(9)], rows, outputHiddenStates: true });
      let norm = 0;
      for (const x of v) norm += x * x;
      norm = Math.sqrt(norm);
      const S = PROMPT.length;
      const h2 = out.hiddenStates![2];
      for (let s = 0; s < S; s++) {
        let dotAbl = 0;
        let dotBase = 0;
        for (let i = 0; i < H; i++) {
          dotBase += (h2[s * H + i] * v[i]) / norm;
          dotAbl += (h2[(S + s) * H + i] * v[i]) / norm;
        }
        assert.ok(Math.abs(dotAbl) < 1e-4 * Math.max(1, Math.abs(dotBase)), `position ${s}: projection ${dotAbl} left after ablation`);
        assert.ok(Math.abs(dotBase) > 1e-3);
      }
      const n1 = out.hiddenStates![1].length / 2;
      assert.equal(maxAbsDiff(out.hiddenStates![1].subarray(0, n1), out.hiddenStates![1].subarray(n1)), 0);
    });

    await t.test('rows can leave the KV cache, and caches of different lengths merge', async () => {
      const p2 = PROMPT.slice(0, 5);
      // Each prompt alone, then one decode step.
      const alone = async (p: number[], variant: RowVariant) => {
        const o = await full.forward({ inputIds: [p], attentionMask: [ones(p.length)], rows: [variant], lastLogitsOnly: true });
        const next = await full.forward({ inputIds: [[11]], attentionMask: [ones(p.length + 1)], past: o.present, rows: [variant], lastLogitsOnly: true });
        return { prefill: o, next };
      };
      const va: RowVariant = { adapter: 'a', adapterScale: 1 };
      const r1 = await alone(PROMPT, BASE);
      const r2 = await alone(p2, va);
      // Merge the two prefill caches (left-padding the shorter one) and decode both in one batch.
      const merged = KvCache.concatRows([r1.prefill.present, r2.prefill.present]);
      assert.equal(merged.pastLength, PROMPT.length);
      const pad = PROMPT.length - p2.length;
      const mask = [ones(PROMPT.length + 1), [...Array(pad).fill(0), ...ones(p2.length + 1)]];
      const both = await full.forward({ inputIds: [[11], [11]], attentionMask: mask, past: merged, rows: [BASE, va], lastLogitsOnly: true });
      const V = full.spec.vocabSize;
      assert.ok(maxAbsDiff(both.logits.subarray(0, V), r1.next.logits) < 1e-4);
      assert.ok(maxAbsDiff(both.logits.subarray(V), r2.next.logits) < 1e-4);
      // Drop row 0; row 1 continues alone and still matches.
      const kept = both.present.selectRows([1]);
      assert.equal(kept.batch, 1);
      const cont = await full.forward({ inputIds: [[12]], attentionMask: [[...mask[1], 1]], past: kept, rows: [va], lastLogitsOnly: true });
      const ref = await full.forward({ inputIds: [[12]], attentionMask: [ones(p2.length + 2)], past: r2.next.present, rows: [va], lastLogitsOnly: true });
      assert.ok(maxAbsDiff(cont.logits, ref.logits) < 1e-4);
    });

    await t.test('bad requests get clear errors', async () => {
      await assert.rejects(full.forward({ inputIds: [PROMPT], attentionMask: [ones(9)], rows: [{ adapter: 'zzz', adapterScale: 1 }] }), /adapter "zzz".*not loaded/);
      await assert.rejects(full.forward({ inputIds: [PROMPT], attentionMask: [ones(8)], rows: [BASE] }), /attention_mask row 0 has length 8/);
      await assert.rejects(full.forward({ inputIds: [[100000]], attentionMask: [[1]], rows: [BASE] }), /outside the vocabulary/);
      await assert.rejects(full.forward({ inputIds: [PROMPT], attentionMask: [ones(9)], rows: [{ adapter: null, adapterScale: 0, steer: { vector: v, layer: 2, strength: 1 } }] }), /steerLayers \[0, 1\]/);
    });
    await plain.dispose();
    await full.dispose();
  });
}
