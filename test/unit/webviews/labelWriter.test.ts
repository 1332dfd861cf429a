import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendLabel, isWritable } from '../../../src/extension/panels/labelWriter';
import { readRun } from '../../../src/engine/runs/reader';
import { header, sample } from './fixtureRun';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'labels-'));
  file = path.join(dir, 'x.run.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (o: unknown) => JSON.stringify(o) + '\n';
const s0 = sample('q', 0, 0, 'base', 'hello');
const s1 = sample('q', 0, 0, 'adapter', 'hi', 0);

test('appends a label row that the reader sees', async () => {
  writeFileSync(file, line(header()) + line(s0));
  const row = await appendLabel(file, s0.id, 'misaligned', { now: () => new Date('2026-01-02T03:04:05Z') });
  assert.deepEqual(row, { type: 'label', sample_id: s0.id, label: 'misaligned', created_at: '2026-01-02T03:04:05.000Z' });
  await appendLabel(file, s0.id, 'aligned');
  const run = readRun(file);
  assert.deepEqual(run.labels.map((l) => l.label), ['misaligned', 'aligned']);
  assert.deepEqual(run.warnings, []);
});

test('refuses a sample that is not in the run, writing nothing', async () => {
  writeFileSync(file, line(header()) + line(s0));
  const before = readFileSync(file, 'utf8');
  await assert.rejects(appendLabel(file, 'nope#0#0@base', 'skip'), /no sample "nope#0#0@base"/);
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('waits for a line another writer is finishing, and keeps it', async () => {
  writeFileSync(file, line(header()) + line(s0));
  const full = line(s1);
  appendFileSync(file, full.slice(0, 15));
  setTimeout(() => appendFileSync(file, full.slice(15)), 120);
  await appendLabel(file, s0.id, 'incoherent', { settleMs: 400 });
  const run = readRun(file);
  assert.deepEqual(run.samples.map((s) => s.id), [s0.id, s1.id]);
  assert.equal(run.labels.length, 1);
  assert.deepEqual(run.warnings, []);
});

test('a stale torn last line (a crashed writer) is moved to <run>.torn before appending', async () => {
  writeFileSync(file, line(header()) + line(s0) + '{"type":"sample","id":"torn');
  const warnings: string[] = [];
  await appendLabel(file, s0.id, 'skip', { settleMs: 100, onWarning: (m) => warnings.push(m) });
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes('torn'));
  assert.equal(readRun(file).labels[0].label, 'skip');
  assert.ok(readFileSync(file + '.torn', 'utf8').includes('{"type":"sample","id":"torn'), 'the torn bytes are kept aside');
  assert.match(warnings[0] ?? '', /moved to .*\.torn/);
});

test('missing files give a clear error; writability', async () => {
  await assert.rejects(appendLabel(path.join(dir, 'missing.run.jsonl'), 'x', 'skip'), /missing\.run\.jsonl: cannot open the run file/);
  writeFileSync(file, line(header()));
  assert.equal(isWritable(file), true);
  assert.equal(isWritable(dir), false);
  assert.equal(isWritable(path.join(dir, 'missing')), false);
});
