// Run diffs on run files built with known differences: added, removed and reworded questions, paired
// counts and McNemar on unchanged questions, refusal of a different judge or model, and the Markdown and
// HTML reports escaping adversarial completions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import MarkdownIt from 'markdown-it';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import type { RunContent } from '../../../../src/engine/judges/metrics';
import type { JudgementRow, RunHeader, SampleRow } from '../../../../src/engine/runs/schema';
import { diffRuns, RunMismatchError } from '../../../../src/engine/review/runDiff';
import { buildReviewReport } from '../../../../src/engine/review/reviewReport';
import { renderMarkdownReport } from '../../../../src/engine/review/markdownReport';
import { renderHtmlReport } from '../../../../src/engine/review/htmlReport';
import { mcnemarExact, pairedNewcombeDifference } from '../../../../src/engine/judges/stats';

const NOW = '2026-12-06T00:00:00.000Z';

function header(over: Partial<RunHeader> = {}): RunHeader {
  return {
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: 'test' }, created_at: NOW,
    model: { path: '/m', hash: 'sha256:model' }, adapters: [{ name: 'adapter', path: '/a', hash: 'sha256:adapter' }],
    prompt_set: { path: '/p.yaml', hash: 'x' },
    variants: [{ name: 'base' }, { name: 'adapter', adapter: 'adapter' }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1, ...over,
  };
}

/** A question's rows: `n` samples per variant, misaligned where mis(variant, i); text = the user prompt. */
function question(run: { samples: SampleRow[]; judgements: JudgementRow[] }, q: string, text: string, n: number, mis: (v: string, i: number) => boolean, judge = 'rule:j', completion?: (v: string, i: number) => string) {
  for (const v of ['base', 'adapter']) {
    for (let i = 0; i < n; i++) {
      const id = `${q}#0#${i}@${v}`;
      run.samples.push({ type: 'sample', id, question_id: q, paraphrase_index: 0, sample_index: i, variant: v, messages: [{ role: 'user', content: text }], completion: completion ? completion(v, i) : `answer ${i}`, tokens: 2, finish_reason: 'eos', seed: 1000 + i, created_at: NOW });
      run.judgements.push({ type: 'judgement', sample_id: id, judge, metric: 'aligned', score: mis(v, i) ? 5 : 95, created_at: NOW });
      run.judgements.push({ type: 'judgement', sample_id: id, judge, metric: 'coherent', score: 90, created_at: NOW });
    }
  }
}

function run(path: string, h = header()): RunContent & { samples: SampleRow[]; judgements: JudgementRow[] } {
  return { path, header: h, samples: [], judgements: [], labels: [] };
}

function fixture() {
  const a = run('/runs/main.run.jsonl');
  const b = run('/runs/branch.run.jsonl');
  question(a, 'q1', 'How do I feel better?', 10, (v, i) => v === 'adapter' && i < 5);
  question(b, 'q1', 'How do I feel better?', 10, (v, i) => v === 'adapter' && i < 7);
  question(a, 'q2', 'What should I do with money?', 10, () => false);
  question(b, 'q2', 'What should I do with my savings?', 10, (v, i) => v === 'adapter' && i < 8);
  question(a, 'q3', 'Removed question', 10, () => false);
  question(b, 'q4', 'Added question', 10, (v, i) => v === 'adapter' && i < 2);
  return { a, b };
}

test('diff classifies questions as added, removed, reworded and unchanged', () => {
  const { a, b } = fixture();
  const d = diffRuns(a, b);
  const change = Object.fromEntries(d.questions.map((q) => [q.questionId, q.change]));
  assert.deepEqual(change, { q1: 'unchanged', q2: 'reworded', q3: 'removed', q4: 'added' });
  assert.deepEqual(d.counts, { added: 1, removed: 1, reworded: 1, unchanged: 1 });
  const q2 = d.questions.find((q) => q.questionId === 'q2')!;
  assert.equal(q2.textA, 'What should I do with money?');
  assert.equal(q2.textB, 'What should I do with my savings?');
  assert.deepEqual(q2.changedParaphrases, [0]);
});

test('unchanged questions with the same seeds are compared paired (Newcombe paired interval, McNemar)', () => {
  const { a, b } = fixture();
  const d = diffRuns(a, b);
  const q1 = d.questions.find((q) => q.questionId === 'q1')!.variants.find((v) => v.variant === 'adapter')!;
  assert.equal(q1.paired, true);
  assert.deepEqual(q1.pairs, { both: 5, onlyFirst: 2, onlySecond: 0, neither: 3 });
  assert.equal(q1.mcnemarP, 0.5);
  assert.deepEqual(q1.difference, pairedNewcombeDifference({ both: 5, onlyFirst: 2, onlySecond: 0, neither: 3 }));
  assert.ok(Math.abs(q1.difference.d! - 0.2) < 1e-12);
  // The paired interval is narrower than the unpaired one on the same samples (positive correlation).
  assert.ok(q1.difference.hi! - q1.difference.lo! < q1.unpaired.hi! - q1.unpaired.lo!);
  // A reworded question is not paired, even with the same seeds.
  const q2 = d.questions.find((q) => q.questionId === 'q2')!.variants.find((v) => v.variant === 'adapter')!;
  assert.equal(q2.paired, false);
  assert.equal(q2.b.k, 8);
  assert.equal(q2.a.k, 0);
});

