/**
 * A GGUF version 3 file writer (the format llama.cpp loads): "GGUF", version, tensor count, metadata
 * count, the metadata key/value pairs, the tensor infos (name, dimensions innermost first, ggml type,
 * offset into the data section), padding to the alignment, then each tensor's bytes at its offset.
 * All integers little-endian; strings are a u64 byte length and UTF-8 bytes without a terminator.
 *
 * The header is written first (every tensor's size follows from its shape and type), then the tensors
 * one at a time in the order they were declared, so a checkpoint larger than memory streams through.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { GGML_BLOCK, Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES } from './ggmlBlocks';

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** ggml tensor types this writer stores (ggml.h's enum ggml_type values). */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

/** GGUF metadata value types (gguf.h's enum gguf_type values). */
const GGUF_VALUE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type Scalar = 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64';

export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; values: string[] }
  | { type: 'array'; itemType: 'i32' | 'u32' | 'f32'; values: ArrayLike<number> };

export interface GgufTensorDecl {
  name: string;
  /** Shape in row-major order as safetensors/PyTorch give it ([out, in] for a weight). */
  shape: number[];
  type: GgmlTypeName;
}

export function ggmlTensorBytes(shape: number[], type: GgmlTypeName): number {
  const n = shape.reduce((a, b) => a * b, 1);
  const inner = shape[shape.length - 1];
  switch (type) {
    case 'F32': return 4 * n;
    case 'F16': return 2 * n;
    case 'Q8_0':
    case 'Q4_0':
      if (inner % GGML_BLOCK !== 0) throw new Error(`GGUF: a ${type} tensor's rows must be a multiple of ${GGML_BLOCK} long; [${shape.join(', ')}] is not`);
      return (n / GGML_BLOCK) * (type === 'Q8_0' ? Q8_0_BLOCK_BYTES : Q4_0_BLOCK_BYTES);
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Serializes little-endian pieces into one growing list of buffers. */
class Bytes {
  readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  bool(v: boolean): void {
    this.push(Buffer.from([v ? 1 : 0]));
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  zeros(n: number): void {
    if (n > 0) this.push(Buffer.alloc(n));
  }
  scalar(type: Scalar, v: number | boolean | string): void {
    switch (type) {
      case 'u32': return this.u32(v as number);
      case 'i32': return this.i32(v as number);
      case 'f32': return this.f32(v as number);
      case 'u64': return this.u64(v as number);
      case 'bool': return this.bool(v as boolean);
      case 'string': return this.string(v as string);
    }
  }
}

/** The header bytes (through the padding before the data section) and each tensor's offset in the data section. */
export function encodeGgufHeader(metadata: [string, GgufValue][], tensors: GgufTensorDecl[]): { header: Buffer; offsets: number[]; dataBytes: number } {
  const seen = new Set<string>();
  for (const [k] of metadata) {
    if (seen.has(k)) throw new Error(`GGUF: metadata key "${k}" given twice`);
    seen.add(k);
  }
  const out = new Bytes();
  out.push(Buffer.from('GGUF', 'ascii'));
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, v] of metadata) {
    out.string(key);
    if (v.type === 'array') {
      out.u32(GGUF_VALUE.array);
      out.u32(GGUF_VALUE[v.itemType]);
      out.u64(v.values.length);
      if (v.itemType === 'string') for (const s of v.values) out.string(s);
      else for (let i = 0; i < v.values.length; i++) out.scalar(v.itemType, v.values[i]);
    } else {
      out.u32(GGUF_VALUE[v.type]);
      out.scalar(v.type, v.value);
    }
  }
  const offsets: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF: tensor "${t.name}" declared twice`);
    names.add(t.name);
    out.string(t.name);
    out.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) out.u64(t.shape[d]); // ggml: ne[0] is the innermost dimension
    out.u32(GGML_TYPE[t.type]);
    out.u64(offset);
    offsets.push(offset);
    offset = alignUp(offset + ggmlTensorBytes(t.shape, t.type), GGUF_ALIGNMENT);
  }
  out.zeros(alignUp(out.length, GGUF_ALIGNMENT) - out.length);
  return { header: Buffer.concat(out.parts), offsets, dataBytes: offset };
}

/**
 * Writes a GGUF file: the header now, then `writeTensor` once per declared tensor, in order, with its
 * encoded bytes (see ./ggmlBlocks); `close` checks that every tensor was written.
 */
export class GgufWriter {
  private readonly fd: number;
  private readonly offsets: number[];
  private next = 0;
  private position: number;
  private readonly dataStart: number;
  readonly bytes: number;

  constructor(readonly file: string, metadata: [string, GgufValue][], private readonly tensors: GgufTensorDecl[]) {
    const { header, offsets, dataBytes } = encodeGgufHeader(metadata, tensors);
    this.offsets = offsets;
    this.dataStart = header.length;
    this.bytes = header.length + dataBytes;
    this.fd = openSync(file, 'w');
    writeSync(this.fd, header);
    this.position = header.length;
  }

  writeTensor(name: string, data: Buffer): void {
    const t = this.tensors[this.next];
    if (!t) throw new Error(`GGUF ${this.file}: tensor "${name}" written after all ${this.tensors.length} declared tensors`);
    if (t.name !== name) throw new Error(`GGUF ${this.file}: tensor "${name}" written where "${t.name}" was declared next`);
    const expect = ggmlTensorBytes(t.shape, t.type);
    if (data.length !== expect) throw new Error(`GGUF ${this.file}: tensor "${name}" is ${data.length} bytes; its shape [${t.shape.join(', ')}] in ${t.type} needs ${expect}`);
    const at = this.dataStart + this.offsets[this.next];
    if (at > this.position) writeSync(this.fd, Buffer.alloc(at - this.position));
    writeSync(this.fd, data);
    this.position = at + data.length;
    this.next++;
  }

  close(): void {
    try {
      if (this.next !== this.tensors.length) throw new Error(`GGUF ${this.file}: ${this.next} of ${this.tensors.length} tensors written; the file is incomplete`);
      if (this.bytes > this.position) writeSync(this.fd, Buffer.alloc(this.bytes - this.position));
    } finally {
      closeSync(this.fd);
    }
  }

  /** After a failure: closes and removes the incomplete file. */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    rmSync(this.file, { force: true });
  }
}
