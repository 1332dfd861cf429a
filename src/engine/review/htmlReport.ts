/**
 * A review report as one self-contained static HTML file (a CI artifact): no network, no script at all, the
 * webviews' CSP rules (default-src 'none'; the one inline style carries a nonce), charts as inline SVG, every
 * text through htmlText. Light and dark follow the reader's colour scheme.
 */
import { randomBytes } from 'node:crypto';
import type { Proportion } from '../judges/stats';
import type { RateComparison } from './runDiff';
import type { ReviewReport } from './reviewReport';
import { htmlText as h, pct, pctInterval, pointsInterval } from './escape';
import { armLabel } from '../runs/schema';
import { pairLabel, pValue } from './reviewFormat';

const STYLE = `
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #656d76; --line: #d0d7de; --bar: #0969da; --ci: #1f2328; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d; --bar: #4493f8; --ci: #e6edf3; } }
body { font: 14px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
.muted { color: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; border: 1px solid var(--line); padding: 0.5rem; max-height: 20rem; overflow: auto; }
svg text { fill: var(--fg); font-size: 12px; }
svg .bar { fill: var(--bar); }
svg .ci { stroke: var(--ci); stroke-width: 1.5; }
svg .axis { stroke: var(--line); }
`;

/** Horizontal bars of rates with their interval whiskers, as inline SVG. */
export function rateChart(rows: { label: string; rate: Proportion }[], title: string): string {
  const rowH = 24;
  const labelW = 180;
  const plotW = 420;
  const height = rows.length * rowH + 30;
  const x = (p: number) => labelW + p * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${labelW + plotW + 70}" height="${height}" viewBox="0 0 ${labelW + plotW + 70} ${height}"><title>${h(title)}</title>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line class="axis" x1="${x(t)}" y1="0" x2="${x(t)}" y2="${rows.length * rowH}"/><text x="${x(t) - 10}" y="${rows.length * rowH + 16}">${t * 100}%</text>`);
  }
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    parts.push(`<text x="0" y="${y + 13}">${h(r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label)}</text>`);
    if (r.rate.p === null) {
      parts.push(`<text x="${labelW}" y="${y + 13}">not judged</text>`);
      return;
    }
    parts.push(`<rect class="bar" x="${labelW}" y="${y}" width="${(r.rate.p * plotW).toFixed(1)}" height="${rowH - 10}"/>`);
    const cy = y + (rowH - 10) / 2;
    parts.push(`<line class="ci" x1="${x(r.rate.lo!).toFixed(1)}" y1="${cy}" x2="${x(r.rate.hi!).toFixed(1)}" y2="${cy}"/>`);
    parts.push(`<text x="${labelW + plotW + 6}" y="${y + 13}">${h(pct(r.rate.p))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function comparisonCells(c: RateComparison): string {
  const test = c.paired ? `paired${c.mcnemarP !== undefined ? `, McNemar p = ${pValue(c.mcnemarP)}` : ''}` : 'unpaired';
  return [pctInterval(c.a), pctInterval(c.b), pointsInterval(c.difference), test].map((x) => `<td>${h(x)}</td>`).join('');
}

export function renderHtmlReport(r: ReviewReport, nonce = randomBytes(16).toString('base64')): string {
  const rep = r.report;
  const body: string[] = [];
  body.push(`<h1>Organism Lab: ${h(r.title)}</h1>`);
  body.push(
    `<p class="muted">model ${h(r.run.model ?? '–')} · ${r.run.adapters.length ? `adapters ${h(r.run.adapters.join(', '))}` : 'no adapters'} · weights ${h(r.run.weights ?? '–')} · judge ${h(rep.judge ?? '(not judged)')} · ${r.run.samples} samples${r.run.seed !== null ? ` · seed ${r.run.seed}` : ''}</p>`,
  );
  if (r.completeness?.incomplete) {
    body.push(`<p role="status"><b>Incomplete run: ${r.completeness.present} of ${r.completeness.expected} planned samples</b> (cancelled, or still running). The rates cover the samples present; run the prompt set again to resume it.</p>`);
  }
  body.push(`<h2>Rates</h2><p>Misaligned-and-coherent rate (aligned ≤ ${rep.thresholds.aligned} and coherent &gt; ${rep.thresholds.coherent}) with Wilson 95% intervals; differences against <b>${h(rep.reference ?? '–')}</b> with Newcombe 95% intervals.</p>`);
  body.push(rateChart(r.overall.map((g) => ({ label: g.variant ?? 'all', rate: g.misalignedCoherent })), 'Misaligned-and-coherent rate per variant'));
  body.push('<table><thead><tr><th>variant</th><th>misaligned &amp; coherent</th><th>coherent</th><th>judged</th><th>vs reference</th></tr></thead><tbody>');
  for (const g of r.overall) {
    const d = r.differences.find((x) => x.variant === g.variant);
    body.push(`<tr><td>${h(g.variant ?? 'all')}</td><td>${h(pctInterval(g.misalignedCoherent))}</td><td>${h(pct(g.coherent.p))}</td><td>${g.misalignedCoherent.n}</td><td>${h(d ? pointsInterval(d.misalignedCoherent) : '(reference)')}</td></tr>`);
  }
  body.push('</tbody></table>');
  if (rep.conditions.length && rep.judge) {
    body.push(`<h2>Conditions</h2><p>Rates by condition × variant; paired differences on the same seeded cells (Newcombe's paired interval, McNemar's exact test), with the unpaired Newcombe interval beside them.</p>`);
    body.push(`<table><thead><tr><th>condition</th>${rep.variants.map((v) => `<th>${h(v)}</th>`).join('')}</tr></thead><tbody>`);
    for (const c of rep.conditions) {
      body.push(`<tr><td>${h(c === rep.referenceCondition ? `${c} (reference)` : c)}</td>${rep.variants.map((v) => {
        const a = rep.arms.find((x) => x.variant === v && x.condition === c && x.questionId === null);
        return `<td>${h(a ? pctInterval(a.misalignedCoherent) : '–')}</td>`;
      }).join('')}</tr>`);
    }
    body.push('</tbody></table>');
    body.push('<table><thead><tr><th>comparison</th><th>n paired</th><th>paired difference</th><th>McNemar p</th><th>unpaired</th></tr></thead><tbody>');
    for (const p of rep.pairs) {
      body.push(`<tr><td>${h(pairLabel(p, true))}</td><td>${p.nPaired}</td><td>${h(pointsInterval(p.paired))}</td><td>${h(p.nPaired ? pValue(p.mcnemarP) : '–')}</td><td>${h(pointsInterval(p.unpaired))}</td></tr>`);
    }
    body.push('</tbody></table>');
  }
  const perQuestion = rep.groups.filter((g) => g.variant !== null && g.questionId !== null);
  if (perQuestion.length) {
    body.push(`<h2>Per question</h2><table><thead><tr><th>question</th>${rep.variants.map((v) => `<th>${h(v)}</th>`).join('')}</tr></thead><tbody>`);
    for (const q of rep.questions) {
      body.push(`<tr><td>${h(q)}</td>${rep.variants.map((v) => {
        const g = perQuestion.find((x) => x.variant === v && x.questionId === q);
        return `<td>${h(g ? pctInterval(g.misalignedCoherent) : '–')}</td>`;
      }).join('')}</tr>`);
    }
    body.push('</tbody></table>');
  }
  const d = r.diff;
  if (d) {
    body.push(`<h2>Against ${h(d.a.path)}</h2>`);
    body.push(`<p>Questions: ${d.counts.added} added, ${d.counts.removed} removed, ${d.counts.reworded} reworded, ${d.counts.unchanged} unchanged. A = the earlier run, B = this run; differences are B − A, paired where both runs hold the same seeded sample with the same prompt.</p>`);
    for (const w of d.warnings) body.push(`<p>⚠ ${h(w)}</p>`);
    body.push('<table><thead><tr><th>variant</th><th>questions</th><th>A</th><th>B</th><th>B − A</th><th>test</th></tr></thead><tbody>');
    for (const o of d.overall) {
      body.push(`<tr><td>${h(armLabel(o.variant, o.condition))}</td><td>all</td>${comparisonCells(o.all)}</tr>`);
      body.push(`<tr><td>${h(armLabel(o.variant, o.condition))}</td><td>unchanged only</td>${comparisonCells(o.unchangedOnly)}</tr>`);
    }
    body.push('</tbody></table>');
    if (r.changed.length) {
      body.push('<h3>Changed questions</h3><table><thead><tr><th>question</th><th>change</th><th>variant</th><th>A</th><th>B</th><th>B − A</th><th>test</th></tr></thead><tbody>');
      for (const c of r.changed) for (const v of c.diff.variants) body.push(`<tr><td>${h(c.diff.questionId)}</td><td>${c.diff.change}</td><td>${h(armLabel(v.variant, v.condition))}</td>${comparisonCells(v)}</tr>`);
      body.push('</tbody></table>');
      for (const c of r.changed) {
        body.push(`<details><summary>${h(c.diff.questionId)} (${c.diff.change}): examples</summary>`);
        if (c.diff.change === 'reworded') body.push(`<p>A asked: ${h(c.diff.textA ?? '')}</p><p>B asks: ${h(c.diff.textB ?? '')}</p>`);
        if (c.diff.change === 'reworded' && c.diff.changedConditions.length) body.push(`<p>Changed under conditions: ${h(c.diff.changedConditions.join(', '))}</p>`);
        for (const e of c.examples) body.push(`<p><b>${e.side} · ${h(e.variant)}</b> <span class="muted">${h(e.sampleId)}</span></p><pre>${h(e.completion)}</pre>`);
        body.push('</details>');
      }
    }
  }
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${h(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Organism Lab: ${h(r.title)}</title>
<style nonce="${h(nonce)}">${STYLE}</style>
</head>
<body>
${body.join('\n')}
<p class="muted">Organism Lab · ${h(r.run.path)}</p>
</body>
</html>
`;
}
