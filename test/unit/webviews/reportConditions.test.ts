// The Run report page with conditions: the condition × variant table and the paired-differences table, as text
// nodes only, in focusable regions; neither appears for a run with one variant and no conditions.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { ReportApp } from '../../../src/webviews/report/app';
import { computeReport } from '../../../src/engine/judges/metrics';
import { conditionsRun } from '../engine/judges/conditionsFixture';
import type { ReportData } from '../../../src/protocol/report';

let env: ReturnType<typeof installDom>;
const g = globalThis as Record<string, unknown>;
beforeEach(() => {
  env = installDom();
  // The scatter reads theme colours (happy-dom has no canvas: Chart.js draws nothing, which is fine here).
  g.getComputedStyle = env.window.getComputedStyle.bind(env.window);
});
afterEach(() => {
  delete g.getComputedStyle;
  env.cleanup();
});

const noop = { postMessage: () => {}, getState: () => undefined, setState: () => {} };

function render(data: ReportData): HTMLElement {
  const root = env.document.createElement('main');
  env.document.body.appendChild(root);
  const app = new ReportApp(root, noop, { runUri: 'file:///r.run.jsonl', fileName: 'r.run.jsonl', viewState: null });
  app.start();
  app.handleMessage({ type: 'report/data', data, warnings: [] });
  return root;
}

test('report page: condition × variant rates and paired differences', () => {
  const run = conditionsRun();
  run.samples[0].completion = '<img src=x onerror=alert(1)>';
  const root = render(computeReport(run));
  const arms = root.querySelector('[data-testid="report-arms"]')!;
  assert.equal(arms.getAttribute('tabindex'), '0', 'the table region takes keyboard focus');
  assert.equal(arms.getAttribute('role'), 'region');
  const rows = [...arms.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));
  assert.deepEqual(rows, [
    ['control (reference)', '0.0% [0.0%–29.9%] (0/9)', '30.0% [10.8%–60.3%] (3/10)'],
    ['trigger', '30.0% [10.8%–60.3%] (3/10)', '70.0% [39.7%–89.2%] (7/10)'],
  ]);
  const pairs = [...root.querySelectorAll('[data-testid="report-pairs"] tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent));
  assert.deepEqual(pairs[1], ['trigger − control (adapter)', '10', '+40.0 pp', '[+1.4, +64.5] pp', '0.125', '4 / 0', '+40.0 pp [−2.9, +67.2]']);
  assert.deepEqual(pairs[3].slice(0, 5), ['adapter − base (trigger)', '10', '+40.0 pp', '[−3.9, +67.8] pp', '0.219']);
  assert.equal(root.querySelector('img'), null, 'model output is never markup');
});

test('report page: no condition or pair tables for one variant without conditions', () => {
  const run = conditionsRun();
  const plain = { ...run, header: { ...run.header!, conditions: undefined, variants: [{ name: 'base' }] }, samples: run.samples.filter((s) => s.variant === 'base' && s.condition === 'control').map(({ condition, ...s }) => (void condition, s)) };
  const root = render(computeReport(plain));
  assert.ok(root.querySelector('[data-testid="report-variants"]'));
  assert.equal(root.querySelector('[data-testid="report-arms"]'), null);
  assert.equal(root.querySelector('[data-testid="report-pairs"]'), null);
  // Two variants, no conditions: the pairs table (variant pairs) shows, the condition table does not.
  const two = { ...plain, header: { ...plain.header, variants: run.header!.variants }, samples: run.samples.filter((s) => s.condition === 'trigger').map(({ condition, ...s }) => (void condition, s)) };
  const r2 = render(computeReport(two));
  assert.equal(r2.querySelector('[data-testid="report-arms"]'), null);
  assert.deepEqual([...r2.querySelectorAll('[data-testid="report-pairs"] tbody th')].map((t) => t.textContent), ['adapter − base']);
});
