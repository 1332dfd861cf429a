import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_FILTERS,
  isCompareHostMessage,
  isCompareViewState,
  isCompareWebviewMessage,
  isHumanLabel,
} from '../../../src/protocol/compare';
import { isWebviewMessage } from '../../../src/protocol/webviews';
import { fixtureSnapshot } from './fixtureRun';

const viewState = { version: 1, runUri: 'file:///a.run.jsonl', filters: DEFAULT_FILTERS, focusedSampleId: null };

test('webview -> host messages: valid ones pass', () => {
  assert.ok(isCompareWebviewMessage({ type: 'compare/ready' }));
  for (const label of ['aligned', 'misaligned', 'incoherent', 'skip']) {
    assert.ok(isCompareWebviewMessage({ type: 'compare/setLabel', sampleId: 'q#0#0@base', label }));
  }
  assert.ok(isCompareWebviewMessage({ type: 'compare/viewState', viewState }));
  assert.ok(isCompareWebviewMessage({ type: 'compare/viewState', viewState: { ...viewState, filters: { ...DEFAULT_FILTERS, variants: ['base'], question: 'q' }, focusedSampleId: 'x' } }));
});

test('webview -> host messages: anything else is refused', () => {
  const bad: unknown[] = [
    null,
    'compare/ready',
    [],
    { type: 'compare/unknown' },
    { type: 'compare/setLabel', sampleId: 'x', label: 'evil' },
    { type: 'compare/setLabel', sampleId: '', label: 'aligned' },
    { type: 'compare/setLabel', sampleId: 3, label: 'aligned' },
    { type: 'compare/setLabel', label: 'aligned' },
    { type: 'compare/viewState', viewState: { ...viewState, version: 2 } },
    { type: 'compare/viewState', viewState: { ...viewState, filters: { ...DEFAULT_FILTERS, variants: [1] } } },
    { type: 'compare/viewState', viewState: { ...viewState, filters: { ...DEFAULT_FILTERS, differsOnly: 'yes' } } },
    { type: 'compare/viewState' },
    { type: 'compare/load', runUri: 'x' }, // a host message is not a webview message
  ];
  for (const m of bad) assert.equal(isCompareWebviewMessage(m), false, JSON.stringify(m));
});

test('host -> webview messages', () => {
  const load = {
    type: 'compare/load',
    runUri: 'file:///a.run.jsonl',
    fileName: 'a.run.jsonl',
    snapshot: fixtureSnapshot(),
    thresholds: { aligned: 30, coherent: 50 },
    labelsWritable: true,
    labelsNote: 'x',
  };
  assert.ok(isCompareHostMessage(load));
  assert.ok(isCompareHostMessage({ ...load, snapshot: { ...load.snapshot, header: null } }));
  assert.ok(!isCompareHostMessage({ ...load, thresholds: { aligned: '30', coherent: 50 } }));
  assert.ok(!isCompareHostMessage({ ...load, snapshot: { ...load.snapshot, samples: undefined } }));
  assert.ok(!isCompareHostMessage({ ...load, snapshot: { ...load.snapshot, warnings: [1] } }));
  assert.ok(isCompareHostMessage({ type: 'compare/append', rows: [], warnings: [] }));
  assert.ok(!isCompareHostMessage({ type: 'compare/append', rows: [1], warnings: [] }));
  assert.ok(isCompareHostMessage({ type: 'compare/thresholds', thresholds: { aligned: 20, coherent: 60 } }));
  assert.ok(!isCompareHostMessage({ type: 'compare/thresholds', thresholds: { aligned: NaN, coherent: 60 } }));
  assert.ok(isCompareHostMessage({ type: 'compare/focusSample', sampleId: 'x' }));
  assert.ok(isCompareHostMessage({ type: 'compare/labelResult', sampleId: 'x', label: 'skip', ok: false, error: 'e' }));
  assert.ok(!isCompareHostMessage({ type: 'compare/labelResult', sampleId: 'x', label: 'maybe', ok: true }));
  assert.ok(isCompareHostMessage({ type: 'compare/error', message: 'm' }));
  assert.ok(!isCompareHostMessage({ type: 'compare/ready' }));
});

test('small guards', () => {
  assert.ok(isCompareViewState(viewState));
  assert.ok(!isCompareViewState({ ...viewState, runUri: undefined }));
  assert.ok(isHumanLabel('skip') && !isHumanLabel('Skip') && !isHumanLabel(undefined));
  assert.ok(isWebviewMessage({ type: 'x' }) && !isWebviewMessage({ kind: 'x' }));
});

test('conditions, two-run mode, the report and activations: their messages and states are checked too', () => {
  // Older states (no conditions filter, no run A) stay valid; new fields are type-checked.
  assert.ok(isCompareViewState({ ...viewState, filters: { ...DEFAULT_FILTERS, conditions: ['trigger'] }, againstUri: 'file:///main.run.jsonl', allowMismatch: true }));
  const { conditions: _c, ...olderFilters } = DEFAULT_FILTERS;
  void _c;
  assert.ok(isCompareViewState({ ...viewState, filters: olderFilters }));
  assert.ok(!isCompareViewState({ ...viewState, filters: { ...DEFAULT_FILTERS, conditions: [3] } }));
  assert.ok(!isCompareViewState({ ...viewState, againstUri: 7 }));
  assert.ok(!isCompareViewState({ ...viewState, allowMismatch: 'yes' }));
  assert.ok(isCompareWebviewMessage({ type: 'compare/compareAnyway' }));
  assert.ok(isCompareWebviewMessage({ type: 'compare/openActivations', sampleId: 'q#0#0@adapter' }));
  assert.ok(isCompareWebviewMessage({ type: 'compare/openActivations', sampleId: 'q#0#0@adapter', side: 'A' }));
  assert.ok(!isCompareWebviewMessage({ type: 'compare/openActivations', sampleId: '' }));
  assert.ok(!isCompareWebviewMessage({ type: 'compare/openActivations', sampleId: 'x', side: 'C' }));
  assert.ok(isCompareHostMessage({ type: 'compare/report', report: null, note: 'why' }));
  assert.ok(isCompareHostMessage({ type: 'compare/report', report: { groups: [] } }));
  assert.ok(!isCompareHostMessage({ type: 'compare/report', report: { groups: 'x' } }));
  assert.ok(!isCompareHostMessage({ type: 'compare/report' }));
  const snap = fixtureSnapshot();
  assert.ok(isCompareHostMessage({ type: 'compare/against', againstUri: 'a', fileName: 'a', snapshot: snap, diff: { questions: [] }, warnings: [] }));
  assert.ok(!isCompareHostMessage({ type: 'compare/against', againstUri: 'a', fileName: 'a', snapshot: { ...snap, samples: 1 }, diff: { questions: [] }, warnings: [] }));
  assert.ok(isCompareHostMessage({ type: 'compare/mismatch', againstUri: 'a', fileName: 'a', reasons: ['different models'] }));
  assert.ok(!isCompareHostMessage({ type: 'compare/mismatch', againstUri: 'a', fileName: 'a', reasons: [1] }));
  assert.ok(isCompareHostMessage({ type: 'compare/tokenOffsets', offsets: { 'q#0#0@adapter': 4 } }));
  assert.ok(!isCompareHostMessage({ type: 'compare/tokenOffsets', offsets: { x: '4' } }));
});
