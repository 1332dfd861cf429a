/** Browser entry of the Activations panel (bundled to dist/webviews/activations.js, with activations.css). */
import './activations.css';
import { dropdown } from '../components/controls';
import { registerComponents } from '../components/register';
import { h, replaceChildren } from '../shared/dom';
import { readInjectedState } from '../shared/state';
import { getVsCodeApi } from '../shared/vscodeApi';
import {
  isActivationsViewState,
  type ActivationsBootstrap,
  type ActivationsHostMessage,
  type ActivationsSampleInfo,
  type ActivationsViewState,
  type ActivationsWebviewMessage,
  type DirectionReport,
  type RunLayerCurve,
  type SampleActivations,
} from '../../protocol/activations';
import { isRecord } from '../../protocol/webviews';
import { histogramChart, lineChart } from './charts';
import { Heatmap, tokenLabel, type HoverInfo, type Metric } from './heatmap';
import { LogprobStrip } from './logprobStrip';
import { RunLevelActions } from './runLevelActions';
import { fmt } from './format';
import { SaeFeatures, saeDiffSummary } from './saeFeatures';

registerComponents();
const vscode = getVsCodeApi<ActivationsWebviewMessage, ActivationsViewState>();
const injected = readInjectedState(document);
const boot: ActivationsBootstrap | null = isRecord(injected) && typeof injected.runUri === 'string' && typeof injected.fileName === 'string' ? (injected as unknown as ActivationsBootstrap) : null;
const saved = vscode.getState();
let state: ActivationsViewState = isActivationsViewState(saved) ? saved : boot?.viewState ?? { runUri: boot?.runUri ?? '', sampleId: null, metric: 'relNorm' };

const root = document.getElementById('app') ?? document.body;
const status = h('div', { class: 'muted', 'data-testid': 'status' }, 'Pick a sample.');
const controls = h('div', { class: 'controls' });
const completion = h('div', { class: 'completion', 'data-testid': 'completion' });
const hover = h('div', { class: 'hover', 'data-testid': 'hover', 'aria-live': 'polite' }, 'Hover a cell, or focus the heatmap and use the arrow keys, for exact values.');
const heatmap = new Heatmap(showHover);
const layerCanvas = h('canvas', { 'aria-label': 'per-layer mean relative difference' });
const curveCanvas = h('canvas', { 'aria-label': 'run-level per-layer curve' });
// Run-level analyses teacher-force the whole run through the local model: disabled, with the reason, on a remote run.
const runLevel = new RunLevelActions([
  { label: 'Compute run-level curve', onClick: () => vscode.postMessage({ type: 'activations/computeCurve' }), testId: 'compute-curve', info: 'Computes every sample of the run (teacher-forced, streamed).', infoTestId: 'curve-info' },
  { label: 'Compute direction from labels', onClick: () => vscode.postMessage({ type: 'activations/computeDirection' }), testId: 'compute-direction', title: 'Labels: the judge (misaligned: aligned ≤ 30, coherent > 50; aligned: aligned > 70, coherent > 50), human labels override; saved next to the run file', info: 'Needs judged or labelled samples of an adapter variant.', infoTestId: 'direction-info' },
  { label: 'SAE diff…', onClick: () => vscode.postMessage({ type: 'activations/computeSaeDiff' }), testId: 'compute-sae-diff', title: 'Encode the residual stream at the SAE\'s hook under the reference and the variant, for every sample of the variant', info: 'Pick an SAE in the SAELens layout (cfg.json + sae_weights.safetensors) trained on this base model.', infoTestId: 'sae-info' },
]);
const [curveInfo, directionInfo, saeInfo] = runLevel.infos;
const alignmentInfo = h('div', { 'data-testid': 'direction-alignment' });
const aucCanvas = h('canvas', { 'aria-label': 'AUC per layer' });
const directionControls = h('div', { class: 'controls' });
const histCanvas = h('canvas', { 'aria-label': 'projection histograms' });
const saeFeatures = new SaeFeatures((m) => vscode.postMessage(m));
// A remote run has no local activations: its log-prob strip replaces this block (heatmap with the KL strip, layer chart).
const logprobStrip = new LogprobStrip();
const localBlock = h('div', { 'data-testid': 'local-activations' },
  h('h2', null, 'Layer × token'),
  heatmap.element,
  hover,
  h('h2', null, 'Mean relative difference per layer (response tokens, this sample)'),
  h('div', { class: 'chart' }, layerCanvas),
);
replaceChildren(
  root,
  h('h1', null, `Activations: ${boot?.fileName ?? ''}`),
  controls,
  status,
  completion,
  logprobStrip.element,
  localBlock,
  h('h2', null, 'Run level: mean relative difference per layer and variant'),
  ...runLevel.block(0),
  h('div', { class: 'chart' }, curveCanvas),
  h('h2', null, 'Direction: misaligned minus aligned (inside the adapted model)'),
  ...runLevel.block(1),
  alignmentInfo,
  h('div', { class: 'chart' }, aucCanvas),
  directionControls,
  h('div', { class: 'chart' }, histCanvas),
  h('h2', null, 'SAE features: what the adapter turns up or down (identical tokens)'),
  ...runLevel.block(2),
  saeFeatures.tables,
  saeFeatures.tokens,
);

