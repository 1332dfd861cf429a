// The KV cache's operations (src/engine/runtime/kvCache.ts), the only implementation: appending in
// place, spreading to a larger capacity, keeping rows, dropping leading columns, merging left-padded
// caches, and the ownership rules that keep branches from clobbering each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCache, grownCapacity } from '../../../../src/engine/runtime/kvCache';

const H = 2;
const D = 3;
const L = 2;

/** A value that names its place: layer, key/value, row id, head, token id, lane. */
const val = (l: number, kv: 0 | 1, row: number, h: number, tok: number, d: number): number => l * 1e6 + kv * 5e5 + row * 1e4 + h * 1e3 + tok * 10 + d;

/** New columns [B,H,S,D] for rows `rowIds` and tokens `toks`. */
function cols(l: number, kv: 0 | 1, rowIds: number[], toks: number[]): Float32Array {
  const out = new Float32Array(rowIds.length * H * toks.length * D);
  rowIds.forEach((r, b) => {
    for (let h = 0; h < H; h++) for (let s = 0; s < toks.length; s++) for (let d = 0; d < D; d++) out[((b * H + h) * toks.length + s) * D + d] = val(l, kv, r, h, toks[s], d);
  });
  return out;
}
const appendTokens = (c: KvCache, rowIds: number[], toks: number[], reserve = {}): KvCache =>
  c.append(
    Array.from({ length: L }, (_, l) => cols(l, 0, rowIds, toks)),
    Array.from({ length: L }, (_, l) => cols(l, 1, rowIds, toks)),
    reserve,
  );

/** Asserts the cache's rows hold, per row, `pad` zero columns then the given tokens. */
function expectRows(c: KvCache, rows: { id: number; pad: number; toks: number[] }[]): void {
  assert.equal(c.batch, rows.length);
  rows.forEach((r, b) => {
    assert.equal(r.pad + r.toks.length, c.pastLength, `row ${b} length`);
    for (let l = 0; l < L; l++) {
      for (const [kv, kind] of [[0, 'key'], [1, 'value']] as const) {
        for (let h = 0; h < H; h++) {
          for (let j = 0; j < c.pastLength; j++) {
            const got = Array.from(c.column(l, kind, b, h, j));
            const want = j < r.pad ? [0, 0, 0] : [0, 1, 2].map((d) => val(l, kv, r.id, h, r.toks[j - r.pad], d));
            assert.deepEqual(got, want, `layer ${l} ${kind} row ${b} head ${h} column ${j}`);
          }
        }
      }
    }
  });
  // The compact copy agrees with the column view.
  const { keys } = c.toArrays();
  assert.equal(keys[0].length, c.batch * H * c.pastLength * D);
}

test('append: a prefill allocates spare columns, decode steps then write in place (same buffer), data intact', () => {
  let c = appendTokens(KvCache.empty(L, 2, H, D), [0, 1], [1, 2, 3]);
  assert.equal(c.pastLength, 3);
  assert.equal(c.capacity, grownCapacity(3));
  assert.ok(c.capacity >= 3 + 16);
  const buf = c.layerData(0, 'key').buffer;
  for (let t = 4; t < 20; t++) {
    c = appendTokens(c, [0, 1], [t]);
    assert.equal(c.layerData(0, 'key').buffer, buf, 'decode steps reuse the storage');
  }
  assert.equal(c.layerData(1, 'value').length, 2 * H * c.capacity * D, 'the graph reads [batch, heads, capacity, headDim]');
  expectRows(c, [0, 1].map((id) => ({ id, pad: 0, toks: Array.from({ length: 19 }, (_, i) => i + 1) })));
});

