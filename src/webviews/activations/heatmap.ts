/**
 * Layer × token heatmap: one row per hidden state (embeddings at the bottom), one column per token, a KL strip
 * under the rows, the response start marked (a new sample starts scrolled to it). Cells, row labels (layers) and column labels (tokens) are three
 * canvases in one scrolling viewport; the labels stay pinned (CSS sticky) while the cells scroll under them.
 * Token text is drawn on a canvas or set as textContent, never parsed as HTML.
 *
 * Zoom: the toolbar's buttons, or + / − / 0 on the focused heatmap. Keyboard: the heatmap is one tab stop;
 * the arrow keys move a cell cursor (Home/End: first/last token, Escape: leave), reported through onHover
 * exactly as the mouse reports the hovered cell, and scrolled into view.
 */
import type { SampleActivations } from '../../protocol/activations';
import { button } from '../components/controls';
import { h } from '../shared/dom';
import { cssVar, mix } from './charts';

export type Metric = 'relNorm' | 'diffNorm' | 'cosine';

export interface HoverInfo {
  token: number;
  layer: number | null; // null = the KL strip
}

/** Zoom factors the buttons and keys step through; 1 = 18 × 16 px cells. */
export const ZOOM_LEVELS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3] as const;
const BASE_CELL_W = 18;
const BASE_CELL_H = 16;
const LABEL_W = 150;
const TOKEN_AREA = 90;
const KL_GAP = 4;
const FONT_PX = 11;

/** Printable short form of a token (whitespace made visible). */
export function tokenLabel(text: string): string {
  const t = text.replace(/\n/g, '↵').replace(/\t/g, '→').replace(/ /g, '·');
  return t.length > 12 ? `${t.slice(0, 11)}…` : t;
}

/** The zoom level one step in `dir` from `zoom` (held at the ends). */
export function stepZoom(zoom: number, dir: 1 | -1): number {
  if (dir > 0) return ZOOM_LEVELS.find((z) => z > zoom) ?? ZOOM_LEVELS[ZOOM_LEVELS.length - 1];
  return [...ZOOM_LEVELS].reverse().find((z) => z < zoom) ?? ZOOM_LEVELS[0];
}

/** Sizes in CSS pixels of the heatmap's parts at a zoom. */
export interface HeatmapGeometry {
  cellW: number;
  cellH: number;
  /** Top of the KL strip in the cells canvas. */
  klTop: number;
  /** Cells canvas: every token's column; the layer rows, a gap, the KL strip. */
  cellsW: number;
  cellsH: number;
  labelW: number;
  tokenH: number;
  /** Draw every n-th row / column label (labels would overlap at small zoom). */
  rowLabelStride: number;
  colLabelStride: number;
}

export function heatmapGeometry(rows: number, cols: number, zoom: number): HeatmapGeometry {
  const cellW = Math.max(4, Math.round(BASE_CELL_W * zoom));
  const cellH = Math.max(4, Math.round(BASE_CELL_H * zoom));
  const klTop = rows * cellH + KL_GAP;
  return {
    cellW,
    cellH,
    klTop,
    cellsW: cols * cellW,
    cellsH: klTop + cellH,
    labelW: LABEL_W,
    tokenH: TOKEN_AREA,
    rowLabelStride: Math.ceil((FONT_PX + 1) / cellH),
    colLabelStride: Math.ceil((FONT_PX + 1) / cellW),
  };
}

/** Context cells of the prompt kept in view left of the response start when a sample is first shown. */
const RESPONSE_CONTEXT_CELLS = 3;

/**
 * The viewport's scrollLeft that puts the response start just right of the pinned layer labels, with a few prompt
 * tokens before it for context (fewer when the view is narrow); 0 when the response starts near the left.
 */
export function responseScrollLeft(geo: HeatmapGeometry, responseStart: number, viewportWidth: number): number {
  const viewW = Math.max(geo.cellW, viewportWidth - geo.labelW);
  const context = Math.min(RESPONSE_CONTEXT_CELLS * geo.cellW, Math.floor(viewW / 4));
  return Math.max(0, responseStart * geo.cellW - context);
}

/** A cells-canvas point → the cell there (null in the gap or outside). */
export function hitCell(geo: HeatmapGeometry, rows: number, cols: number, x: number, y: number): HoverInfo | null {
  const t = Math.floor(x / geo.cellW);
  if (t < 0 || t >= cols || y < 0) return null;
  if (y < rows * geo.cellH) return { token: t, layer: rows - 1 - Math.floor(y / geo.cellH) };
  if (y >= geo.klTop && y < geo.klTop + geo.cellH) return { token: t, layer: null };
  return null;
}

