/**
 * The shapes of the statistics in reports and comparisons (proportions, differences, kappa, paired counts).
 * Types only; the computations live in engine/judges/stats.ts.
 */

export interface Proportion {
  k: number;
  n: number;
  /** k / n, or null when n = 0. */
  p: number | null;
  lo: number | null;
  hi: number | null;
}

export interface Difference {
  /** p1 − p2, or null when either side has n = 0. */
  d: number | null;
  lo: number | null;
  hi: number | null;
}

export interface Kappa {
  /** Cohen's κ, or null when it is undefined (no pairs, or chance agreement = 1). */
  kappa: number | null;
  observed: number | null;
  expected: number | null;
  n: number;
}

/**
 * Paired binary outcomes on the same units (the same seeded cell run twice): `both` = 1 in both, `onlyFirst`
 * = 1 in the first only, `onlySecond` = 1 in the second only, `neither` = 0 in both.
 */
export interface PairedCounts {
  both: number;
  onlyFirst: number;
  onlySecond: number;
  neither: number;
}
