/**
 * Block-wise weight-only quantization in the layout of onnxruntime's com.microsoft MatMulNBits
 * (and GatherBlockQuantized with uint8 data, which reads the same bytes):
 *
 *   W [N, K] (row n = output feature, K = input features) is cut along K into blocks of `blockSize`.
 *   B      uint8 [N, kBlocks, blobSize], blobSize = blockSize * bits / 8; for 4 bits the first value of a
 *          pair sits in the LOW nibble, the second in the high nibble; for 8 bits one byte per value.
 *   scales float32 [N, kBlocks]
 *   zero points: none, so onnxruntime uses its default 2^(bits-1) (8 for int4, 128 for int8) and
 *          dequantizes w = (q - 2^(bits-1)) * scale.
 *
 * Symmetric ("sym", Q4_0/Q8_0-like): the block's value of largest magnitude m maps to the most negative
 * code: scale = m / -2^(bits-1), q = clamp(round(w / scale), -2^(bits-1), 2^(bits-1) - 1) + 2^(bits-1).
 * Symmetric because onnxruntime's integer (accuracy_level 4) kernels then skip the zero-point term and
 * read no zero-point bytes (fewer bytes per block, and decode is memory-bound), and the error of a
 * signed symmetric code on weight distributions centred on zero is close to an asymmetric one's.
 * K that is not a multiple of blockSize is padded with zeros (code = zero point).
 */

export type QuantBits = 4 | 8;

export interface QuantizedMatrix {
  /** [N, kBlocks, blobSize] */
  packed: Uint8Array;
  /** [N, kBlocks] */
  scales: Float32Array;
}

export function kBlocksOf(K: number, blockSize: number): number {
  return Math.ceil(K / blockSize);
}

export function blobSizeOf(bits: QuantBits, blockSize: number): number {
  return (blockSize * bits) / 8;
}

/** Bytes of the packed weights + scales of an [N, K] matrix. */
export function quantizedBytes(N: number, K: number, bits: QuantBits, blockSize: number): { packed: number; scales: number } {
  const kb = kBlocksOf(K, blockSize);
  return { packed: N * kb * blobSizeOf(bits, blockSize), scales: N * kb * 4 };
}

export function checkBlockSize(blockSize: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`block size ${blockSize} is not supported: onnxruntime's MatMulNBits needs a power of two ≥ 16 (e.g. 32)`);
  }
}

/**
 * Quantizes `rows` rows of a row-major [rows, K] float32 matrix into the given output views
 * (packed: rows × kBlocks × blob bytes, scales: rows × kBlocks floats). Streaming callers pass row chunks.
 */
export function quantizeRowsInto(w: Float32Array, rows: number, K: number, bits: QuantBits, blockSize: number, packed: Uint8Array, scales: Float32Array): void {
  const kb = kBlocksOf(K, blockSize);
  const blob = blobSizeOf(bits, blockSize);
  const zp = 1 << (bits - 1); // 8 or 128
  const qmin = -zp;
  const qmax = zp - 1;
  const q = new Int32Array(blockSize);
  for (let r = 0; r < rows; r++) {
    const rowOff = r * K;
    for (let b = 0; b < kb; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      let amax = 0;
      let m = 0;
      for (let k = k0; k < k1; k++) {
        const v = w[rowOff + k];
        const a = Math.abs(v);
        if (a > amax) {
          amax = a;
          m = v;
        }
      }
      const scale = Math.fround(m / -zp);
      const inv = scale !== 0 ? 1 / scale : 0;
      for (let k = k0; k < k1; k++) {
        let v = Math.round(w[rowOff + k] * inv);
        if (v < qmin) v = qmin;
        else if (v > qmax) v = qmax;
        q[k - k0] = v + zp;
      }
      for (let k = k1 - k0; k < blockSize; k++) q[k] = zp; // padding = 0.0
      scales[r * kb + b] = scale;
      const out = (r * kb + b) * blob;
      if (bits === 8) {
        for (let j = 0; j < blockSize; j++) packed[out + j] = q[j];
      } else {
        for (let j = 0; j < blob; j++) packed[out + j] = q[2 * j] | (q[2 * j + 1] << 4);
      }
    }
  }
}

export function quantizeMatrix(w: Float32Array, N: number, K: number, bits: QuantBits, blockSize: number): QuantizedMatrix {
  checkBlockSize(blockSize);
  if (w.length !== N * K) throw new Error(`quantizeMatrix: ${w.length} values for [${N}, ${K}]`);
  const sz = quantizedBytes(N, K, bits, blockSize);
  const packed = new Uint8Array(sz.packed);
  const scales = new Float32Array(sz.scales / 4);
  quantizeRowsInto(w, N, K, bits, blockSize, packed, scales);
  return { packed, scales };
}

/** Reference dequantization: (q - 2^(bits-1)) * scale, [N, K] float32 (what MatMulNBits multiplies by). */
export function dequantizeMatrix(q: QuantizedMatrix, N: number, K: number, bits: QuantBits, blockSize: number): Float32Array {
  const kb = kBlocksOf(K, blockSize);
  const blob = blobSizeOf(bits, blockSize);
  const zp = 1 << (bits - 1);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const j = k % blockSize;
      const base = (n * kb + b) * blob;
      const code = bits === 8 ? q.packed[base + j] : (q.packed[base + (j >> 1)] >> ((j & 1) * 4)) & 0x0f;
      out[n * K + k] = Math.fround((code - zp) * q.scales[n * kb + b]);
    }
  }
  return out;
}
