// Teacher-forced diffs on the golden tiny Qwen2 (3 layers) with lora_a (rank 1, down_proj of layer 1 only):
// hidden states before layer 1's output are bit-identical, they differ from there on; scale 0 gives exactly
// zero diffs and KL; KL is non-negative and equals an independent Float64 computation from the logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { teacherForced, teacherForcedPairs } from '../../../../src/engine/analysis/teacherForced';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const DIR = path.join(GOLDEN, 'qwen2');
const skip = goldenSkip('qwen2/model/config.json');
const SEQ = [5, 17, 300, 42, 7, 99, 128, 64, 3, 200, 11];
const RESP = 6;

/** Independent reference: softmax in Float64 by the textbook formula, KL(p‖q) = Σ p log(p/q). */
function refKl(logits: Float32Array, offP: number, offQ: number, V: number): number {
  const sm = (off: number) => {
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[off + i]);
    const e = Array.from({ length: V }, (_, i) => Math.exp(logits[off + i] - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  const p = sm(offP);
  const q = sm(offQ);
  let kl = 0;
  for (let i = 0; i < V; i++) if (p[i] > 0) kl += p[i] * Math.log(p[i] / q[i]);
  return kl;
}

test('teacher-forced diffs on the golden qwen2 with a layer-1 LoRA', { skip }, async (t) => {
  const runner = await ModelRunner.load(path.join(DIR, 'model'), { threads: 1, adapters: [{ name: 'a', dir: path.join(DIR, 'lora_a') }] });
  try {
    const L = runner.spec.numLayers;
    await t.test('before layer 1 identical, from layer 1 on different', async () => {
      const d = await teacherForced(runner, SEQ, RESP, { adapter: 'a', adapterScale: 1 });
      assert.equal(d.diffNorm.length, L + 1);
      // index 0 = embeddings, index 1 = output of layer 0: untouched by a LoRA on layer 1.
      for (const i of [0, 1]) assert.ok(d.diffNorm[i].every((x) => x === 0), `hidden state ${i} must be identical`);
      for (let i = 2; i <= L; i++) assert.ok(d.diffNorm[i].every((x) => x > 0), `hidden state ${i} (output of layer ${i - 1}) must differ at every token`);
      assert.ok(d.relNorm[2].every((x) => x > 0 && Number.isFinite(x)));
      assert.ok(d.cosine[2].every((c) => c < 1 && c > -1));
      assert.ok(d.kl.every((k) => k > 0), 'the adapter changes every next-token distribution');
      for (let i = 0; i <= L; i++) {
        const resp = Array.from(d.relNorm[i]).slice(RESP);
        const mean = resp.reduce((a, b) => a + b, 0) / resp.length;
        assert.ok(Math.abs(mean - d.meanRelResponse[i]) < 1e-12);
      }
    });

    await t.test('adapter scale 0: every diff and KL exactly 0', async () => {
      const d = await teacherForced(runner, SEQ, RESP, { adapter: 'a', adapterScale: 0 }, { topK: 3 });
      for (let i = 0; i <= L; i++) {
        assert.ok(d.diffNorm[i].every((x) => x === 0));
        assert.ok(d.relNorm[i].every((x) => x === 0));
      }
      assert.ok(d.kl.every((x) => x === 0));
      assert.ok(d.topChanges!.every((c) => c.length === 0), 'nothing changed');
      assert.equal(d.meanKlResponse, 0);
    });

    await t.test('scale 0 through the JavaScript (Float64) KL path is exactly 0 too', async () => {
      const d = await teacherForced(runner, SEQ, RESP, { adapter: 'a', adapterScale: 0 }, { topK: 3, jsKl: true });
      assert.ok(d.kl.every((x) => x === 0));
      assert.ok(d.topChanges!.every((c) => c.length === 0));
    });

    for (const jsKl of [true, false]) await t.test(`KL ≥ 0 and equal to a direct computation (${jsKl ? 'JavaScript Float64' : 'onnxruntime kernel'}); padded batch gives the same numbers`, async () => {
      const variant = { adapter: 'a', adapterScale: 2 };
      const d = await teacherForced(runner, SEQ, RESP, variant, { topK: 5, jsKl });
      const tol = jsKl ? { abs: 1e-9, rel: 1e-6 } : { abs: 5e-6, rel: 1e-4 };
      const out = await runner.forward({ inputIds: [SEQ, SEQ], attentionMask: [SEQ.map(() => 1), SEQ.map(() => 1)], rows: [{ adapter: null, adapterScale: 0 }, variant] });
      const V = out.logitsDims[2];
      const S = SEQ.length;
      for (let s = 0; s < S; s++) {
        assert.ok(d.kl[s] >= 0);
        const r = refKl(out.logits, (S + s) * V, s * V, V);
        assert.ok(Math.abs(d.kl[s] - r) <= tol.abs + tol.rel * r, `position ${s}: ${d.kl[s]} vs ${r}`);
        const top = d.topChanges![s];
        assert.equal(top.length, 5);
        for (let k = 1; k < top.length; k++) assert.ok(Math.abs(top[k - 1].pVariant - top[k - 1].pRef) >= Math.abs(top[k].pVariant - top[k].pRef));
      }
      // The same sequence next to a longer one (left padding) gives the same per-token numbers.
      const longer = [9, 8, 7, 6, ...SEQ];
      const [p0, p1] = await teacherForcedPairs(runner, [{ tokenIds: SEQ, responseStart: RESP, variant }, { tokenIds: longer, responseStart: RESP + 4, variant }], { jsKl });
      assert.equal(p1.kl.length, longer.length);
      for (let s = 0; s < S; s++) {
        assert.ok(Math.abs(p0.kl[s] - d.kl[s]) <= 1e-4 * Math.max(1, d.kl[s]), `padded KL at ${s}`);
        assert.ok(Math.abs(p0.relNorm[3][s] - d.relNorm[3][s]) <= 1e-4);
      }
      // Response-only KL: same values where computed, 0 before the response, same mean.
      const [r0] = await teacherForcedPairs(runner, [{ tokenIds: SEQ, responseStart: RESP, variant }], { jsKl, klResponseOnly: true });
      for (let s = 0; s < S; s++) assert.equal(r0.kl[s], s >= RESP - 1 && s < S - 1 ? d.kl[s] : 0);
      assert.equal(r0.meanKlResponse, d.meanKlResponse);
    });
  } finally {
    await runner.dispose();
  }
});

const DEMO = path.join(process.env.ORGANISM_LAB_EXAMPLES ?? path.resolve(__dirname, '../../../../examples'), 'organisms');
const demoReady = existsSync(path.join(DEMO, 'demo-base/config.json')) && existsSync(path.join(DEMO, 'demo-narrow-r1/adapter_config.json'));

test('demo organism: the rank-1 LoRA on layer k leaves hidden states before k identical, changes them from k on; scale 0 is exact', { skip: !demoReady && 'demo organism not built' }, async () => {
  const { readAdapterConfig } = await import('../../../../src/engine/analysis/adapterStats');
  const cfg = readAdapterConfig(path.join(DEMO, 'demo-narrow-r1'));
  const k = Array.isArray(cfg.layersToTransform) ? cfg.layersToTransform[0] : (cfg.layersToTransform as number);
  assert.ok(Number.isInteger(k), 'the demo adapter names its layer');
  const runner = await ModelRunner.load(path.join(DEMO, 'demo-base'), { threads: 1, adapters: [{ name: 'r1', dir: path.join(DEMO, 'demo-narrow-r1') }] });
  try {
    const seq = Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % Math.min(runner.spec.vocabSize, 500));
    const d = await teacherForced(runner, seq, 12, { adapter: 'r1', adapterScale: 1 });
    for (let i = 0; i <= k; i++) assert.ok(d.diffNorm[i].every((x) => x === 0), `hidden state ${i} (before layer ${k}'s output) identical`);
    for (let i = k + 1; i <= runner.spec.numLayers; i++) assert.ok(d.diffNorm[i].some((x) => x > 0), `hidden state ${i} differs`);
    const z = await teacherForced(runner, seq, 12, { adapter: 'r1', adapterScale: 0 });
    assert.ok(z.diffNorm.every((row) => row.every((x) => x === 0)) && z.kl.every((x) => x === 0));
  } finally {
    await runner.dispose();
  }
});
