/**
 * Quantized weights, computed once per checkpoint and cached.
 *
 * On first load at int8/int4 the checkpoint's own safetensors (BF16/F16/F32) are read tensor by tensor, in
 * row chunks of a few MiB, quantized block-wise (./blockQuantize) and streamed into ONE safetensors file in
 * the cache folder, named by the checkpoint's content fingerprint (src/engine/runs/hashing), the precision,
 * the block size and the format version. The file holds everything the graph reads, so a quantized
 * session's external data all points into it:
 *   - `<name>.qweight` U8 [N, kBlocks, blob] and `<name>.scales` F32 [N, kBlocks] for every projection of
 *     every layer, the embedding and (untied) lm_head;
 *   - matrices that read the same input are written as a group (a layer's q/k/v, and its gate/up): the
 *     members' packed blocks one after the other, then their scales one after the other (f16: the members'
 *     rows one after the other). A group's bytes are therefore one [ΣN, kBlocks, blob] and one [ΣN, kBlocks]
 *     range, which the graph reads as ONE initializer for one product (../graph/linear, applyGroup) without
 *     copying anything at load;
 *   - `<name>` F32 for every other float tensor (norm weights, biases), upcast once.
 * The file is written to a temporary name and renamed when complete, so a cancelled or crashed run leaves no
 * half file behind; later loads find it, check its metadata and shapes, and quantize nothing.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelSpec } from '../checkpoint/modelSpec';
import { linearParent, linearShape, type LinearModule } from '../checkpoint/modelSpec';
import { SafetensorsCheckpoint, SafetensorsFile, toFloat32 } from '../checkpoint/safetensors';
import { hashCheckpointDirAsync } from '../runs/hashing';
import { checkBlockSize, kBlocksOf, quantizedBytes, quantizeRowsInto, QuantBits } from './blockQuantize';
import { f32ToF16Into } from './float16';

/** 4/8: MatMulNBits blocks; 16: a float16 copy of every matrix (the f16 precision, for the CUDA provider). */
export type CacheBits = QuantBits | 16;

/** 2: grouped layout (q/k/v and gate/up adjacent); files of version 1 are stale and made again. */
export const QUANT_FORMAT_VERSION = 2;
const CHUNK_BYTES = 8 * 1024 * 1024;

export interface QuantizedMatrixEntry {
  name: string;
  N: number;
  K: number;
  /** Entries with the same group number are consecutive in the plan and stored adjacently (see the header). */
  group: number;
}

/** Modules of a layer that read the same input and are stored (and multiplied) together, in this order. */
export const LINEAR_GROUPS: readonly (readonly LinearModule[])[] = [['q_proj', 'k_proj', 'v_proj'], ['o_proj'], ['gate_proj', 'up_proj'], ['down_proj']];

export interface QuantPlan {
  /** Matrices stored as MatMulNBits blocks. */
  quantized: QuantizedMatrixEntry[];
  /** Other float tensors stored as float32. */
  floats: { name: string; shape: number[] }[];
}

export const qweightName = (name: string): string => `${name}.qweight`;
export const qscalesName = (name: string): string => `${name}.scales`;
export const f16Name = (name: string): string => `${name}.f16`;

