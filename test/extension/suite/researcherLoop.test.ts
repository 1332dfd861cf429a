/** Issue 13: the researcher's loop in the editor (resume, notifications, hovers, views, checkpoint messages). */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunPromptSetResult } from '../../../src/protocol/engineJobs';
import { api, testModel, waitFor, workspaceFolder } from './helpers';

const samplesIn = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'sample');

suite('researcher loop: resuming an incomplete run from the editor', function () {
  const model = testModel();
  const made: string[] = [];
  let complete = '';

  suiteSetup(async function () {
    if (!model || !vscode.workspace.isTrusted) this.skip();
    const a = await api();
    if (a.ctx.engine.state.model?.dir !== model!.model) await vscode.commands.executeCommand('organismLab.loadModel', vscode.Uri.file(model!.model));
    if (model!.adapter && a.ctx.engine.state.adapters.length === 0) await vscode.commands.executeCommand('organismLab.loadAdapter', vscode.Uri.file(model!.adapter));
    assert.ok(a.ctx.engine.state.model, 'no model loaded');
  });

  suiteTeardown(() => {
    for (const f of made) rmSync(f, { force: true });
  });

  test('re-running a prompt set resumes its latest incomplete run in the same file; the Runs view marks it', async () => {
    const a = await api();
    const promptSet = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
    const first = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', promptSet, { variants: 'all', samples: 2, maxNewTokens: 4, quiet: true });
    assert.ok(first, 'runPromptSet returned nothing');
    made.push(first.out);
    const variants = 1 + a.ctx.engine.state.adapters.length;
    const planned = 2 * 2 * variants; // tiny.yaml: 2 questions × 1 paraphrase, 2 samples each
    assert.equal(first.written, planned);
    const lines = readFileSync(first.out, 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0]);
    assert.equal(header.extra.planned_samples, planned);
    if (model!.adapter) assert.deepEqual(header.variants.map((v: { name: string }) => v.name), ['base', path.basename(model!.adapter)], 'adapter variants are named after the adapter folder');
    // A run cancelled after 3 samples (what Cancel leaves behind).
    writeFileSync(first.out, lines.slice(0, 4).join('\n') + '\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(first.out, later, later);
    a.views.runs.refresh();
    const item = await waitFor('the incomplete run in the Runs view', async () => (await a.views.runs.getChildren()).find((i) => i.file.fsPath === first.out), 10_000);
    assert.match(String(item.description), new RegExp(`^incomplete: 3/${planned} samples`));
    // Run it again: the same file is completed (only the missing samples), not a new file regenerated.
    const again = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', promptSet, { variants: 'all', quiet: true, resume: 'latest' });
    assert.ok(again);
    assert.equal(again.out, first.out);
    assert.equal(again.written, planned - 3);
    assert.equal(new Set(samplesIn(first.out).map((s) => s.id)).size, planned);
    a.views.runs.refresh();
    const done = await waitFor('the completed run in the Runs view', async () => {
      const i = (await a.views.runs.getChildren()).find((x) => x.file.fsPath === first.out);
      return i && !/incomplete/.test(String(i.description)) ? i : undefined;
    }, 10_000);
    assert.match(String(done.description), new RegExp(`^${planned} samples`));
    complete = first.out;
    // Nothing incomplete left: 'latest' starts a new file.
    const fresh = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', promptSet, { variants: 'base', samples: 1, maxNewTokens: 2, quiet: true, resume: 'latest' });
    assert.ok(fresh);
    made.push(fresh.out);
    assert.notEqual(fresh.out, first.out);
  });

  test('by default, re-running asks: "Resume <file> — incomplete: N of M samples" or "Start a new run"', async function () {
    if (!complete) this.skip();
    const lines = readFileSync(complete, 'utf8').trim().split('\n');
    const planned = JSON.parse(lines[0]).extra.planned_samples as number;
    writeFileSync(complete, lines.slice(0, 3).join('\n') + '\n'); // 2 samples present
    const later = new Date(Date.now() + 10_000);
    utimesSync(complete, later, later);
    let settled = false;
    const running = Promise.resolve(
      vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), { variants: 'all' }),
    ).finally(() => (settled = true));
    // The quick pick's first item is "Resume …": accept it once it is up.
    for (let i = 0; i < 50 && !settled; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    }
    const result = await running;
    assert.ok(result, 'the run was not resumed (was the quick pick shown?)');
    assert.equal(result.out, complete);
    assert.equal(result.written, planned - 2);
    assert.equal(new Set(samplesIn(complete).map((s) => s.id)).size, planned);
  });

  test('Export (and Judge) use the run whose Run report is the active tab instead of asking', async function () {
    if (!complete) this.skip();
    await vscode.commands.executeCommand('organismLab.openRunReport', vscode.Uri.file(complete));
    await waitFor('the Run report as the active tab', () => vscode.window.tabGroups.activeTabGroup.activeTab?.label === `Report: ${path.basename(complete)}` || undefined, 10_000);
    const csv = complete.replace(/\.run\.jsonl$/, '.csv');
    made.push(csv);
    const exported = vscode.commands.executeCommand<string>('organismLab.exportRun', undefined, { format: 'csv', out: csv });
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('timed out: the command asked which run'), 15_000));
    const written = await Promise.race([exported, timeout]);
    if (written !== csv) await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(written, csv);
    assert.match(readFileSync(csv, 'utf8').split('\n')[0], /question_id/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('the judge message speaks of scores per sample and metric, not "cells"', async () => {
    const { judgedMessage } = await import('../../../src/extension/commands/runDataCommands');
    const text = judgedMessage('r.run.jsonl', { judge: 'rule:demo', judged: 72, skipped: 0, failed: [], cancelled: false });
    assert.equal(text, 'Organism Lab: judged r.run.jsonl with rule:demo: 72 scores written (one per sample and metric); 0 were there already.');
    assert.doesNotMatch(text, /cell/);
  });
});

