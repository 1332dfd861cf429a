/**
 * The key/value cache of a decoder and every operation on it. This is the only implementation:
 * ModelRunner feeds it to the graph and appends each forward's new columns; the generation loop keeps
 * rows, trims padding columns and merges newcomers through it.
 *
 * Layout, per layer, with `capacity` columns per (row, head):
 *  - keys   [batch, kvHeads, capacity, headDim]: column t of a (row, head) is headDim contiguous floats;
 *  - values [batch, kvHeads, headDim, capacity] (transposed): lane d of a (row, head) is `capacity`
 *    contiguous floats, column t at offset t. The graph's context product reads V^T with transB, which
 *    onnxruntime's CPU GEMM runs about twice as fast as V itself for decode shapes (g·S rows, many columns).
 * Of each (row, head), the first `pastLength` columns hold data (a row's real tokens at the right end of
 * them, padding columns on the left holding zeros); the other `capacity - pastLength` are spare, with
 * unspecified but finite values. The graph reads the whole buffers where they lie (no copy) and masks
 * every column at or after pastLength; it returns only the new columns, which `append` writes into spare
 * columns. A decode step therefore copies one column per row in JavaScript and never the cache itself.
 * When the spare columns run out, the columns are spread out in place to a larger capacity (one pass
 * over the cache every few dozen steps) or, when the buffers themselves are too small, moved to larger ones.
 *
 * Views and ownership: a KvCache is a view (batch, pastLength, capacity) of a storage (one Float32Array
 * per layer for keys and one for values). An operation on the storage's latest view works in place
 * and returns the new latest view; an operation on an older view copies into a new storage, so
 * branching from an earlier cache (two continuations of one prefix) never clobbers the other branch.
 * Appending in place leaves older views readable (their columns are untouched); operations that move
 * data in place (selectRows, dropLeadingColumns, a merge, spreading to a larger capacity) make older
 * views of that storage unreadable, and using one then throws.
 */

export type KvKind = 'key' | 'value';

/** Optional sizes for a storage that an operation has to allocate (rows and columns to make room for). */
export interface KvReserve {
  rows?: number;
  columns?: number;
}

class KvStorage {
  /** Bumped by every operation that moves data in place; views of an older generation are unreadable. */
  generation = 0;
  owner: KvCache | null = null;
  constructor(
    readonly keys: Float32Array[],
    readonly values: Float32Array[],
  ) {}

  /** Floats each layer's key (or value) buffer holds. */
  get size(): number {
    return this.keys.length > 0 ? this.keys[0].length : 0;
  }
}

/** Columns to give a cache that needs `need`: some spare so the next appends are in place, in steps of 32. */
export function grownCapacity(need: number): number {
  if (need === 0) return 0;
  return Math.ceil((need + Math.max(16, need >> 4)) / 32) * 32;
}

/**
 * A buffer kind's runs: the contiguous pieces a column is part of. Keys: one run per (row, head), a
 * column `width` = headDim floats wide. Values (transposed): one run per (row, head, lane), 1 float wide.
 */
interface Runs {
  /** Runs per batch row. */
  perRow: number;
  /** Floats of one column within a run. */
  width: number;
}

export class KvCache {
  private constructor(
    private readonly storage: KvStorage,
    private readonly generation: number,
    readonly batch: number,
    readonly pastLength: number,
    /** Columns per (row, head) in the layout; >= pastLength. */
    readonly capacity: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    storage.owner = this;
  }

  get numLayers(): number {
    return this.storage.keys.length;
  }

  /** The cache's logical dims: [batch, kvHeads, pastLength, headDim]. */
  get dims(): [number, number, number, number] {
    return [this.batch, this.kvHeads, this.pastLength, this.headDim];
  }

  /** Bytes of data the cache holds (pastLength columns; the spare capacity is not counted). */
  get byteSize(): number {
    return this.numLayers * 2 * this.batch * this.kvHeads * this.pastLength * this.headDim * 4;
  }

  /** true while no later operation has been applied to this cache's storage (operations on it then work in place). */
  get isLatest(): boolean {
    return this.storage.owner === this && this.storage.generation === this.generation;
  }

  private runs(kind: KvKind): Runs {
    return kind === 'key' ? { perRow: this.kvHeads, width: this.headDim } : { perRow: this.kvHeads * this.headDim, width: 1 };
  }

  /** Each layer's buffers of both kinds, with their runs. */
  private buffers(storage = this.storage): [Float32Array, Runs][] {
    const out: [Float32Array, Runs][] = [];
    for (const b of storage.keys) out.push([b, this.runs('key')]);
    for (const b of storage.values) out.push([b, this.runs('value')]);
    return out;
  }