/** The cursor after a key (layers go up the screen, the KL strip lies under layer 0); null: not a cursor key. */
export function moveCursor(c: HoverInfo, key: string, rows: number, cols: number): HoverInfo | null {
  const row = c.layer === null ? -1 : c.layer; // -1 = the KL strip
  const at = (token: number, r: number): HoverInfo => ({ token: Math.max(0, Math.min(cols - 1, token)), layer: r < 0 ? null : Math.min(rows - 1, r) });
  switch (key) {
    case 'ArrowLeft': return at(c.token - 1, row);
    case 'ArrowRight': return at(c.token + 1, row);
    case 'ArrowUp': return at(c.token, row + 1);
    case 'ArrowDown': return at(c.token, Math.max(-1, row - 1));
    case 'Home': return at(0, row);
    case 'End': return at(cols - 1, row);
    default: return null;
  }
}

function sizeCanvas(canvas: HTMLCanvasElement, w: number, hgt: number): CanvasRenderingContext2D | null {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(hgt * ratio);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${hgt}px`;
  const ctx = canvas.getContext('2d');
  if (ctx) ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

export class Heatmap {
  /** The whole widget (toolbar, scrolling viewport, legend), to be placed in the page once. */
  readonly element: HTMLElement;
  readonly viewport: HTMLElement;
  private readonly cells = h('canvas', { class: 'heatmap-cells', 'data-testid': 'heatmap', 'aria-hidden': 'true' });
  private readonly rowLabels = h('canvas', { class: 'heatmap-rows', 'aria-hidden': 'true' });
  private readonly colLabels = h('canvas', { class: 'heatmap-cols', 'aria-hidden': 'true' });
  private readonly zoomText = h('span', { class: 'heatmap-zoom', 'data-testid': 'heatmap-zoom', 'aria-live': 'polite' }, '100%');
  private readonly legend = h('div', { class: 'muted heatmap-legend', 'data-testid': 'heatmap-legend', id: 'heatmap-legend' });
  private data: SampleActivations | null = null;
  private metric: Metric = 'relNorm';
  private zoomLevel = 1;
  private cursor: HoverInfo | null = null;

  constructor(private readonly onHover: (h: HoverInfo | null) => void) {
    this.viewport = h(
      'div',
      {
        class: 'heatmap-viewport',
        tabindex: 0,
        role: 'application',
        'aria-roledescription': 'heatmap',
        'aria-label': 'Layer by token heatmap. Arrow keys move between cells, Home and End go to the first and last token, plus and minus zoom, 0 resets the zoom.',
        'aria-describedby': 'heatmap-legend',
        'data-testid': 'heatmap-viewport',
      },
      h('div', { class: 'heatmap-layout' }, this.rowLabels, this.cells, h('div', { class: 'heatmap-corner' }), this.colLabels),
    );
    const toolbar = h(
      'div',
      { class: 'heatmap-toolbar', role: 'toolbar', 'aria-label': 'Heatmap zoom' },
      button({ label: 'Zoom −', title: 'Zoom out (− on the heatmap)', onClick: () => this.setZoom(stepZoom(this.zoomLevel, -1)), testId: 'heatmap-zoom-out' }),
      this.zoomText,
      button({ label: 'Zoom +', title: 'Zoom in (+ on the heatmap)', onClick: () => this.setZoom(stepZoom(this.zoomLevel, 1)), testId: 'heatmap-zoom-in' }),
      button({ label: '100%', title: 'Reset the zoom (0 on the heatmap)', onClick: () => this.setZoom(1), testId: 'heatmap-zoom-reset' }),
    );
    this.element = h('div', { class: 'heatmap' }, toolbar, this.viewport, this.legend);
    const report = (hv: HoverInfo | null) => this.onHover(hv ?? this.cursor);
    this.cells.addEventListener('mousemove', (e) => report(this.hit(e.offsetX, e.offsetY)));
    this.colLabels.addEventListener('mousemove', (e) => report(this.hitTokenAxis(e.offsetX)));
    for (const c of [this.cells, this.colLabels]) c.addEventListener('mouseleave', () => this.onHover(this.cursor));
    this.cells.addEventListener('click', (e) => {
      const hv = this.hit(e.offsetX, e.offsetY);
      if (hv) this.setCursor(hv);
    });
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
  }

  get zoom(): number {
    return this.zoomLevel;
  }

  values(d: SampleActivations, metric: Metric): number[][] {
    return metric === 'cosine' ? d.cosine.map((row) => row.map((c) => 1 - c)) : d[metric];
  }

  private geometry(): HeatmapGeometry | null {
    const d = this.data;
    return d ? heatmapGeometry(d.layerLabels.length, d.tokens.length, this.zoomLevel) : null;
  }

  /** The cell under a point of the cells canvas (CSS pixels), or null. */
  hit(x: number, y: number): HoverInfo | null {
    const d = this.data;
    const geo = this.geometry();
    return d && geo ? hitCell(geo, d.layerLabels.length, d.tokens.length, x, y) : null;
  }

  private hitTokenAxis(x: number): HoverInfo | null {
    const d = this.data;
    const geo = this.geometry();
    if (!d || !geo) return null;
    const t = Math.floor(x / geo.cellW);
    return t >= 0 && t < d.tokens.length ? { token: t, layer: null } : null;
  }

  setZoom(zoom: number): void {
    if (zoom === this.zoomLevel) return;
    const before = this.geometry();
    const vp = this.viewport;
    // keep the cell at the middle of the view (or the cursor) where it was
    const fx = before && before.cellsW > 0 ? (vp.scrollLeft + vp.clientWidth / 2 - before.labelW) / before.cellsW : 0;
    const fy = before && before.cellsH > 0 ? (vp.scrollTop + vp.clientHeight / 2) / before.cellsH : 0;
    this.zoomLevel = zoom;
    this.zoomText.textContent = `${Math.round(zoom * 100)}%`;
    if (!this.data) return;
    this.paint();
    const geo = this.geometry()!;
    if (this.cursor) this.scrollToCursor();
    else {
      vp.scrollLeft = Math.max(0, fx * geo.cellsW + geo.labelW - vp.clientWidth / 2);
      vp.scrollTop = Math.max(0, fy * geo.cellsH - vp.clientHeight / 2);
    }
  }

  draw(d: SampleActivations, metric: Metric): void {
    const fresh = this.data !== d;
    if (fresh) this.cursor = null;
    this.data = d;
    this.metric = metric;
    this.paint();
    // A new sample starts at its response (the prompt's tokens would push it off-screen to the right).
    if (fresh) this.viewport.scrollLeft = responseScrollLeft(this.geometry()!, d.responseStart, this.viewport.clientWidth);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    let handled = true;
    if (k === '+' || k === '=') this.setZoom(stepZoom(this.zoomLevel, 1));
    else if (k === '-' || k === '_' || k === '−') this.setZoom(stepZoom(this.zoomLevel, -1));
    else if (k === '0') this.setZoom(1);
    else if (k === 'Escape' && this.cursor) this.setCursor(null);
    else {
      const d = this.data;
      const rows = d?.layerLabels.length ?? 0;
      const cols = d?.tokens.length ?? 0;
      const next = d && cols > 0 && rows > 0 ? moveCursor(this.cursor ?? { token: 0, layer: rows - 1 }, k, rows, cols) : null;
      if (next && !this.cursor && k.startsWith('Arrow')) this.setCursor({ token: 0, layer: rows - 1 }); // first arrow: the top-left cell
      else if (next) this.setCursor(next);
      else handled = false;
    }
    if (handled) e.preventDefault();
  }

  private setCursor(c: HoverInfo | null): void {
    this.cursor = c;
    this.paint();
    if (c) this.scrollToCursor();
    this.onHover(c);
  }

  private scrollToCursor(): void {
    const d = this.data;
    const geo = this.geometry();
    const c = this.cursor;
    if (!d || !geo || !c) return;
    const vp = this.viewport;
    const rows = d.layerLabels.length;
    const x = c.token * geo.cellW;
    const y = c.layer === null ? geo.klTop : (rows - 1 - c.layer) * geo.cellH;
    // the visible cells lie right of the pinned row labels and above the pinned token labels
    const viewW = Math.max(geo.cellW, vp.clientWidth - geo.labelW);
    const viewH = Math.max(geo.cellH, vp.clientHeight - geo.tokenH);
    if (x < vp.scrollLeft) vp.scrollLeft = x;
    else if (x + geo.cellW > vp.scrollLeft + viewW) vp.scrollLeft = x + geo.cellW - viewW;
    if (y < vp.scrollTop) vp.scrollTop = y;
    else if (y + geo.cellH > vp.scrollTop + viewH) vp.scrollTop = y + geo.cellH - viewH;
  }

  private paint(): void {
    const d = this.data;
    const geo = this.geometry();
    if (!d || !geo) return;
    const rows = d.layerLabels.length;
    const cols = d.tokens.length;
    const vals = this.values(d, this.metric);
    // One colour scale for the whole sample (so layers compare), over response and prompt tokens alike.
    let max = 0;
    for (const row of vals) for (const v of row) if (Number.isFinite(v) && v > max) max = v;
    let klMax = 0;
    for (const k of d.kl) if (k > klMax) klMax = k;
    this.legend.textContent = `colour scale: 0 … ${max.toPrecision(3)} (${this.metric === 'cosine' ? '1 − cosine' : this.metric === 'relNorm' ? '‖Δh‖/‖h‖' : '‖Δh‖'}); KL 0 … ${klMax.toPrecision(3)}; response starts at the yellow line`;
    const cellsCtx = sizeCanvas(this.cells, geo.cellsW, geo.cellsH);
    const rowCtx = sizeCanvas(this.rowLabels, geo.labelW, geo.cellsH);
    const colCtx = sizeCanvas(this.colLabels, geo.cellsW, geo.tokenH);
    if (!cellsCtx || !rowCtx || !colCtx) return; // no 2-D canvas (a test DOM): sizes and legend only
    const bg = cssVar('--vscode-editor-background', '#1e1e1e');
    const hot = cssVar('--vscode-charts-red', '#f14c4c');
    const klHot = cssVar('--vscode-charts-purple', '#b180d7');
    const fg = cssVar('--vscode-foreground', '#ccc');
    const muted = cssVar('--vscode-descriptionForeground', '#888');
    const warn = cssVar('--vscode-editorWarning-foreground', '#cca700');
    const focus = cssVar('--vscode-focusBorder', '#007fd4');
    const font = `${FONT_PX}px ${cssVar('--vscode-font-family', 'sans-serif')}`;
    for (const [ctx, w, hgt] of [[cellsCtx, geo.cellsW, geo.cellsH], [rowCtx, geo.labelW, geo.cellsH], [colCtx, geo.cellsW, geo.tokenH]] as const) {
      ctx.fillStyle = bg;
      ctx.fillRect(0, 0, w, hgt);
      ctx.font = font;
      ctx.textBaseline = 'middle';
    }
    const gap = geo.cellW > 6 ? 1 : 0;
    // Rows: layer labels (pinned left) and cells.
    for (let r = 0; r < rows; r++) {
      const y = (rows - 1 - r) * geo.cellH;
      if (r % geo.rowLabelStride === 0) {
        rowCtx.fillStyle = fg;
        rowCtx.fillText(d.layerLabels[r], 4, y + geo.cellH / 2);
      }
      for (let t = 0; t < cols; t++) {
        const v = vals[r][t];
        cellsCtx.fillStyle = max > 0 && Number.isFinite(v) ? mix(bg, hot, Math.min(1, v / max)) : bg;
        cellsCtx.fillRect(t * geo.cellW, y, geo.cellW - gap, geo.cellH - gap);
      }
    }
    // KL strip.
    rowCtx.fillStyle = fg;
    rowCtx.fillText('KL(next token)', 4, geo.klTop + geo.cellH / 2);
    for (let t = 0; t < cols; t++) {
      cellsCtx.fillStyle = klMax > 0 ? mix(bg, klHot, Math.min(1, d.kl[t] / klMax)) : bg;
      cellsCtx.fillRect(t * geo.cellW, geo.klTop, geo.cellW - gap, geo.cellH - gap);
    }
    // Response boundary, through the cells and the token labels.
    const xr = d.responseStart * geo.cellW - 0.5;
    for (const [ctx, hgt] of [[cellsCtx, geo.cellsH], [colCtx, geo.tokenH]] as const) {
      ctx.strokeStyle = warn;
      ctx.beginPath();
      ctx.moveTo(xr, 0);
      ctx.lineTo(xr, hgt);
      ctx.stroke();
    }
    // Tokens along the axis (pinned at the bottom), rotated.
    for (let t = 0; t < cols; t += geo.colLabelStride) {
      colCtx.save();
      colCtx.translate(t * geo.cellW + geo.cellW / 2, 4);
      colCtx.rotate(Math.PI / 2);
      colCtx.fillStyle = t >= d.responseStart ? fg : muted;
      colCtx.fillText(tokenLabel(d.tokens[t].text), 0, 0);
      colCtx.restore();
    }
    // Keyboard cursor.
    const c = this.cursor;
    if (c) {
      const y = c.layer === null ? geo.klTop : (rows - 1 - c.layer) * geo.cellH;
      cellsCtx.strokeStyle = focus;
      cellsCtx.lineWidth = 2;
      cellsCtx.strokeRect(c.token * geo.cellW + 1, y + 1, geo.cellW - 2, geo.cellH - 2);
      cellsCtx.lineWidth = 1;
    }
  }
}