let samples: ActivationsSampleInfo[] = [];
let variantNames: string[] = [];
let variantFilter: string | null = null;
let current: SampleActivations | null = null;

function save(): void {
  vscode.setState(state);
}

function renderControls(variants: string[]): void {
  const shown = samples.filter((s) => !variantFilter || s.variant === variantFilter).slice(0, 1000);
  replaceChildren(
    controls,
    dropdown({ label: 'Variant', value: variantFilter ?? '', options: [{ value: '', label: 'all variants' }, ...variants.map((v) => ({ value: v, label: v }))], onChange: (v) => ((variantFilter = v || null), renderControls(variants)) }),
    dropdown({
      label: 'Sample',
      value: state.sampleId ?? '',
      testId: 'sample-picker',
      options: [{ value: '', label: 'pick a sample…' }, ...shown.map((s) => ({ value: s.id, label: s.id }))],
      onChange: (id) => {
        if (!id) return;
        state = { ...state, sampleId: id };
        save();
        vscode.postMessage({ type: 'activations/pickSample', sampleId: id });
      },
    }),
    dropdown({
      label: 'Heatmap metric',
      value: state.metric,
      options: [
        { value: 'relNorm', label: '‖Δh‖ / ‖h‖' },
        { value: 'diffNorm', label: '‖Δh‖' },
        { value: 'cosine', label: '1 − cosine' },
      ],
      onChange: (m) => {
        state = { ...state, metric: m as Metric };
        save();
        if (current) heatmap.draw(current, state.metric);
      },
    }),
  );
}

function showHover(hv: HoverInfo | null): void {
  const d = current;
  if (!d || !hv) {
    hover.textContent = 'Hover a cell, or focus the heatmap and use the arrow keys, for exact values.';
    return;
  }
  const tok = d.tokens[hv.token];
  const lines = [`token ${hv.token} ${JSON.stringify(tok.text)} (id ${tok.id})${hv.token >= d.responseStart ? ', response' : ', prompt'}`];
  if (hv.layer !== null) {
    lines.push(`${d.layerLabels[hv.layer]}: ‖Δh‖ ${fmt(d.diffNorm[hv.layer][hv.token])}, ‖Δh‖/‖h‖ ${fmt(d.relNorm[hv.layer][hv.token])}, cosine ${fmt(d.cosine[hv.layer][hv.token])}`);
  }
  lines.push(`KL(${d.variant} ‖ ${d.reference}) of the next token after it: ${fmt(d.kl[hv.token])}`);
  const top = d.topChanges[hv.token] ?? [];
  if (top.length) lines.push(`changed most: ${top.map((c) => `${tokenLabel(c.text)} ${c.pRef.toFixed(3)}→${c.pVariant.toFixed(3)}`).join(', ')}`);
  hover.textContent = lines.join('\n');
}

function showSample(d: SampleActivations): void {
  current = d;
  const info = samples.find((s) => s.id === d.sampleId);
  status.textContent = `${d.sampleId}: "${d.variant}" vs "${d.reference}" on identical tokens (${d.tokens.length} tokens, response from ${d.responseStart}).`;
  completion.textContent = info ? info.completion : '';
  heatmap.draw(d, state.metric);
  lineChart(layerCanvas, d.layerLabels, [{ label: `${d.variant} vs ${d.reference}`, data: d.meanRelResponse }], 'hidden state', 'mean ‖Δh‖/‖h‖');
}

function showCurve(c: RunLayerCurve): void {
  curveInfo.textContent = `vs "${c.reference}"; ${c.variants.map((v) => `${v.variant}: ${v.samples} samples, mean KL ${fmt(v.meanKl)}`).join('; ')}${c.skipped.length ? `; ${c.skipped.length} skipped` : ''} (${(c.elapsedMs / 1000).toFixed(1)} s)`;
  lineChart(curveCanvas, c.layerLabels, c.variants.map((v) => ({ label: v.variant, data: v.meanRel })), 'hidden state', 'mean ‖Δh‖/‖h‖ over response tokens');
}

function showHistogram(d: DirectionReport, layer: number): void {
  const hg = d.histograms[layer];
  histogramChart(histCanvas, hg.edges, [{ label: 'misaligned', data: hg.counts.misaligned }, { label: 'aligned', data: hg.counts.aligned }], `projection on the layer ${layer} direction (unit vector)`);
}