test('append: when the spare columns run out the blocks spread in place to a larger capacity', () => {
  // A reserve makes the buffers large enough for 300 columns; the layout capacity still starts small.
  let c = appendTokens(KvCache.empty(L, 3, H, D), [0, 1, 2], [1, 2], { columns: 300 });
  const buf = c.layerData(0, 'key').buffer;
  const cap0 = c.capacity;
  assert.ok(cap0 < 300);
  const toks = [1, 2];
  while (c.capacity === cap0) {
    toks.push(toks.length + 1);
    c = appendTokens(c, [0, 1, 2], [toks.length]);
  }
  assert.ok(c.capacity > cap0);
  assert.equal(c.layerData(0, 'key').buffer, buf, 'spread inside the same buffers');
  expectRows(c, [0, 1, 2].map((id) => ({ id, pad: 0, toks })));
  // Past the buffers: moved to new ones, still intact.
  while (toks.length < 320) {
    toks.push(toks.length + 1);
    c = appendTokens(c, [0, 1, 2], [toks.length]);
  }
  assert.notEqual(c.layerData(0, 'key').buffer, buf);
  expectRows(c, [0, 1, 2].map((id) => ({ id, pad: 0, toks })));
});

test('branches: appending to an older cache copies, so neither branch clobbers the other', () => {
  const prefix = appendTokens(KvCache.empty(L, 1, H, D), [0], [1, 2, 3]);
  const a = appendTokens(prefix, [0], [10]); // in place: prefix stays readable
  assert.equal(prefix.isLatest, false);
  assert.equal(a.isLatest, true);
  expectRows(prefix, [{ id: 0, pad: 0, toks: [1, 2, 3] }]);
  const b = appendTokens(prefix, [0], [20]); // prefix is not the latest: copy-on-write
  assert.notEqual(b.layerData(0, 'key').buffer, a.layerData(0, 'key').buffer);
  expectRows(a, [{ id: 0, pad: 0, toks: [1, 2, 3, 10] }]);
  expectRows(b, [{ id: 0, pad: 0, toks: [1, 2, 3, 20] }]);
});

test('selectRows: ascending rows move in place, any order copies; older views of the storage then refuse reads', () => {
  let c = appendTokens(KvCache.empty(L, 4, H, D), [0, 1, 2, 3], [1, 2, 3]);
  const before = c;
  const buf = c.layerData(0, 'key').buffer;
  c = c.selectRows([1, 3]);
  assert.equal(c.layerData(0, 'key').buffer, buf);
  expectRows(c, [{ id: 1, pad: 0, toks: [1, 2, 3] }, { id: 3, pad: 0, toks: [1, 2, 3] }]);
  assert.throws(() => before.layerData(0, 'key'), /moved in place by a later operation/);
  const swapped = c.selectRows([1, 0]);
  assert.notEqual(swapped.layerData(0, 'key').buffer, buf);
  expectRows(swapped, [{ id: 3, pad: 0, toks: [1, 2, 3] }, { id: 1, pad: 0, toks: [1, 2, 3] }]);
  // c was not changed by the copying selection and can still go on.
  c = appendTokens(c, [1, 3], [4]);
  expectRows(c, [{ id: 1, pad: 0, toks: [1, 2, 3, 4] }, { id: 3, pad: 0, toks: [1, 2, 3, 4] }]);
  assert.throws(() => c.selectRows([2]), /row 2 is outside 0\.\.1/);
});

test('dropLeadingColumns trims columns in place; appends continue after the kept ones', () => {
  let c = appendTokens(KvCache.empty(L, 2, H, D), [0, 1], [1, 2, 3, 4, 5]);
  c = c.dropLeadingColumns(2);
  expectRows(c, [0, 1].map((id) => ({ id, pad: 0, toks: [3, 4, 5] })));
  c = appendTokens(c, [0, 1], [6]);
  expectRows(c, [0, 1].map((id) => ({ id, pad: 0, toks: [3, 4, 5, 6] })));
  assert.equal(c.dropLeadingColumns(0), c);
  assert.throws(() => c.dropLeadingColumns(5), /5 is outside 0\.\.4/);
});

