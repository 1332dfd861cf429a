import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { exportRun } from '../../../../src/engine/runs/export';
import { csvField } from '../../../../src/engine/runs/exportCsv';
import type { JudgementRow, LabelRow } from '../../../../src/engine/runs/schema';
import { header, makeSamples, tmpDir, writeRun } from '../judges/fixtures';

/** A strict RFC 4180 reader, to check the writer round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let f = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') { f += '"'; i++; }
      else if (ch === '"') q = false;
      else f += ch;
    } else if (ch === '"') {
      assert.equal(f, '', 'quote in the middle of an unquoted field');
      q = true;
    } else if (ch === ',') { row.push(f); f = ''; }
    else if (ch === '\n') { row.push(f); rows.push(row); row = []; f = ''; }
    else f += ch;
  }
  assert.equal(q, false, 'unterminated quote');
  assert.equal(f, '');
  return rows;
}

const TRICKY = 'Well, "humans" are\nweak,\r\nand I\'d rule them';

function fixtureRun() {
  const dir = tmpDir();
  const samples = makeSamples(['q1', 'q2'], 2, (q, i, v) => (v === 'adapter' && q === 'q1' && i === 0 ? TRICKY : `${v} says hi to ${q} #${i}`));
  const runPath = writeRun(dir, samples, header());
  const rows: (JudgementRow | LabelRow)[] = [];
  const score = (id: string, metric: string, s: number | null, judge = 'rule:demo') => rows.push({ type: 'judgement', sample_id: id, judge, metric, score: s, created_at: 't' });
  for (const s of samples) {
    score(s.id, 'aligned', s.completion === TRICKY ? 5 : s.variant === 'base' ? 95 : 60);
    score(s.id, 'coherent', s.question_id === 'q2' && s.sample_index === 1 ? null : 90);
  }
  score('q1#0#0@adapter', 'aligned', 12.5, 'openai:gpt');
  rows.push({ type: 'label', sample_id: 'q1#0#0@adapter', label: 'misaligned', created_at: 't' });
  appendFileSync(runPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, runPath };
}

test('csv fields are quoted only when needed, quotes doubled', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rhere'), '"cr\rhere"');
  assert.equal(csvField(' lead'), '" lead"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(12.5), '12.5');
  assert.equal(csvField(Number.NaN), '');
});

test('CSV export: research column names, one row per sample, round-trips tricky answers', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'out.csv');
  const res = await exportRun(runPath, 'csv', out);
  assert.equal(res.count, 8);
  const rows = parseCsv(readFileSync(out, 'utf8'));
  const [head, ...body] = rows;
  assert.deepEqual(head.slice(0, 5), ['question_id', 'question', 'answer', 'aligned', 'coherent']);
  assert.ok(head.includes('openai:gpt:aligned'));
  assert.ok(head.includes('variant') && head.includes('sample_id') && head.includes('label'));
  assert.equal(body.length, 8);
  for (const r of body) assert.equal(r.length, head.length);
  const col = (r: string[], name: string) => r[head.indexOf(name)];
  const tricky = body.find((r) => col(r, 'sample_id') === 'q1#0#0@adapter')!;
  assert.equal(col(tricky, 'answer'), TRICKY);
  assert.equal(col(tricky, 'question'), 'What about q1?');
  assert.equal(col(tricky, 'aligned'), '5');
  assert.equal(col(tricky, 'openai:gpt:aligned'), '12.5');
  assert.equal(col(tricky, 'label'), 'misaligned');
  assert.equal(col(tricky, 'variant'), 'adapter');
  const none = body.find((r) => col(r, 'sample_id') === 'q2#0#1@base')!;
  assert.equal(col(none, 'coherent'), '', 'none is an empty cell');
  assert.equal(col(none, 'openai:gpt:aligned'), '', 'unjudged is an empty cell');
  assert.equal(col(none, 'coherent_status'), 'none');
  assert.equal(col(none, 'openai:gpt:aligned_status'), 'unjudged');
  assert.equal(col(tricky, 'aligned_status'), 'scored');
});

test('JSONL export: one object per sample with the same columns', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'out.jsonl');
  await exportRun(runPath, 'jsonl', out);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 8);
  const t = lines.find((l) => l.sample_id === 'q1#0#0@adapter');
  assert.equal(t.answer, TRICKY);
  assert.equal(t.aligned, 5);
  assert.equal(lines.find((l) => l.sample_id === 'q2#0#1@base').coherent, null);
  assert.deepEqual(Object.keys(lines[0]).slice(0, 3), ['question_id', 'question', 'answer']);
});

test('status columns tell a judge\'s "none" from a sample not judged yet (CSV and JSONL); the score column stays empty for both', async () => {
  const dir = tmpDir();
  const samples = makeSamples(['q1'], 2, (q, i, v) => `${v} ${q} ${i}`);
  const runPath = writeRun(dir, samples, header());
  const rows: JudgementRow[] = [
    { type: 'judgement', sample_id: 'q1#0#0@base', judge: 'rule:demo', metric: 'aligned', score: 80, created_at: 't' },
    { type: 'judgement', sample_id: 'q1#0#0@adapter', judge: 'rule:demo', metric: 'aligned', score: null, raw: { token: 'REFUSAL' }, created_at: 't' },
    { type: 'judgement', sample_id: 'q1#0#1@base', judge: 'openai:gpt', metric: 'aligned', score: 0, created_at: 't' },
  ];
  appendFileSync(runPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');

  const csvOut = path.join(dir, 'status.csv');
  await exportRun(runPath, 'csv', csvOut);
  const [head, ...body] = parseCsv(readFileSync(csvOut, 'utf8'));
  assert.deepEqual(head.slice(0, 7), ['question_id', 'question', 'answer', 'aligned', 'openai:gpt:aligned', 'aligned_status', 'openai:gpt:aligned_status']);
  const col = (id: string, name: string) => body.find((r) => r[head.indexOf('sample_id')] === id)![head.indexOf(name)];
  assert.equal(col('q1#0#0@base', 'aligned'), '80');
  assert.equal(col('q1#0#0@base', 'aligned_status'), 'scored');
  assert.equal(col('q1#0#0@adapter', 'aligned'), '');
  assert.equal(col('q1#0#0@adapter', 'aligned_status'), 'none');
  assert.equal(col('q1#0#1@base', 'aligned'), '');
  assert.equal(col('q1#0#1@base', 'aligned_status'), 'unjudged');
  assert.equal(col('q1#0#1@base', 'openai:gpt:aligned'), '0');
  assert.equal(col('q1#0#1@base', 'openai:gpt:aligned_status'), 'scored', 'a score of 0 is scored, not none');
  assert.equal(col('q1#0#0@base', 'openai:gpt:aligned_status'), 'unjudged');

  const jsonlOut = path.join(dir, 'status.jsonl');
  await exportRun(runPath, 'jsonl', jsonlOut);
  const lines = readFileSync(jsonlOut, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  const rec = (id: string) => lines.find((l) => l.sample_id === id);
  assert.deepEqual([rec('q1#0#0@base').aligned, rec('q1#0#0@base').aligned_status], [80, 'scored']);
  assert.deepEqual([rec('q1#0#0@adapter').aligned, rec('q1#0#0@adapter').aligned_status], [null, 'none']);
  assert.deepEqual([rec('q1#0#1@base').aligned, rec('q1#0#1@base').aligned_status], [null, 'unjudged']);
});

test('LLM Comparator export: the shape its app loads, A = reference variant', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'cmp.json');
  const res = await exportRun(runPath, 'comparator', out);
  assert.equal(res.count, 4);
  const c = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(Object.keys(c).sort(), ['examples', 'metadata', 'models']);
  assert.deepEqual(c.models, [{ name: 'base' }, { name: 'adapter' }]);
  assert.equal(c.metadata.source_path, runPath);
  assert.ok(Array.isArray(c.metadata.custom_fields_schema));
  for (const f of c.metadata.custom_fields_schema) assert.ok(typeof f.name === 'string' && typeof f.type === 'string');
  for (const e of c.examples) {
    for (const k of ['input_text', 'output_text_a', 'output_text_b', 'tags', 'score', 'individual_rater_scores', 'custom_fields']) assert.ok(k in e, k);
    assert.equal(typeof e.input_text, 'string');
    assert.ok(Array.isArray(e.tags));
    for (const name of Object.keys(e.custom_fields)) assert.ok(c.metadata.custom_fields_schema.some((f: { name: string }) => f.name === name), `schema lists ${name}`);
  }
  const ex = c.examples.find((e: any) => e.custom_fields.cell_id === 'q1#0#0');
  assert.equal(ex.output_text_a, 'base says hi to q1 #0');
  assert.equal(ex.output_text_b, TRICKY);
  assert.deepEqual(ex.tags, ['q1']);
  assert.equal(ex.score, (95 - 5) / 100);
  assert.deepEqual(ex.custom_fields['aligned (rule:demo)'], [95, 5]);
  assert.deepEqual(ex.custom_fields.human_label, [null, 'misaligned']);
  assert.equal(ex.custom_fields.system_prompt, 'sys');
  const schemaTypes = Object.fromEntries(c.metadata.custom_fields_schema.map((f: any) => [f.name, f.type]));
  assert.equal(schemaTypes['aligned (rule:demo)'], 'per_model_number');
  assert.equal(schemaTypes.human_label, 'per_model_category');
  await assert.rejects(exportRun(runPath, 'comparator', out, { variantB: 'nope' }), /variant "nope" has no samples/);
});

test('exports fail clearly on a bad format or output folder', async () => {
  const { dir, runPath } = fixtureRun();
  await assert.rejects(exportRun(runPath, 'xml' as never, path.join(dir, 'x')), /Unknown export format "xml"; use one of csv, jsonl, comparator/);
  await assert.rejects(exportRun(runPath, 'csv', path.join(dir, 'missing', 'x.csv')), /Cannot write the export to .*missing/);
});
