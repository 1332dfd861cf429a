/**
 * Validate-before-trust safetensors reader: the header is checked completely (length within the file,
 * JSON, known dtypes, shapes, byte ranges inside the data section and not overlapping) before any tensor
 * is read. Tensors are read lazily, one at a time, with a positioned read of exactly their byte range.
 */
import { openSync, readSync, closeSync, fstatSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describeNonFinite, scanCheckpointNonFinite } from './finiteScan';

export { DTYPE_SIZE, type ByteRange, type SafetensorsDtype, type TensorInfo } from './safetensorsTypes';
import { DTYPE_SIZE, type ByteRange, type SafetensorsDtype, type TensorInfo } from './safetensorsTypes';

/** Largest header we accept (the format's own readers use 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

function fail(file: string, what: string): never {
  throw new SafetensorsError(`${file}: ${what}`);
}

/** One validated .safetensors file. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  readonly headerLength: number;
  readonly fileSize: number;

  private constructor(readonly file: string, headerLength: number, fileSize: number, tensors: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.headerLength = headerLength;
    this.fileSize = fileSize;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates a file; throws SafetensorsError naming the file (and tensor) on any problem. */
  static open(file: string): SafetensorsFile {
    const abs = path.resolve(file);
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (e) {
      fail(abs, `cannot open (${(e as Error).message}); check that the path exists and is readable`);
    }
    try {
      const size = fstatSync(fd).size;
      if (size < 8) fail(abs, `file is ${size} bytes, shorter than the 8-byte header length; the file is truncated or not a safetensors file`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(size - 8)) {
        fail(abs, `header length ${headerLen} runs past the end of the file (${size} bytes); the file is truncated or not a safetensors file`);
      }
      if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(abs, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      const hl = Number(headerLen);
      const hbuf = Buffer.alloc(hl);
      if (hl > 0) readSync(fd, hbuf, 0, hl, 8);
      let header: unknown;
      try {
        header = JSON.parse(hbuf.toString('utf8'));
      } catch (e) {
        fail(abs, `header is not valid JSON (${(e as Error).message}); the file is corrupt or not a safetensors file`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(abs, 'header is not a JSON object');
      const dataSize = size - 8 - hl;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(abs, '__metadata__ is not an object');
          const bad = Object.entries(raw as Record<string, unknown>).find(([, v]) => typeof v !== 'string');
          if (bad) fail(abs, `__metadata__["${bad[0]}"] is ${JSON.stringify(bad[1])?.slice(0, 60)}; the format's metadata maps strings to strings`);
          metadata = raw as Record<string, string>;
          continue;
        }
        tensors.set(name, validateEntry(abs, name, raw, dataSize));
      }
      checkCoverage(abs, [...tensors.values()], dataSize);
      return new SafetensorsFile(abs, hl, size, tensors, metadata);
    } finally {
      closeSync(fd);
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) fail(this.file, `tensor "${name}" is missing (the file has ${this.tensors.size} tensors${this.tensors.size ? `, e.g. "${[...this.tensors.keys()][0]}"` : ''})`);
    return t;
  }

  byteRange(name: string): ByteRange {
    const t = this.info(name);
    return { file: this.file, offset: 8 + this.headerLength + t.begin, length: t.end - t.begin, dtype: t.dtype, shape: [...t.shape] };
  }

  /** Raw bytes of one tensor (positioned read of its range only). */
  readRaw(name: string): Buffer {
    const r = this.byteRange(name);
    const buf = Buffer.alloc(r.length);
    const fd = openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < r.length) {
        const n = readSync(fd, buf, done, r.length - done, r.offset + done);
        if (n === 0) fail(this.file, `tensor "${name}": file ended while reading (changed on disk?)`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return buf;
  }

  /** One tensor as float32 (F32 copied, F16/BF16/F64/integers converted). */
  readFloat32(name: string): Float32Array {
    const t = this.info(name);
    return toFloat32(this.readRaw(name), t.dtype);
  }

  /** One integer tensor as numbers (I64/I32/I16/I8/U8/BOOL). */
  readInts(name: string): number[] {
    const t = this.info(name);
    const raw = this.readRaw(name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      switch (t.dtype) {
        case 'I64': out[i] = Number(raw.readBigInt64LE(i * 8)); break;
        case 'I32': out[i] = raw.readInt32LE(i * 4); break;
        case 'I16': out[i] = raw.readInt16LE(i * 2); break;
        case 'I8': out[i] = raw.readInt8(i); break;
        case 'U8': case 'BOOL': out[i] = raw[i]; break;
        default: fail(this.file, `tensor "${name}" has dtype ${t.dtype}, expected an integer dtype`);
      }
    }
    return out;
  }
}

/**
 * The format's own rule (as the reference reader enforces it): the tensors, sorted by offset, tile the data
 * section exactly: no overlap, no hole, nothing after the last one. A header length that is off by a few
 * bytes shifts every tensor and breaks this, instead of loading shifted weights.
 */
function checkCoverage(file: string, list: TensorInfo[], dataSize: number): void {
  const sorted = [...list].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: TensorInfo | null = null;
  for (const t of sorted) {
    if (t.begin < pos) {
      fail(file, `tensor "${t.name}" (bytes ${t.begin}..${t.end}) overlaps tensor "${prev!.name}" (bytes ${prev!.begin}..${prev!.end}); the file is corrupt`);
    }
    if (t.begin > pos) {
      fail(file, `the data section has a hole: bytes ${pos}..${t.begin} before tensor "${t.name}" belong to no tensor; the header length or the data_offsets are wrong (the file is corrupt; re-save or re-download it)`);
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataSize) {
    fail(file, `the tensors cover ${pos} of the ${dataSize} bytes of the data section (${dataSize - pos} bytes after ${prev ? `the last tensor "${prev.name}"` : 'the header'} belong to no tensor); the header length or the data_offsets are wrong (the file is corrupt; re-save or re-download it)`);
  }
}

function validateEntry(file: string, name: string, raw: unknown, dataSize: number): TensorInfo {
  if (typeof raw !== 'object' || raw === null) fail(file, `tensor "${name}": header entry is not an object`);
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_SIZE)) {
    fail(file, `tensor "${name}": unknown dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  const dtype = e.dtype as SafetensorsDtype;
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(file, `tensor "${name}": shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
  }
  const shape = e.shape as number[];
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(file, `tensor "${name}": data_offsets ${JSON.stringify(off)} is not a pair of non-negative integers`);
  }
  const [begin, end] = off as [number, number];
  if (end < begin) fail(file, `tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) {
    fail(file, `tensor "${name}": byte range [${begin}, ${end}) lies outside the data section (${dataSize} bytes); the file is truncated or corrupt`);
  }
  let count = 1;
  for (const d of shape) count *= d;
  const expected = count * DTYPE_SIZE[dtype];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    fail(file, `tensor "${name}": shape [${shape.join(', ')}] × ${dtype} needs ${expected} bytes but data_offsets give ${end - begin}`);
  }
  return { name, dtype, shape, begin, end };
}

const f16Table = (() => {
  // Exact conversion of all 65536 half values.
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Converts raw little-endian bytes of a dtype to float32. */
export function toFloat32(raw: Buffer, dtype: SafetensorsDtype): Float32Array {
  const n = raw.length / DTYPE_SIZE[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      // Copy through a byte view (the host is little-endian, as the format).
      new Uint8Array(out.buffer).set(raw);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = raw.readDoubleLE(i * 8);
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = raw.readUInt16LE(i * 2) << 16;
      break;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16Table[raw.readUInt16LE(i * 2)];
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(raw.readBigInt64LE(i * 8));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = raw.readInt32LE(i * 4);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = raw.readInt16LE(i * 2);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = raw.readInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = raw[i];
      break;
  }
  return out;
}

/**
 * A checkpoint folder: either one model.safetensors or shards listed in model.safetensors.index.json.
 * Every shard is validated on open; tensor names map to their shard.
 */
export class SafetensorsCheckpoint {
  private constructor(readonly dir: string, readonly files: SafetensorsFile[], private readonly byName: Map<string, SafetensorsFile>) {}

  /**
   * Opens and validates every shard. Unless `verifyFinite` is false, every float weight is also scanned for
   * NaN/±Inf (streaming, cached per file: see ./finiteScan) and the first bad tensor is refused by name.
   */
  static open(dir: string, opts: { verifyFinite?: boolean } = {}): SafetensorsCheckpoint {
    const ckpt = SafetensorsCheckpoint.openUnscanned(dir);
    if (opts.verifyFinite !== false) {
      const bad = scanCheckpointNonFinite(ckpt);
      if (bad.length) throw new SafetensorsError(describeNonFinite(bad[0]) + (bad.length > 1 ? ` (${bad.length - 1} more tensors hold NaN/Inf too; organism-lab inspect lists them)` : ''));
    }
    return ckpt;
  }

  private static openUnscanned(dir: string): SafetensorsCheckpoint {
    const abs = path.resolve(dir);
    const index = path.join(abs, 'model.safetensors.index.json');
    const single = path.join(abs, 'model.safetensors');
    const byName = new Map<string, SafetensorsFile>();
    const files: SafetensorsFile[] = [];
    if (existsSync(index)) {
      let json: { weight_map?: Record<string, string> };
      try {
        json = JSON.parse(readFileSync(index, 'utf8'));
      } catch (e) {
        throw new SafetensorsError(`${index}: not valid JSON (${(e as Error).message})`);
      }
      if (!json.weight_map || typeof json.weight_map !== 'object') throw new SafetensorsError(`${index}: missing "weight_map" object`);
      const shards = new Map<string, SafetensorsFile>();
      for (const [name, shard] of Object.entries(json.weight_map)) {
        if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
          throw new SafetensorsError(`${index}: weight_map["${name}"] = ${JSON.stringify(shard)} is not a file name inside the checkpoint folder`);
        }
        let f = shards.get(shard);
        if (!f) {
          f = SafetensorsFile.open(path.join(abs, shard));
          shards.set(shard, f);
          files.push(f);
        }
        if (!f.has(name)) throw new SafetensorsError(`${f.file}: tensor "${name}" is listed in ${index} but missing from this shard`);
        byName.set(name, f);
      }
    } else if (existsSync(single)) {
      const f = SafetensorsFile.open(single);
      files.push(f);
      for (const name of f.tensors.keys()) byName.set(name, f);
    } else {
      throw new SafetensorsError(`${abs}: no model.safetensors or model.safetensors.index.json found; point at a Hugging Face checkpoint folder saved with safetensors`);
    }
    return new SafetensorsCheckpoint(abs, files, byName);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  fileOf(name: string): SafetensorsFile {
    const f = this.byName.get(name);
    if (!f) throw new SafetensorsError(`${this.dir}: tensor "${name}" is missing from the checkpoint; is this the right model folder for its config.json?`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.fileOf(name).info(name);
  }

  byteRange(name: string): ByteRange {
    return this.fileOf(name).byteRange(name);
  }

  readFloat32(name: string): Float32Array {
    return this.fileOf(name).readFloat32(name);
  }
}
