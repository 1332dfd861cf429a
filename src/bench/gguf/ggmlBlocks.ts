/**
 * ggml's F16, Q8_0 and Q4_0 encodings of float32 rows, byte for byte as ggml's reference quantizers
 * (ggml-quants.c, quantize_row_q8_0_ref / quantize_row_q4_0_ref) write them, so that a GGUF file made
 * here holds the same values llama.cpp's own converter would. Every product is rounded to float32 at the
 * step where ggml's C code rounds it.
 *
 *   Q8_0, 34 bytes per block of 32: f16 d = amax / 127, then 32 int8 q = round-half-away(x / d).
 *   Q4_0, 18 bytes per block of 32: f16 d = max / -8 (max: the value of largest magnitude, signed),
 *         then 16 bytes: byte j holds x[j] in its low nibble and x[j + 16] in its high nibble, each
 *         min(15, trunc(x / d + 8.5)).
 */
import { f32ToF16 } from '../../engine/quant/float16';

export const GGML_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 2 + GGML_BLOCK;
export const Q4_0_BLOCK_BYTES = 2 + GGML_BLOCK / 2;

const fr = Math.fround;

/** C's roundf: halves away from zero. */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

function checkRow(x: Float32Array, what: string): number {
  if (x.length % GGML_BLOCK !== 0) throw new Error(`${what}: ${x.length} values is not a multiple of ${GGML_BLOCK} (ggml blocks); this tensor cannot be stored as ${what}`);
  return x.length / GGML_BLOCK;
}

/** float32 → IEEE half bits, little-endian, 2 bytes per value. */
export function encodeF16(x: Float32Array): Buffer {
  const out = Buffer.alloc(x.length * 2);
  for (let i = 0; i < x.length; i++) out.writeUInt16LE(f32ToF16(x[i]), i * 2);
  return out;
}

/** float32 values (a whole tensor, row-major, rows a multiple of 32 long) → Q8_0 blocks. */
export function encodeQ8_0(x: Float32Array): Buffer {
  const nb = checkRow(x, 'Q8_0');
  const out = Buffer.alloc(nb * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * GGML_BLOCK;
    let amax = 0;
    for (let j = 0; j < GGML_BLOCK; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    out.writeUInt16LE(f32ToF16(d), o);
    for (let j = 0; j < GGML_BLOCK; j++) out.writeInt8(roundHalfAway(fr(x[base + j] * id)), o + 2 + j);
  }
  return out;
}

/** float32 values (rows a multiple of 32 long) → Q4_0 blocks. */
export function encodeQ4_0(x: Float32Array): Buffer {
  const nb = checkRow(x, 'Q4_0');
  const out = Buffer.alloc(nb * Q4_0_BLOCK_BYTES);
  const half = GGML_BLOCK / 2;
  for (let b = 0; b < nb; b++) {
    const base = b * GGML_BLOCK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < GGML_BLOCK; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    out.writeUInt16LE(f32ToF16(d), o);
    for (let j = 0; j < half; j++) {
      const lo = Math.min(15, Math.trunc(fr(fr(x[base + j] * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(fr(fr(x[base + half + j] * id) + 8.5)));
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
  return out;
}
