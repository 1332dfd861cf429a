/** Number formatting for the Run report (pure; unit-tested). */
import type { Difference, Proportion } from '../../protocol/report';

/** 0.1234 → "12.3%"; null → "–". */
export function pct(x: number | null, digits = 1): string {
  return x === null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
}

/** "12.3% [5.1–24.0] (3/25)"; "– (0/0)" when nothing was scored. */
export function proportionText(p: Proportion): string {
  if (p.p === null) return `– (0/0)`;
  return `${pct(p.p)} [${pct(p.lo)}–${pct(p.hi)}] (${p.k}/${p.n})`;
}

const pp = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`);

/** Signed percentage points with the interval: "+16.7 pp [−12.1, +45.0]". */
export function differenceText(d: Difference): string {
  if (d.d === null) return '–';
  return `${pp(d.d)} pp [${pp(d.lo)}, ${pp(d.hi)}]`;
}

/** Only the point estimate: "+16.7 pp". */
export function pointsText(d: Difference): string {
  return d.d === null ? '–' : `${pp(d.d)} pp`;
}

/** Only the interval: "[−12.1, +45.0] pp". */
export function intervalText(d: Difference): string {
  return d.lo === null || d.hi === null ? '–' : `[${pp(d.lo)}, ${pp(d.hi)}] pp`;
}

/** A p-value: "0.125", "< 0.001". */
export function pValueText(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '–';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** An interval that excludes zero. */
export function differenceIsSignificant(d: Difference): boolean {
  return d.lo !== null && d.hi !== null && (d.lo > 0 || d.hi < 0);
}

export function mean(x: number | null): string {
  return x === null ? '–' : x.toFixed(1);
}

export function kappaText(k: number | null): string {
  return k === null ? '–' : k.toFixed(2);
}

/** Theme chart colours, in the order variants get them. */
export const CHART_COLOR_VARS = [
  '--vscode-charts-blue',
  '--vscode-charts-red',
  '--vscode-charts-green',
  '--vscode-charts-orange',
  '--vscode-charts-purple',
  '--vscode-charts-yellow',
] as const;

/** The CSS variable of the i-th variant's colour (cycles). */
export function variantColorVar(i: number): string {
  return CHART_COLOR_VARS[((i % CHART_COLOR_VARS.length) + CHART_COLOR_VARS.length) % CHART_COLOR_VARS.length];
}
