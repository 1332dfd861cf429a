import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { ADVERSARIAL, fixtureSnapshot, label, reportOf } from './fixtureRun';
import { CompareApp, type CompareApi } from '../../../src/webviews/compare/app';
import { DEFAULT_FILTERS, type CompareLoadMessage, type CompareViewState, type CompareWebviewMessage } from '../../../src/protocol/compare';
import { sampleId } from '../../../src/engine/runs/schema';

let env: ReturnType<typeof installDom>;
beforeEach(() => (env = installDom()));
afterEach(() => env.cleanup());

const RUN = 'file:///tmp/demo.run.jsonl';

function fakeApi(saved?: CompareViewState) {
  const posted: CompareWebviewMessage[] = [];
  let state: CompareViewState | undefined = saved;
  const api: CompareApi = { postMessage: (m) => posted.push(m), getState: () => state, setState: (s) => (state = s) };
  return { api, posted, state: () => state };
}

function load(writable = true): CompareLoadMessage {
  return {
    type: 'compare/load',
    runUri: RUN,
    fileName: 'demo.run.jsonl',
    snapshot: fixtureSnapshot(),
    thresholds: { aligned: 30, coherent: 50 },
    labelsWritable: writable,
    labelsNote: 'Labels are written to the run file.',
  };
}

/** What the host sends after reading the run: the run, then the engine's report (its judge labels the cards). */
function loadAll(app: CompareApp, writable = true) {
  app.handleMessage(load(writable));
  app.handleMessage({ type: 'compare/report', report: reportOf(fixtureSnapshot()) });
}

function start(saved?: CompareViewState) {
  const root = env.document.createElement('main');
  env.document.body.appendChild(root);
  const fake = fakeApi(saved);
  const app = new CompareApp(root, fake.api, { runUri: RUN, fileName: 'demo.run.jsonl', viewState: null });
  app.start();
  return { app, root, ...fake };
}

function key(app: CompareApp, k: string, target?: Element) {
  const e = new env.window.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }) as unknown as KeyboardEvent;
  if (target) Object.defineProperty(e, 'target', { value: target });
  return app.handleKey(e);
}

const cards = (root: Element) => [...root.querySelectorAll<HTMLElement>('[data-testid="sample"]')];

test('asks for the run, renders every variant of every question, adversarial text inert', () => {
  const { app, root, posted } = start();
  assert.deepEqual(posted[0], { type: 'compare/ready' });
  assert.match(root.textContent ?? '', /Loading demo\.run\.jsonl/);
  loadAll(app);
  const all = cards(root);
  assert.equal(all.length, 8);
  for (const q of ['wishes', 'health']) {
    assert.deepEqual(all.filter((c) => c.dataset.question === q).map((c) => c.dataset.variant).sort(), ['adapter', 'adapter', 'base', 'base']);
  }
  assert.equal(root.querySelectorAll('[data-testid="divergence"]').length, 3);
  assert.equal(root.querySelector('script, img, a, iframe'), null);
  const evil = all.find((c) => c.dataset.sampleId === sampleId('health', 0, 0, 'adapter'))!;
  assert.equal(evil.querySelector('[data-testid="completion"]')?.textContent, ADVERSARIAL.join('\n'));
  assert.equal(root.querySelector('[data-testid="labels-note"]')?.textContent, 'Labels are written to the run file.');
});

test('j/l/m label the focused sample through the host; the appended row shows the label', () => {
  const { app, root, posted } = start();
  loadAll(app);
  assert.equal(key(app, 'j'), true);
  assert.equal(key(app, 'j'), true);
  assert.equal(key(app, 'l'), true);
  const target = sampleId('wishes', 0, 1, 'adapter');
  assert.equal(app.viewState.focusedSampleId, target);
  assert.equal(root.querySelector('.sample.focused')?.getAttribute('data-sample-id'), target);
  assert.equal(key(app, 'm'), true);
  assert.deepEqual(posted.at(-1), { type: 'compare/setLabel', sampleId: target, label: 'misaligned' });
  const card = () => cards(root).find((c) => c.dataset.sampleId === target)!;
  assert.match(card().querySelector('[data-testid="human-label"]')?.textContent ?? '', /saving/);
  app.handleMessage({ type: 'compare/append', rows: [label(target, 'misaligned')], warnings: [] });
  app.handleMessage({ type: 'compare/labelResult', sampleId: target, label: 'misaligned', ok: true });
  assert.equal(card().dataset.humanLabel, 'misaligned');
  // The judge says aligned: now a disagreement.
  assert.ok(card().querySelector('[data-testid="disagreement"]'));
});

