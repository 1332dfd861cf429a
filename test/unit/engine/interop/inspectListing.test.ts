/**
 * listing.json for a statically served Inspect log folder (what `inspect view bundle` writes and Inspect's
 * log viewer reads in static mode): entries as inspect_ai's `to_overview` makes them, for Inspect's own logs
 * and for ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportRunToInspect } from '../../../../src/engine/interop/inspectWriter';
import { writeInspectListing } from '../../../../src/engine/interop/inspectListing';
import { tmpDir } from '../judges/fixtures';

const FIXTURES = path.join(__dirname, '../../../fixtures');
/** inspect_ai's LogOverview fields (log/_file.py), all of which to_overview sets. */
const OVERVIEW_KEYS = ['completed_at', 'error', 'eval_id', 'invalidated', 'model', 'model_roles', 'primary_metric', 'run_id', 'started_at', 'status', 'task', 'task_id', 'task_version', 'version'];

test('listing of Inspect-written logs: primary metric is the first metric of the first score, or null without scores', async () => {
  const dir = tmpDir();
  for (const f of ['popularity-a.eval', 'popularity-b.eval']) copyFileSync(path.join(FIXTURES, 'inspect', f), path.join(dir, f));
  const listing = JSON.parse(readFileSync(await writeInspectListing(dir), 'utf8'));
  assert.deepEqual(Object.keys(listing), ['popularity-a.eval', 'popularity-b.eval']);
  const a = listing['popularity-a.eval'];
  const b = listing['popularity-b.eval'];
  assert.deepEqual(Object.keys(a).sort(), OVERVIEW_KEYS);
  assert.equal(a.task, 'popularity');
  assert.equal(a.model, 'openai/gpt-4o-mini');
  assert.equal(a.task_id, 'dPiJifoWeEQBrfWsAopzWr');
  assert.equal(a.primary_metric, null);
  assert.deepEqual(b.primary_metric, { name: 'accuracy', value: 0.8, params: {} });
  assert.equal(b.started_at, '2025-02-11T15:18:04-05:00');
});

test('listing of our export: one entry per .eval with its model, task and first metric', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'logs');
  const { files } = await exportRunToInspect(path.join(FIXTURES, 'runs/conditions.run.jsonl'), out);
  const listing = JSON.parse(readFileSync(await writeInspectListing(out), 'utf8'));
  assert.deepEqual(Object.keys(listing), files.map((f) => path.basename(f.path)).sort());
  const entry = listing['conditions.adapter.trigger.eval'];
  assert.deepEqual(Object.keys(entry).sort(), OVERVIEW_KEYS);
  assert.equal(entry.model, 'organism-lab/adapter');
  assert.equal(entry.status, 'success');
  assert.equal(entry.primary_metric.name, 'mean');
  assert.equal(typeof entry.primary_metric.value, 'number');
  // written again over an existing listing: the listing is not listed as a log
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(await writeInspectListing(out), 'utf8'))), Object.keys(listing));
});

test('listing of a folder without logs, or with a damaged log, names the folder or file', async () => {
  const empty = tmpDir();
  await assert.rejects(writeInspectListing(empty), new RegExp(`${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no \\.eval or \\.json Inspect logs`));
  await assert.rejects(writeInspectListing(path.join(empty, 'missing')), /Cannot list the Inspect log folder .*missing/);
  const bad = tmpDir();
  mkdirSync(bad, { recursive: true });
  writeFileSync(path.join(bad, 'x.eval'), 'not a zip');
  await assert.rejects(writeInspectListing(bad), /x\.eval/);
});
