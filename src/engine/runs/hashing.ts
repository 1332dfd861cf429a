/**
 * Fingerprints of model and adapter folders for run headers: different whenever the weights or the
 * settings that change generation differ, so a resumed run never appends rows from another model.
 *
 * sha256 over, in sorted file-name order:
 *   - the full bytes of every small file that changes outputs: config.json, adapter_config.json,
 *     generation_config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja, special_tokens_map.json;
 *   - for each *.safetensors file: its name and size, then
 *       · if ≤ 64 MiB (adapters, small models): the whole file;
 *       · else: the sha256 of the whole file ("sha256:<hex>"), streamed in chunks and cached by absolute
 *         path, size and modification time (a 28 GB checkpoint is read once, not on every run).
 * The result is "sha256:<hex>" when every weights file is ≤ 64 MiB (the same value as before: those
 * were always hashed whole) and "sha256-full:<hex>" otherwise. Before, files over 64 MiB were sampled
 * (header + 64 blocks of 64 KiB): a narrow fine-tune merged into one matrix could fall between the
 * blocks. A run header whose model hash is "sha256:" while the model now has "sha256-full:" was
 * written with that sampled fingerprint (resume.ts says so).
 *
 * The cache (`file-hashes.json` in the cache folder) is only a shortcut: a missing, unreadable or
 * corrupt cache is ignored and rewritten. A file that changes while it is hashed is an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const SMALL_FILES = ['config.json', 'adapter_config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'special_tokens_map.json'];
/** Weights files up to this size are hashed inline (as before); larger ones by their cached full-content sha256. */
export const INLINE_HASH_LIMIT = 64 * 1024 * 1024;
/** Prefix of a fingerprint that covers a weights file over 64 MiB by its full content. */
export const FULL_HASH_PREFIX = 'sha256-full:';
const CHUNK = 8 * 1024 * 1024;
const CACHE_FILE = 'file-hashes.json';
const CACHE_MAX_ENTRIES = 2000;

export interface HashProgress {
  /** The file being read. */
  file: string;
  /** Bytes read so far / to read in all, over the files that need reading (cached ones are skipped). */
  bytesDone: number;
  bytesTotal: number;
}

export interface HashOptions {
  /** Folder of the hash cache; null: no cache. Default: defaultHashCacheDir(). */
  cacheDir?: string | null;
  /** Called after every chunk (8 MiB) of a large file. */
  onProgress?: (p: HashProgress) => void;
  signal?: AbortSignal;
}

let configuredCacheDir: string | undefined;

/** The engine host sets this from the organismLab.cacheFolder setting (hashes go in its `hashes` folder). */
export function setDefaultHashCacheDir(dir: string | undefined): void {
  configuredCacheDir = dir || undefined;
}

/** $ORGANISM_LAB_HASH_CACHE_DIR, the configured cache folder's `hashes`, or ~/.cache/organism-lab/hashes ($XDG_CACHE_HOME respected). */
export function defaultHashCacheDir(): string {
  if (process.env.ORGANISM_LAB_HASH_CACHE_DIR) return process.env.ORGANISM_LAB_HASH_CACHE_DIR;
  if (configuredCacheDir) return configuredCacheDir;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'organism-lab', 'hashes');
}

/**
 * The folder's fingerprint, synchronously (blocks the thread while a large file is read the first time;
 * prefer hashCheckpointDirAsync where progress or cancellation matter).
 */
export function hashCheckpointDir(dir: string, opts: Omit<HashOptions, 'signal'> = {}): string {
  const steps = dirHashSteps(dir, opts);
  for (let r = steps.next(); ; ) {
    if (r.done) return r.value;
    r = steps.next(sha256FileSync(r.value.path, r.value.st, r.value.onBytes));
  }
}

/** The folder's fingerprint, reading large files without blocking the event loop, with progress and cancellation. */
export async function hashCheckpointDirAsync(dir: string, opts: HashOptions = {}): Promise<string> {
  const steps = dirHashSteps(dir, opts);
  for (let r = steps.next(); ; ) {
    if (r.done) return r.value;
    r = steps.next(await sha256File(r.value.path, r.value.st, r.value.onBytes, opts.signal));
  }
}

interface FileHashRequest {
  path: string;
  st: Stats;
  onBytes: (n: number) => void;
}