  private checkReadable(what: string): void {
    if (this.storage.generation !== this.generation) {
      throw new Error(`KvCache.${what}: this cache's data was moved in place by a later operation on the same storage (selectRows, dropLeadingColumns, a merge or a capacity change); use the cache that operation returned`);
    }
  }

  /** A cache with no columns (the past of a first forward). */
  static empty(numLayers: number, batch: number, kvHeads: number, headDim: number): KvCache {
    const z = () => Array.from({ length: numLayers }, () => new Float32Array(0));
    return new KvCache(new KvStorage(z(), z()), 0, batch, 0, 0, kvHeads, headDim);
  }

  /**
   * A cache over compact per-layer arrays [batch, kvHeads, pastLength, headDim] (keys used as they are;
   * values transposed into the cache's layout; the first append moves both to a storage with spare capacity).
   */
  static fromArrays(batch: number, pastLength: number, kvHeads: number, headDim: number, keys: Float32Array[], values: Float32Array[]): KvCache {
    const n = batch * kvHeads * pastLength * headDim;
    if (keys.length !== values.length) throw new Error(`KvCache.fromArrays: ${keys.length} key layers but ${values.length} value layers`);
    for (let l = 0; l < keys.length; l++) {
      if (keys[l].length !== n || values[l].length !== n) throw new Error(`KvCache.fromArrays: layer ${l} holds ${keys[l].length}/${values[l].length} values, expected ${n} for [${batch}, ${kvHeads}, ${pastLength}, ${headDim}]`);
    }
    const c = new KvCache(new KvStorage(keys, values.map(() => new Float32Array(n))), 0, batch, 0, pastLength, kvHeads, headDim);
    for (let l = 0; l < values.length; l++) c.writeValueColumns(c.storage.values[l], values[l], pastLength, 0, pastLength);
    return new KvCache(c.storage, 0, batch, pastLength, pastLength, kvHeads, headDim);
  }

  /**
   * The buffer the graph reads for one layer, a view of the storage (no copy): keys [batch, kvHeads,
   * capacity, headDim], values [batch, kvHeads, headDim, capacity]. Columns at or after pastLength must
   * be masked out by the reader.
   */
  layerData(layer: number, kind: KvKind): Float32Array {
    this.checkReadable('layerData');
    const buf = (kind === 'key' ? this.storage.keys : this.storage.values)[layer];
    if (!buf) throw new Error(`KvCache.layerData: layer ${layer} is outside 0..${this.numLayers - 1}`);
    return buf.subarray(0, this.batch * this.kvHeads * this.capacity * this.headDim);
  }

  /** The headDim values of one cached column (a copy). */
  column(layer: number, kind: KvKind, row: number, head: number, col: number): Float32Array {
    this.checkReadable('column');
    if (row < 0 || row >= this.batch || head < 0 || head >= this.kvHeads || col < 0 || col >= this.pastLength) {
      throw new Error(`KvCache.column: (row ${row}, head ${head}, column ${col}) is outside [${this.batch}, ${this.kvHeads}, ${this.pastLength}]`);
    }
    const D = this.headDim;
    const bh = row * this.kvHeads + head;
    if (kind === 'key') return this.storage.keys[layer].slice((bh * this.capacity + col) * D, (bh * this.capacity + col + 1) * D);
    const buf = this.storage.values[layer];
    return Float32Array.from({ length: D }, (_, d) => buf[(bh * D + d) * this.capacity + col]);
  }

  /** Compact copies [batch, kvHeads, pastLength, headDim] of every layer (values transposed back). */
  toArrays(): { keys: Float32Array[]; values: Float32Array[] } {
    this.checkReadable('toArrays');
    const D = this.headDim;
    const P = this.pastLength;
    const C = this.capacity;
    const BH = this.batch * this.kvHeads;
    const keys = this.storage.keys.map((src) => {
      const out = new Float32Array(BH * P * D);
      for (let bh = 0; bh < BH; bh++) out.set(src.subarray(bh * C * D, bh * C * D + P * D), bh * P * D);
      return out;
    });
    const values = this.storage.values.map((src) => {
      const out = new Float32Array(BH * P * D);
      for (let bh = 0; bh < BH; bh++) for (let d = 0; d < D; d++) for (let t = 0; t < P; t++) out[(bh * P + t) * D + d] = src[(bh * D + d) * C + t];
      return out;
    });
    return { keys, values };
  }