/** Which checkpoint tensors a quantized session quantizes, and which it keeps in float32. */
export function quantPlan(spec: ModelSpec, ckpt: SafetensorsCheckpoint): QuantPlan {
  const quantized: QuantizedMatrixEntry[] = [];
  const qNames = new Set<string>();
  let group = 0;
  const addQ = (name: string, N: number, K: number): void => {
    const info = ckpt.info(name);
    if (info.shape.length !== 2 || info.shape[0] !== N || info.shape[1] !== K) {
      throw new Error(`${ckpt.fileOf(name).file}: tensor "${name}" has shape [${info.shape.join(', ')}] but ${spec.configPath} implies [${N}, ${K}]; the weights do not belong to this config`);
    }
    quantized.push({ name, N, K, group });
    qNames.add(name);
  };
  for (let l = 0; l < spec.numLayers; l++) {
    for (const members of LINEAR_GROUPS) {
      for (const m of members) {
        const [out, inn] = linearShape(spec, m);
        addQ(`model.layers.${l}.${linearParent(m)}.${m}.weight`, out, inn);
      }
      group++;
    }
  }
  addQ('model.embed_tokens.weight', spec.vocabSize, spec.hiddenSize);
  group++;
  if (!spec.tieWordEmbeddings) addQ('lm_head.weight', spec.vocabSize, spec.hiddenSize);
  const floats: { name: string; shape: number[] }[] = [];
  for (const name of ckpt.names().sort()) {
    if (qNames.has(name)) continue;
    if (name === 'lm_head.weight' && spec.tieWordEmbeddings) continue;
    const info = ckpt.info(name);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') continue;
    floats.push({ name, shape: [...info.shape] });
  }
  return { quantized, floats };
}

export function defaultCacheFolder(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'organism-lab', 'weights');
}

export interface QuantCacheKey {
  fingerprint: string;
  bits: CacheBits;
  blockSize: number;
}

export function cacheFileName(k: QuantCacheKey): string {
  // the hex digest after any "sha256:"/"sha256-full:" prefix, 32 hex digits (128 bits) in the name
  const hex = k.fingerprint.slice(k.fingerprint.lastIndexOf(':') + 1).replace(/[^0-9a-fA-F]/g, '');
  const fp = (hex || k.fingerprint.replace(/[^A-Za-z0-9]/g, '-')).slice(0, 32);
  return k.bits === 16 ? `${fp}-f16-v${QUANT_FORMAT_VERSION}.safetensors` : `${fp}-int${k.bits}-b${k.blockSize}-v${QUANT_FORMAT_VERSION}.safetensors`;
}

export interface QuantProgress {
  /** Source bytes read so far / in all. */
  done: number;
  total: number;
  tensor: string;
}

export interface EnsureQuantizedOptions {
  cacheFolder?: string;
  blockSize: number;
  bits: CacheBits;
  signal?: AbortSignal;
  onProgress?: (p: QuantProgress) => void;
  /** Precomputed fingerprint of the model folder (hashCheckpointDir). */
  fingerprint?: string;
  /** f16: told how many weights lay beyond ±65504 and were clamped. */
  onClamp?: (count: number) => void;
}

export interface QuantizedWeights {
  file: string;
  weights: SafetensorsFile;
  fingerprint: string;
  bits: CacheBits;
  blockSize: number;
  /** true when this call quantized (cache miss), false when the cache was reused. */
  created: boolean;
  ms: number;
}

export class QuantCancelled extends Error {
  constructor() {
    super('quantization cancelled; nothing was written to the cache');
    this.name = 'QuantCancelled';
  }
}

