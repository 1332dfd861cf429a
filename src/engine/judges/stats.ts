/**
 * Interval statistics for proportions: Wilson score intervals, Newcombe's hybrid score interval for a
 * difference of two independent proportions, and Cohen's κ. Pure functions, no I/O.
 */
import type { Difference, Kappa, PairedCounts, Proportion } from '../../protocol/stats';

export type { Difference, Kappa, PairedCounts, Proportion };

/** Two-sided 95% normal quantile (Φ⁻¹(0.975)). */
export const Z95 = 1.959963984540054;

/** Wilson score interval for k successes out of n. n = 0 gives nulls. */
export function wilson(k: number, n: number, z = Z95): Proportion {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) {
    throw new Error(`wilson: need integers 0 <= k <= n, got k=${k}, n=${n}`);
  }
  if (n === 0) return { k, n, p: null, lo: null, hi: null };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamp away floating-point dust at the ends (k = 0 gives lo = 0 exactly in exact arithmetic).
  return { k, n, p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/**
 * Newcombe's hybrid score interval (his method 10) for p1 − p2 with independent samples:
 *   lo = d − sqrt((p1 − l1)² + (u2 − p2)²),  hi = d + sqrt((u1 − p1)² + (p2 − l2)²)
 * where (l, u) are the Wilson intervals of each proportion.
 */
export function newcombeDifference(k1: number, n1: number, k2: number, n2: number, z = Z95): Difference {
  const a = wilson(k1, n1, z);
  const b = wilson(k2, n2, z);
  if (a.p === null || b.p === null) return { d: null, lo: null, hi: null };
  const d = a.p - b.p;
  const lo = d - Math.sqrt((a.p - a.lo!) ** 2 + (b.hi! - b.p) ** 2);
  const hi = d + Math.sqrt((a.hi! - a.p) ** 2 + (b.p - b.lo!) ** 2);
  return { d, lo: Math.max(-1, lo), hi: Math.min(1, hi) };
}

/** Cohen's κ from a square confusion matrix (rows: rater 1, columns: rater 2). */
export function cohenKappa(matrix: number[][]): Kappa {
  const m = matrix.length;
  for (const row of matrix) {
    if (row.length !== m) throw new Error(`cohenKappa: the confusion matrix must be square, got a row of ${row.length} in ${m} rows`);
  }
  let n = 0;
  let diag = 0;
  const rowSum = new Array<number>(m).fill(0);
  const colSum = new Array<number>(m).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const c = matrix[i][j];
      n += c;
      rowSum[i] += c;
      colSum[j] += c;
      if (i === j) diag += c;
    }
  }
  if (n === 0) return { kappa: null, observed: null, expected: null, n };
  const po = diag / n;
  let pe = 0;
  for (let i = 0; i < m; i++) pe += (rowSum[i] / n) * (colSum[i] / n);
  const kappa = pe === 1 ? null : (po - pe) / (1 - pe);
  return { kappa, observed: po, expected: pe, n };
}

/**
 * Newcombe's score interval for the difference of two PAIRED proportions p1 − p2 (Newcombe 1998,
 * "Improved confidence intervals for the difference between binomial proportions based on paired data",
 * method 10): the Wilson intervals (l, u) of each marginal combined with the continuity-corrected
 * correlation φ̂ of the 2×2 table:
 *   lo = d − sqrt((p1 − l1)² − 2φ̂(p1 − l1)(u2 − p2) + (u2 − p2)²)
 *   hi = d + sqrt((u1 − p1)² − 2φ̂(u1 − p1)(p2 − l2) + (p2 − l2)²)
 * with φ̂ = (AD − BC)* / sqrt((A+B)(C+D)(A+C)(B+D)), where (AD − BC)* = AD − BC − n/2 when AD − BC > n/2,
 * 0 when 0 ≤ AD − BC ≤ n/2, and AD − BC when it is negative (Newcombe's continuity correction); φ̂ = 0
 * when a margin is empty.
 */
export function pairedNewcombeDifference(t: PairedCounts, z = Z95): Difference {
  const { both: A, onlyFirst: B, onlySecond: C, neither: D } = t;
  for (const x of [A, B, C, D]) {
    if (!Number.isInteger(x) || x < 0) throw new Error(`pairedNewcombeDifference: counts must be integers >= 0, got ${JSON.stringify(t)}`);
  }
  const n = A + B + C + D;
  if (n === 0) return { d: null, lo: null, hi: null };
  const w1 = wilson(A + B, n, z);
  const w2 = wilson(A + C, n, z);
  const p1 = w1.p!;
  const p2 = w2.p!;
  const d = p1 - p2;
  const denom = Math.sqrt((A + B) * (C + D) * (A + C) * (B + D));
  let phi = 0;
  if (denom > 0) {
    const cross = A * D - B * C;
    const corrected = cross > n / 2 ? cross - n / 2 : cross < 0 ? cross : 0;
    phi = corrected / denom;
  }
  const dl1 = p1 - w1.lo!;
  const du1 = w1.hi! - p1;
  const dl2 = p2 - w2.lo!;
  const du2 = w2.hi! - p2;
  const lo = d - Math.sqrt(Math.max(0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2));
  const hi = d + Math.sqrt(Math.max(0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2));
  return { d, lo: Math.max(-1, lo), hi: Math.min(1, hi) };
}

/**
 * McNemar's exact test (two-sided) on the discordant pairs: under H0 the onlyFirst of the b + c discordant
 * pairs are Binomial(b + c, 1/2); p = min(1, 2·P(X ≤ min(b, c))). 1 when there are no discordant pairs.
 */
export function mcnemarExact(onlyFirst: number, onlySecond: number): number {
  for (const x of [onlyFirst, onlySecond]) {
    if (!Number.isInteger(x) || x < 0) throw new Error(`mcnemarExact: counts must be integers >= 0, got ${onlyFirst}, ${onlySecond}`);
  }
  const m = onlyFirst + onlySecond;
  if (m === 0) return 1;
  const k = Math.min(onlyFirst, onlySecond);
  // Sum C(m, i) / 2^m for i = 0..k in log space (m can be in the thousands).
  let logC = 0; // log C(m, 0)
  let tail = 0;
  const log2m = m * Math.LN2;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(m - i + 1) - Math.log(i);
    tail += Math.exp(logC - log2m);
  }
  return Math.min(1, 2 * tail);
}