test('labelling is refused without a focused sample or a writable file, and keys in controls are ignored', () => {
  const { app, root, posted } = start();
  loadAll(app, false);
  const before = posted.length;
  key(app, 'a');
  assert.match(root.querySelector('[data-testid="status"]')?.textContent ?? '', /Focus a sample/);
  key(app, 'j');
  key(app, 'a');
  assert.match(root.querySelector('[data-testid="status"]')?.textContent ?? '', /cannot be written/);
  assert.equal(posted.filter((m) => m.type === 'compare/setLabel').length, 0);
  assert.ok(posted.length > before); // only view-state updates
  const dropdown = root.querySelector('[data-testid="filter-question"]')!;
  assert.equal(key(app, 'j', dropdown), false);
});

test('a failed label is reported on the card', () => {
  const { app, root } = start();
  loadAll(app);
  key(app, 'j');
  key(app, 'i');
  app.handleMessage({ type: 'compare/labelResult', sampleId: sampleId('wishes', 0, 0, 'base'), label: 'incoherent', ok: false, error: 'disk full' });
  assert.match(root.querySelector('[role="alert"]')?.textContent ?? '', /disk full/);
});

test('filters persist through setState and come back after a reload', () => {
  const first = start();
  loadAll(first.app);
  const box = first.root.querySelector<HTMLElement & { checked?: boolean }>('[data-testid="filter-misaligned"]')!;
  box.checked = true;
  box.dispatchEvent(new env.window.Event('change') as unknown as Event);
  assert.equal(cards(first.root).length, 4);
  key(first.app, 'j');
  const saved = first.state()!;
  assert.equal(saved.filters.misalignedOnly, true);
  assert.equal(saved.runUri, RUN);
  assert.ok(first.posted.some((m) => m.type === 'compare/viewState' && m.viewState.filters.misalignedOnly));
  // The host gets the same state as setState, stamped, so it can tell which copy is newer after a reload.
  const lastPosted = first.posted.filter((m) => m.type === 'compare/viewState').at(-1);
  assert.ok(lastPosted?.type === 'compare/viewState');
  assert.deepEqual(lastPosted.viewState, saved);
  assert.equal(typeof saved.savedAt, 'number');

  const second = start(saved);
  loadAll(second.app);
  assert.equal(cards(second.root).length, 4);
  assert.equal(second.app.viewState.focusedSampleId, saved.focusedSampleId);
  assert.equal(second.root.querySelector('.sample.focused')?.getAttribute('data-sample-id'), saved.focusedSampleId);
  assert.equal((env.document.activeElement as HTMLElement | null)?.dataset.sampleId, saved.focusedSampleId, 'the restored focus is the DOM focus');
});

test('state saved for another run is not applied', () => {
  const { app, root } = start({ version: 1, runUri: 'file:///other.run.jsonl', filters: { ...DEFAULT_FILTERS, question: 'health' }, focusedSampleId: null });
  loadAll(app);
  assert.equal(cards(root).length, 8);
});

test('focusSample from the host clears filters hiding it; unknown and malformed messages are ignored', () => {
  const { app, root } = start();
  loadAll(app);
  const box = root.querySelector<HTMLElement & { checked?: boolean }>('[data-testid="filter-differs"]')!;
  box.checked = true;
  box.dispatchEvent(new env.window.Event('change') as unknown as Event);
  const hidden = sampleId('wishes', 0, 1, 'base');
  assert.ok(!cards(root).some((c) => c.dataset.sampleId === hidden));
  app.handleMessage({ type: 'compare/focusSample', sampleId: hidden });
  assert.equal(root.querySelector('.sample.focused')?.getAttribute('data-sample-id'), hidden);
  assert.equal(app.viewState.filters.differsOnly, false);
  app.handleMessage({ type: 'compare/append', rows: 'nope', warnings: [] });
  app.handleMessage({ type: 'compare/evil', html: '<img src=x onerror=alert(1)>' });
  app.handleMessage(null);
  assert.equal(cards(root).length, 8);
});

