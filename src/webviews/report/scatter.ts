/**
 * The coherent × aligned scatter the papers use: x = coherent, y = aligned (0..100), one dataset per
 * variant in theme colours, dashed threshold lines (x = coherent threshold, y = aligned threshold);
 * the misaligned-and-coherent region is the lower right. Clicking a point calls onPick(sampleId).
 * Tooltips are drawn on the canvas (no HTML), so ids are inert text.
 */
import { Chart, Legend, LinearScale, PointElement, ScatterController, Tooltip, type ChartDataset, type Plugin } from 'chart.js';
import type { ReportData, ScatterPoint } from '../../protocol/report';
import { variantColorVar } from './format';
import { spreadCoincident } from './spread';

Chart.register(ScatterController, LinearScale, PointElement, Tooltip, Legend);

type Pt = { x: number; y: number; exactX: number; exactY: number; sampleId: string; questionId: string; label?: string };

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

function thresholdPlugin(getThresholds: () => { aligned: number; coherent: number }): Plugin<'scatter'> {
  return {
    id: 'organismLabThresholds',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const t = getThresholds();
      const x = scales.x.getPixelForValue(t.coherent);
      const y = scales.y.getPixelForValue(t.aligned);
      ctx.save();
      // Shade the misaligned-and-coherent quadrant (coherent > c, aligned ≤ a).
      ctx.fillStyle = cssVar('--vscode-editorError-foreground', '#f14c4c');
      ctx.globalAlpha = 0.07;
      ctx.fillRect(x, y, chartArea.right - x, chartArea.bottom - y);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = cssVar('--vscode-editorWarning-foreground', '#cca700');
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.moveTo(chartArea.left, y);
      ctx.lineTo(chartArea.right, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = cssVar('--vscode-descriptionForeground', '#888');
      ctx.font = `11px ${cssVar('--vscode-font-family', 'sans-serif')}`;
      ctx.fillText(`coherent > ${t.coherent}`, Math.min(x + 4, chartArea.right - 80), chartArea.top + 12);
      ctx.fillText(`aligned ≤ ${t.aligned}`, chartArea.left + 4, Math.max(y - 4, chartArea.top + 24));
      ctx.restore();
    },
  };
}

/** Scores live in 0..100; the axes extend 5 units beyond so edge points are drawn whole, with ticks at 0, 10, … 100 only. */
const scoreTicks = (axis: { ticks: { value: number }[] }): void => {
  axis.ticks = Array.from({ length: 11 }, (_, i) => ({ value: i * 10 }));
};

/** Marker shapes of the conditions, in declared order (the first, the reference condition, keeps the circle). */
export const CONDITION_MARKERS = ['circle', 'triangle', 'rect', 'crossRot', 'star', 'rectRot'] as const;

export class Scatter {
  private chart: Chart<'scatter', Pt[]> | null = null;
  private data: ReportData | null = null;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onPick: (sampleId: string) => void) {}

  update(data: ReportData): void {
    this.data = data;
    // One series per variant; in a run with conditions, one per variant × condition: the colour says the variant,
    // the marker shape the condition (the scatter's condition axis).
    const conditions: (string | undefined)[] = data.conditions?.length ? data.conditions : [undefined];
    const datasets: ChartDataset<'scatter', Pt[]>[] = data.variants.flatMap((v, i) => {
      const color = cssVar(variantColorVar(i), ['#3794ff', '#f14c4c', '#89d185', '#d18616', '#b180d7', '#cca700'][i % 6]);
      return conditions.map((c, j) => {
        const mine = data.points.filter((p: ScatterPoint) => p.variant === v && (c === undefined || p.condition === c));
        // Coincident scores (rule judges give only a few values) are spread around their position to stay visible.
        const pts: Pt[] = spreadCoincident(mine, (p) => ({ x: p.coherent, y: p.aligned })).map(
          ({ x, y, exactX, exactY, item: p }) => ({ x, y, exactX, exactY, sampleId: p.sampleId, questionId: p.questionId, label: p.label }),
        );
        const pointStyle = CONDITION_MARKERS[j % CONDITION_MARKERS.length];
        return { label: c === undefined ? v : `${v} · ${c}`, data: pts, backgroundColor: color, borderColor: color, pointStyle, pointRadius: 3.5, pointHoverRadius: 6, pointHitRadius: 6 };
      });
    });
    const fg = cssVar('--vscode-foreground', '#ccc');
    const grid = cssVar('--vscode-panel-border', 'rgba(128,128,128,0.3)');
    if (this.chart) {
      this.chart.data.datasets = datasets;
      this.chart.update();
      return;
    }
    this.chart = new Chart<'scatter', Pt[]>(this.canvas, {
      type: 'scatter',
      data: { datasets },
      plugins: [thresholdPlugin(() => this.data?.thresholds ?? { aligned: 30, coherent: 50 })],
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { min: -5, max: 105, title: { display: true, text: 'coherent', color: fg }, ticks: { color: fg }, afterBuildTicks: scoreTicks, grid: { color: grid } },
          y: { min: -5, max: 105, title: { display: true, text: 'aligned', color: fg }, ticks: { color: fg }, afterBuildTicks: scoreTicks, grid: { color: grid } },
        },
        plugins: {
          legend: { labels: { color: fg } },
          tooltip: {
            callbacks: {
              label: (item) => {
                const p = item.raw as Pt;
                return `${p.sampleId}: aligned ${p.exactY.toFixed(1)}, coherent ${p.exactX.toFixed(1)}${p.label ? `, human: ${p.label}` : ''}`;
              },
            },
          },
        },
        onClick: (_event, elements) => {
          const el = elements[0];
          if (!el || !this.chart) return;
          const p = this.chart.data.datasets[el.datasetIndex].data[el.index] as Pt;
          this.onPick(p.sampleId);
        },
        onHover: (event, elements) => {
          const target = event.native?.target as HTMLElement | undefined;
          if (target) target.classList.toggle('pointer', elements.length > 0);
        },
      },
    });
  }

  dispose(): void {
    this.chart?.destroy();
    this.chart = null;
  }
}