/** The direction vs the adapter's write directions (text nodes only: adapter names are untrusted). */
function showAlignment(d: DirectionReport): void {
  const al = d.adapterAlignment;
  if (al === undefined) {
    replaceChildren(alignmentInfo);
    return;
  }
  const title = h('div', { class: 'muted' }, "Alignment with the adapter's write directions (LoRA B of down_proj / o_proj vs the direction at that layer's output; rank 1: signed cosine, its sign is arbitrary; rank > 1: ‖P_B v‖/‖v‖, the fraction of v in span(B); chance: √(rank/hidden), the RMS value for a random direction):");
  if (al.length === 0) {
    replaceChildren(alignmentInfo, title, h('div', { class: 'muted' }, 'none: the adapter has no LoRA on down_proj or o_proj.'));
    return;
  }
  const value = (a: (typeof al)[number]) => (a.cosine === null ? '- (zero vector)' : a.signed ? `cos ${a.cosine >= 0 ? '+' : ''}${a.cosine.toFixed(3)}` : `${a.cosine.toFixed(3)} in span(B)`);
  replaceChildren(
    alignmentInfo,
    title,
    h('table', { class: 'alignment' },
      h('thead', null, h('tr', null, ...['adapter', 'layer', 'module', 'rank', '‖v‖', 'alignment', 'chance'].map((c) => h('th', null, c)))),
      h('tbody', null, ...al.map((a) => h('tr', null, h('td', null, a.adapter), h('td', null, a.layer), h('td', null, a.module), h('td', null, a.rank), h('td', null, a.directionNorm.toFixed(4)), h('td', null, value(a)), h('td', null, a.chance.toFixed(3)))))),
  );
}

function showDirection(d: DirectionReport): void {
  const auc = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  directionInfo.textContent = `${d.labelSource}; built from ${d.trainCounts.misaligned} misaligned vs ${d.trainCounts.aligned} aligned (of ${d.trainCounts.alignedAvailable}) samples of "${d.variant}"; held out ${d.testCounts.misaligned} + ${d.testCounts.aligned}. Best layer ${d.bestLayer}: AUC held-out ${auc(d.aucTest[d.bestLayer])}, train ${auc(d.aucTrain[d.bestLayer])}.${d.out ? ` Saved to ${d.out}; use it as a run variant: steer:FILE@${d.bestLayer}*ALPHA, adapter+ablate:FILE@${d.bestLayer} or adapter+meanablate:FILE@${d.bestLayer}.` : ''}`;
  showAlignment(d);
  lineChart(aucCanvas, d.layers.map((l) => `layer ${l}`), [{ label: 'AUC held-out', data: d.aucTest }, { label: 'AUC train', data: d.aucTrain }], 'layer', 'AUC (misaligned vs aligned projections)');
  let layer = d.bestLayer;
  replaceChildren(directionControls, dropdown({ label: 'Histogram layer', value: String(layer), options: d.layers.map((l) => ({ value: String(l), label: `layer ${l}` })), onChange: (v) => ((layer = Number(v)), showHistogram(d, layer)) }));
  showHistogram(d, layer);
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = event.data as ActivationsHostMessage;
  if (!isRecord(m) || typeof m.type !== 'string') return;
  switch (m.type) {
    case 'activations/samples':
      samples = m.samples;
      variantNames = m.variants;
      runLevel.setDisabledReason(m.localModelNeeded ?? null);
      renderControls(m.variants);
      if (!samples.length) status.textContent = 'This run file has no samples yet.';
      break;
    case 'activations/sample':
      logprobStrip.hide();
      localBlock.hidden = false;
      showSample(m.data);
      break;
    case 'activations/remoteLogprobs':
      localBlock.hidden = true;
      completion.textContent = m.data.tokens.map((t) => t.text).join('');
      logprobStrip.show(m.data, m.reason);
      status.textContent = `${m.data.sampleId}: log-probabilities from the generation server.`;
      break;
    case 'activations/curve':
      showCurve(m.data);
      break;
    case 'activations/select':
      state = { ...state, sampleId: m.sampleId };
      save();
      renderControls(variantNames);
      break;
    case 'activations/direction':
      status.textContent = 'Direction computed.';
      showDirection(m.data);
      break;
    case 'activations/saeDiff':
      status.textContent = 'SAE diff computed.';
      saeInfo.textContent = saeDiffSummary(m.data);
      saeFeatures.showDiff(m.data);
      break;
    case 'activations/saeFeature':
      status.textContent = `Feature #${m.feature}: ${m.tokens.length} tokens.`;
      saeFeatures.showFeature(m.feature, m.tokens);
      break;
    case 'activations/busy':
      status.textContent = `Working: ${m.what}${m.total ? ` (${m.done}/${m.total})` : ''}…`;
      break;
    case 'activations/error':
      status.textContent = '';
      status.append(h('span', { class: 'error' }, m.message));
      break;
  }
});
save();
vscode.postMessage({ type: 'activations/ready' });