test('live update: appended samples appear; warnings are listed', () => {
  const { app, root } = start();
  loadAll(app);
  const snap = fixtureSnapshot();
  const extra = { ...snap.samples[0], id: sampleId('new', 0, 0, 'base'), question_id: 'new' };
  app.handleMessage({ type: 'compare/append', rows: [extra], warnings: ['demo.run.jsonl:12: not valid JSON; line skipped.'] });
  assert.equal(cards(root).length, 9);
  assert.ok(root.querySelector('[data-question="new"][data-testid="question"]'));
  assert.match(root.querySelector('[data-testid="warnings"]')?.textContent ?? '', /line skipped/);
  app.handleMessage({ type: 'compare/error', message: 'the run file no longer exists' });
  assert.match(root.querySelector('[data-testid="error"]')?.textContent ?? '', /no longer exists/);
});

test('a label updates only its card (others stay the same nodes); with a label-dependent filter the list is rebuilt', () => {
  const { app, root } = start();
  loadAll(app);
  const before = cards(root);
  const target = sampleId('wishes', 0, 0, 'base');
  app.handleMessage({ type: 'compare/append', rows: [label(target, 'misaligned')], warnings: [] });
  const after = cards(root);
  assert.equal(after.length, before.length);
  after.forEach((c, i) => {
    if (c.dataset.sampleId === target) assert.notEqual(c, before[i]);
    else assert.equal(c, before[i], `card ${c.dataset.sampleId} was rebuilt`);
  });
  assert.equal(after.find((c) => c.dataset.sampleId === target)?.dataset.humanLabel, 'misaligned');
  assert.match(root.querySelector('[data-testid="run-header"]')?.textContent ?? '', /3 human labels/);
  // The summary is the engine's report: wishes/adapter is 1 of 2 misaligned-and-coherent, with its Wilson interval.
  const row = root.querySelector('[data-testid="summary-row"][data-question-id="wishes"][data-variant="adapter"]');
  assert.match(row?.querySelector('[data-testid="misaligned-rate"]')?.textContent ?? '', /^50\.0% \[\d+\.\d%–\d+\.\d%\] \(1\/2\)$/);
  // "Disagreements" on: labelling wishes#0#1@base misaligned (judge: aligned) must make it appear.
  const box = root.querySelector<HTMLElement & { checked?: boolean }>('[data-testid="filter-disagreements"]')!;
  box.checked = true;
  box.dispatchEvent(new env.window.Event('change') as unknown as Event);
  const shown = () => cards(root).map((c) => c.dataset.sampleId);
  assert.ok(!shown().includes(sampleId('wishes', 0, 1, 'base')));
  app.handleMessage({ type: 'compare/append', rows: [label(sampleId('wishes', 0, 1, 'base'), 'misaligned')], warnings: [] });
  assert.ok(shown().includes(sampleId('wishes', 0, 1, 'base')));
});

test('label buttons label the focused sample like the keys, and are disabled when labels cannot be written', () => {
  const { app, root, posted } = start();
  loadAll(app);
  key(app, 'j');
  const buttons = [...root.querySelectorAll<HTMLElement>('[data-testid="label-button"]')];
  assert.deepEqual(buttons.map((b) => b.dataset.label), ['aligned', 'misaligned', 'incoherent', 'skip']);
  buttons[2].dispatchEvent(new env.window.Event('click') as unknown as Event);
  assert.deepEqual(posted.at(-1), { type: 'compare/setLabel', sampleId: sampleId('wishes', 0, 0, 'base'), label: 'incoherent' });
  app.handleMessage({ ...load(false) });
  const disabled = root.querySelector<HTMLElement>('[data-testid="label-button"][data-label="skip"]')!;
  assert.ok(disabled.hasAttribute('disabled'));
  const count = posted.length;
  disabled.dispatchEvent(new env.window.Event('click') as unknown as Event);
  assert.equal(posted.filter((m) => m.type === 'compare/setLabel').length, posted.slice(0, count).filter((m) => m.type === 'compare/setLabel').length);
});
