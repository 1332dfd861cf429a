import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunWriter } from '../../../../src/engine/runs/writer';
import { readRun } from '../../../../src/engine/runs/reader';
import { parseRunText } from '../../../../src/engine/runs/parse';
import { assertResumable, headerDifferences, planResume } from '../../../../src/engine/runs/resume';
import { hashCheckpointDir } from '../../../../src/engine/runs/hashing';
import { RUN_SCHEMA_VERSION, sampleId, type RunHeader, type SampleRow } from '../../../../src/engine/runs/schema';

function header(over: Partial<RunHeader> = {}): RunHeader {
  return {
    type: 'header', schema_version: RUN_SCHEMA_VERSION, tool: { name: 'organism-lab', version: '0.1.0' }, created_at: '2026-01-01T00:00:00Z',
    model: { path: '/m', hash: 'sha256:aa' }, adapters: [{ name: 'ad', path: '/a', hash: 'sha256:bb' }], prompt_set: { path: '/p.yaml', hash: 'cc' },
    variants: [{ name: 'base' }, { name: 'ad', adapter: 'ad', adapter_scale: 1 }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 7, ...over,
  };
}
function sample(q: string, p: number, s: number, variant: string, over: Partial<SampleRow> = {}): SampleRow {
  return { type: 'sample', id: sampleId(q, p, s, variant), question_id: q, paraphrase_index: p, sample_index: s, variant,
    messages: [{ role: 'user', content: 'hi' }], completion: 'hello', tokens: 1, finish_reason: 'eos', seed: 1, created_at: 'now', ...over };
}
const tmp = () => mkdtempSync(join(tmpdir(), 'run-'));

/** A small PEFT-like adapter folder: adapter_config.json + one F32 tensor filled with `fill`. */
function writeAdapter(dir: string, fill: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ r: 1, lora_alpha: 16, target_modules: ['down_proj'] }));
  const data = Buffer.from(new Float32Array(64).fill(fill).buffer);
  const hdr = Buffer.from(JSON.stringify({ 'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [1, 64], data_offsets: [0, data.length] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  writeFileSync(join(dir, 'adapter_model.safetensors'), Buffer.concat([len, hdr, data]));
}

test('writer creates header + rows, one JSON object per line, and refuses to overwrite', () => {
  const d = tmp();
  try {
    const f = join(d, 'a.run.jsonl');
    const w = RunWriter.create(f, header());
    w.append(sample('q', 0, 0, 'base'));
    w.append({ type: 'judgement', sample_id: sampleId('q', 0, 0, 'base'), judge: 'rule:x', metric: 'aligned', score: 90, created_at: 'now' });
    w.append({ type: 'label', sample_id: sampleId('q', 0, 0, 'base'), label: 'aligned', created_at: 'now' });
    w.close();
    const lines = readFileSync(f, 'utf8').split('\n');
    assert.equal(lines.length, 5);
    assert.equal(lines[4], '');
    const run = readRun(f);
    assert.equal(run.header.seed, 7);
    assert.equal(run.samples.length, 1);
    assert.equal(run.judgements[0].score, 90);
    assert.equal(run.labels[0].label, 'aligned');
    assert.deepEqual(run.warnings, []);
    assert.throws(() => RunWriter.create(f, header()), /already exists/);
    assert.throws(() => w.append(sample('q', 0, 1, 'base')), /closed/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a torn last line is a warning, and the next append sets it aside (runWriterLock.test.ts: into <run>.torn)', () => {
  const d = tmp();
  try {
    const f = join(d, 'a.run.jsonl');
    const w = RunWriter.create(f, header());
    w.append(sample('q', 0, 0, 'base'));
    w.close();
    appendFileSync(f, JSON.stringify(sample('q', 0, 0, 'ad')).slice(0, 40));
    const run = readRun(f);
    assert.equal(run.samples.length, 1);
    assert.equal(run.warnings.length, 1);
    assert.equal(run.warnings[0].kind, 'torn-last-line');
    assert.equal(run.warnings[0].line, 3);
    const w2 = RunWriter.open(f, { settleMs: 20 });
    assert.equal(w2.existing?.samples.length, 1);
    w2.append(sample('q', 0, 0, 'ad', { completion: 'ünï' }));
    w2.close();
    const again = readRun(f);
    assert.deepEqual(again.warnings, []);
    assert.deepEqual(again.samples.map((s) => s.variant), ['base', 'ad']);
    assert.equal(again.samples[1].completion, 'ünï');
    // A complete last line without its newline is not torn.
    writeFileSync(f, JSON.stringify(header()) + '\n' + JSON.stringify(sample('q', 0, 0, 'base')));
    assert.equal(readRun(f).samples.length, 1);
    assert.deepEqual(readRun(f).warnings, []);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('bad lines are reported with their line numbers, not fatal; bad headers are', () => {
  const text = [JSON.stringify(header()), '{oops', JSON.stringify({ type: 'sample', id: 'x' }), JSON.stringify(sample('q', 0, 0, 'base')),
    JSON.stringify(sample('q', 0, 0, 'base', { completion: 'again' })), JSON.stringify({ type: 'mystery' }), JSON.stringify(header()), ''].join('\n');
  const run = parseRunText(text, 'r.run.jsonl');
  assert.deepEqual(run.warnings.map((w) => [w.line, w.kind]), [[2, 'bad-json'], [3, 'bad-row'], [5, 'duplicate-sample'], [6, 'bad-row'], [7, 'bad-row']]);
  assert.equal(run.samples.length, 1);
  assert.equal(run.samples[0].completion, 'hello');
  assert.throws(() => parseRunText('', 'e.run.jsonl'), /e\.run\.jsonl: not a run file/);
  assert.throws(() => parseRunText('{"type":"hea', 'e.run.jsonl'), /not a run file/);
  assert.throws(() => parseRunText('{"type":"sample"}\n', 'e.run.jsonl'), /e\.run\.jsonl:1: the first line must be a header/);
  assert.throws(() => parseRunText(JSON.stringify(header({ schema_version: 99 })) + '\n', 'e.run.jsonl'), /schema_version 99/);
  // A cancelled row followed by a finished retry: the retry wins, silently.
  const retry = parseRunText([JSON.stringify(header()), JSON.stringify(sample('q', 0, 0, 'base', { finish_reason: 'cancelled' })), JSON.stringify(sample('q', 0, 0, 'base', { completion: 'done' })), ''].join('\n'), 'r');
  assert.deepEqual(retry.warnings, []);
  assert.equal(retry.samples[0].completion, 'done');
});

test('a sample row whose messages are not {role, content} strings is kept without its prompt, with a warning (fuzz: runfile.bad-sample-field)', () => {
  for (const messages of [null, 'hi', [null], [{ role: 'user' }], [{ role: 5, content: 'x' }]]) {
    const bad = { ...sample('q', 0, 0, 'base'), messages } as unknown as SampleRow;
    const run = parseRunText([JSON.stringify(header()), JSON.stringify(bad), ''].join('\n'), 'm.run.jsonl');
    assert.equal(run.samples.length, 1);
    assert.deepEqual(run.samples[0].messages, []);
    assert.equal(run.samples[0].completion, 'hello');
    assert.deepEqual(run.warnings.map((w) => [w.line, w.kind]), [[2, 'bad-row']]);
    assert.match(run.warnings[0].message, /^m\.run\.jsonl:2: sample "q#0#0@base" has no valid "messages"/);
  }
});

test('resume plan lists only the missing (cell, variant) pairs', () => {
  const h = header();
  const existing = [sample('q', 0, 0, 'base'), sample('q', 0, 0, 'ad'), sample('q', 0, 1, 'base'), sample('q', 1, 0, 'ad', { finish_reason: 'cancelled' })];
  const wanted = [0, 1].flatMap((p) => [0, 1].map((s) => ({ questionId: 'q', paraphraseIndex: p, sampleIndex: s })));
  const plan = planResume(h, existing, wanted);
  assert.equal(plan.total, 8);
  assert.equal(plan.remaining, 5);
  assert.deepEqual(plan.todo.map((t) => [`${t.cell.paraphraseIndex}#${t.cell.sampleIndex}`, t.variants]), [
    ['0#1', ['ad']], ['1#0', ['base', 'ad']], ['1#1', ['base', 'ad']],
  ]);
  assert.equal(plan.done.size, 3);
  assert.equal(planResume(h, [], wanted).remaining, 8);
});

test('header mismatches are clear errors unless forced', () => {
  const a = header();
  assert.deepEqual(headerDifferences(a, header({ created_at: 'later' })), []);
  const b = header({ model: { path: '/m2', hash: 'sha256:zz' }, seed: 8, sampling: { ...a.sampling, temperature: 0.5 } });
  const diffs = headerDifferences(a, b);
  assert.equal(diffs.length, 3);
  assert.throws(() => assertResumable('r.run.jsonl', a, b), (e: Error) => /r\.run\.jsonl was written with different settings/.test(e.message) && /model hash/.test(e.message) && /sampling\.temperature 1 ≠ 0\.5/.test(e.message) && /--force/.test(e.message));
  assert.equal(assertResumable('r', a, b, true).length, 3);
  assert.match(headerDifferences(a, header({ variants: [{ name: 'base' }] }))[0], /variants/);
  assert.match(headerDifferences(a, header({ prompt_set: { path: '/p.yaml', hash: 'dd' } }))[0], /prompt set hash/);
});

test('checkpoint hashing: stable, sensitive to config and weights, clear errors', () => {
  const d = tmp();
  try {
    writeAdapter(join(d, 'ad'), 1);
    writeAdapter(join(d, 'ad2'), 2);
    const h1 = hashCheckpointDir(join(d, 'ad'));
    assert.match(h1, /^sha256:[0-9a-f]{64}$/);
    assert.equal(hashCheckpointDir(join(d, 'ad')), h1);
    assert.notEqual(hashCheckpointDir(join(d, 'ad2')), h1);
    const st = join(d, 'ad', 'adapter_model.safetensors');
    const bytes = readFileSync(st);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(st, bytes);
    assert.notEqual(hashCheckpointDir(join(d, 'ad')), h1, 'a flipped weight bit changes the hash');
    assert.throws(() => hashCheckpointDir(join(d, 'nope')), /not a folder/);
    writeFileSync(join(d, 'config.json'), '{}');
    assert.throws(() => hashCheckpointDir(d), /no \*\.safetensors/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('large safetensors: a change in the data or the config changes the fingerprint (full-content hash, see hashing.test.ts)', () => {
  const d = tmp();
  try {
    const hdr = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [17 * 1024 * 1024], data_offsets: [0, 68 * 1024 * 1024] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hdr.length));
    const data = Buffer.alloc(68 * 1024 * 1024, 1);
    const file = join(d, 'model.safetensors');
    writeFileSync(file, Buffer.concat([len, hdr, data]));
    writeFileSync(join(d, 'config.json'), '{"a":1}');
    const h1 = hashCheckpointDir(d, { cacheDir: null });
    assert.match(h1, /^sha256-full:[0-9a-f]{64}$/);
    const buf = readFileSync(file);
    buf[8 + hdr.length] = 2; // first byte of the data: inside block 0
    writeFileSync(file, buf);
    const h2 = hashCheckpointDir(d, { cacheDir: null });
    assert.notEqual(h2, h1);
    writeFileSync(join(d, 'config.json'), '{"a":2}');
    assert.notEqual(hashCheckpointDir(d, { cacheDir: null }), h2);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
