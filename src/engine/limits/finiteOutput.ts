/**
 * Model outputs (logits, hidden states) must be finite before anything computed from them is written:
 * NaN/Inf weights, an absurd adapter scale or steering strength, or an overflow make them NaN/Inf, and
 * a file of NaN with exit 0 says nothing. Padded positions are skipped (their values are never used).
 */

export class NonFiniteOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteOutputError';
  }
}

/** The first non-finite value of a [B, S, X] row-major block at a kept (b, t), or null. */
export function firstNonFinite(data: Float32Array, dims: readonly number[], keep: (b: number, t: number) => boolean = () => true): { b: number; t: number; i: number; value: number } | null {
  const [B, S, X] = dims;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < S; t++) {
      if (!keep(b, t)) continue;
      const off = (b * S + t) * X;
      for (let i = 0; i < X; i++) {
        const v = data[off + i];
        if (v - v !== 0) return { b, t, i, value: v };
      }
    }
  }
  return null;
}

/** Throws NonFiniteOutputError naming the output, row and position, and what `context` was not done. */
export function assertFiniteOutput(data: Float32Array, dims: readonly number[], name: string, keep: (b: number, t: number) => boolean, context: string): void {
  const bad = firstNonFinite(data, dims, keep);
  if (!bad) return;
  throw new NonFiniteOutputError(
    `the model produced ${Number.isNaN(bad.value) ? 'NaN' : bad.value} in ${name} at row ${bad.b}, position ${bad.t}; ${context}. ` +
      'Check the weights (organism-lab inspect MODEL_DIR), the adapter scale and the steering strength.',
  );
}
