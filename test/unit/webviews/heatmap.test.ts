// The Activations heatmap widget in happy-dom: geometry and hit-testing at each zoom, zoom by buttons and keys,
// the keyboard cursor (arrows, Home/End, Escape) reported like a hover, pinned label canvases, text-only tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { ADVERSARIAL } from './fixtureRun';
import type { SampleActivations } from '../../../src/protocol/activations';
import type { Heatmap as HeatmapT, HoverInfo } from '../../../src/webviews/activations/heatmap';

let env: ReturnType<typeof installDom>;
let mod: typeof import('../../../src/webviews/activations/heatmap');
before(async () => {
  env = installDom();
  (globalThis as Record<string, unknown>).getComputedStyle = env.window.getComputedStyle.bind(env.window);
  mod = await import('../../../src/webviews/activations/heatmap');
});
after(() => env.cleanup());

function sample(rows: number, cols: number): SampleActivations {
  const grid = (f: (r: number, t: number) => number) => Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, t) => f(r, t)));
  return {
    runPath: 'r.run.jsonl',
    sampleId: 's1',
    variant: 'lora_a',
    reference: 'base',
    tokens: Array.from({ length: cols }, (_, t) => ({ id: t, text: ADVERSARIAL[t % ADVERSARIAL.length] })),
    responseStart: 2,
    layerLabels: Array.from({ length: rows }, (_, r) => (r === 0 ? 'embeddings' : `layer ${r - 1}`)),
    diffNorm: grid((r, t) => r + t),
    relNorm: grid((r, t) => (r * t) / 10),
    cosine: grid(() => 0.5),
    kl: Array.from({ length: cols }, (_, t) => t / 100),
    topChanges: Array.from({ length: cols }, () => []),
    meanRelResponse: Array.from({ length: rows }, () => null),
  };
}

function widget(): { hm: HeatmapT; hovers: (HoverInfo | null)[] } {
  const hovers: (HoverInfo | null)[] = [];
  const hm = new mod.Heatmap((h) => hovers.push(h));
  env.document.body.appendChild(hm.element);
  return { hm, hovers };
}

const key = (el: Element, k: string): boolean => {
  const e = new env.window.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true });
  el.dispatchEvent(e as unknown as Event);
  return e.defaultPrevented;
};
const q = (root: Element, testId: string): HTMLElement => {
  const el = root.querySelector(`[data-testid="${testId}"]`);
  assert.ok(el, `no [data-testid=${testId}]`);
  return el as HTMLElement;
};

test('stepZoom walks the levels and holds at the ends', () => {
  const { stepZoom, ZOOM_LEVELS } = mod;
  assert.equal(stepZoom(1, 1), 1.25);
  assert.equal(stepZoom(1, -1), 0.75);
  assert.equal(stepZoom(ZOOM_LEVELS[0], -1), ZOOM_LEVELS[0]);
  assert.equal(stepZoom(ZOOM_LEVELS[ZOOM_LEVELS.length - 1], 1), ZOOM_LEVELS[ZOOM_LEVELS.length - 1]);
  assert.equal(stepZoom(1.1, 1), 1.25, 'a level between steps goes to the next one up');
  assert.equal(stepZoom(1.1, -1), 1);
});

test('geometry and hit-testing: layers bottom-up, a gap, the KL strip; labels thinned when cells are small', () => {
  const { heatmapGeometry, hitCell } = mod;
  const g = heatmapGeometry(3, 5, 1);
  assert.deepEqual([g.cellW, g.cellH, g.cellsW, g.klTop, g.cellsH], [18, 16, 90, 52, 68]);
  assert.deepEqual(hitCell(g, 3, 5, 0, 0), { token: 0, layer: 2 }, 'the top row is the last hidden state');
  assert.deepEqual(hitCell(g, 3, 5, 18 * 4 + 1, 16 * 2 + 1), { token: 4, layer: 0 });
  assert.equal(hitCell(g, 3, 5, 5, 49), null, 'the gap above the KL strip');
  assert.deepEqual(hitCell(g, 3, 5, 19, 53), { token: 1, layer: null });
  assert.equal(hitCell(g, 3, 5, 90, 1), null, 'right of the last token');
  const z2 = heatmapGeometry(3, 5, 2);
  assert.deepEqual(hitCell(z2, 3, 5, 36 * 2 + 1, 1), { token: 2, layer: 2 });
  assert.deepEqual([g.rowLabelStride, g.colLabelStride], [1, 1]);
  const small = heatmapGeometry(3, 5, 0.5);
  assert.deepEqual([small.rowLabelStride, small.colLabelStride], [2, 2]);
});

test('zoom buttons and + / − / 0 keys resize the canvases; the zoom is announced', () => {
  const { hm } = widget();
  hm.draw(sample(4, 10), 'relNorm');
  const cells = q(hm.element, 'heatmap') as HTMLCanvasElement;
  assert.equal(cells.style.width, '180px');
  assert.equal(q(hm.element, 'heatmap-zoom').getAttribute('aria-live'), 'polite');
  q(hm.element, 'heatmap-zoom-in').click();
  assert.equal(hm.zoom, 1.25);
  assert.equal(cells.style.width, `${10 * Math.round(18 * 1.25)}px`);
  assert.equal(q(hm.element, 'heatmap-zoom').textContent, '125%');
  assert.equal(key(hm.viewport, '+'), true, 'handled keys do not also scroll the page');
  assert.equal(hm.zoom, 1.5);
  key(hm.viewport, '=');
  assert.equal(hm.zoom, 2);
  key(hm.viewport, '-');
  key(hm.viewport, '-');
  key(hm.viewport, '-');
  assert.equal(hm.zoom, 1);
  q(hm.element, 'heatmap-zoom-out').click();
  assert.equal(hm.zoom, 0.75);
  assert.equal(cells.style.width, `${10 * Math.round(18 * 0.75)}px`);
  key(hm.viewport, '0');
  assert.equal(hm.zoom, 1);
  key(hm.viewport, '+');
  q(hm.element, 'heatmap-zoom-reset').click();
  assert.equal(hm.zoom, 1);
  assert.equal(key(hm.viewport, 'a'), false, 'other keys are left alone');
  hm.element.remove();
});

