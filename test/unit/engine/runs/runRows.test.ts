// A run file's rows for a reader that follows it (engine/runRows, what Compare shows): the first read is the whole
// run, appended rows come as appends, a rewritten or truncated file is a whole load again; the cursor carries all
// the host needs (it keeps no state per reader). Also: the host's run-file requests parse one file version once.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runReportOfFile, runRowsOfFile } from '../../../../src/engine/host/runFileRequests';
import { RunFileCache } from '../../../../src/engine/host/runFileCache';
import { parsePromptSet } from '../../../../src/engine/prompts/promptSet';
import type { RunRowsCursor, RunRowsParams } from '../../../../src/protocol/engineHost';
import { header, judgement, label, sample } from '../../webviews/fixtureRun';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'run-rows-'));
  file = path.join(dir, 'x.run.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (o: unknown) => JSON.stringify(o) + '\n';
const s0 = sample('q', 0, 0, 'base', 'hello');
const s1 = sample('q', 0, 0, 'adapter', 'hello there', 1);

/** A reader as Compare is one: it keeps the cursor of each answer and sends it with the next request. */
function reader(runPath: string, options: Omit<RunRowsParams, 'runPath' | 'since'> = {}) {
  let cursor: RunRowsCursor | null = null;
  return {
    read() {
      const r = runRowsOfFile({ runPath, since: cursor, ...options });
      cursor = r.cursor;
      return r;
    },
    reset() {
      cursor = null;
    },
  };
}

test('first read loads the run; appended rows come as appends; nothing new is unchanged', () => {
  writeFileSync(file, line(header()) + line(s0));
  const f = reader(file);
  const first = f.read();
  assert.equal(first.kind, 'load');
  assert.deepEqual(first.kind === 'load' && first.snapshot.samples.map((s) => s.id), [s0.id]);
  assert.equal(f.read().kind, 'unchanged');
  appendFileSync(file, line(s1) + line(judgement(s0.id, 'aligned', 90)) + line(label(s1.id, 'misaligned')));
  const next = f.read();
  assert.equal(next.kind, 'append');
  assert.deepEqual(next.kind === 'append' && next.rows.map((r) => r.type), ['sample', 'judgement', 'label']);
  assert.equal(f.read().kind, 'unchanged');
  f.reset();
  assert.equal(f.read().kind, 'load', 'a reader without a cursor gets the whole run');
});

test('a line being written is held back without a warning, then delivered', () => {
  writeFileSync(file, line(header()) + line(s0));
  const f = reader(file);
  f.read();
  const full = line(s1);
  appendFileSync(file, full.slice(0, 20));
  const partial = f.read();
  assert.ok(partial.kind === 'unchanged', `got ${JSON.stringify(partial)}`);
  appendFileSync(file, full.slice(20));
  const done = f.read();
  assert.deepEqual(done.kind === 'append' && done.rows.map((r) => (r as { id?: string }).id), [s1.id]);
});

test('a truncated or rewritten file is loaded again; bad lines become warnings', () => {
  writeFileSync(file, line(header()) + line(s0) + line(s1));
  const f = reader(file);
  f.read();
  truncateSync(file, Buffer.byteLength(line(header()) + line(s0)));
  const again = f.read();
  assert.equal(again.kind, 'load');
  writeFileSync(file, line({ ...header(), seed: 7 }) + line(s0) + '{not json\n');
  const rewritten = f.read();
  assert.equal(rewritten.kind, 'load');
  assert.ok(rewritten.kind === 'load' && rewritten.snapshot.header?.seed === 7);
  assert.ok(rewritten.kind === 'load' && rewritten.snapshot.warnings.some((w) => /:3: not valid JSON/.test(w)));
  appendFileSync(file, 'also bad\n');
  const appended = f.read();
  assert.ok(appended.kind === 'append' && appended.rows.length === 0 && /:4:/.test(appended.warnings[0]));
});

test('a sample rewritten in place (same row count, longer file) is a load, not an append', () => {
  writeFileSync(file, line(header()) + line({ ...s0, finish_reason: 'cancelled', completion: 'hel' }));
  const f = reader(file);
  f.read();
  // A retry replaces the cancelled sample (a later row with the same id wins): the reader's copy of it is stale.
  appendFileSync(file, line(s0));
  const retried = f.read();
  assert.equal(retried.kind, 'load');
  assert.deepEqual(retried.kind === 'load' && retried.snapshot.samples.map((s) => s.completion), ['hello']);
});

test('wholeOnChange: a changed file comes back whole (run A beside run B), an unchanged one not at all', () => {
  writeFileSync(file, line(header()) + line(s0));
  const a = reader(file, { wholeOnChange: true });
  assert.equal(a.read().kind, 'load');
  assert.equal(a.read().kind, 'unchanged');
  appendFileSync(file, line(s1));
  const changed = a.read();
  assert.equal(changed.kind, 'load');
  assert.deepEqual(changed.kind === 'load' && changed.snapshot.samples.map((s) => s.id), [s0.id, s1.id]);
});

test('missing file and non-run files give clear errors', () => {
  const f = reader(file);
  assert.throws(() => f.read(), /x\.run\.jsonl: the run file no longer exists/);
  writeFileSync(file, '{"hello": 1}\n');
  assert.throws(() => f.read(), /first line must be a header/);
});

test('a load carries the planned sample count only for an older header without one (null when unknown)', () => {
  writeFileSync(file, line({ ...header(), extra: { planned_samples: 4 } }) + line(s0));
  const planned = reader(file).read();
  assert.ok(planned.kind === 'load' && planned.expectedSamples === null, 'the header says it: the page counts from there');
  // An older header: counted from its unchanged prompt set (2 questions × 1 paraphrase × 3 samples × 2 variants).
  const set = path.join(dir, 'set.yaml');
  writeFileSync(set, '- id: a\n  paraphrases: ["A?"]\n- id: b\n  paraphrases: ["B?"]\n');
  const hash = parsePromptSet(set).hash;
  writeFileSync(file, line({ ...header(), prompt_set: { path: set, hash }, extra: { samples: 3 } }) + line(s0));
  const older = reader(file).read();
  assert.ok(older.kind === 'load' && older.expectedSamples === 12, JSON.stringify(older.kind === 'load' && older.expectedSamples));
  writeFileSync(file, line({ ...header(), prompt_set: { path: path.join(dir, 'gone.yaml'), hash: 'h' } }) + line(s0));
  const gone = reader(file).read();
  assert.ok(gone.kind === 'load' && gone.expectedSamples === null, 'its prompt set is gone: unknown');
});

test('RunFileCache parses one file version once; an append, or another file, is read again', () => {
  writeFileSync(file, line(header()) + line(s0));
  const cache = new RunFileCache();
  const first = cache.read(file);
  assert.equal(cache.read(file).contents, first.contents, 'same version: the same parse');
  appendFileSync(file, line(s1));
  const second = cache.read(file);
  assert.notEqual(second.contents, first.contents);
  assert.equal(second.contents.samples.length, 2);
  // Bounded: with room for one file, reading another evicts the first.
  const other = path.join(dir, 'y.run.jsonl');
  writeFileSync(other, line(header()));
  const one = new RunFileCache(1);
  const x = one.read(file).contents;
  one.read(other);
  assert.notEqual(one.read(file).contents, x);
  // A file over the byte budget is parsed for each request, not kept.
  const tiny = new RunFileCache(6, 10);
  assert.notEqual(tiny.read(file).contents, tiny.read(file).contents);
});

test('Compare opening: the rows request parses the file, the report of the same version does not read it again', async () => {
  const content = line(header()) + line(s0) + line(s1);
  writeFileSync(file, content);
  utimesSync(file, 1_700_000_000, 1_700_000_000);
  const rows = runRowsOfFile({ runPath: file });
  assert.equal(rows.kind, 'load');
  // Same size, inode and modification time, another question id: only a second read of the file would see it.
  const renamed = content.replaceAll('"q"', '"z"').replaceAll('"q#', '"z#');
  assert.equal(renamed.length, content.length);
  writeFileSync(file, renamed);
  utimesSync(file, 1_700_000_000, 1_700_000_000);
  assert.deepEqual((await runReportOfFile({ runPath: file })).data.questions, ['q'], 'the report used the parse of the rows request');
  // A new version (another modification time) is read: the test can tell the two apart.
  utimesSync(file, 1_700_000_100, 1_700_000_100);
  assert.deepEqual((await runReportOfFile({ runPath: file })).data.questions, ['z']);
});
