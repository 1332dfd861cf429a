/**
 * NaN/±Inf detection in safetensors weights: a streaming scan of each float tensor's raw bytes (bit patterns,
 * no conversion), at most SCAN_CHUNK_BYTES read at a time, so memory stays bounded whatever the model size.
 * Results are cached per file identity (path, size, mtime, inode) in memory and on disk
 * ($XDG_CACHE_HOME/organism-lab/finite-scan), so only the first load of an unchanged file pays for it.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ByteRange, SafetensorsDtype } from './safetensorsTypes';

/** What the scan needs of a SafetensorsFile (type-only, so safetensors.ts can import this module). */
export interface ScannableFile {
  readonly file: string;
  readonly tensors: ReadonlyMap<string, unknown>;
  byteRange(name: string): ByteRange;
}

export interface NonFiniteTensor {
  file: string;
  tensor: string;
  nan: number;
  inf: number;
  /** Element index of the first non-finite value. */
  first: number;
}

/** Bytes per positioned read of the scan (bounded memory whatever the tensor size). */
export const SCAN_CHUNK_BYTES = 8 * 1024 * 1024;

const scanCache = new Map<string, NonFiniteTensor[]>();

/** Folder of the on-disk scan cache ('' disables it; ORGANISM_LAB_SCAN_CACHE overrides). */
export function scanCacheFolder(): string {
  const env = process.env.ORGANISM_LAB_SCAN_CACHE;
  if (env !== undefined) return env;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'organism-lab', 'finite-scan');
}

