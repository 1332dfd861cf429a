/**
 * The key/value cache of a decoder and every operation on it. This is the only implementation:
 * ModelRunner feeds it to the graph and appends each forward's new columns; the generation loop keeps
 * rows, trims padding columns and merges newcomers through it.
 *
 * Layout: per layer, keys and values are each [batch, kvHeads, capacity, headDim] float32, row-major.
 * Each (row, head) block holds `pastLength` columns of data (a row's real tokens at the right end of
 * them, padding columns on the left holding zeros) followed by `capacity - pastLength` spare columns
 * whose values are unspecified but finite. The graph reads the whole [batch, kvHeads, capacity, headDim]
 * block as its past input where it lies (no copy) and masks every column at or after pastLength; it
 * returns only the new columns, which `append` writes into spare columns. A decode step therefore
 * copies one column per row in JavaScript and never copies the cache itself. When the spare columns
 * run out, the blocks are spread out in place to a larger capacity (one pass over the cache every
 * few dozen steps) or, when the buffers themselves are too small, moved to larger ones.
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

/** Columns to give a cache that needs `need`: some spare so the next appends are in place, in steps of 64. */
export function grownCapacity(need: number): number {
  if (need === 0) return 0;
  return Math.ceil((need + Math.max(32, need >> 3)) / 64) * 64;
}

export class KvCache {
  private constructor(
    private readonly storage: KvStorage,
    private readonly generation: number,
    readonly batch: number,
    readonly pastLength: number,
    /** Columns per (row, head) block in the layout; >= pastLength. */
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

  private get blockSize(): number {
    return this.capacity * this.headDim;
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
   * A cache over compact per-layer arrays [batch, kvHeads, pastLength, headDim] (used as they are,
   * no copy; the first append moves them to a storage with spare capacity).
   */
  static fromArrays(batch: number, pastLength: number, kvHeads: number, headDim: number, keys: Float32Array[], values: Float32Array[]): KvCache {
    const n = batch * kvHeads * pastLength * headDim;
    if (keys.length !== values.length) throw new Error(`KvCache.fromArrays: ${keys.length} key layers but ${values.length} value layers`);
    for (let l = 0; l < keys.length; l++) {
      if (keys[l].length !== n || values[l].length !== n) throw new Error(`KvCache.fromArrays: layer ${l} holds ${keys[l].length}/${values[l].length} values, expected ${n} for [${batch}, ${kvHeads}, ${pastLength}, ${headDim}]`);
    }
    return new KvCache(new KvStorage(keys, values), 0, batch, pastLength, pastLength, kvHeads, headDim);
  }

  /**
   * The buffer the graph reads for one layer: [batch, kvHeads, capacity, headDim], a view of the
   * storage (no copy). Columns at or after pastLength must be masked out by the reader.
   */
  layerData(layer: number, kind: KvKind): Float32Array {
    this.checkReadable('layerData');
    const buf = (kind === 'key' ? this.storage.keys : this.storage.values)[layer];
    if (!buf) throw new Error(`KvCache.layerData: layer ${layer} is outside 0..${this.numLayers - 1}`);
    return buf.subarray(0, this.batch * this.kvHeads * this.blockSize);
  }

  /** The headDim values of one cached column (a view; do not write to it). */
  column(layer: number, kind: KvKind, row: number, head: number, col: number): Float32Array {
    this.checkReadable('column');
    if (row < 0 || row >= this.batch || head < 0 || head >= this.kvHeads || col < 0 || col >= this.pastLength) {
      throw new Error(`KvCache.column: (row ${row}, head ${head}, column ${col}) is outside [${this.batch}, ${this.kvHeads}, ${this.pastLength}]`);
    }
    const o = ((row * this.kvHeads + head) * this.capacity + col) * this.headDim;
    return (kind === 'key' ? this.storage.keys : this.storage.values)[layer].subarray(o, o + this.headDim);
  }

  /** Compact copies [batch, kvHeads, pastLength, headDim] of every layer. */
  toArrays(): { keys: Float32Array[]; values: Float32Array[] } {
    this.checkReadable('toArrays');
    const compact = (src: Float32Array): Float32Array => {
      const D = this.headDim;
      const out = new Float32Array(this.batch * this.kvHeads * this.pastLength * D);
      for (let bh = 0; bh < this.batch * this.kvHeads; bh++) out.set(src.subarray(bh * this.blockSize, bh * this.blockSize + this.pastLength * D), bh * this.pastLength * D);
      return out;
    };
    return { keys: this.storage.keys.map(compact), values: this.storage.values.map(compact) };
  }

  /**
   * A new storage for `rows` rows laid out with `capacity` columns (its buffers sized for the reserve's
   * rows and columns when larger), this cache's data copied in with `pad` zero columns on the left of each row.
   */
  private copyTo(rows: number[], pad: number, capacity: number, reserve: KvReserve): KvCache {
    const D = this.headDim;
    const H = this.kvHeads;
    const len = this.pastLength + pad;
    const floats = Math.max(rows.length, reserve.rows ?? 0) * H * Math.max(capacity, reserve.columns ?? 0) * D;
    const copy = (src: Float32Array): Float32Array => {
      const out = new Float32Array(floats);
      rows.forEach((r, i) => {
        for (let h = 0; h < H; h++) {
          const s = (r * H + h) * this.blockSize;
          out.set(src.subarray(s, s + this.pastLength * D), ((i * H + h) * capacity + pad) * D);
        }
      });
      return out;
    };
    return new KvCache(new KvStorage(this.storage.keys.map(copy), this.storage.values.map(copy)), 0, rows.length, len, capacity, H, D);
  }

  private allRows(): number[] {
    return Array.from({ length: this.batch }, (_, i) => i);
  }

  /**
   * This (latest) cache's blocks spread in place to `capacity` columns each, when its buffers hold
   * them; the moved-from views become unreadable. Returns null when the buffers are too small.
   */
  private respreadInPlace(capacity: number, rows = this.batch): KvCache | null {
    if (!this.isLatest || capacity < this.capacity) return null;
    if (rows * this.kvHeads * capacity * this.headDim > this.storage.size) return null;
    if (capacity === this.capacity) return this;
    const D = this.headDim;
    const used = this.pastLength * D;
    const move = (buf: Float32Array): void => {
      // Last block first: each destination lies at or after its source, so no block is overwritten before it moves.
      for (let bh = this.batch * this.kvHeads - 1; bh >= 0; bh--) buf.copyWithin(bh * capacity * D, bh * this.blockSize, bh * this.blockSize + used);
    };
    this.storage.keys.forEach(move);
    this.storage.values.forEach(move);
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, this.batch, this.pastLength, capacity, this.kvHeads, this.headDim);
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
    const write = (dst: Float32Array, src: Float32Array): void => {
      for (let bh = 0; bh < this.batch * H; bh++) dst.set(src.subarray(bh * S * D, (bh + 1) * S * D), (bh * cap + this.pastLength) * D);
    };
    for (let l = 0; l < L; l++) {
      write(target.storage.keys[l], newKeys[l]);
      write(target.storage.values[l], newValues[l]);
    }
    return new KvCache(target.storage, target.storage.generation, this.batch, need, cap, H, D);
  }

  /** A cache holding only the given rows, in that order (finished rows leave the batch this way). */
  selectRows(rows: readonly number[]): KvCache {
    this.checkReadable('selectRows');
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new Error(`KvCache.selectRows: row ${r} is outside 0..${this.batch - 1}`);
    const ascending = rows.every((r, i) => i === 0 || r > rows[i - 1]);
    if (!this.isLatest || !ascending) return this.copyTo([...rows], 0, this.capacity, {});
    const rowFloats = this.kvHeads * this.blockSize;
    const move = (buf: Float32Array): void => {
      // Row r goes to slot i <= r, in increasing order: no row is overwritten before it moves.
      rows.forEach((r, i) => {
        if (r !== i) buf.copyWithin(i * rowFloats, r * rowFloats, (r + 1) * rowFloats);
      });
    };
    this.storage.keys.forEach(move);
    this.storage.values.forEach(move);
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, rows.length, this.pastLength, this.capacity, this.kvHeads, this.headDim);
  }

