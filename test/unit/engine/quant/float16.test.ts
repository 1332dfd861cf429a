// float32 → float16 bits: round to nearest even, subnormals, clamping beyond ±65504, NaN/Inf kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f32ToF16, f32ToF16Into } from '../../../../src/engine/quant/float16';
import { toFloat32 } from '../../../../src/engine/checkpoint/safetensors';

test('known values', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(0.1), 0x2e66);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(1e6), 0x7bff, 'clamped, not Inf');
  assert.equal(f32ToF16(-1e6), 0xfbff);
  assert.equal(f32ToF16(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(f32ToF16(2 ** -26), 0x0000);
  assert.equal(f32ToF16(Infinity), 0x7c00);
  assert.equal(f32ToF16(NaN) & 0x7e00, 0x7e00);
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00, 'tie rounds to even (down)');
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'tie rounds to even (up)');
});

test('round trip through the reader: every half value is exact, others within half an ulp', () => {
  const n = 20000;
  const w = Float32Array.from({ length: n }, (_, i) => Math.sinh((i - n / 2) / 1500));
  const h = new Uint16Array(n);
  const clamped = f32ToF16Into(w, h);
  assert.equal(clamped, 0);
  const back = toFloat32(Buffer.from(h.buffer), 'F16');
  for (let i = 0; i < n; i++) {
    const rel = Math.abs(back[i] - w[i]) / Math.max(Math.abs(w[i]), 2 ** -14);
    assert.ok(rel <= 2 ** -11 + 1e-9, `${w[i]} → ${back[i]}`);
  }
  const all = new Uint16Array(65536).map((_, i) => i);
  const vals = toFloat32(Buffer.from(all.buffer), 'F16');
  for (let i = 0; i < 65536; i++) if (Number.isFinite(vals[i])) assert.equal(f32ToF16(vals[i]), i, `half 0x${i.toString(16)}`);
});