/** Returns the cached quantized weights of a checkpoint, quantizing them first when missing or stale. */
export async function ensureQuantizedWeights(spec: ModelSpec, ckpt: SafetensorsCheckpoint, opts: EnsureQuantizedOptions): Promise<QuantizedWeights> {
  checkBlockSize(opts.blockSize);
  const t0 = Date.now();
  const folder = path.resolve(opts.cacheFolder || defaultCacheFolder());
  // the fingerprint reads the whole checkpoint the first time (then it is cached): without blocking the event
  // loop, and cancellable
  const fingerprint = opts.fingerprint ?? (await hashCheckpointDirAsync(ckpt.dir, { signal: opts.signal }));
  const key: QuantCacheKey = { fingerprint, bits: opts.bits, blockSize: opts.blockSize };
  const file = path.join(folder, cacheFileName(key));
  const plan = quantPlan(spec, ckpt);
  if (existsSync(file)) {
    const problem = checkCacheFile(file, key, plan);
    if (problem === null) return { file, weights: SafetensorsFile.open(file), fingerprint, bits: opts.bits, blockSize: opts.blockSize, created: false, ms: Date.now() - t0 };
    rmSync(file, { force: true }); // stale or damaged: made again below
  }
  try {
    mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create the weights cache folder ${folder} (${(e as Error).message}); set organismLab.cacheFolder / --cache-folder to a writable folder`);
  }
  await writeQuantizedFile(file, ckpt, plan, key, opts);
  removeOlderVersions(folder, key);
  return { file, weights: SafetensorsFile.open(file), fingerprint, bits: opts.bits, blockSize: opts.blockSize, created: true, ms: Date.now() - t0 };
}

/** Deletes this key's files of earlier format versions (a new version was just written beside them). */
function removeOlderVersions(folder: string, key: QuantCacheKey): void {
  const current = cacheFileName(key);
  const stem = current.slice(0, current.lastIndexOf('-v'));
  for (const name of readdirSync(folder)) {
    const m = /^(.*)-v(\d+)\.safetensors$/.exec(name);
    if (m && m[1] === stem && Number(m[2]) < QUANT_FORMAT_VERSION) rmSync(path.join(folder, name), { force: true });
  }
}

/** null when the cache file matches the key and holds every tensor of the plan with the right shape. */
export function checkCacheFile(file: string, key: QuantCacheKey, plan: QuantPlan): string | null {
  let st: SafetensorsFile;
  try {
    st = SafetensorsFile.open(file);
  } catch (e) {
    return (e as Error).message;
  }
  const md = st.metadata;
  if (md.fingerprint !== key.fingerprint || md.bits !== String(key.bits) || md.block_size !== String(key.blockSize) || md.format_version !== String(QUANT_FORMAT_VERSION)) {
    return `${file}: metadata does not match (fingerprint/bits/block size/version)`;
  }
  for (const q of plan.quantized) {
    if (key.bits === 16) {
      const h = st.tensors.get(f16Name(q.name));
      if (!h || h.dtype !== 'F16' || h.shape.join() !== [q.N, q.K].join()) return `${file}: tensor ${q.name} missing or misshapen`;
      continue;
    }
    const kb = kBlocksOf(q.K, key.blockSize);
    const blob = (key.blockSize * key.bits) / 8;
    const w = st.tensors.get(qweightName(q.name));
    const s = st.tensors.get(qscalesName(q.name));
    if (!w || !s || w.dtype !== 'U8' || s.dtype !== 'F32' || w.shape.join() !== [q.N, kb, blob].join() || s.shape.join() !== [q.N, kb].join()) return `${file}: tensor ${q.name} missing or misshapen`;
  }
  for (const f of plan.floats) {
    const t = st.tensors.get(f.name);
    if (!t || t.dtype !== 'F32' || t.shape.join() !== f.shape.join()) return `${file}: tensor ${f.name} missing or misshapen`;
  }
  return null;
}

interface OutTensor {
  name: string;
  dtype: 'U8' | 'F32' | 'F16';
  shape: number[];
  bytes: number;
}

/** The plan's matrices split into their groups (consecutive entries with one group number). */
export function planGroups(plan: QuantPlan): QuantizedMatrixEntry[][] {
  const groups: QuantizedMatrixEntry[][] = [];
  for (const q of plan.quantized) {
    const last = groups[groups.length - 1];
    if (last && last[0].group === q.group) last.push(q);
    else groups.push([q]);
  }
  return groups;
}

function layoutOf(plan: QuantPlan, bits: CacheBits, blockSize: number): OutTensor[] {
  const out: OutTensor[] = [];
  for (const members of planGroups(plan)) {
    if (bits === 16) {
      for (const q of members) out.push({ name: f16Name(q.name), dtype: 'F16', shape: [q.N, q.K], bytes: q.N * q.K * 2 });
      continue;
    }
    for (const q of members) {
      const kb = kBlocksOf(q.K, blockSize);
      out.push({ name: qweightName(q.name), dtype: 'U8', shape: [q.N, kb, (blockSize * bits) / 8], bytes: quantizedBytes(q.N, q.K, bits, blockSize).packed });
    }
    for (const q of members) out.push({ name: qscalesName(q.name), dtype: 'F32', shape: [q.N, kBlocksOf(q.K, blockSize)], bytes: quantizedBytes(q.N, q.K, bits, blockSize).scales });
  }
  for (const f of plan.floats) out.push({ name: f.name, dtype: 'F32', shape: f.shape, bytes: f.shape.reduce((a, b) => a * b, 1) * 4 });
  return out;
}

/** Expected size of the cache file (data bytes) for a plan. */
export function quantizedFileBytes(plan: QuantPlan, bits: CacheBits, blockSize: number): number {
  return layoutOf(plan, bits, blockSize).reduce((s, t) => s + t.bytes, 0);
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

async function writeQuantizedFile(file: string, ckpt: SafetensorsCheckpoint, plan: QuantPlan, key: QuantCacheKey, opts: EnsureQuantizedOptions): Promise<void> {
  const layout = layoutOf(plan, key.bits, key.blockSize);
  const header: Record<string, unknown> = {
    __metadata__: {
      format: 'organism-lab-quantized',
      format_version: String(QUANT_FORMAT_VERSION),
      fingerprint: key.fingerprint,
      bits: String(key.bits),
      block_size: String(key.blockSize),
      scheme: key.bits === 16 ? 'float16 copy (round to nearest even; beyond ±65504 clamped)' : 'symmetric, zero point 2^(bits-1), MatMulNBits layout',
      source: ckpt.dir,
      created: new Date().toISOString(),
    },
  };
  let off = 0;
  for (const t of layout) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes] };
    off += t.bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hbuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hbuf.length));
  const tmp = `${file}.${process.pid}.partial`;
  const total = plan.quantized.reduce((s, q) => s + ckpt.byteRange(q.name).length, 0) + plan.floats.reduce((s, f) => s + ckpt.byteRange(f.name).length, 0);
  let done = 0;
  let clamped = 0;
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    writeAll(fd, len);
    writeAll(fd, hbuf);
    for (const members of planGroups(plan)) {
      // a group's packed rows first, then its scales (kept meanwhile: N × kBlocks floats per member, 1/8 of
      // the int8 bytes), so that each of the two is one range of the file
      const groupScales: Float32Array[] = [];
      for (const q of members) {
        const scales = await writeMatrix(fd, ckpt, q, key, opts, (bytes, c) => {
          done += bytes;
          clamped += c;
          opts.onProgress?.({ done, total, tensor: q.name });
        });
        if (scales) groupScales.push(scales);
      }
      for (const scales of groupScales) writeAll(fd, new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength));
    }
    for (const f of plan.floats) {
      if (opts.signal?.aborted) throw new QuantCancelled();
      const r = ckpt.byteRange(f.name);
      const src = openSync(r.file, 'r');
      try {
        const w = toFloat32Fast(readRange(src, r.offset, r.length, r.file), r.dtype);
        writeAll(fd, new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
      } finally {
        closeSync(src);
      }
      done += r.length;
      opts.onProgress?.({ done, total, tensor: f.name });
    }
    if (clamped > 0) opts.onClamp?.(clamped);
    const size = fstatSync(fd).size;
    if (size !== 8 + hbuf.length + off) throw new Error(`${tmp}: wrote ${size} bytes, expected ${8 + hbuf.length + off}`);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, file);
}

/**
 * Streams one matrix of the checkpoint into `fd` in row chunks: float16 rows (bits 16) or packed blocks, whose
 * scales are returned for the caller to write after the group's packed rows. `progress` gets the source bytes
 * read and the weights clamped to float16's range per chunk.
 */
async function writeMatrix(fd: number, ckpt: SafetensorsCheckpoint, q: QuantizedMatrixEntry, key: QuantCacheKey, opts: EnsureQuantizedOptions, progress: (bytes: number, clamped: number) => void): Promise<Float32Array | null> {
  const r = ckpt.byteRange(q.name);
  const el = r.length / (q.N * q.K);
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / (q.K * el)));
  const bits = key.bits;
  const kb = kBlocksOf(q.K, key.blockSize);
  const scales = bits === 16 ? null : new Float32Array(q.N * kb);
  const blobRow = bits === 16 ? 0 : quantizedBytes(q.N, q.K, bits, key.blockSize).packed / q.N;
  const src = openSync(r.file, 'r');
  try {
    for (let row = 0; row < q.N; row += rowsPerChunk) {
      if (opts.signal?.aborted) throw new QuantCancelled();
      const rows = Math.min(rowsPerChunk, q.N - row);
      const raw = readRange(src, r.offset + row * q.K * el, rows * q.K * el, r.file);
      const w = toFloat32Fast(raw, r.dtype);
      let clamped = 0;
      if (bits === 16) {
        const h = new Uint16Array(w.length);
        clamped = f32ToF16Into(w, h);
        writeAll(fd, new Uint8Array(h.buffer));
      } else {
        const packed = new Uint8Array(rows * blobRow);
        quantizeRowsInto(w, rows, q.K, bits, key.blockSize, packed, (scales as Float32Array).subarray(row * kb, (row + rows) * kb));
        writeAll(fd, packed);
      }
      progress(raw.length, clamped);
      await yieldToLoop();
    }
  } finally {
    closeSync(src);
  }
  return scales;
}

function writeAll(fd: number, buf: Uint8Array): void {
  let o = 0;
  while (o < buf.length) o += writeSync(fd, buf, o, buf.length - o);
}

function readRange(fd: number, pos: number, len: number, file: string): Buffer {
  const b = Buffer.allocUnsafe(len);
  let o = 0;
  while (o < len) {
    const n = readSync(fd, b, o, len - o, pos + o);
    if (n === 0) throw new Error(`${file}: file ended while reading bytes ${pos}..${pos + len} (changed on disk?)`);
    o += n;
  }
  return b;
}

/** BF16/F32 through typed-array views (aligned copies), F16 through the reader's exact table. */
function toFloat32Fast(raw: Buffer, dtype: string): Float32Array {
  if (dtype === 'BF16') {
    const src = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    const out = new Uint32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
    return new Float32Array(out.buffer);
  }
  if (dtype === 'F32') return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  return toFloat32(raw, dtype as 'F16');
}

// ---- the cache as a list (the "show and clear" command)

export interface CacheEntry {
  file: string;
  bytes: number;
  bits: number | null;
  blockSize: number | null;
  fingerprint: string | null;
  source: string | null;
  created: string | null;
  /** A temporary file of an interrupted quantization (safe to delete when no load is running). */
  partial: boolean;
}

export function listCache(cacheFolder?: string): { folder: string; entries: CacheEntry[]; totalBytes: number } {
  const folder = path.resolve(cacheFolder || defaultCacheFolder());
  const entries: CacheEntry[] = [];
  if (existsSync(folder)) {
    for (const n of readdirSync(folder).sort()) {
      const file = path.join(folder, n);
      if (n.endsWith('.partial')) {
        entries.push({ file, bytes: statSync(file).size, bits: null, blockSize: null, fingerprint: null, source: null, created: null, partial: true });
        continue;
      }
      if (!n.endsWith('.safetensors')) continue;
      let md: Record<string, string> = {};
      try {
        md = SafetensorsFile.open(file).metadata;
      } catch {
        /* listed with what is known */
      }
      entries.push({
        file,
        bytes: statSync(file).size,
        bits: md.bits ? Number(md.bits) : null,
        blockSize: md.block_size ? Number(md.block_size) : null,
        fingerprint: md.fingerprint ?? null,
        source: md.source ?? null,
        created: md.created ?? null,
        partial: false,
      });
    }
  }
  return { folder, entries, totalBytes: entries.reduce((s, e) => s + e.bytes, 0) };
}

/** Deletes the cache's weight files (only files this module writes: *.safetensors and *.partial). */
export function clearCache(cacheFolder?: string): { folder: string; removed: number; bytes: number } {
  const { folder, entries } = listCache(cacheFolder);
  let bytes = 0;
  for (const e of entries) {
    rmSync(e.file, { force: true });
    bytes += e.bytes;
  }
  return { folder, removed: entries.length, bytes };
}
