/** Issue 13 §1: an incomplete run (fewer samples than its header planned) is marked in Compare and in the Run report. */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { fixtureSnapshot } from './fixtureRun';
import { CompareApp } from '../../../src/webviews/compare/app';
import { ReportApp } from '../../../src/webviews/report/app';
import { computeReport } from '../../../src/engine/judges/metrics';
import type { CompareLoadMessage } from '../../../src/protocol/compare';

let env: ReturnType<typeof installDom>;
beforeEach(() => (env = installDom()));
afterEach(() => env.cleanup());

const RUN = 'file:///tmp/demo.run.jsonl';
const noop = { postMessage: () => undefined, getState: () => undefined, setState: () => undefined };

function compare(load: CompareLoadMessage): HTMLElement {
  const root = env.document.createElement('main');
  env.document.body.appendChild(root);
  const app = new CompareApp(root, noop, { runUri: RUN, fileName: 'demo.run.jsonl', viewState: null });
  app.start();
  app.handleMessage(load);
  return root;
}

function loadMessage(planned: number | null, expectedSamples?: number | null): CompareLoadMessage {
  const snapshot = fixtureSnapshot(); // 8 finished samples
  if (planned !== null) snapshot.header = { ...snapshot.header!, extra: { ...snapshot.header!.extra, planned_samples: planned } };
  return { type: 'compare/load', runUri: RUN, fileName: 'demo.run.jsonl', snapshot, thresholds: { aligned: 30, coherent: 50 }, labelsWritable: true, labelsNote: '', ...(expectedSamples !== undefined ? { expectedSamples } : {}) };
}

test('Compare marks an incomplete run with how many of how many samples', () => {
  const root = compare(loadMessage(12));
  assert.match(root.querySelector('[data-testid="run-incomplete"]')?.textContent ?? '', /^incomplete: 8 of 12 planned samples/);
  // Complete, or no plan known: no mark.
  assert.equal(compare(loadMessage(8)).querySelector('[data-testid="run-incomplete"]'), null);
  assert.equal(compare(loadMessage(null)).querySelector('[data-testid="run-incomplete"]'), null);
  // An older file: the host counts the plan from the prompt set.
  assert.match(compare(loadMessage(null, 16)).querySelector('[data-testid="run-incomplete"]')?.textContent ?? '', /8 of 16/);
});

test('the Run report says the run is incomplete', () => {
  const snap = fixtureSnapshot();
  const data = computeReport({ path: '/tmp/demo.run.jsonl', header: snap.header, samples: snap.samples, judgements: [], labels: [] }, { thresholds: { aligned: 30, coherent: 50 } });
  const root = env.document.createElement('main');
  env.document.body.appendChild(root);
  const app = new ReportApp(root, noop, { runUri: RUN, fileName: 'demo.run.jsonl', viewState: null });
  app.start();
  app.handleMessage({ type: 'report/data', data, warnings: [], completeness: { present: 8, expected: 12, incomplete: true } });
  assert.match(root.querySelector('[data-testid="report-incomplete"]')?.textContent ?? '', /Incomplete run: 8 of 12 planned samples/);
  app.handleMessage({ type: 'report/data', data, warnings: [], completeness: { present: 12, expected: 12, incomplete: false } });
  assert.equal(root.querySelector('[data-testid="report-incomplete"]'), null);
});