function diskCacheFile(key: string): string | null {
  const folder = scanCacheFolder();
  return folder ? path.join(folder, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`) : null;
}

function readDiskCache(key: string): NonFiniteTensor[] | null {
  const f = diskCacheFile(key);
  if (!f) return null;
  try {
    const v = JSON.parse(readFileSync(f, 'utf8')) as { key?: unknown; bad?: unknown };
    return v.key === key && Array.isArray(v.bad) ? (v.bad as NonFiniteTensor[]) : null;
  } catch {
    return null;
  }
}

function writeDiskCache(key: string, bad: NonFiniteTensor[]): void {
  const f = diskCacheFile(key);
  if (!f) return;
  try {
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, JSON.stringify({ key, bad }));
  } catch {
    // A cache that cannot be written only costs a rescan next time.
  }
}

function fileIdentity(file: string): string {
  const s = statSync(file);
  return `${file}\0${s.size}\0${s.mtimeMs}\0${s.ino}\0${s.dev}`;
}

/** True when some value of the block has an all-ones exponent (NaN/±Inf); int32 words only (V8 small-integer arithmetic). */
function anyNonFinite(buf: Buffer, bytes: number, dtype: SafetensorsDtype): boolean {
  const w = new Int32Array(buf.buffer, buf.byteOffset, bytes >> 2);
  if (dtype === 'F32') {
    for (let i = 0; i < w.length; i++) if ((w[i] & 0x7f800000) === 0x7f800000) return true;
    return false;
  }
  const lo = dtype === 'BF16' ? 0x7f80 : 0x7c00;
  const hi = lo << 16;
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    if ((x & lo) === lo || (x & hi) === hi) return true;
  }
  // An odd trailing 16-bit value (a tensor with an odd element count).
  if (bytes & 2) {
    const last = buf.readUInt16LE(bytes - 2);
    return (last & lo) === lo;
  }
  return false;
}

/** Counts NaN and ±Inf by their bit patterns (exponent all ones), without converting to float. */
function countNonFinite(buf: Buffer, n: number, dtype: SafetensorsDtype): { nan: number; inf: number; first: number } {
  let nan = 0;
  let inf = 0;
  let first = -1;
  if ((dtype === 'F32' || dtype === 'BF16' || dtype === 'F16') && !anyNonFinite(buf, n * (dtype === 'F32' ? 4 : 2), dtype)) return { nan, inf, first };
  if (dtype === 'F32') {
    const u = new Int32Array(buf.buffer, buf.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const x = u[i] & 0x7fffffff;
      if (x >= 0x7f800000) {
        if (x === 0x7f800000) inf++;
        else nan++;
        if (first < 0) first = i;
      }
    }
  } else if (dtype === 'BF16' || dtype === 'F16') {
    const u = new Uint16Array(buf.buffer, buf.byteOffset, n);
    const expMask = dtype === 'BF16' ? 0x7f80 : 0x7c00;
    for (let i = 0; i < n; i++) {
      const x = u[i] & 0x7fff;
      if (x >= expMask) {
        if (x === expMask) inf++;
        else nan++;
        if (first < 0) first = i;
      }
    }
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) {
      const v = buf.readDoubleLE(i * 8);
      if (!Number.isFinite(v)) {
        if (v !== v) nan++;
        else inf++;
        if (first < 0) first = i;
      }
    }
  }
  return { nan, inf, first };
}

/**
 * Scans the named tensors of one file (all of them by default) for NaN/±Inf, reading at most
 * SCAN_CHUNK_BYTES at a time. Integer tensors are skipped. The result for a whole-file scan is cached by
 * the file's identity (path, size, mtime, inode).
 */
export function scanFileNonFinite(st: ScannableFile, opts: { onTensor?: () => void; chunkBytes?: number } = {}): NonFiniteTensor[] {
  const key = fileIdentity(st.file);
  const cached = scanCache.get(key) ?? readDiskCache(key);
  if (cached) {
    scanCache.set(key, cached);
    return cached;
  }
  const chunk = Math.max(8, Math.floor((opts.chunkBytes ?? SCAN_CHUNK_BYTES) / 8) * 8);
  const bad: NonFiniteTensor[] = [];
  const fd = openSync(st.file, 'r');
  // Aligned for Uint32Array views: Buffer.allocUnsafeSlow gives its own ArrayBuffer at offset 0.
  const buf = Buffer.allocUnsafeSlow(chunk);
  try {
    for (const name of st.tensors.keys()) {
      const r = st.byteRange(name);
      const size = { F64: 8, F32: 4, F16: 2, BF16: 2 }[r.dtype as 'F64'];
      if (size === undefined) {
        opts.onTensor?.();
        continue;
      }
      let nan = 0;
      let inf = 0;
      let first = -1;
      for (let done = 0; done < r.length; ) {
        const want = Math.min(chunk, r.length - done);
        let got = 0;
        while (got < want) {
          const k = readSync(fd, buf, got, want - got, r.offset + done + got);
          if (k === 0) throw new Error(`${st.file}: tensor "${name}": file ended while reading (changed on disk?)`);
          got += k;
        }
        const c = countNonFinite(buf, want / size, r.dtype);
        if (c.first >= 0 && first < 0) first = done / size + c.first;
        nan += c.nan;
        inf += c.inf;
        done += want;
      }
      if (nan || inf) bad.push({ file: st.file, tensor: name, nan, inf, first });
      opts.onTensor?.();
    }
  } finally {
    closeSync(fd);
  }
  scanCache.set(key, bad);
  writeDiskCache(key, bad);
  return bad;
}

/** Scans every file of a checkpoint. */
export function scanCheckpointNonFinite(ckpt: { files: readonly ScannableFile[]; names(): string[] }, onProgress?: (done: number, total: number) => void): NonFiniteTensor[] {
  const total = ckpt.names().length;
  let done = 0;
  const out: NonFiniteTensor[] = [];
  for (const f of ckpt.files) out.push(...scanFileNonFinite(f, { onTensor: () => onProgress?.(++done, total) }));
  return out;
}

export function describeNonFinite(t: NonFiniteTensor): string {
  return `${t.file}: tensor "${t.tensor}" holds ${t.nan} NaN and ${t.inf} Inf values (first at element ${t.first}); the weights are corrupt (a diverged training run or a broken conversion): re-save or re-download them`;
}

/** Non-finite values of an already converted float32 tensor (adapters are read whole anyway). */
export function countNonFiniteF32(v: Float32Array): { nan: number; inf: number; first: number } {
  let nan = 0;
  let inf = 0;
  let first = -1;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x - x !== 0) {
      if (x !== x) nan++;
      else inf++;
      if (first < 0) first = i;
    }
  }
  return { nan, inf, first };
}

/** For tests: forget cached scan results. */
export function clearScanCache(): void {
  scanCache.clear();
}
