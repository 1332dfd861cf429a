// Memory preflight: the estimate's parts on the Qwen2.5-0.5B and 7B shapes, the budget from /proc/meminfo
// and cgroup v1/v2 texts, `auto` picking f32 → int8 → int4, and refusals that give the numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { estimateSession, estimateWeightBytes, memoryBudget, paramCounts, preflight, MemoryPreflightError, type CheckpointFacts } from '../../../../src/engine/runtime/memoryPreflight';

const qwen = (h: number, i: number, layers: number, heads: number, kv: number) =>
  parseModelSpec({ model_type: 'qwen2', hidden_size: h, intermediate_size: i, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: kv, vocab_size: 151936, tie_word_embeddings: h < 2000 }, 'config.json');
const q05 = qwen(896, 4864, 24, 14, 2);
const q7 = qwen(3584, 18944, 28, 28, 4);
const bf16: CheckpointFacts = { sourceBytesPerParam: 2, largestTensor: 151936 * 896 };
const GiB = 1024 ** 3;
const meminfo = (totalGiB: number, availGiB: number) => `MemTotal:       ${totalGiB * 1024 * 1024} kB\nMemFree:        1000 kB\nMemAvailable:   ${availGiB * 1024 * 1024} kB\n`;

test('parameter counts and weight bytes per precision (Qwen2.5-0.5B shape)', () => {
  const p = paramCounts(q05);
  assert.equal(p.linear, 24 * (896 * 896 * 2 + 128 * 896 * 2 + 3 * 896 * 4864));
  assert.equal(p.embedding, 151936 * 896);
  assert.equal(p.lmHead, 0, 'tied');
  assert.ok(Math.abs(p.total - 494e6) < 1e6, `${p.total}`);
  const f32 = estimateWeightBytes(q05, 'f32', bf16);
  assert.equal(f32, p.total * 4 + 151936 * 896 * 4, 'f32 + the cast embedding while loading');
  const int8 = estimateWeightBytes(q05, 'int8', bf16);
  assert.equal(int8, (p.linear + 2 * p.embedding) * 1.125 + p.other * 4);
  const int4 = estimateWeightBytes(q05, 'int4', bf16);
  assert.equal(int4, (p.linear + 2 * p.embedding) * 0.625 + p.other * 4);
  assert.ok(int4 < int8 && int8 < f32 / 3);
});

test('KV cache and activations grow with batch and length', () => {
  const a = estimateSession(q05, 'int8', { batch: 1, maxLength: 1024 }, bf16);
  const b = estimateSession(q05, 'int8', { batch: 8, maxLength: 2048 }, bf16);
  assert.equal(a.kvCache, 2 * 24 * 2 * 64 * 4 * 1 * 1024 * 2);
  assert.equal(b.kvCache, a.kvCache * 16);
  assert.ok(b.activations > a.activations);
  assert.equal(b.total, b.weights + b.kvCache + b.activations + b.runtime);
});

test('budget: the smallest of MemAvailable, the cgroup headroom and maxMemoryMB', () => {
  const plain = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV2Max: 'max\n', cgroupV2Current: '123\n' });
  assert.equal(plain.available, 20 * GiB);
  assert.equal(plain.limitedBy, 'MemAvailable');
  assert.equal(plain.cgroupLimit, null, '"max" is no limit');
  const v2 = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV2Max: `${8 * GiB}\n`, cgroupV2Current: `${1 * GiB}\n` });
  assert.equal(v2.available, 7 * GiB);
  assert.equal(v2.limitedBy, 'cgroup');
  const v1 = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV1Limit: `${4 * GiB}`, cgroupV1Usage: `${GiB}` });
  assert.equal(v1.available, 3 * GiB);
  const v1none = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV1Limit: '9223372036854771712', cgroupV1Usage: '5' });
  assert.equal(v1none.cgroupLimit, null, "v1's huge number is no limit");
  const mm = memoryBudget(2048, { meminfo: meminfo(24, 20) });
  assert.equal(mm.available, 2 * GiB);
  assert.equal(mm.limitedBy, 'maxMemoryMB');
});

test('auto picks f32 when it fits, else int8, else int4, and says why', () => {
  const shape = { batch: 8, maxLength: 2048 };
  const big = memoryBudget(undefined, { meminfo: meminfo(24, 20) });
  const d1 = preflight(q05, 'auto', shape, bf16, big);
  assert.equal(d1.precision, 'f32');
  assert.match(d1.reason, /weights auto → f32: it fits/);
  // a 7B shape in 8 GiB: f32 (~31 GB) does not fit, int8 (~9 GB) does not, int4 (~5.5 GB) does
  const facts7: CheckpointFacts = { sourceBytesPerParam: 2, largestTensor: 152064 * 3584 };
  const q7v = parseModelSpec({ model_type: 'qwen2', hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28, num_attention_heads: 28, num_key_value_heads: 4, vocab_size: 152064, tie_word_embeddings: false }, 'config.json');
  const eight = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV2Max: `${8 * GiB}`, cgroupV2Current: '0' });
  const d2 = preflight(q7v, 'auto', { batch: 1, maxLength: 1024 }, facts7, eight);
  const e = estimateSession(q7v, 'int8', { batch: 1, maxLength: 1024 }, facts7);
  assert.equal(d2.precision, e.total <= 8 * GiB ? 'int8' : 'int4');
  assert.match(d2.reason, /f32 needs ≈ \d+\.\d\d GB/);
  void q7;
});

test('an explicit precision that does not fit is refused with the numbers and the precision that fits', () => {
  const q7v = parseModelSpec({ model_type: 'qwen2', hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28, num_attention_heads: 28, num_key_value_heads: 4, vocab_size: 152064, tie_word_embeddings: false }, 'config.json');
  const facts7: CheckpointFacts = { sourceBytesPerParam: 2, largestTensor: 152064 * 3584 };
  const eight = memoryBudget(undefined, { meminfo: meminfo(24, 20), cgroupV2Max: `${8 * GiB}`, cgroupV2Current: '0' });
  assert.throws(
    () => preflight(q7v, 'f32', { batch: 1, maxLength: 1024 }, facts7, eight, '/models/qwen7b'),
    (err: unknown) => {
      assert.ok(err instanceof MemoryPreflightError);
      const m = err.message;
      assert.match(m, /Not enough memory for \/models\/qwen7b at f32: needs \d+\.\d\d GB \(weights \d+\.\d\d GB, KV cache .* for batch 1 × 1024 tokens/);
      assert.match(m, /8\.59 GB available \(MemAvailable 21\.47 GB of 25\.77 GB total; cgroup limit 8\.59 GB with 0\.00 GB in use\)/);
      assert.match(m, /int4 would fit/);
      assert.match(m, /--weights int4 \(setting organismLab\.weights\)/);
      return true;
    },
  );
  const tiny = memoryBudget(100, { meminfo: meminfo(24, 20) });
  assert.throws(() => preflight(q7v, 'auto', { batch: 1, maxLength: 1024 }, facts7, tiny), /at any precision: int4 needs/);
});

test('f16 weights: 2 bytes per parameter on CUDA, folded back to float32 on CPU', () => {
  const p = paramCounts(q05).total;
  assert.equal(estimateWeightBytes(q05, 'f16', bf16, 32, 'cuda'), p * 2);
  assert.equal(estimateWeightBytes(q05, 'f16', bf16), p * 6);
  const cuda = estimateSession(q05, 'f16', { batch: 1, maxLength: 64, executionProvider: 'cuda' }, bf16);
  assert.equal(cuda.weights, p * 2);
});