test('concatLeftPadded: rows of both caches, each left-padded with zero columns, in place when the first has room', () => {
  // The running cache was allocated for 4 rows (a prefill's reserve); a newcomer group merges into it.
  let run = appendTokens(KvCache.empty(L, 2, H, D), [0, 1], [1, 2, 3], { rows: 4 });
  run = appendTokens(run, [0, 1], [4]);
  const buf = run.layerData(0, 'key').buffer;
  const group = appendTokens(KvCache.empty(L, 2, H, D), [2, 3], [7, 8, 9, 10, 11, 12]);
  const merged = KvCache.concatLeftPadded(run, 2, group, 0);
  assert.equal(merged.layerData(0, 'key').buffer, buf, 'merged into the running storage');
  expectRows(merged, [
    { id: 0, pad: 2, toks: [1, 2, 3, 4] },
    { id: 1, pad: 2, toks: [1, 2, 3, 4] },
    { id: 2, pad: 0, toks: [7, 8, 9, 10, 11, 12] },
    { id: 3, pad: 0, toks: [7, 8, 9, 10, 11, 12] },
  ]);
  const next = appendTokens(merged, [0, 1, 2, 3], [99]);
  expectRows(next, [
    { id: 0, pad: 2, toks: [1, 2, 3, 4, 99] },
    { id: 1, pad: 2, toks: [1, 2, 3, 4, 99] },
    { id: 2, pad: 0, toks: [7, 8, 9, 10, 11, 12, 99] },
    { id: 3, pad: 0, toks: [7, 8, 9, 10, 11, 12, 99] },
  ]);
  // No row room left: a merge copies (the newcomer gets the padding this time).
  const more = appendTokens(KvCache.empty(L, 1, H, D), [4], [5]);
  const big = KvCache.concatLeftPadded(next, 0, more, 6);
  assert.notEqual(big.layerData(0, 'key').buffer, buf);
  expectRows(big, [
    { id: 0, pad: 2, toks: [1, 2, 3, 4, 99] },
    { id: 1, pad: 2, toks: [1, 2, 3, 4, 99] },
    { id: 2, pad: 0, toks: [7, 8, 9, 10, 11, 12, 99] },
    { id: 3, pad: 0, toks: [7, 8, 9, 10, 11, 12, 99] },
    { id: 4, pad: 6, toks: [5] },
  ]);
  assert.throws(() => KvCache.concatLeftPadded(big, 0, more, 0), /padded lengths differ/);
  assert.throws(() => KvCache.concatLeftPadded(big, 0, KvCache.empty(L, 1, H, 4), 7), /different models/);
});

test('concatRows left-pads the shorter caches; fromArrays/toArrays round-trip compact arrays', () => {
  const a = appendTokens(KvCache.empty(L, 1, H, D), [0], [1, 2, 3, 4]);
  const b = appendTokens(KvCache.empty(L, 1, H, D), [1], [5, 6]);
  const m = KvCache.concatRows([b, a]);
  expectRows(m, [{ id: 1, pad: 2, toks: [5, 6] }, { id: 0, pad: 0, toks: [1, 2, 3, 4] }]);
  const { keys, values } = m.toArrays();
  const back = KvCache.fromArrays(2, 4, H, D, keys, values);
  assert.equal(back.capacity, 4, 'wrapped as they are');
  expectRows(back, [{ id: 1, pad: 2, toks: [5, 6] }, { id: 0, pad: 0, toks: [1, 2, 3, 4] }]);
  const grown = appendTokens(back, [1, 0], [7]);
  expectRows(grown, [{ id: 1, pad: 2, toks: [5, 6, 7] }, { id: 0, pad: 0, toks: [1, 2, 3, 4, 7] }]);
  assert.throws(() => KvCache.fromArrays(1, 2, H, D, [new Float32Array(3)], [new Float32Array(3)]), /layer 0 holds 3\/3 values, expected 12/);
  assert.deepEqual(KvCache.empty(L, 3, H, D).dims, [3, H, 0, D]);
  assert.throws(() => grown.append([new Float32Array(5)], [new Float32Array(5)]), /1\/1 layers of new columns for a 2-layer cache/);
});
