import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { exportRun } from '../../../../src/engine/runs/export';
import { buildComparator } from '../../../../src/engine/runs/exportComparator';
import { buildExportTable } from '../../../../src/engine/runs/exportRecords';
import { conditionsRun } from '../judges/conditionsFixture';
import { tmpDir } from '../judges/fixtures';

function writeRunContent(dir: string): string {
  const run = conditionsRun();
  const p = path.join(dir, 'cond.run.jsonl');
  writeFileSync(p, [run.header, ...run.samples, ...run.judgements].map((x) => JSON.stringify(x)).join('\n') + '\n');
  return p;
}

test('CSV and JSONL carry a condition column for a run with conditions (and none without)', async () => {
  const dir = tmpDir();
  const p = writeRunContent(dir);
  await exportRun(p, 'csv', path.join(dir, 'x.csv'));
  const lines = readFileSync(path.join(dir, 'x.csv'), 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  assert.deepEqual(head.slice(head.indexOf('variant'), head.indexOf('variant') + 3), ['variant', 'condition', 'sample_id']);
  const ci = head.indexOf('condition');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[ci]).filter((x, i, a) => a.indexOf(x) === i), ['control', 'trigger']);
  await exportRun(p, 'jsonl', path.join(dir, 'x.jsonl'));
  const recs = readFileSync(path.join(dir, 'x.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 40);
  assert.equal(recs.find((r) => r.sample_id === 'q1#0#3@adapter~trigger').condition, 'trigger');
  const run = conditionsRun();
  const plain = { ...run, header: { ...run.header!, conditions: undefined }, samples: run.samples.map(({ condition, ...s }) => (void condition, s)) };
  assert.equal(buildExportTable(plain).columns.includes('condition'), false, 'old runs export as before');
});

test('LLM Comparator: one comparison per chosen pair (variant, or variant~condition)', () => {
  const run = conditionsRun();
  // Two conditions of one variant.
  const c = buildComparator(run, { variantA: 'adapter~control', variantB: 'adapter~trigger' });
  assert.deepEqual(c.models, [{ name: 'adapter~control' }, { name: 'adapter~trigger' }]);
  assert.equal(c.examples.length, 10);
  const e3 = c.examples.find((e) => e.custom_fields.cell_id === 'q1#0#3')!;
  assert.deepEqual(e3.custom_fields.condition, ['control', 'trigger']);
  assert.equal(e3.output_text_a, 'answer 3 adapter control');
  assert.equal(e3.output_text_b, 'answer 3 adapter trigger');
  assert.equal(e3.score, (90 - 10) / 100, 'aligned A − aligned B');
  assert.ok(c.metadata.custom_fields_schema.some((f) => f.name === 'condition' && f.type === 'per_model_category'));
  // Two variants, paired within each condition.
  const v = buildComparator(run, { variantA: 'base', variantB: 'adapter' });
  assert.deepEqual(v.models, [{ name: 'base' }, { name: 'adapter' }]);
  assert.equal(v.examples.length, 20);
  assert.deepEqual(v.examples.filter((e) => e.tags[1] === 'trigger').length, 10);
  for (const e of v.examples) assert.equal((e.custom_fields.condition as string[])[0], (e.custom_fields.condition as string[])[1]);
  // A side without a condition takes the other's.
  const m = buildComparator(run, { variantA: 'base~trigger', variantB: 'adapter' });
  assert.deepEqual(m.models, [{ name: 'base~trigger' }, { name: 'adapter~trigger' }]);
  assert.equal(m.examples.length, 10);
  // The default: the first two variants, within each condition.
  assert.deepEqual(buildComparator(run).models, [{ name: 'base' }, { name: 'adapter' }]);
  assert.throws(() => buildComparator(run, { variantA: 'base~nope', variantB: 'base' }), /no samples under condition "nope". Conditions: control, trigger/);
  assert.throws(() => buildComparator(run, { variantA: 'zzz', variantB: 'base' }), /variant "zzz" has no samples \(a side is a variant or variant~condition\)/);
  assert.throws(() => buildComparator(run, { variantA: 'base~trigger', variantB: 'base' }), /got "base~trigger" twice/);
});
