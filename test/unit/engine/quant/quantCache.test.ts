// The quantized-weights cache: keyed by fingerprint/bits/block size, reused on the next load, made again when
// stale or damaged, nothing left behind when cancelled, listed and cleared; the quantizer streams BF16 rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { SafetensorsCheckpoint } from '../../../../src/engine/checkpoint/safetensors';
import { cacheFileName, clearCache, ensureQuantizedWeights, listCache, qscalesName, qweightName, QuantCancelled, quantPlan } from '../../../../src/engine/quant/quantCache';
import { dequantizeMatrix } from '../../../../src/engine/quant/blockQuantize';
import { goldenFamily } from '../../helpers/golden';

const { dir, skip } = goldenFamily('qwen2'); // BF16 on disk, tied embeddings, q/k/v biases
const model = path.join(dir, 'model');
const tmp = mkdtempSync(path.join(tmpdir(), 'quant-cache-unit-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('cache file names carry 32 hex digits of the fingerprint, bits, block size and version', () => {
  assert.equal(cacheFileName({ fingerprint: 'sha256-full:' + 'ab'.repeat(32), bits: 8, blockSize: 32 }), `${'ab'.repeat(16)}-int8-b32-v2.safetensors`);
  assert.equal(cacheFileName({ fingerprint: 'sha256:' + 'cd'.repeat(32), bits: 4, blockSize: 64 }), `${'cd'.repeat(16)}-int4-b64-v2.safetensors`);
});

test('plan: every projection, the embedding (tied LM head) quantized; norms and biases float32', { skip }, () => {
  const spec = loadModelSpec(model);
  const ckpt = SafetensorsCheckpoint.open(model);
  const plan = quantPlan(spec, ckpt);
  assert.equal(plan.quantized.length, spec.numLayers * 7 + 1);
  assert.ok(plan.quantized.some((q) => q.name === 'model.embed_tokens.weight'));
  assert.ok(!plan.quantized.some((q) => q.name === 'lm_head.weight'));
  assert.ok(plan.floats.some((f) => f.name === 'model.layers.0.self_attn.q_proj.bias'));
  assert.ok(plan.floats.some((f) => f.name === 'model.norm.weight'));
});

test('made once, reused, made again when damaged; contents dequantize to the BF16 weights', { skip }, async () => {
  const spec = loadModelSpec(model);
  const ckpt = SafetensorsCheckpoint.open(model);
  const folder = path.join(tmp, 'a');
  let progress = 0;
  const a = await ensureQuantizedWeights(spec, ckpt, { bits: 8, blockSize: 32, cacheFolder: folder, onProgress: () => progress++ });
  assert.equal(a.created, true);
  assert.ok(progress > 0);
  const b = await ensureQuantizedWeights(spec, ckpt, { bits: 8, blockSize: 32, cacheFolder: folder });
  assert.equal(b.created, false);
  assert.equal(b.file, a.file);
  // int8 codes within half a step of the BF16 weight (checked on one projection)
  const name = 'model.layers.1.mlp.down_proj.weight';
  const w = ckpt.readFloat32(name);
  const [N, K] = ckpt.info(name).shape;
  const deq = dequantizeMatrix({ packed: new Uint8Array(b.weights.readRaw(qweightName(name))), scales: b.weights.readFloat32(qscalesName(name)) }, N, K, 8, 32);
  let worst = 0;
  for (let n = 0; n < N; n++) {
    for (let blk = 0; blk < K / 32; blk++) {
      let amax = 0;
      for (let k = blk * 32; k < (blk + 1) * 32; k++) amax = Math.max(amax, Math.abs(w[n * K + k]));
      for (let k = blk * 32; k < (blk + 1) * 32; k++) worst = Math.max(worst, Math.abs(w[n * K + k] - deq[n * K + k]) / (amax / 128));
    }
  }
  assert.ok(worst <= 0.5 + 1e-3, `worst error ${worst} steps`);
  // float tensors copied exactly
  assert.deepEqual(b.weights.readFloat32('model.norm.weight'), ckpt.readFloat32('model.norm.weight'));
  // a damaged file (truncated) is detected and made again
  writeFileSync(a.file, Buffer.from('not a safetensors file'));
  const c = await ensureQuantizedWeights(spec, ckpt, { bits: 8, blockSize: 32, cacheFolder: folder });
  assert.equal(c.created, true);
  // another precision is another file
  const d = await ensureQuantizedWeights(spec, ckpt, { bits: 4, blockSize: 32, cacheFolder: folder });
  assert.notEqual(d.file, a.file);
  const l = listCache(folder);
  assert.deepEqual(l.entries.map((e) => e.bits).sort(), [4, 8]);
  assert.ok(l.entries.every((e) => e.source === ckpt.dir && !e.partial));
  const cleared = clearCache(folder);
  assert.equal(cleared.removed, 2);
  assert.equal(readdirSync(folder).length, 0);
});

test('cancelling leaves nothing in the cache', { skip }, async () => {
  const spec = loadModelSpec(model);
  const ckpt = SafetensorsCheckpoint.open(model);
  const folder = path.join(tmp, 'b');
  const ac = new AbortController();
  await assert.rejects(
    ensureQuantizedWeights(spec, ckpt, { bits: 4, blockSize: 32, cacheFolder: folder, signal: ac.signal, onProgress: () => ac.abort() }),
    (e: unknown) => e instanceof QuantCancelled,
  );
  assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], []);
});

test('each layer: q/k/v and gate/up are stored as one range each (packed, then scales); older format versions are removed', { skip }, async () => {
  const spec = loadModelSpec(model);
  const ckpt = SafetensorsCheckpoint.open(model);
  const folder = path.join(tmp, 'groups');
  const key = { bits: 4 as const, blockSize: 32 };
  const fp = 'sha256:' + '12'.repeat(32);
  const stale = path.join(folder, cacheFileName({ fingerprint: fp, ...key }).replace(/-v\d+\.safetensors$/, '-v1.safetensors'));
  const otherKey = path.join(folder, cacheFileName({ fingerprint: fp, bits: 8, blockSize: 32 }).replace(/-v\d+\.safetensors$/, '-v1.safetensors'));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(folder, { recursive: true });
  writeFileSync(stale, 'v1 file');
  writeFileSync(otherKey, 'v1 file of another precision');
  const q = await ensureQuantizedWeights(spec, ckpt, { ...key, cacheFolder: folder, fingerprint: fp });
  assert.equal(existsSync(stale), false, 'the v1 file of the same key is gone');
  assert.equal(existsSync(otherKey), true, 'another precision is left alone');
  const follows = (names: string[]): boolean =>
    names.every((n, i) => {
      if (i === 0) return true;
      const a = q.weights.byteRange(names[i - 1]);
      return q.weights.byteRange(n).offset === a.offset + a.length;
    });
  for (let l = 0; l < spec.numLayers; l++) {
    const p = (m: string): string => `model.layers.${l}.${m === 'gate_proj' || m === 'up_proj' ? 'mlp' : 'self_attn'}.${m}.weight`;
    for (const group of [['q_proj', 'k_proj', 'v_proj'], ['gate_proj', 'up_proj']]) {
      assert.ok(follows(group.map((m) => qweightName(p(m)))), `layer ${l} ${group.join('/')} packed blocks adjacent`);
      assert.ok(follows(group.map((m) => qscalesName(p(m)))), `layer ${l} ${group.join('/')} scales adjacent`);
    }
  }
});
