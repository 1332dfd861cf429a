/** Browser entry of the Checkpoint inspector (bundled to dist/webviews/inspector.js, with inspector.css). */
import './inspector.css';
import { button } from '../components/controls';
import { registerComponents } from '../components/register';
import { h, replaceChildren, type Child } from '../shared/dom';
import { readInjectedState } from '../shared/state';
import { getVsCodeApi } from '../shared/vscodeApi';
import { isInspectorViewState, type InspectorBootstrap, type InspectorHostMessage, type InspectorReport, type InspectorViewState, type InspectorWebviewMessage } from '../../protocol/inspector';
import { isRecord } from '../../protocol/webviews';
import { lineChart, pathChart } from '../activations/charts';

registerComponents();
const vscode = getVsCodeApi<InspectorWebviewMessage, InspectorViewState>();
const injected = readInjectedState(document);
const boot: InspectorBootstrap | null = isRecord(injected) && typeof injected.dir === 'string' ? (injected as unknown as InspectorBootstrap) : null;
const saved = vscode.getState();
vscode.setState(isInspectorViewState(saved) ? saved : { dir: boot?.dir ?? '' });

const root = document.getElementById('app') ?? document.body;
const status = h('div', { class: 'muted', 'data-testid': 'status' }, 'Reading…');
const body = h('div', { 'data-testid': 'inspector-body' });
replaceChildren(root, h('h1', null, `Inspect: ${boot?.name ?? ''}`), h('div', { class: 'muted' }, boot?.dir ?? ''), h('div', null, button({ label: 'Refresh', onClick: () => vscode.postMessage({ type: 'inspector/refresh' }) })), status, body);

const fmt = (x: number | null | undefined, p = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toPrecision(p));
const kv = (rows: [string, Child][]) => h('table', { class: 'kv' }, rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))));
const chart = (): HTMLCanvasElement => h('canvas');
const charts: (() => void)[] = [];

function modelSection(r: InspectorReport): Child {
  const m = r.model;
  if (!m) return null;
  return [
    h('h2', null, 'Architecture'),
    kv([
      ['family', m.family],
      ['layers', m.numLayers],
      ['hidden / intermediate', `${m.hiddenSize} / ${m.intermediateSize ?? '-'}`],
      ['heads (KV), head dim', `${m.numHeads} (${m.numKvHeads}), ${m.headDim}`],
      ['vocabulary', m.vocabSize],
      ['tied embeddings', String(m.tieWordEmbeddings ?? '-')],
      ['parameters', `${(m.parameters / 1e6).toFixed(2)} M (${(m.bytes / 1e6).toFixed(1)} MB)`],
      ['dtypes', Object.entries(m.dtypes).map(([k, v]) => `${k}: ${v}`).join(', ')],
      ['NaN / Inf', m.nanCount === null ? 'not scanned' : `${m.nanCount} / ${m.infCount} in ${m.scannedTensors} tensors`],
    ]),
  ];
}

