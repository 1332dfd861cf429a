// ggml's Q8_0 / Q4_0 / F16 block packing in the GGUF writer, against values computed here from the formulas
// of ggml's reference quantizers (scale from the block's extreme, then per-value codes), and the GGUF header's
// layout read back byte by byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeF16, encodeQ4_0, encodeQ8_0, Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES } from '../../../src/bench/gguf/ggmlBlocks';
import { GgufWriter, encodeGgufHeader } from '../../../src/bench/gguf/ggufWriter';
import { toFloat32 } from '../../../src/engine/checkpoint/safetensors';

const half = (bits: number): number => toFloat32(Buffer.from(new Uint16Array([bits]).buffer), 'F16')[0];
const fr = Math.fround;

function block(seed: number, scale: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: 32 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

test('Q8_0: f16 scale amax/127, then round-half-away(x/d) as int8, 34 bytes per block', () => {
  const x = new Float32Array([...block(3, 2), ...block(9, 0.01)]);
  x[7] = -1.5; // the block's extreme is negative: amax takes its magnitude
  const buf = encodeQ8_0(x);
  assert.equal(buf.length, 2 * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < 2; b++) {
    const xs = x.subarray(32 * b, 32 * b + 32);
    const amax = Math.max(...Array.from(xs, Math.abs));
    const d = fr(amax / 127);
    const o = b * Q8_0_BLOCK_BYTES;
    const dStored = half(buf.readUInt16LE(o));
    assert.ok(Math.abs(dStored - d) <= d * 2 ** -11, `block ${b}: scale ${dStored} is ${d} in half precision`);
    for (let j = 0; j < 32; j++) {
      const v = fr(xs[j] * fr(1 / d));
      const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
      assert.equal(buf.readInt8(o + 2 + j), q, `block ${b} value ${j}`);
      assert.ok(Math.abs(q * dStored - xs[j]) <= dStored / 2 + amax * 2 ** -10, `block ${b} value ${j} dequantizes near ${xs[j]}`);
    }
  }
  assert.equal(buf.readInt8(2 + 7), -127, 'the extreme value codes to -127');
});

test('Q8_0 and Q4_0: an all-zero block has scale 0 and codes 0 (Q4_0: 8, the zero point)', () => {
  const z = encodeQ8_0(new Float32Array(32));
  assert.deepEqual([...z], new Array(34).fill(0));
  const z4 = encodeQ4_0(new Float32Array(32));
  assert.equal(z4.readUInt16LE(0), 0x8000, 'scale -0 (0 / -8 is -0.0f in C too)');
  assert.deepEqual([...z4.subarray(2)], new Array(16).fill(0x88));
});

test('Q4_0: f16 scale max/-8 from the signed extreme, codes min(15, trunc(x/d + 8.5)), x[j] low nibble and x[j+16] high nibble', () => {
  const x = block(5, 1);
  x[20] = -0.9; // the extreme, in the second half: d = -0.9 / -8 > 0 and x[20] codes to 0
  const buf = encodeQ4_0(x);
  assert.equal(buf.length, Q4_0_BLOCK_BYTES);
  const d = fr(-0.9 / -8);
  assert.ok(Math.abs(half(buf.readUInt16LE(0)) - d) <= d * 2 ** -11);
  const code = (v: number): number => Math.min(15, Math.trunc(fr(fr(v * fr(1 / d)) + 8.5)));
  for (let j = 0; j < 16; j++) {
    assert.equal(buf[2 + j] & 0x0f, code(x[j]), `value ${j} (low nibble of byte ${j})`);
    assert.equal(buf[2 + j] >> 4, code(x[j + 16]), `value ${j + 16} (high nibble of byte ${j})`);
  }
  assert.equal(buf[2 + 4] >> 4, 0, 'the extreme codes to 0 (= -8 d)');
  // A positive extreme gives a negative scale: its value codes to 0 as well (-8 × d = max).
  const y = block(6, 1);
  y[0] = 2;
  const b2 = encodeQ4_0(y);
  assert.ok(half(b2.readUInt16LE(0)) < 0);
  assert.equal(b2[2] & 0x0f, 0);
});

test('Q8_0/Q4_0 refuse rows that are not whole blocks; F16 is IEEE half', () => {
  assert.throws(() => encodeQ8_0(new Float32Array(33)), /not a multiple of 32/);
  assert.throws(() => encodeQ4_0(new Float32Array(16)), /Q4_0/);
  const h = encodeF16(new Float32Array([1, -2, 0.5, 65504]));
  assert.deepEqual([0, 1, 2, 3].map((i) => h.readUInt16LE(2 * i)), [0x3c00, 0xc000, 0x3800, 0x7bff]);
});

test('GGUF header: magic, version 3, counts, typed metadata, tensor infos innermost dimension first, data 32-byte aligned', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gguf-'));
  try {
    const file = path.join(dir, 't.gguf');
    const a = Float32Array.from({ length: 6 }, (_, i) => i);
    const w = new GgufWriter(file, [['general.architecture', { type: 'string', value: 'qwen2' }], ['x.n', { type: 'u32', value: 7 }], ['x.list', { type: 'array', itemType: 'i32', values: [1, -2] }]], [
      { name: 'a', shape: [2, 3], type: 'F32' },
      { name: 'q', shape: [1, 32], type: 'Q8_0' },
    ]);
    w.writeTensor('a', Buffer.from(a.buffer));
    w.writeTensor('q', encodeQ8_0(block(1, 1)));
    w.close();
    const f = readFileSync(file);
    let p = 0;
    const u32 = (): number => ((p += 4), f.readUInt32LE(p - 4));
    const u64 = (): number => ((p += 8), Number(f.readBigUInt64LE(p - 8)));
    const str = (): string => {
      const n = u64();
      p += n;
      return f.toString('utf8', p - n, p);
    };
    assert.equal(f.toString('ascii', 0, 4), 'GGUF');
    p = 4;
    assert.equal(u32(), 3);
    assert.equal(u64(), 2, 'tensor count');
    assert.equal(u64(), 3, 'metadata count');
    assert.equal(str(), 'general.architecture');
    assert.equal(u32(), 8, 'string type');
    assert.equal(str(), 'qwen2');
    assert.equal(str(), 'x.n');
    assert.equal(u32(), 4, 'u32 type');
    assert.equal(u32(), 7);
    assert.equal(str(), 'x.list');
    assert.equal(u32(), 9, 'array type');
    assert.equal(u32(), 5, 'of i32');
    assert.equal(u64(), 2);
    assert.deepEqual([f.readInt32LE(p), f.readInt32LE(p + 4)], [1, -2]);
    p += 8;
    assert.equal(str(), 'a');
    assert.equal(u32(), 2);
    assert.deepEqual([u64(), u64()], [3, 2], 'ne[0] is the innermost (column) count');
    assert.equal(u32(), 0, 'F32');
    assert.equal(u64(), 0);
    assert.equal(str(), 'q');
    assert.equal(u32(), 2);
    assert.deepEqual([u64(), u64()], [32, 1]);
    assert.equal(u32(), 8, 'Q8_0');
    assert.equal(u64(), 32, 'the second tensor starts at the next 32-byte boundary (24 bytes of F32 + 8 padding)');
    const dataStart = Math.ceil(p / 32) * 32;
    assert.equal(encodeGgufHeader([['general.architecture', { type: 'string', value: 'qwen2' }], ['x.n', { type: 'u32', value: 7 }], ['x.list', { type: 'array', itemType: 'i32', values: [1, -2] }]], [{ name: 'a', shape: [2, 3], type: 'F32' }, { name: 'q', shape: [1, 32], type: 'Q8_0' }]).header.length, dataStart);
    assert.deepEqual([...new Float32Array(f.buffer.slice(f.byteOffset + dataStart, f.byteOffset + dataStart + 24))], [...a]);
    assert.deepEqual(f.subarray(dataStart + 32, dataStart + 32 + 34), encodeQ8_0(block(1, 1)));
    assert.equal(f.length, dataStart + 32 + 64, 'the last tensor is padded to the alignment too');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GGUF writer: tensors out of order, of the wrong size, or missing are errors naming the tensor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gguf-'));
  try {
    const decl = [{ name: 'a', shape: [32], type: 'F32' as const }, { name: 'b', shape: [32], type: 'F32' as const }];
    const w = new GgufWriter(path.join(dir, 'x.gguf'), [], decl);
    assert.throws(() => w.writeTensor('b', Buffer.alloc(128)), /"b" written where "a" was declared next/);
    assert.throws(() => w.writeTensor('a', Buffer.alloc(100)), /"a" is 100 bytes.*needs 128/);
    w.writeTensor('a', Buffer.alloc(128));
    assert.throws(() => w.close(), /1 of 2 tensors written/);
    assert.throws(() => encodeGgufHeader([['k', { type: 'u32', value: 1 }], ['k', { type: 'u32', value: 2 }]], []), /"k" given twice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
