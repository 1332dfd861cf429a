// The quantizer's layout is exactly what onnxruntime's com.microsoft MatMulNBits and GatherBlockQuantized
// read: a quantized MatMul in onnxruntime equals a dequantize-then-matmul in JavaScript (float tolerance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, MS_DOMAIN } from '../../../../src/engine/graph/graphBuilder';
import { OnnxDtype } from '../../../../src/engine/graph/onnxProto';
import { dequantizeMatrix, quantizeMatrix, QuantBits } from '../../../../src/engine/quant/blockQuantize';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function u8Init(g: GraphBuilder, data: Uint8Array, dims: number[]): string {
  const name = g.fresh('c_u8');
  g.initializers.push({ name, dims, dataType: OnnxDtype.UINT8, rawData: data });
  return name;
}

async function runMatMulNBits(x: Float32Array, M: number, K: number, N: number, bits: QuantBits, blockSize: number, accuracyLevel: number, q: { packed: Uint8Array; scales: Float32Array }): Promise<Float32Array> {
  const g = new GraphBuilder();
  g.input('x', OnnxDtype.FLOAT, [M, K]);
  const kb = Math.ceil(K / blockSize);
  const B = u8Init(g, q.packed, [N, kb, (blockSize * bits) / 8]);
  const S = g.f32(q.scales, [N * kb]);
  g.opTo('MatMulNBits', ['x', B, S], ['y'], { K, N, bits, block_size: blockSize, accuracy_level: accuracyLevel }, MS_DOMAIN);
  g.output('y', OnnxDtype.FLOAT, [M, N]);
  const s = await ort.InferenceSession.create(g.encode('t'), { executionProviders: ['cpu'] });
  const out = await s.run({ x: new ort.Tensor('float32', x, [M, K]) });
  await s.release();
  return out.y.data as Float32Array;
}

function matmulT(x: Float32Array, M: number, K: number, w: Float32Array, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
    y[m * N + n] = acc;
  }
  return y;
}

for (const bits of [4, 8] as QuantBits[]) {
  test(`MatMulNBits bits=${bits}: onnxruntime = dequantize-then-matmul in JS`, async () => {
    const r = rng(bits);
    const M = 3, K = 96 + 16, N = 40, bs = 32; // K not a multiple of the block: padded last block
    const w = Float32Array.from({ length: N * K }, () => r() * 0.2);
    const x = Float32Array.from({ length: M * K }, () => r());
    const q = quantizeMatrix(w, N, K, bits, bs);
    const deq = dequantizeMatrix(q, N, K, bits, bs);
    // quantization error is bounded by half a step of each block
    let maxErr = 0;
    for (let i = 0; i < w.length; i++) maxErr = Math.max(maxErr, Math.abs(w[i] - deq[i]));
    assert.ok(maxErr <= 0.1 / (bits === 4 ? 8 : 128) + 1e-6, `max quantization error ${maxErr}`);
    const ref = matmulT(x, M, K, deq, N);
    const y = await runMatMulNBits(x, M, K, N, bits, bs, 0, q);
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - y[i]));
    assert.ok(d < 1e-5, `accuracy_level 0: max |onnxruntime - reference| = ${d}`);
    // accuracy_level 4 quantizes the activations to int8 per block: close, not exact
    const y4 = await runMatMulNBits(x, M, K, N, bits, bs, 4, q);
    let d4 = 0, scale = 0;
    for (let i = 0; i < ref.length; i++) { d4 = Math.max(d4, Math.abs(ref[i] - y4[i])); scale = Math.max(scale, Math.abs(ref[i])); }
    assert.ok(d4 < 0.02 * scale, `accuracy_level 4: max |Δ| ${d4} vs max |y| ${scale}`);
  });
}

for (const bits of [4, 8] as QuantBits[]) {
  test(`GatherBlockQuantized bits=${bits} reads the same bytes: rows = dequantized rows`, async () => {
    const r = rng(10 + bits);
    const V = 20, H = 64, bs = 32;
    const w = Float32Array.from({ length: V * H }, () => r());
    const q = quantizeMatrix(w, V, H, bits, bs);
    const deq = dequantizeMatrix(q, V, H, bits, bs);
    const g = new GraphBuilder();
    g.input('ids', OnnxDtype.INT64, [2, 2]);
    const data = u8Init(g, q.packed, [V, (H * bits) / 8]);
    const S = g.f32(q.scales, [V, H / bs]);
    g.opTo('GatherBlockQuantized', [data, 'ids', S], ['y'], { gather_axis: 0, quantize_axis: 1, block_size: bs, bits }, MS_DOMAIN);
    g.output('y', OnnxDtype.FLOAT, [2, 2, H]);
    const s = await ort.InferenceSession.create(g.encode('t'), { executionProviders: ['cpu'] });
    const ids = [3, 0, 19, 7];
    const out = await s.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [2, 2]) });
    await s.release();
    const y = out.y.data as Float32Array;
    assert.deepEqual(out.y.dims, [2, 2, H]);
    ids.forEach((id, i) => {
      for (let h = 0; h < H; h++) assert.equal(y[i * H + h], deq[id * H + h], `row ${id} col ${h}`);
    });
  });
}