suite('researcher loop: question hovers before any run', () => {
  const file = path.join(workspaceFolder(), 'prompts/hover-norun.yaml');

  suiteSetup(() => writeFileSync(file, '- id: lonely\n  paraphrases: ["Hello?"]\n  samples_per_paraphrase: 1\n'));
  suiteTeardown(() => rmSync(file, { force: true }));

  test('a question of a prompt set with no run says so and links to running it', async () => {
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = doc.getText().split('\n').findIndex((l) => l.includes('id: lonely'));
    const text = await waitFor('a hover on the question id', async () => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, doc.lineAt(line).text.indexOf('lonely') + 1));
      const t = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
      return /no run of this prompt set yet/.test(t) ? t : undefined;
    }, 10_000);
    assert.match(text, /\(command:organismLab\.runQuestion\?/);
    assert.match(text, /\(command:organismLab\.runQuestionWithAdapter\?/);
    const args = JSON.parse(decodeURIComponent(/command:organismLab\.runQuestion\?([^ )]+)/.exec(text)![1]));
    assert.deepEqual(args, [uri.toString(), 'lonely']);
  });
});

suite('researcher loop: loading the wrong kind of folder says what it is', function () {
  const model = testModel();

  suiteSetup(function () {
    if (!model || !vscode.workspace.isTrusted) this.skip();
  });

  test('an adapter folder or a training run loaded as a model, a model loaded as an adapter', async () => {
    const a = await api();
    const lone = path.join(workspaceFolder(), 'checkpoints/lone-adapter');
    await assert.rejects(a.ctx.engine.loadModel(lone), (e: Error) => /is a PEFT adapter \(it has adapter_config\.json\), not a model/.test(e.message) && /Load Adapter/.test(e.message) && !/tokenizer/.test(e.message));
    await assert.rejects(a.ctx.engine.loadModel(path.join(workspaceFolder(), 'checkpoints/training-run')), /is a training run \(2 checkpoint-N folders\), not a model/);
    await assert.rejects(a.ctx.engine.loadModel(path.join(workspaceFolder(), 'prompts')), /no config\.json and no \*\.safetensors here/);
    if (a.ctx.engine.state.model?.dir !== model!.model) await a.ctx.engine.loadModel(model!.model);
    await assert.rejects(a.ctx.engine.loadAdapter(model!.model), /is a model \(config\.json \+ weights\), not a PEFT adapter/);
    assert.equal(a.ctx.engine.state.model?.dir, model!.model, 'the loaded model stays loaded');
  });
});

suite('researcher loop: views say "scanning", the last session\'s model is announced', function () {
  test('a view says "Scanning …" while its first scan runs; "nothing found" waits for the scan (manifest)', async () => {
    const { showScanning } = await import('../../../src/extension/views/activateViews');
    const view = { message: undefined as string | undefined } as unknown as vscode.TreeView<string>;
    let release: (v: string[]) => void = () => undefined;
    const provider: vscode.TreeDataProvider<string> = { getTreeItem: (x) => new vscode.TreeItem(x), getChildren: () => new Promise<string[]>((r) => (release = r)) };
    const logged: string[] = [];
    showScanning({ log: { info: (m: string) => logged.push(m) } } as never, view, provider, 'runs', 'run files');
    const children = provider.getChildren(undefined) as Promise<string[]>;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(view.message, 'Scanning the workspace for run files…');
    release(['a.run.jsonl']);
    assert.deepEqual(await children, ['a.run.jsonl']);
    assert.equal(view.message, undefined);
    assert.match(logged[0], /runs view: first scan of the workspace took \d+ ms/);
    const manifest = vscode.extensions.getExtension('organism-lab.organism-lab')!.packageJSON as { contributes: { viewsWelcome: { view: string; contents: string; when?: string }[] } };
    for (const v of ['checkpoints', 'promptSets', 'runs']) {
      const entries = manifest.contributes.viewsWelcome.filter((w) => w.view === `organismLab.${v}`);
      assert.ok(entries.some((w) => w.when === `!organismLab.${v}.scanned` && /^Scanning the workspace/.test(w.contents)), `${v}: a "scanning" welcome`);
      assert.ok(entries.filter((w) => !/^Scanning/.test(w.contents)).every((w) => w.when === `organismLab.${v}.scanned`), `${v}: "nothing found" only after the scan`);
    }
  });

  test('after the engine host goes, the model of before is shown as "not loaded" and announced when it loads again', async function () {
    const model = testModel();
    if (!model || !vscode.workspace.isTrusted) this.skip();
    const a = await api();
    if (a.ctx.engine.state.model?.dir !== model!.model) await a.ctx.engine.loadModel(model!.model);
    await a.ctx.engine.shutdown();
    const s = a.ctx.engine.state;
    assert.equal(s.model, null);
    assert.equal(s.lastSession?.model, model!.model);
    const { statusText } = await import('../../../src/extension/statusBar/statusBar');
    const st = statusText(s);
    assert.match(st.text, new RegExp(`^\\$\\(history\\) ${path.basename(model!.model)}.* · not loaded$`));
    assert.match(st.tooltip, /loads again on first use/);
    const items = await a.views.checkpoints.getChildren();
    const last = items.find((i) => i.dir === model!.model);
    assert.match(String(last?.description), /last session.*loads on first use/);
    assert.equal(await a.ctx.engine.ensureModel(), true);
    assert.equal(a.ctx.engine.state.model?.dir, model!.model);
    assert.equal(a.ctx.engine.state.lastSession, null);
    assert.doesNotMatch(statusText(a.ctx.engine.state).text, /not loaded/);
  });
});
