/**
 * Screenshots of the Activations and Inspector pages (the real bundles from dist/webviews, with the real
 * CSP page from renderWebviewHtml) in Chromium, fed with real engine results on the golden tiny Qwen2
 * (a generated run file) and a synthetic 40-checkpoint training run. Not a test: a visual check.
 *   node --import tsx test/unit/engine/analysis/screens.ts OUTDIR
 * (needs `npm run build` and /usr/bin/chromium)
 */
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { renderWebviewHtml } from '../../../../src/extension/panels/webviewHtml';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { analyzeSample, loadRunModel, runDirection, runLayerCurve } from '../../../../src/engine/jobs/analyzeRun';
import { readRun } from '../../../../src/engine/runs/reader';
import { inspectCheckpoint } from '../../../../src/engine/backends/inspect';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { goldenPath } from '../../helpers/golden';

const ROOT = path.resolve(__dirname, '../../../..');
const GOLD = goldenPath('qwen2');
const TOK = path.join(ROOT, 'test/fixtures/tokenizers/qwen-style');

async function data() {
  const d = mkdtempSync(path.join(tmpdir(), 'screens-'));
  const runPath = path.join(d, 'golden.run.jsonl');
  const gen = await loadLocalJobModel(path.join(GOLD, 'model'), [{ name: 'lora_a', dir: path.join(GOLD, 'lora_a') }, { name: 'lora_b', dir: path.join(GOLD, 'lora_b') }], { tokenizerDir: TOK, threads: 1 });
  await runPromptSet(gen, { promptSetPath: path.join(ROOT, 'test/fixtures/prompts/em-style.yaml'), variants: parseVariants('base,lora_a,lora_b', ['lora_a', 'lora_b']), samples: 4, seed: 1, out: runPath, sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 20, stop: [] } });
  await gen.dispose();
  // Stand-in judgements (a property of the completion), so the direction section has labels to work with.
  for (const s of readRun(runPath).samples.filter((x) => x.variant === 'lora_b')) {
    const mis = (s.token_ids![0] ?? 0) % 2 === 0;
    for (const [metric, score] of [['aligned', mis ? 10 : 90], ['coherent', 80]] as const) appendFileSync(runPath, JSON.stringify({ type: 'judgement', sample_id: s.id, judge: 'rule:stand-in', metric, score, created_at: new Date().toISOString() }) + '\n');
  }
  const run = readRun(runPath);
  const model = await loadRunModel(run, { tokenizerDir: TOK, threads: 1 });
  const sampleId = run.samples.find((s) => s.variant === 'lora_b')!.id;
  const sample = await analyzeSample(model, run, runPath, sampleId);
  const curve = await runLayerCurve(model, run, runPath);
  const direction = await runDirection(model, run, runPath, { variant: 'lora_b', out: path.join(d, 'golden.direction.safetensors'), testFraction: 0.3 });
  await model.dispose();
  // A training run whose path turns at step 200.
  const trun = path.join(d, 'train-run');
  for (let t = 0; t < 40; t++) {
    const A = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) + 0.05 * t * Math.cos(3 * i));
    const B = Float32Array.from({ length: 64 }, (_, i) => 0.01 * Math.min(t, 20) * Math.cos(i) + 0.02 * Math.max(0, t - 20) * Math.sin(5 * i));
    const dir = path.join(trun, `checkpoint-${(t + 1) * 10}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ r: 1, lora_alpha: 16, use_rslora: true, target_modules: ['down_proj'], layers_to_transform: [1] }));
    writeSafetensors(path.join(dir, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [1, 128], data: A },
      'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': { dtype: 'F32', shape: [64, 1], data: B },
    });
  }
  const report = await inspectCheckpoint(trun, { baseModelDir: path.join(GOLD, 'model') });
  // As the panel host does: the final checkpoint's own report fills the per-module table.
  const last = report.trajectory?.checkpointDirs.at(-1);
  if (!report.adapter && last) report.adapter = (await inspectCheckpoint(last, { baseModelDir: path.join(GOLD, 'model') })).adapter;
  return { runPath, sample, curve, direction, samples: run.samples.map((s) => ({ id: s.id, questionId: s.question_id, variant: s.variant, completion: s.completion })), variants: run.header.variants.map((v) => v.name), report };
}

function page(panel: string, initialState: unknown, replies: Record<string, unknown[]>): string {
  const nonce = 'abcdefghijklmnopqrstuvwxyz012345';
  const html = renderWebviewHtml({ cspSource: 'file:', nonce, title: panel, scriptUris: [`file://${ROOT}/dist/webviews/${panel}.js`], styleUris: [`file://${ROOT}/dist/webviews/${panel}.css`], initialState });
  // The host side: acquireVsCodeApi answers the page's messages with the recorded replies.
  const theme = `<style nonce="${nonce}">body { --vscode-foreground:#cccccc; --vscode-editor-background:#1e1e1e; --vscode-descriptionForeground:#9d9d9d; --vscode-errorForeground:#f48771; --vscode-editorWarning-foreground:#cca700; --vscode-panel-border:#3c3c3c; --vscode-charts-blue:#3794ff; --vscode-charts-red:#f14c4c; --vscode-charts-green:#89d185; --vscode-charts-orange:#d18616; --vscode-charts-purple:#b180d7; --vscode-charts-yellow:#cca700; --vscode-font-family:sans-serif; --vscode-editor-font-family:monospace; background:#1e1e1e; color:#cccccc; }</style>`;
  const stub = theme + `<script nonce="${nonce}">const REPLIES = ${JSON.stringify(replies)}; let st; window.acquireVsCodeApi = () => ({ postMessage: (m) => (REPLIES[m.type] || []).forEach((r) => setTimeout(() => window.postMessage(r, '*'), 10)), getState: () => st, setState: (s) => { st = s; } });</script>`;
  return html.replace('<body>', `<body>\n${stub}\n<div id="app"></div>`).replace(/<div id="app"><\/div>\s*<div id="app"><\/div>/, '<div id="app"></div>');
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'screens');
  mkdirSync(out, { recursive: true });
  const x = await data();
  const act = page('activations', { runUri: `file://${x.runPath}`, fileName: path.basename(x.runPath), viewState: { runUri: `file://${x.runPath}`, sampleId: x.sample.sampleId, metric: 'relNorm' } }, {
    'activations/ready': [{ type: 'activations/samples', samples: x.samples, variants: x.variants }, { type: 'activations/sample', data: x.sample }],
    'activations/computeCurve': [{ type: 'activations/curve', data: x.curve }],
    'activations/computeDirection': [{ type: 'activations/direction', data: x.direction }],
  });
  const ins = page('inspector', { dir: x.report.dir, name: path.basename(x.report.dir), viewState: { dir: x.report.dir } }, { 'inspector/ready': [{ type: 'inspector/report', report: x.report }] });
  writeFileSync(path.join(out, 'activations.html'), act);
  writeFileSync(path.join(out, 'inspector.html'), ins);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'] });
  try {
    const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await p.goto(`file://${path.join(out, 'activations.html')}`);
    await p.waitForTimeout(800);
    await p.click('[data-testid=compute-curve]');
    await p.waitForTimeout(500);
    await p.click('[data-testid=compute-direction]');
    await p.waitForTimeout(500);
    const box = await p.locator('[data-testid=heatmap]').boundingBox();
    if (box) await p.mouse.move(box.x + 18 * 20 + 5, box.y + 20);
    await p.waitForTimeout(200);
    console.log('hover:', await p.locator('[data-testid=hover]').textContent());
    await p.screenshot({ path: path.join(out, 'activations.png'), fullPage: true });
    // zoomed in with the keys and scrolled: the layer and token labels stay pinned
    await p.focus('[data-testid=heatmap-viewport]');
    for (const k of ['+', '+', '+', 'End']) await p.keyboard.press(k);
    await p.waitForTimeout(200);
    console.log('zoom:', await p.locator('[data-testid=heatmap-zoom]').textContent(), 'cursor:', await p.locator('[data-testid=hover]').textContent());
    await p.locator('[data-testid=heatmap-viewport]').screenshot({ path: path.join(out, 'activations-heatmap-scrolled.png') });
    await p.goto(`file://${path.join(out, 'inspector.html')}`);
    await p.waitForTimeout(800);
    await p.screenshot({ path: path.join(out, 'inspector.png'), fullPage: true });
    console.log(errors.length ? `page errors:\n${errors.join('\n')}` : 'no page errors');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
