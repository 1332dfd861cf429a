/** float32 → IEEE float16 bits, round to nearest even; finite values beyond ±65504 clamp to ±65504 (counted). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00); // NaN / Inf
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff; // overflow: clamp to the largest finite half
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7bff;
    }
  }
  return sign | (e << 10) | m;
}

/** Converts into `out`; returns how many finite values were clamped to ±65504. */
export function f32ToF16Into(w: Float32Array, out: Uint16Array): number {
  let clamped = 0;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    if (v > 65504 || v < -65504) {
      if (Number.isFinite(v)) clamped++;
    }
    out[i] = f32ToF16(v);
  }
  return clamped;
}
