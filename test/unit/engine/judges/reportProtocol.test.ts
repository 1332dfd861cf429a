import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differenceIsSignificant, differenceText, pct, proportionText, variantColorVar } from '../../../../src/webviews/report/format';
import { isReportViewState, parseReportWebviewMessage } from '../../../../src/protocol/report';
import { newcombeDifference, wilson } from '../../../../src/engine/judges/stats';

test('report formatting: rates with intervals, signed differences', () => {
  assert.equal(pct(0.12345), '12.3%');
  assert.equal(pct(null), '–');
  const w = wilson(1, 4);
  assert.equal(proportionText(w), `25.0% [${pct(w.lo)}–${pct(w.hi)}] (1/4)`);
  assert.equal(proportionText(wilson(0, 0)), '– (0/0)');
  const d = newcombeDifference(56, 70, 48, 80);
  assert.equal(differenceText(d), '+20.0 pp [+5.2, +33.4]');
  assert.equal(differenceIsSignificant(d), true);
  assert.equal(differenceIsSignificant(newcombeDifference(1, 4, 1, 4)), false);
  assert.equal(differenceText(newcombeDifference(0, 4, 1, 4)).startsWith('−25.0 pp'), true);
  assert.equal(variantColorVar(0), '--vscode-charts-blue');
  assert.equal(variantColorVar(7), '--vscode-charts-red');
});

test('messages from the report page are validated', () => {
  assert.deepEqual(parseReportWebviewMessage({ type: 'report/openSample', sampleId: 'q#0#1@adapter' }), { type: 'report/openSample', sampleId: 'q#0#1@adapter' });
  assert.equal(parseReportWebviewMessage({ type: 'report/openSample', sampleId: 5 }), null);
  assert.equal(parseReportWebviewMessage({ type: 'report/openSample', sampleId: '' }), null);
  assert.deepEqual(parseReportWebviewMessage({ type: 'report/options', judge: 'rule:x', reference: null }), { type: 'report/options', judge: 'rule:x', reference: null });
  assert.equal(parseReportWebviewMessage({ type: 'report/options', judge: 3, reference: null }), null);
  // The reference condition (a run with conditions): passed on when given, a non-string refused.
  assert.deepEqual(parseReportWebviewMessage({ type: 'report/options', judge: null, reference: null, referenceCondition: 'trigger' }), { type: 'report/options', judge: null, reference: null, referenceCondition: 'trigger' });
  assert.equal(parseReportWebviewMessage({ type: 'report/options', judge: null, reference: null, referenceCondition: 7 }), null);
  assert.ok(isReportViewState({ runUri: 'file:///a.run.jsonl', judge: null, reference: null, referenceCondition: 'trigger' }));
  assert.ok(!isReportViewState({ runUri: 'file:///a.run.jsonl', judge: null, reference: null, referenceCondition: 1 }));
  assert.equal(parseReportWebviewMessage({ type: 'report/evil' }), null);
  assert.equal(parseReportWebviewMessage('report/refresh'), null);
  assert.ok(isReportViewState({ runUri: 'file:///a.run.jsonl', judge: null, reference: 'base' }));
  assert.ok(!isReportViewState({ judge: null }));
});
