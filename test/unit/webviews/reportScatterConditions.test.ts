// The Run report's scatter in a run with conditions: one series per variant × condition, the colour for the
// variant and the marker shape for the condition (its condition axis); one series per variant without conditions.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { CONDITION_MARKERS, Scatter } from '../../../src/webviews/report/scatter';
import { computeReport } from '../../../src/engine/judges/metrics';
import { conditionsRun } from '../engine/judges/conditionsFixture';

let env: ReturnType<typeof installDom>;
const g = globalThis as Record<string, unknown>;
beforeEach(() => {
  env = installDom();
  g.getComputedStyle = env.window.getComputedStyle.bind(env.window);
});
afterEach(() => {
  delete g.getComputedStyle;
  env.cleanup();
});

type Series = { label: string; data: { sampleId: string }[]; pointStyle: string; backgroundColor: string };
function seriesOf(scatter: Scatter): Series[] {
  return (scatter as unknown as { chart: { data: { datasets: Series[] } } }).chart.data.datasets;
}

test('scatter: a series per variant × condition, marker shape by condition, colour by variant', () => {
  const run = conditionsRun();
  const data = computeReport(run);
  assert.ok(data.conditions.length >= 2, 'the fixture has conditions');
  const canvas = env.document.createElement('canvas');
  env.document.body.appendChild(canvas);
  const scatter = new Scatter(canvas as unknown as HTMLCanvasElement, () => {});
  scatter.update(data);
  const series = seriesOf(scatter);
  assert.deepEqual(series.map((s) => s.label), data.variants.flatMap((v) => data.conditions.map((c) => `${v} · ${c}`)));
  for (const [i, v] of data.variants.entries()) {
    for (const [j, c] of data.conditions.entries()) {
      const s = series[i * data.conditions.length + j];
      assert.equal(s.pointStyle, CONDITION_MARKERS[j]);
      assert.equal(s.backgroundColor, series[i * data.conditions.length].backgroundColor, 'one colour per variant');
      const want = data.points.filter((p) => p.variant === v && p.condition === c).map((p) => p.sampleId).sort();
      assert.deepEqual(s.data.map((p) => p.sampleId).sort(), want);
      assert.ok(want.length > 0);
    }
  }
});

test('scatter: without conditions, one series per variant as before', () => {
  const run = conditionsRun();
  for (const s of run.samples) delete s.condition;
  if (run.header) delete run.header.conditions;
  // Without conditions the cells of a variant collapse: keep one row per (cell, variant).
  const seen = new Set<string>();
  run.samples = run.samples.filter((s) => {
    const k = `${s.question_id}#${s.paraphrase_index}#${s.sample_index}@${s.variant}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  const data = computeReport(run);
  assert.equal(data.conditions.length, 0);
  const canvas = env.document.createElement('canvas');
  env.document.body.appendChild(canvas);
  const scatter = new Scatter(canvas as unknown as HTMLCanvasElement, () => {});
  scatter.update(data);
  assert.deepEqual(seriesOf(scatter).map((s) => s.label), data.variants);
});