/** The fingerprint, asking its driver for the full-content hash of each large file that is not cached. */
function* dirHashSteps(dir: string, opts: HashOptions): Generator<FileHashRequest, string, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder; expected a model or adapter folder with config.json/adapter_config.json and *.safetensors.`);
  const names = readdirSync(dir).sort();
  const weights = names.filter((n) => n.endsWith('.safetensors'));
  if (weights.length === 0) throw new Error(`${dir}: no *.safetensors file to fingerprint. Organism Lab reads safetensors checkpoints only.`);
  const stats = new Map(weights.map((n) => [n, statSync(join(dir, n))]));
  const cacheDir = opts.cacheDir === undefined ? defaultHashCacheDir() : opts.cacheDir;
  const cache = cacheDir ? loadCache(cacheDir) : null;
  // What must be read, for progress.
  let bytesTotal = 0;
  for (const n of weights) {
    const st = stats.get(n)!;
    if (st.size <= INLINE_HASH_LIMIT || !cachedHash(cache, join(dir, n), st)) bytesTotal += st.size;
  }
  let bytesDone = 0;

  const h = createHash('sha256');
  for (const n of names) {
    if (!SMALL_FILES.includes(n)) continue;
    h.update(`file:${n}\n`);
    h.update(readFileSync(join(dir, n)));
  }
  let full = false;
  let cacheChanged = false;
  for (const n of weights) {
    const path = join(dir, n);
    const st = stats.get(n)!;
    h.update(`weights:${n}:${st.size}\n`);
    if (st.size <= INLINE_HASH_LIMIT) {
      h.update(readFileSync(path));
      bytesDone += st.size;
      opts.onProgress?.({ file: path, bytesDone, bytesTotal });
      continue;
    }
    full = true;
    let hex = cachedHash(cache, path, st);
    if (!hex) {
      hex = yield { path, st, onBytes: (k) => opts.onProgress?.({ file: path, bytesDone: (bytesDone += k), bytesTotal }) };
      if (cache) {
        cache.entries[resolve(path)] = { size: st.size, mtimeMs: st.mtimeMs, sha256: hex, hashedAt: new Date().toISOString() };
        cacheChanged = true;
      }
    }
    h.update(`sha256:${hex}\n`);
  }
  if (cacheChanged && cacheDir && cache) saveCache(cacheDir, cache);
  return (full ? FULL_HASH_PREFIX : 'sha256:') + h.digest('hex');
}

/** The sha256 (hex) of a file's whole content, from the cache when its path, size and mtime match. */
export async function hashFile(path: string, opts: HashOptions = {}): Promise<string> {
  const st = statSync(path);
  const cacheDir = opts.cacheDir === undefined ? defaultHashCacheDir() : opts.cacheDir;
  const cache = cacheDir ? loadCache(cacheDir) : null;
  const hit = cachedHash(cache, path, st);
  if (hit) return hit;
  let done = 0;
  const hex = await sha256File(path, st, (n) => opts.onProgress?.({ file: path, bytesDone: (done += n), bytesTotal: st.size }), opts.signal);
  if (cacheDir && cache) {
    cache.entries[resolve(path)] = { size: st.size, mtimeMs: st.mtimeMs, sha256: hex, hashedAt: new Date().toISOString() };
    saveCache(cacheDir, cache);
  }
  return hex;
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
  hashedAt: string;
}
interface HashCache {
  version: 1;
  entries: Record<string, CacheEntry>;
}

function cachedHash(cache: HashCache | null, path: string, st: Stats): string | null {
  const e = cache?.entries[resolve(path)];
  return e && e.size === st.size && e.mtimeMs === st.mtimeMs ? e.sha256 : null;
}

function validEntry(e: unknown): e is CacheEntry {
  const x = e as CacheEntry;
  return !!x && typeof x === 'object' && typeof x.size === 'number' && typeof x.mtimeMs === 'number' && typeof x.sha256 === 'string' && /^[0-9a-f]{64}$/.test(x.sha256);
}

/** Reads the cache; anything unreadable (missing, corrupt, other version) is an empty cache. */
function loadCache(cacheDir: string): HashCache {
  const cache: HashCache = { version: 1, entries: {} };
  try {
    const raw = JSON.parse(readFileSync(join(cacheDir, CACHE_FILE), 'utf8'));
    if (raw && raw.version === 1 && raw.entries && typeof raw.entries === 'object') {
      for (const [k, v] of Object.entries(raw.entries)) if (validEntry(v)) cache.entries[k] = v;
    }
  } catch {
    /* no cache yet, or corrupt: start empty */
  }
  return cache;
}

/** Merges with what is on disk now (another process may have added entries), keeps the newest, writes atomically. */
function saveCache(cacheDir: string, cache: HashCache): void {
  const merged = loadCache(cacheDir);
  Object.assign(merged.entries, cache.entries);
  const entries = Object.entries(merged.entries).sort((a, b) => (a[1].hashedAt < b[1].hashedAt ? 1 : -1)).slice(0, CACHE_MAX_ENTRIES);
  const file = join(cacheDir, CACHE_FILE);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(entries) }));
    renameSync(tmp, file);
  } catch {
    // The cache is a shortcut: a read-only or full disk only costs a re-hash next time.
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
  }
}

/** Streams the file through sha256, reading the next chunk while the current one is hashed. */
async function sha256File(path: string, before: Stats, onBytes: (n: number) => void, signal?: AbortSignal): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const h = createHash('sha256');
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let k = 0;
    let pos = 0;
    let pending = fh.read(bufs[0], 0, CHUNK, 0);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const cur = bufs[k];
      pos += bytesRead;
      k ^= 1;
      pending = fh.read(bufs[k], 0, CHUNK, pos);
      h.update(cur.subarray(0, bytesRead));
      onBytes(bytesRead);
      if (signal?.aborted) {
        await pending.catch(() => undefined);
        const e = new Error(`hashing ${path} was cancelled.`);
        e.name = 'AbortError';
        throw e;
      }
    }
    const after = await fh.stat();
    if (pos !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw changedWhileHashing(path, before.size, after.size);
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

function sha256FileSync(path: string, before: Stats, onBytes: (n: number) => void): string {
  const fd = openSync(path, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      h.update(buf.subarray(0, n));
      onBytes(n);
    }
    const after = fstatSync(fd);
    if (pos !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw changedWhileHashing(path, before.size, after.size);
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

function changedWhileHashing(path: string, before: number, after: number): Error {
  return new Error(`${path} changed while it was being hashed (${before} → ${after} bytes); wait until it is completely written (a download or a save in progress?) and try again.`);
}