test('the heatmap is one tab stop; arrows move a cursor reported like a hover, Home/End/Escape', () => {
  const { hm, hovers } = widget();
  hm.draw(sample(3, 4), 'diffNorm');
  assert.equal(hm.viewport.getAttribute('tabindex'), '0');
  assert.match(hm.viewport.getAttribute('aria-label') ?? '', /Arrow keys/);
  key(hm.viewport, 'ArrowRight');
  assert.deepEqual(hovers.at(-1), { token: 0, layer: 2 }, 'the first arrow lands on the top-left cell');
  key(hm.viewport, 'ArrowRight');
  assert.deepEqual(hovers.at(-1), { token: 1, layer: 2 });
  key(hm.viewport, 'ArrowUp');
  assert.deepEqual(hovers.at(-1), { token: 1, layer: 2 }, 'held at the top');
  for (let i = 0; i < 3; i++) key(hm.viewport, 'ArrowDown');
  assert.deepEqual(hovers.at(-1), { token: 1, layer: null }, 'under the embeddings row: the KL strip');
  key(hm.viewport, 'ArrowDown');
  assert.deepEqual(hovers.at(-1), { token: 1, layer: null });
  key(hm.viewport, 'ArrowUp');
  assert.deepEqual(hovers.at(-1), { token: 1, layer: 0 });
  key(hm.viewport, 'End');
  assert.deepEqual(hovers.at(-1), { token: 3, layer: 0 });
  key(hm.viewport, 'ArrowRight');
  assert.deepEqual(hovers.at(-1), { token: 3, layer: 0 }, 'held at the last token');
  key(hm.viewport, 'Home');
  assert.deepEqual(hovers.at(-1), { token: 0, layer: 0 });
  assert.equal(key(hm.viewport, 'Escape'), true);
  assert.equal(hovers.at(-1), null);
  assert.equal(key(hm.viewport, 'Escape'), false, 'Escape without a cursor is left to the page');
  hm.element.remove();
});

test('pinned labels: row and token label canvases beside the cells in one scrolling viewport; tokens never become markup', () => {
  const { hm } = widget();
  hm.draw(sample(3, ADVERSARIAL.length), 'cosine');
  const layout = hm.viewport.querySelector('.heatmap-layout');
  assert.ok(layout);
  const canvases = [...layout.querySelectorAll('canvas')].map((c) => c.getAttribute('class'));
  assert.deepEqual(canvases, ['heatmap-rows', 'heatmap-cells', 'heatmap-cols']);
  assert.ok(layout.querySelector('.heatmap-corner'));
  assert.equal(layout.querySelectorAll('*').length, 4, 'no element made from token text');
  const rows = layout.querySelector('.heatmap-rows') as HTMLCanvasElement;
  const cols = layout.querySelector('.heatmap-cols') as HTMLCanvasElement;
  assert.equal(rows.style.height, (layout.querySelector('.heatmap-cells') as HTMLCanvasElement).style.height, 'row labels as tall as the cells');
  assert.equal(cols.style.width, `${ADVERSARIAL.length * 18}px`, 'token labels as wide as the cells');
  assert.match(q(hm.element, 'heatmap-legend').textContent ?? '', /1 − cosine/);
  hm.element.remove();
});

test('a new sample starts scrolled to its response, labels pinned; redrawing the same sample keeps the scroll', () => {
  const { hm } = widget();
  Object.defineProperty(hm.viewport, 'clientWidth', { configurable: true, value: 600 });
  const long = { ...sample(4, 120), responseStart: 90 };
  hm.draw(long, 'relNorm');
  // 3 prompt tokens of context left of the response start (18 px cells at 100%)
  assert.equal(hm.viewport.scrollLeft, 90 * 18 - 3 * 18);
  assert.ok(hm.viewport.querySelector('.heatmap-rows'), 'the layer labels stay in the viewport (pinned by CSS)');
  hm.viewport.scrollLeft = 100; // the user scrolls back
  hm.draw(long, 'cosine'); // metric change: same sample
  assert.equal(hm.viewport.scrollLeft, 100, 'a metric change does not move the view');
  hm.draw({ ...sample(4, 10), responseStart: 1 }, 'relNorm');
  assert.equal(hm.viewport.scrollLeft, 0, 'a response near the start: no scroll');
  hm.element.remove();
});

test('responseScrollLeft keeps less context in a narrow view and never goes negative', () => {
  const geo = mod.heatmapGeometry(4, 200, 1);
  assert.equal(mod.responseScrollLeft(geo, 100, 150 + 40), 100 * 18 - 10, 'a 40 px view: a quarter of it as context');
  assert.equal(mod.responseScrollLeft(geo, 0, 800), 0);
  assert.equal(mod.responseScrollLeft(mod.heatmapGeometry(4, 200, 0.5), 100, 800), 100 * 9 - 27);
});