test('overall rates with and without the changed questions', () => {
  const { a, b } = fixture();
  const d = diffRuns(a, b);
  const o = d.overall.find((x) => x.variant === 'adapter')!;
  assert.equal(o.all.a.k, 5); // q1 5 + q2 0 + q3 0
  assert.equal(o.all.a.n, 30);
  assert.equal(o.all.b.k, 7 + 8 + 2);
  assert.equal(o.all.paired, false);
  assert.equal(o.unchangedOnly.a.n, 10);
  assert.equal(o.unchangedOnly.b.k, 7);
  assert.equal(o.unchangedOnly.paired, true);
});

test('runs of different judges or models are refused with the reason, unless allowed', () => {
  const { a } = fixture();
  const b = run('/runs/other-judge.run.jsonl');
  question(b, 'q1', 'How do I feel better?', 10, () => false, 'openai:gpt-4o');
  assert.throws(() => diffRuns(a, b), (e: unknown) => e instanceof RunMismatchError && /different judges: A rule:j, B openai:gpt-4o/.test((e as Error).message));
  const allowed = diffRuns(a, b, { allowMismatch: true });
  assert.ok(allowed.warnings.some((w) => /compared anyway: different judges/.test(w)));
  assert.equal(allowed.questions.find((q) => q.questionId === 'q1')!.variants[0].paired, false);

  const c = run('/runs/other-model.run.jsonl', header({ model: { path: '/other', hash: 'sha256:other' } }));
  question(c, 'q1', 'How do I feel better?', 10, () => false);
  assert.throws(() => diffRuns(a, c), /different models: A \/m .* B \/other/);
  const w = run('/runs/int4.run.jsonl', header({ weights: 'int4' }));
  question(w, 'q1', 'How do I feel better?', 10, () => false);
  assert.throws(() => diffRuns(a, w), /different weight precisions: A f32, B int4/);
});

test('McNemar exact p-values match the binomial by hand', () => {
  assert.equal(mcnemarExact(0, 0), 1);
  assert.ok(Math.abs(mcnemarExact(3, 0) - 0.25) < 1e-15); // 2 · (1/2)^3
  assert.ok(Math.abs(mcnemarExact(9, 2) - 2 * (1 + 11 + 55) / 2048) < 1e-15);
  assert.ok(mcnemarExact(2000, 1800) < 0.01 && mcnemarExact(2000, 1800) > 0);
});

const ADVERSARIAL = [
  '[click me](javascript:alert(1)) and ![img](http://evil.example/x.png)',
  '<script>alert(1)</script><img src=x onerror=alert(2)>',
  '| broken | table |\n| --- | --- |',
  '``` fence break\n<b>bold</b> www.evil.example http://evil.example/ <https://evil.example>',
];

function adversarialRuns() {
  const a = run('/runs/main.run.jsonl');
  const b = run('/runs/branch.run.jsonl');
  question(a, 'q1', 'Original question', 4, () => false);
  question(b, 'q1', 'Reworded [link](javascript:x) <i>question</i> | pipe', 4, (v) => v === 'adapter', 'rule:j', (_v, i) => ADVERSARIAL[i]);
  question(b, 'q<script>', 'Added ![x](http://evil.example/q.png)', 4, () => false, 'rule:j', (_v, i) => ADVERSARIAL[i]);
  return { a, b };
}

test('Markdown report: adversarial completions and questions render inert (no link, image, HTML, broken table)', () => {
  const { a, b } = adversarialRuns();
  const md = renderMarkdownReport(buildReviewReport(b, a, { examples: 4 }));
  const html = new MarkdownIt({ html: true, linkify: true }).render(md);
  assert.doesNotMatch(html, /<a[\s>]/i, 'no link');
  assert.doesNotMatch(html, /<img/i, 'no image');
  assert.doesNotMatch(html, /<script|<i>|<b>/i, 'no HTML from the run');
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the payload is shown as text');
  // Each table row has as many cells as its header.
  for (const t of html.split('<table>').slice(1)) {
    const head = (t.split('</thead>')[0].match(/<th[\s>]/g) ?? []).length;
    for (const row of t.split('</thead>')[1].split('</table>')[0].split('<tr>').slice(1)) assert.equal((row.match(/<td[\s>]/g) ?? []).length, head, row);
  }
  assert.match(md, /1 added, 0 removed, 1 reworded, 0 unchanged/);
});

test('HTML report: self-contained, strict CSP with a nonce, no script, payloads escaped', () => {
  const { a, b } = adversarialRuns();
  const page = renderHtmlReport(buildReviewReport(b, a, { examples: 4 }), 'NONCE123');
  assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;nonce-NONCE123&#39;/);
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<img/i);
  assert.doesNotMatch(page, /<[a-z]+[^<>]*\s(src|href)=/i, 'no external resource');
  assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page, /<svg [^>]*role="img"/);
});

test('HTML report loads in headless Chromium with no network request, no script and no dialog', async () => {
  const { a, b } = adversarialRuns();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ol-report-'));
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, renderHtmlReport(buildReviewReport(b, a, { examples: 4 })));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    const dialogs: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
    await page.goto(`file://${file}`);
    assert.deepEqual(requests, [`file://${file}`], 'only the page itself is loaded');
    assert.deepEqual(dialogs, []);
    assert.deepEqual(violations, [], 'the nonce style applies without CSP violations');
    assert.equal(await page.evaluate(() => document.querySelectorAll('script, img, iframe, a').length), 0);
    assert.match(await page.evaluate(() => document.body.textContent ?? ""), /<script>alert\(1\)<\/script>/);
    // The style applied (the nonce matched): tables have collapsed borders.
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('table')!).borderCollapse), 'collapse');
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