  /** Writes standard-layout columns src [batch, kvHeads, S, headDim] into a value buffer of `capacity` columns at column `at`. */
  private writeValueColumns(dst: Float32Array, src: Float32Array, S: number, at: number, capacity: number): void {
    const D = this.headDim;
    for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
      for (let s = 0; s < S; s++) {
        const o = (bh * S + s) * D;
        for (let d = 0; d < D; d++) dst[(bh * D + d) * capacity + at + s] = src[o + d];
      }
    }
  }

  /**
   * A new storage for `rows` rows laid out with `capacity` columns (its buffers sized for the reserve's
   * rows and columns when larger), this cache's data copied in with `pad` zero columns on the left of each row.
   */
  private copyTo(rows: number[], pad: number, capacity: number, reserve: KvReserve): KvCache {
    const floats = Math.max(rows.length, reserve.rows ?? 0) * this.kvHeads * Math.max(capacity, reserve.columns ?? 0) * this.headDim;
    const P = this.pastLength;
    const copy = (src: Float32Array, { perRow, width: w }: Runs): Float32Array => {
      const out = new Float32Array(floats);
      rows.forEach((r, i) => {
        for (let j = 0; j < perRow; j++) {
          const s = (r * perRow + j) * this.capacity * w;
          out.set(src.subarray(s, s + P * w), ((i * perRow + j) * capacity + pad) * w);
        }
      });
      return out;
    };
    const storage = new KvStorage(
      this.storage.keys.map((b) => copy(b, this.runs('key'))),
      this.storage.values.map((b) => copy(b, this.runs('value'))),
    );
    return new KvCache(storage, 0, rows.length, P + pad, capacity, this.kvHeads, this.headDim);
  }

  private allRows(): number[] {
    return Array.from({ length: this.batch }, (_, i) => i);
  }

  /**
   * This (latest) cache's columns spread in place to `capacity` per (row, head), when its buffers hold
   * `rows` rows of them; the moved-from views become unreadable. Returns null when the buffers are too small.
   */
  private respreadInPlace(capacity: number, rows = this.batch): KvCache | null {
    if (!this.isLatest || capacity < this.capacity) return null;
    if (rows * this.kvHeads * capacity * this.headDim > this.storage.size) return null;
    if (capacity === this.capacity) return this;
    const P = this.pastLength;
    for (const [buf, { perRow, width: w }] of this.buffers()) {
      // Last run first: each destination lies at or after its source, so no run is overwritten before it moves.
      for (let i = this.batch * perRow - 1; i >= 0; i--) buf.copyWithin(i * capacity * w, i * this.capacity * w, (i * this.capacity + P) * w);
    }
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, this.batch, P, capacity, this.kvHeads, this.headDim);
  }

  /**
   * The cache grown by the new columns of a forward: newKeys[l] and newValues[l] are [batch, kvHeads,
   * S, headDim]. In place (spare columns) when this is the latest cache of its storage; `reserve`
   * sizes a storage that has to be allocated (rows and columns the caller expects to need).
   */
  append(newKeys: Float32Array[], newValues: Float32Array[], reserve: KvReserve = {}): KvCache {
    this.checkReadable('append');
    const L = this.numLayers;
    if (newKeys.length !== L || newValues.length !== L) throw new Error(`KvCache.append: ${newKeys.length}/${newValues.length} layers of new columns for a ${L}-layer cache`);
    const D = this.headDim;
    const H = this.kvHeads;
    const per = this.batch * H * D;
    const S = per === 0 ? 0 : newKeys[0].length / per;
    if (!Number.isInteger(S)) throw new Error(`KvCache.append: ${newKeys[0].length} new values are not a whole number of columns of [${this.batch}, ${H}, S, ${D}]`);
    for (let l = 0; l < L; l++) {
      if (newKeys[l].length !== S * per || newValues[l].length !== S * per) throw new Error(`KvCache.append: layer ${l} has ${newKeys[l].length}/${newValues[l].length} new values, expected ${S * per}`);
    }
    const need = this.pastLength + S;
    let target: KvCache | null = null;
    if (this.isLatest && need <= this.capacity) target = this;
    else if (this.isLatest) target = this.respreadInPlace(grownCapacity(need));
    target ??= this.copyTo(this.allRows(), 0, grownCapacity(need), reserve);
    const cap = target.capacity;
    for (let l = 0; l < L; l++) {
      const dst = target.storage.keys[l];
      for (let bh = 0; bh < this.batch * H; bh++) dst.set(newKeys[l].subarray(bh * S * D, (bh + 1) * S * D), (bh * cap + this.pastLength) * D);
      this.writeValueColumns(target.storage.values[l], newValues[l], S, this.pastLength, cap);
    }
    return new KvCache(target.storage, target.storage.generation, this.batch, need, cap, H, D);
  }

  /** A cache holding only the given rows, in that order (finished rows leave the batch this way). */
  selectRows(rows: readonly number[]): KvCache {
    this.checkReadable('selectRows');
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new Error(`KvCache.selectRows: row ${r} is outside 0..${this.batch - 1}`);
    const ascending = rows.every((r, i) => i === 0 || r > rows[i - 1]);
    if (!this.isLatest || !ascending) return this.copyTo([...rows], 0, this.capacity, {});
    const rowFloats = this.kvHeads * this.capacity * this.headDim;
    for (const [buf] of this.buffers()) {
      // Row r goes to slot i <= r, in increasing order: no row is overwritten before it moves.
      rows.forEach((r, i) => {
        if (r !== i) buf.copyWithin(i * rowFloats, r * rowFloats, (r + 1) * rowFloats);
      });
    }
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, rows.length, this.pastLength, this.capacity, this.kvHeads, this.headDim);
  }

  /** Drops the first `n` columns of every row (columns that are padding for every row). */
  dropLeadingColumns(n: number): KvCache {
    this.checkReadable('dropLeadingColumns');
    if (!Number.isInteger(n) || n < 0 || n > this.pastLength) throw new Error(`KvCache.dropLeadingColumns: ${n} is outside 0..${this.pastLength}`);
    if (n === 0) return this;
    if (!this.isLatest) return this.copyTo(this.allRows(), 0, this.capacity, {}).dropLeadingColumns(n);
    const C = this.capacity;
    for (const [buf, { perRow, width: w }] of this.buffers()) {
      for (let i = 0; i < this.batch * perRow; i++) buf.copyWithin(i * C * w, (i * C + n) * w, (i * C + this.pastLength) * w);
    }
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, this.batch, this.pastLength - n, C, this.kvHeads, this.headDim);
  }

  /**
   * Rows of `a` then rows of `b`, each row LEFT-padded with zero columns (`padA`, `padB`) so that both
   * reach the same length. In place in `a`'s storage when `a` is its latest cache and the buffers
   * have room. The caller left-pads those rows' attention masks with the same zeros.
   */
  static concatLeftPadded(a: KvCache, padA: number, b: KvCache, padB: number, reserve: KvReserve = {}): KvCache {
    a.checkReadable('concatLeftPadded');
    b.checkReadable('concatLeftPadded');
    if (a.kvHeads !== b.kvHeads || a.headDim !== b.headDim || a.numLayers !== b.numLayers) {
      throw new Error(`KvCache.concatLeftPadded: caches come from different models ([${a.numLayers} layers, ${a.kvHeads}, ${a.headDim}] vs [${b.numLayers} layers, ${b.kvHeads}, ${b.headDim}])`);
    }
    for (const p of [padA, padB]) if (!Number.isInteger(p) || p < 0) throw new Error(`KvCache.concatLeftPadded: pad ${p} is not a non-negative integer`);
    const len = a.pastLength + padA;
    if (b.pastLength + padB !== len) throw new Error(`KvCache.concatLeftPadded: padded lengths differ (${a.pastLength}+${padA} vs ${b.pastLength}+${padB})`);
    const rows = a.batch + b.batch;
    let target: KvCache | null = null;
    if (a.isLatest && a.storage !== b.storage) {
      target = a.respreadInPlace(len <= a.capacity ? a.capacity : grownCapacity(len), rows);
      if (target && padA > 0) {
        const C = target.capacity;
        for (const [buf, { perRow, width: w }] of a.buffers(target.storage)) {
          for (let i = a.batch * perRow - 1; i >= 0; i--) {
            buf.copyWithin((i * C + padA) * w, i * C * w, (i * C + a.pastLength) * w);
            buf.fill(0, i * C * w, (i * C + padA) * w);
          }
        }
        target.storage.generation++;
      }
    }
    target ??= a.copyTo(a.allRows(), padA, grownCapacity(len), { ...reserve, rows: Math.max(rows, reserve.rows ?? 0) });
    const C = target.capacity;
    const dst = a.buffers(target.storage);
    b.buffers().forEach(([src, { perRow, width: w }], k) => {
      const out = dst[k][0];
      for (let i = 0; i < b.batch * perRow; i++) {
        const d = ((a.batch * perRow + i) * C) * w;
        out.fill(0, d, d + padB * w);
        out.set(src.subarray(i * b.capacity * w, (i * b.capacity + b.pastLength) * w), d + padB * w);
      }
    });
    target.storage.generation++;
    return new KvCache(target.storage, target.storage.generation, rows, len, C, a.kvHeads, a.headDim);
  }

  /**
   * Stacks caches row-wise, LEFT-padding shorter ones with zeros up to the longest pastLength.
   * The caller must left-pad those rows' attention masks with the same number of zeros.
   */
  static concatRows(caches: KvCache[]): KvCache {
    if (caches.length === 0) throw new Error('KvCache.concatRows: no caches');
    const len = Math.max(...caches.map((c) => c.pastLength));
    let acc = caches[0];
    let accPad = len - acc.pastLength;
    for (const c of caches.slice(1)) {
      acc = KvCache.concatLeftPadded(acc, accPad, c, len - c.pastLength);
      accPad = 0;
    }
    return acc;
  }
}
