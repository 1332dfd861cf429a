/** Array comparisons shared by the numeric tests. */
import assert from 'node:assert/strict';

/** max |a[i] − b[i]| over two arrays of the same length (asserted). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
