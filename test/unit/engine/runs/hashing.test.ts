/**
 * Checkpoint fingerprints hash the full content of large weight files (issue 11 §4), cached by path,
 * size and mtime, with progress; a run file written with the old sampled fingerprint is told apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FULL_HASH_PREFIX, hashCheckpointDir, hashCheckpointDirAsync, hashFile, INLINE_HASH_LIMIT, type HashProgress } from '../../../../src/engine/runs/hashing';
import { assertResumable, headerDifferences } from '../../../../src/engine/runs/resume';
import { RUN_SCHEMA_VERSION, type RunHeader } from '../../../../src/engine/runs/schema';

const MiB = 1024 * 1024;

/** A safetensors file with `dataBytes` of tensor data (filled with 1s). Returns the data's start offset. */
function writeSafetensors(file: string, dataBytes: number): number {
  const hdr = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  writeFileSync(file, Buffer.concat([len, hdr, Buffer.alloc(dataBytes, 1)]));
  return 8 + hdr.length;
}

function withDir(fn: (d: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const d = mkdtempSync(join(tmpdir(), 'hash-'));
    try {
      await fn(d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };
}

/** Rewrites one byte keeping the size (and, when given, setting the modification time back to `mtimeS` seconds). */
function flipByte(file: string, at: number, mtimeS?: number): void {
  const b = readFileSync(file);
  b[at] ^= 0xff;
  writeFileSync(file, b);
  if (mtimeS !== undefined) utimesSync(file, mtimeS, mtimeS);
}

test('a change between the blocks the old fingerprint sampled changes the fingerprint now', withDir(async (d) => {
  const model = join(d, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{"model_type":"qwen2"}');
  const dataBytes = 65 * MiB; // just over the 64 MiB inline limit
  const file = join(model, 'model.safetensors');
  const dataStart = writeSafetensors(file, dataBytes);
  const cacheDir = join(d, 'cache');
  const h1 = await hashCheckpointDirAsync(model, { cacheDir });
  assert.ok(h1.startsWith(FULL_HASH_PREFIX), h1);
  // The old scheme read 64 KiB at dataStart + floor((dataLen - 64 KiB) * i / 63): between block 0 and 1 nothing was read.
  const between = dataStart + 64 * 1024 + 4096;
  assert.ok(between < dataStart + Math.floor((dataBytes - 64 * 1024) / 63), 'the byte lies between sampled blocks 0 and 1');
  flipByte(file, between);
  const h2 = await hashCheckpointDirAsync(model, { cacheDir });
  assert.notEqual(h2, h1, 'a fine-tune between the old sampled blocks is seen');
  assert.equal(hashCheckpointDir(model, { cacheDir }), h2, 'sync and async agree');
  assert.equal(hashCheckpointDir(model, { cacheDir: null }), h2, 'cached and uncached agree');
}));

test('folders whose weight files are all ≤ 64 MiB keep the fingerprint they had before (old run files still resume)', withDir((d) => {
  writeFileSync(join(d, 'adapter_config.json'), '{"r":8}');
  writeFileSync(join(d, 'tokenizer.json'), '{"v":1}');
  writeFileSync(join(d, 'README.md'), 'not hashed');
  writeSafetensors(join(d, 'adapter_model.safetensors'), 4096);
  // The previous algorithm, for files ≤ 64 MiB.
  const h = createHash('sha256');
  for (const n of ['adapter_config.json', 'tokenizer.json']) h.update(`file:${n}\n`).update(readFileSync(join(d, n)));
  const w = readFileSync(join(d, 'adapter_model.safetensors'));
  h.update(`weights:adapter_model.safetensors:${w.length}\n`).update(w);
  assert.equal(hashCheckpointDir(d, { cacheDir: null }), 'sha256:' + h.digest('hex'));
  assert.ok(INLINE_HASH_LIMIT === 64 * MiB);
}));

test('the full hash is computed once and cached by path, size and mtime; progress counts the bytes read', withDir(async (d) => {
  const model = join(d, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{}');
  const file = join(model, 'model-00001-of-00001.safetensors');
  const dataStart = writeSafetensors(file, 65 * MiB);
  const mtimeS = Math.floor(Date.now() / 1000) - 60;
  utimesSync(file, mtimeS, mtimeS); // a whole second, so that it can be set back exactly below
  const size = statSync(file).size;
  const cacheDir = join(d, 'cache');
  const seen: HashProgress[] = [];
  const h1 = await hashCheckpointDirAsync(model, { cacheDir, onProgress: (p) => seen.push(p) });
  assert.ok(seen.length >= 8, `progress per 8 MiB chunk (${seen.length} events)`);
  assert.ok(seen.every((p, i) => p.bytesTotal === size && p.file === file && (i === 0 || p.bytesDone > seen[i - 1].bytesDone)));
  assert.equal(seen.at(-1)!.bytesDone, size);
  const cache = JSON.parse(readFileSync(join(cacheDir, 'file-hashes.json'), 'utf8'));
  assert.equal(cache.entries[file].sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
  assert.equal(cache.entries[file].size, size);

  // Second call: nothing to read.
  const again: HashProgress[] = [];
  assert.equal(await hashCheckpointDirAsync(model, { cacheDir, onProgress: (p) => again.push(p) }), h1);
  assert.deepEqual(again, []);
  // The cache answers while path, size and mtime match (proved by a change that keeps all three) …
  flipByte(file, dataStart + 10 * MiB, mtimeS);
  assert.equal(hashCheckpointDir(model, { cacheDir }), h1);
  // … and a new mtime makes it read the file again.
  const later = new Date(Date.now() + 5000);
  utimesSync(file, later, later);
  assert.notEqual(hashCheckpointDir(model, { cacheDir }), h1);
}));

test('a corrupt or foreign cache file is ignored and rewritten; an unwritable cache folder only costs a re-hash', withDir(async (d) => {
  const file = join(d, 'big.bin');
  writeFileSync(file, Buffer.alloc(3 * MiB, 7));
  const want = createHash('sha256').update(readFileSync(file)).digest('hex');
  const cacheDir = join(d, 'cache');
  mkdirSync(cacheDir);
  for (const junk of ['{"version":1,"entries":{"', 'null', '{"version":1,"entries":{"/x":{"size":"1"}}}', '{"version":9}']) {
    writeFileSync(join(cacheDir, 'file-hashes.json'), junk);
    assert.equal(await hashFile(file, { cacheDir }), want);
    assert.equal(JSON.parse(readFileSync(join(cacheDir, 'file-hashes.json'), 'utf8')).entries[file].sha256, want);
  }
  const blocked = join(d, 'not-a-folder');
  writeFileSync(blocked, 'x');
  assert.equal(await hashFile(file, { cacheDir: blocked }), want);
  assert.equal(existsSync(join(d, 'cache', 'file-hashes.json')), true);
}));

test('hashing can be cancelled', withDir(async (d) => {
  const file = join(d, 'big.bin');
  writeFileSync(file, Buffer.alloc(40 * MiB, 3));
  const ac = new AbortController();
  await assert.rejects(hashFile(file, { cacheDir: null, signal: ac.signal, onProgress: () => ac.abort() }), (e: Error) => e.name === 'AbortError');
}));

function header(modelHash: string, adapterHash = 'sha256:bb'): RunHeader {
  return {
    type: 'header', schema_version: RUN_SCHEMA_VERSION, tool: { name: 'organism-lab', version: '0.1.0' }, created_at: '2026-01-01T00:00:00Z',
    model: { path: '/models/qwen-32b', hash: modelHash }, adapters: [{ name: 'ad', path: '/a', hash: adapterHash }], prompt_set: { path: '/p.yaml', hash: 'cc' },
    variants: [{ name: 'base' }], sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 7,
  };
}

test('resuming a run file written with the old sampled fingerprint says the scheme changed and what to do', () => {
  const old = header('sha256:' + 'a'.repeat(64));
  const now = header(FULL_HASH_PREFIX + 'b'.repeat(64));
  assert.throws(() => assertResumable('r.run.jsonl', old, now), (e: Error) =>
    /model fingerprint scheme changed/.test(e.message) && /sampled weight files over 64 MiB/.test(e.message) && /full content/.test(e.message) &&
    /Start a new run file/.test(e.message) && /--force/.test(e.message) && /--out/.test(e.message));
  assert.equal(assertResumable('r.run.jsonl', old, now, true).length, 1, '--force appends anyway');
  const adapterOld = header('sha256:' + 'a'.repeat(64), 'sha256:' + 'c'.repeat(64));
  const adapterNow = header('sha256:' + 'a'.repeat(64), FULL_HASH_PREFIX + 'd'.repeat(64));
  assert.match(headerDifferences(adapterOld, adapterNow)[0], /fingerprint scheme changed for ad/);
  // A plain difference stays a plain difference.
  assert.match(headerDifferences(header('sha256:' + 'a'.repeat(64)), header('sha256:' + 'e'.repeat(64)))[0], /^model hash /);
  assert.deepEqual(headerDifferences(now, now), []);
});

test('the CLI prints fingerprinting progress for large folders only: one updating line on a terminal, lines every 5 s otherwise', async () => {
  const { hashProgressPrinter } = await import('../../../../src/cli/run');
  const out: string[] = [];
  const stream = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
  const GiB = 1024 ** 3;
  const small = hashProgressPrinter(stream, true);
  small({ file: '/a/adapter.safetensors', bytesDone: 10 * MiB, bytesTotal: 10 * MiB });
  assert.equal(out.length, 0);
  const tty = hashProgressPrinter(stream, true);
  tty({ file: '/m/model.safetensors', bytesDone: GiB, bytesTotal: 28 * GiB });
  tty({ file: '/m/model.safetensors', bytesDone: 2 * GiB, bytesTotal: 28 * GiB }); // within 200 ms: skipped
  tty({ file: '/m/model.safetensors', bytesDone: 28 * GiB, bytesTotal: 28 * GiB }); // the end is always shown
  assert.equal(out.length, 2);
  assert.match(out[0], /^\rfingerprinting \/m\/model\.safetensors: 1\.1\/30\.1 GB/);
  assert.ok(out[1].endsWith('\n'));
  out.length = 0;
  const plain = hashProgressPrinter(stream, false);
  plain({ file: '/m/model.safetensors', bytesDone: GiB, bytesTotal: 28 * GiB });
  plain({ file: '/m/model.safetensors', bytesDone: 2 * GiB, bytesTotal: 28 * GiB });
  assert.equal(out.length, 1);
  assert.match(out[0], /^organism-lab run: fingerprinting .*\(once; cached by path, size and mtime\)\n$/);
});
