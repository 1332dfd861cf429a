/** Quality of quantized logits against float32 ones: |Δlogit|, per-token KL(f32 || quantized), argmax agreement. */

export interface LogitStats {
  tokens: number;
  maxAbs: number;
  meanKl: number;
  maxKl: number;
  argmaxAgree: number;
}

/** Log-softmax of one row, in float64. */
function logSoftmax(x: ArrayLike<number>, off: number, V: number): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, x[off + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(x[off + i] - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(V);
  for (let i = 0; i < V; i++) out[i] = x[off + i] - lse;
  return out;
}

/** KL(p || q) of two logit rows. */
export function klRow(p: ArrayLike<number>, pOff: number, q: ArrayLike<number>, qOff: number, V: number): number {
  const lp = logSoftmax(p, pOff, V);
  const lq = logSoftmax(q, qOff, V);
  let kl = 0;
  for (let i = 0; i < V; i++) kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
  return Math.max(0, kl);
}

function argmax(x: ArrayLike<number>, off: number, V: number): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

/** Stats over rows of V logits (ref = float32, got = quantized); same length. */
export function logitStats(ref: ArrayLike<number>, got: ArrayLike<number>, V: number): LogitStats {
  if (ref.length !== got.length) throw new Error(`logitStats: ${ref.length} vs ${got.length} values`);
  const tokens = ref.length / V;
  let maxAbs = 0;
  let klSum = 0;
  let maxKl = 0;
  let agree = 0;
  for (let t = 0; t < tokens; t++) {
    const off = t * V;
    for (let i = 0; i < V; i++) maxAbs = Math.max(maxAbs, Math.abs(ref[off + i] - got[off + i]));
    const kl = klRow(ref, off, got, off, V);
    klSum += kl;
    maxKl = Math.max(maxKl, kl);
    if (argmax(ref, off, V) === argmax(got, off, V)) agree++;
  }
  return { tokens, maxAbs, meanKl: tokens ? klSum / tokens : 0, maxKl, argmaxAgree: agree };
}
