/** Number formatting shared by the Activations page's views. */

/** Four significant digits; '-' for a missing or non-finite value. */
export function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toPrecision(4);
}