  /** Drops the first `n` columns of every row (columns that are padding for every row). */
  dropLeadingColumns(n: number): KvCache {
    this.checkReadable('dropLeadingColumns');
    if (!Number.isInteger(n) || n < 0 || n > this.pastLength) throw new Error(`KvCache.dropLeadingColumns: ${n} is outside 0..${this.pastLength}`);
    if (n === 0) return this;
    const D = this.headDim;
    if (!this.isLatest) {
      const c = this.copyTo(this.allRows(), 0, this.capacity, {});
      return c.dropLeadingColumns(n);
    }
    const move = (buf: Float32Array): void => {
      for (let bh = 0; bh < this.batch * this.kvHeads; bh++) {
        const s = bh * this.blockSize;
        buf.copyWithin(s, s + n * D, s + this.pastLength * D);
      }
    };
    this.storage.keys.forEach(move);
    this.storage.values.forEach(move);
    this.storage.generation++;
    return new KvCache(this.storage, this.storage.generation, this.batch, this.pastLength - n, this.capacity, this.kvHeads, this.headDim);
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
    const H = a.kvHeads;
    const D = a.headDim;
    let target: KvCache | null = null;
    if (a.isLatest && a.storage !== b.storage) {
      const cap = Math.max(a.capacity, len);
      target = a.respreadInPlace(cap === a.capacity ? cap : grownCapacity(len), rows);
      if (target && padA > 0) {
        const blk = target.capacity * D;
        const shift = (buf: Float32Array): void => {
          for (let bh = a.batch * H - 1; bh >= 0; bh--) {
            buf.copyWithin(bh * blk + padA * D, bh * blk, bh * blk + a.pastLength * D);
            buf.fill(0, bh * blk, bh * blk + padA * D);
          }
        };
        target.storage.keys.forEach(shift);
        target.storage.values.forEach(shift);
        target.storage.generation++;
      }
    }
    target ??= a.copyTo(a.allRows(), padA, grownCapacity(len), { ...reserve, rows: Math.max(rows, reserve.rows ?? 0) });
    const cap = target.capacity;
    const put = (dst: Float32Array, src: Float32Array): void => {
      for (let bh = 0; bh < b.batch * H; bh++) {
        const d = ((a.batch * H + bh) * cap) * D;
        dst.fill(0, d, d + padB * D);
        dst.set(src.subarray(bh * b.blockSize, bh * b.blockSize + b.pastLength * D), d + padB * D);
      }
    };
    for (let l = 0; l < a.numLayers; l++) {
      put(target.storage.keys[l], b.storage.keys[l]);
      put(target.storage.values[l], b.storage.values[l]);
    }
    target.storage.generation++;
    return new KvCache(target.storage, target.storage.generation, rows, len, cap, H, D);
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