function adapterSection(r: InspectorReport): Child {
  const a = r.adapter;
  if (!a) return null;
  const c = a.config;
  const normsCanvas = chart();
  const labels = a.layers.map(String);
  charts.push(() =>
    lineChart(normsCanvas, labels, a.moduleNames.map((mod) => ({ label: `‖BA‖ ${mod}`, data: a.layers.map((l) => a.modules.find((s) => s.layer === l && s.module === mod)?.normBA ?? null) })), 'layer', '‖B·A‖_F'),
  );
  return [
    h('h2', null, r.kind === 'training-run' ? 'Final checkpoint: adapter' : 'Adapter'),
    kv([
      ['rank / alpha', `${c.r ?? '-'} / ${c.loraAlpha ?? '-'}`],
      ['rsLoRA', String(c.useRslora)],
      ['PEFT scale', Object.keys(c.rankPattern ?? {}).length || Object.keys(c.alphaPattern ?? {}).length ? `${fmt(c.scale)} by default; rank_pattern ${JSON.stringify(c.rankPattern ?? {})}, alpha_pattern ${JSON.stringify(c.alphaPattern ?? {})} (per-module scale in the table)` : fmt(c.scale)],
      ['targets', JSON.stringify(c.targetModules)],
      ['layers', a.layers.join(', ')],
      ['NaN / Inf', `${a.nanCount} / ${a.infCount}`],
      ['base model', a.compatibility ? h('span', { class: a.compatibility.ok ? 'ok' : 'problem' }, `${a.compatibility.ok ? 'compatible' : 'NOT compatible'} with ${a.compatibility.base}: ${a.compatibility.message}`) : 'not checked'],
    ]),
    h('div', { class: 'chart' }, normsCanvas),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'norms', 'data-testid': 'norms-table' },
        h('tr', null, ['layer', 'module', 'r', 'scale', '‖A‖', '‖B‖', '‖B·A‖', 'scale·‖B·A‖', 'NaN/Inf'].map((x) => h('th', null, x))),
        a.modules.map((s) =>
          h('tr', null, h('td', null, String(s.layer ?? '-')), h('td', null, s.module), h('td', { class: 'num' }, s.r), h('td', { class: 'num', 'data-testid': 'module-scale' }, fmt(s.scale)), h('td', { class: 'num' }, fmt(s.normA)), h('td', { class: 'num' }, fmt(s.normB)), h('td', { class: 'num' }, fmt(s.normBA)), h('td', { class: 'num' }, fmt(s.normDelta)), h('td', { class: s.nanCount + s.infCount ? 'num bad' : 'num' }, `${s.nanCount}/${s.infCount}`)),
        ),
      ),
    ),
  ];
}

function trajectorySection(r: InspectorReport): Child {
  const t = r.trajectory;
  if (!t) return null;
  const steps = t.steps.map(String);
  const [cNorm, cCos, cRot, cPca] = [chart(), chart(), chart(), chart()];
  charts.push(
    () => lineChart(cNorm, steps, [{ label: '‖A‖', data: t.normA }, { label: '‖B‖', data: t.normB }], 'step', 'Frobenius norm (all modules)'),
    () => lineChart(cCos, steps, [{ label: 'cos(A, A_final)', data: t.cosToFinalA }, { label: 'cos(B, B_final)', data: t.cosToFinalB }], 'step', 'cosine to the final checkpoint'),
    () => lineChart(cRot, steps, Object.keys(t.rotation).map((k) => ({ label: `k = ${k}`, data: t.rotation[k] })), 'step', 'cos(v[t−k]−v[t], v[t+k]−v[t])'),
    () => pathChart(cPca, t.pca.x, t.pca.y, t.steps, `PC1 (${(t.pca.explained[0] * 100).toFixed(1)}%)`, `PC2 (${(t.pca.explained[1] * 100).toFixed(1)}%)`),
  );
  return [
    h('h2', null, `Training run: ${t.steps.length} checkpoints (steps ${t.steps[0]}…${t.steps[t.steps.length - 1]})`),
    h('div', { class: 'muted' }, t.checkpointsDir),
    h('h2', null, 'LoRA norms against step'),
    h('div', { class: 'chart' }, cNorm),
    h('h2', null, 'Cosine to the final checkpoint'),
    h('div', { class: 'chart' }, cCos),
    h('h2', null, 'Local rotation (−1: straight on; towards +1: the path turns)'),
    h('div', { class: 'chart' }, cRot),
    h('h2', null, 'PCA path of the [A; B] vectors'),
    h('div', { class: 'chart' }, cPca),
  ];
}

function show(r: InspectorReport): void {
  charts.length = 0;
  status.textContent = `${r.kind === 'training-run' ? 'training run' : r.kind}`;
  replaceChildren(body, r.problems.map((p) => h('div', { class: 'problem' }, p)), modelSection(r), trajectorySection(r), adapterSection(r));
  for (const draw of charts) draw();
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = event.data as InspectorHostMessage;
  if (!isRecord(m) || typeof m.type !== 'string') return;
  if (m.type === 'inspector/report') show(m.report);
  else if (m.type === 'inspector/busy') status.textContent = `Reading${m.total ? ` ${m.done}/${m.total}` : ''}…`;
  else if (m.type === 'inspector/error') {
    status.textContent = '';
    status.append(h('span', { class: 'error' }, m.message));
  }
});
vscode.postMessage({ type: 'inspector/ready' });
