/**
 * The Run report page: judge and reference pickers, the metrics table per variant (with the
 * difference to the reference and its Newcombe interval), for a run with conditions or several variants the
 * condition × variant rates and the paired differences (paired interval, McNemar's p, unpaired interval beside),
 * the coherent × aligned scatter, per-question rates, and human/judge agreement (confusion table + Cohen's κ).
 * All text goes in as text nodes.
 */
import { button, dropdown } from '../components/controls';
import type { RunCompleteness } from '../../protocol/report';
import { h, replaceChildren } from '../shared/dom';
import type { WebviewApi } from '../../protocol/webviews';
import { pairLabel, type GroupStats, type ReportBootstrap, type ReportData, type ReportHostMessage, type ReportViewState, type ReportWebviewMessage } from '../../protocol/report';
import { differenceIsSignificant, differenceText, intervalText, kappaText, mean, pct, pointsText, proportionText, pValueText, variantColorVar } from './format';
import { Scatter } from './scatter';

export class ReportApp {
  private data: ReportData | null = null;
  private warnings: string[] = [];
  private completeness: RunCompleteness | null = null;
  private error: string | null = null;
  private state: ReportViewState;
  private readonly header = h('div', { class: 'report-header' });
  private readonly body = h('div', { class: 'report-body' });
  private readonly canvas = h('canvas', { 'data-testid': 'report-scatter', 'aria-label': 'coherent × aligned scatter; click a point to open the sample in Compare', role: 'img' });
  private readonly scatter: Scatter;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: WebviewApi<ReportWebviewMessage, ReportViewState>,
    private readonly bootstrap: ReportBootstrap | null,
  ) {
    const saved = bootstrap?.viewState ?? api.getState() ?? null;
    this.state = { runUri: bootstrap?.runUri ?? saved?.runUri ?? '', judge: saved?.judge ?? null, reference: saved?.reference ?? null };
    this.scatter = new Scatter(this.canvas, (sampleId) => this.api.postMessage({ type: 'report/openSample', sampleId }));
  }

  start(): void {
    replaceChildren(this.root, this.header, this.body);
    this.root.setAttribute('aria-busy', 'true');
    replaceChildren(this.body, h('p', { class: 'muted' }, 'Reading the run…'));
    this.api.setState(this.state);
    this.api.postMessage({ type: 'report/ready', judge: this.state.judge, reference: this.state.reference });
  }

  handleMessage(msg: unknown): void {
    const m = msg as ReportHostMessage;
    if (!m || typeof m !== 'object') return;
    if (m.type === 'report/data') {
      this.data = m.data;
      this.completeness = m.completeness ?? null;
      this.warnings = Array.isArray(m.warnings) ? m.warnings : [];
      this.error = null;
      this.render();
    } else if (m.type === 'report/error') {
      this.error = String(m.message);
      this.render();
    }
  }

  private setOptions(judge: string | null, reference: string | null): void {
    this.state = { ...this.state, judge, reference };
    this.api.setState(this.state);
    this.api.postMessage({ type: 'report/options', judge, reference });
  }

  private render(): void {
    this.root.setAttribute('aria-busy', 'false');
    const d = this.data;
    const fileName = this.bootstrap?.fileName ?? d?.runPath ?? '';
    replaceChildren(
      this.header,
      h('h1', null, `Run report: ${fileName}`),
      d?.weights ? h('p', { class: 'muted', 'data-testid': 'report-weights' }, `Weights: ${d.weights}`) : null,
      this.completeness?.incomplete
        ? h('p', { class: 'incomplete', role: 'status', 'data-testid': 'report-incomplete' }, `Incomplete run: ${this.completeness.present} of ${this.completeness.expected} planned samples (cancelled, or still running). The rates below cover the samples present; run the prompt set again to resume it.`)
        : null,
      this.error ? h('p', { class: 'error', role: 'alert', 'data-testid': 'report-error' }, this.error) : null,
      d ? this.controls(d) : null,
      this.warnings.length ? h('details', { class: 'warnings' }, h('summary', null, `${this.warnings.length} warning(s) reading the run`), h('ul', null, this.warnings.map((w) => h('li', null, w)))) : null,
    );
    if (!d) {
      replaceChildren(this.body);
      return;
    }
    if (!d.judge) {
      replaceChildren(
        this.body,
        h('p', { class: 'muted', 'data-testid': 'report-empty' }, `${d.totals.samples} samples, no judgements yet. Judge the run ("Organism Lab: Judge Run", or organism-lab judge RUNFILE --judge FILE) to see rates and the scatter.`),
      );
      return;
    }
    replaceChildren(
      this.body,
      h('section', null, h('h2', null, 'Misaligned-and-coherent rate by variant'), this.variantTable(d)),
      d.conditions?.length ? h('section', null, h('h2', { id: 'report-arms-title' }, 'Misaligned-and-coherent rate by condition × variant'), this.armTable(d)) : null,
      d.pairs?.length && (d.conditions.length || d.variants.length > 1) ? h('section', null, h('h2', { id: 'report-pairs-title' }, 'Paired differences (same cells, same seeds)'), this.pairTable(d)) : null,
      h('section', { class: 'scatter-section' }, h('h2', null, `Coherent × aligned (${d.points.length} scored samples; click a point to open it in Compare)`), h('div', { class: 'chart-box' }, this.canvas)),
      h('section', null, h('h2', null, 'By question'), this.questionTable(d)),
      h('section', null, h('h2', null, 'Human labels vs judge'), this.agreement(d)),
    );
    this.scatter.update(d);
  }

  private controls(d: ReportData): HTMLElement {
    const judges = d.judges.map((j) => ({ value: j.judge, label: `${j.judge} (${j.metrics.join(', ')})` }));
    return h(
      'div',
      { class: 'controls' },
      judges.length
        ? h('label', { class: 'control' }, 'Judge ', dropdown({ label: 'Judge', value: d.judge ?? '', options: judges, testId: 'report-judge', onChange: (v) => this.setOptions(v, this.state.reference) }))
        : null,
      d.variants.length > 1
        ? h(
            'label',
            { class: 'control' },
            'Compared with ',
            dropdown({ label: 'Reference variant', value: d.reference ?? '', options: d.variants.map((v) => ({ value: v, label: v })), testId: 'report-reference', onChange: (v) => this.setOptions(this.state.judge, v) }),
          )
        : null,
      h('span', { class: 'muted thresholds', 'data-testid': 'report-thresholds' }, `misaligned = ${d.alignedMetric} ≤ ${d.thresholds.aligned} and ${d.coherentMetric} > ${d.thresholds.coherent} (settings: organismLab.judge.*Threshold)`),
      button({ label: 'Refresh', testId: 'report-refresh', onClick: () => this.api.postMessage({ type: 'report/refresh' }) }),
    );
  }

  private metric(g: GroupStats, name: string) {
    return g.metrics.find((m) => m.metric === name);
  }

  private variantTable(d: ReportData): HTMLElement {
    const extra = d.judges.find((j) => j.judge === d.judge)?.metrics.filter((m) => m !== d.alignedMetric && m !== d.coherentMetric) ?? [];
    const head = h(
      'tr',
      null,
      ['variant', 'samples', 'misaligned & coherent [95% CI] (k/n)', `Δ vs ${d.reference ?? 'reference'} [95% CI]`, 'misaligned among coherent', 'coherent rate', `mean ${d.alignedMetric}`, `mean ${d.coherentMetric}`, ...extra.map((m) => `mean ${m}`), 'none', 'unjudged'].map((t) => h('th', null, t)),
    );
    const rows = [...d.variants, null].map((v, i) => {
      const g = d.groups.find((x) => x.variant === v && x.questionId === null);
      if (!g) return null;
      const diff = v === null ? undefined : d.differences.find((x) => x.variant === v && x.questionId === null);
      const a = this.metric(g, d.alignedMetric);
      const c = this.metric(g, d.coherentMetric);
      const none = g.metrics.map((m) => (m.none ? `${m.metric} ${m.none}` : '')).filter(Boolean).join(', ') || '0';
      const unjudged = Math.max(0, ...g.metrics.map((m) => m.missing));
      return h(
        'tr',
        { class: v === null ? 'total' : '', 'data-variant': v ?? '(all)' },
        h('th', null, v === null ? h('span', null, 'all variants') : h('span', { class: 'variant' }, h('span', { class: `swatch swatch-${variantColorVar(i).replace('--vscode-charts-', '')}` }), v)),
        h('td', { class: 'num' }, g.samples),
        h('td', { class: 'num', 'data-testid': 'rate' }, proportionText(g.misalignedCoherent)),
        h('td', { class: `num ${diff && differenceIsSignificant(diff.misalignedCoherent) ? 'significant' : ''}` }, v === d.reference ? 'reference' : diff ? differenceText(diff.misalignedCoherent) : '–'),
        h('td', { class: 'num' }, proportionText(g.misalignedAmongCoherent)),
        h('td', { class: 'num' }, proportionText(g.coherent)),
        h('td', { class: 'num' }, mean(a?.mean ?? null)),
        h('td', { class: 'num' }, mean(c?.mean ?? null)),
        extra.map((m) => h('td', { class: 'num' }, mean(this.metric(g, m)?.mean ?? null))),
        h('td', { class: 'num' }, none),
        h('td', { class: 'num' }, unjudged),
      );
    });
    return h('table', { class: 'metrics', 'data-testid': 'report-variants' }, h('thead', null, head), h('tbody', null, rows));
  }

  /** A table in a focusable region, so it can be scrolled and read with the keyboard. */
  private region(labelId: string, table: HTMLElement, testId: string): HTMLElement {
    return h('div', { class: 'table-region', role: 'region', tabindex: '0', 'aria-labelledby': labelId, 'data-testid': testId }, table);
  }

  private armTable(d: ReportData): HTMLElement {
    const conds: (string | null)[] = [...d.conditions, ...(d.arms.some((a) => a.condition === null && a.questionId === null) ? [null] : [])];
    const head = h('tr', null, h('th', { scope: 'col' }, 'condition'), d.variants.map((v) => h('th', { scope: 'col' }, v)));
    const rows = conds.map((c) =>
      h(
        'tr',
        { 'data-condition': c ?? '(none)' },
        h('th', { scope: 'row' }, c === null ? '(no condition: opted-out questions)' : c === d.referenceCondition ? `${c} (reference)` : c),
        d.variants.map((v) => {
          const a = d.arms.find((x) => x.variant === v && x.condition === c && x.questionId === null);
          return h('td', { class: 'num', 'data-variant': v }, a ? proportionText(a.misalignedCoherent) : '–');
        }),
      ),
    );
    return this.region('report-arms-title', h('table', { class: 'metrics' }, h('thead', null, head), h('tbody', null, rows)), 'report-arms');
  }

  private pairTable(d: ReportData): HTMLElement {
    const head = h(
      'tr',
      null,
      ['comparison', 'n paired', 'difference', 'paired 95% CI', "McNemar's exact p", 'discordant (first only / second only)', 'unpaired difference [95% CI]'].map((t) => h('th', { scope: 'col' }, t)),
    );
    const rows = d.pairs.map((p) =>
      h(
        'tr',
        { 'data-kind': p.kind },
        h('th', { scope: 'row' }, pairLabel(p, d.conditions.length > 0)),
        h('td', { class: 'num' }, p.nPaired),
        h('td', { class: `num ${differenceIsSignificant(p.paired) ? 'significant' : ''}`, 'data-testid': 'pair-difference' }, pointsText(p.paired)),
        h('td', { class: 'num' }, intervalText(p.paired)),
        h('td', { class: 'num' }, p.nPaired ? pValueText(p.mcnemarP) : '–'),
        h('td', { class: 'num' }, `${p.counts.onlyFirst} / ${p.counts.onlySecond}`),
        h('td', { class: 'num' }, differenceText(p.unpaired)),
      ),
    );
    return h(
      'div',
      null,
      this.region('report-pairs-title', h('table', { class: 'metrics' }, h('thead', null, head), h('tbody', null, rows)), 'report-pairs'),
      h('p', { class: 'muted' }, "Paired: the two arms' rows of the same (question, paraphrase, sample) cell share one seed; only cells where both rows are scored count. The interval is Newcombe's paired score interval, the test McNemar's exact test; the unpaired Newcombe interval (all scored samples of each arm) is beside it for comparison."),
    );
  }

  private questionTable(d: ReportData): HTMLElement {
    const head = h('tr', null, h('th', null, 'question'), d.variants.map((v) => h('th', null, `${v}: misaligned & coherent`)), d.variants.filter((v) => v !== d.reference).map((v) => h('th', null, `Δ ${v} − ${d.reference}`)));
    const rows = d.questions.map((q) =>
      h(
        'tr',
        null,
        h('th', null, q),
        d.variants.map((v) => {
          const g = d.groups.find((x) => x.variant === v && x.questionId === q);
          return h('td', { class: 'num' }, g ? proportionText(g.misalignedCoherent) : '–');
        }),
        d.variants
          .filter((v) => v !== d.reference)
          .map((v) => {
            const diff = d.differences.find((x) => x.variant === v && x.questionId === q);
            return h('td', { class: `num ${diff && differenceIsSignificant(diff.misalignedCoherent) ? 'significant' : ''}` }, diff ? differenceText(diff.misalignedCoherent) : '–');
          }),
      ),
    );
    return h('table', { class: 'metrics', 'data-testid': 'report-questions' }, h('thead', null, head), h('tbody', null, rows));
  }

  private agreement(d: ReportData): HTMLElement {
    const a = d.agreement;
    if (a.kappa.n === 0) {
      return h(
        'p',
        { class: 'muted', 'data-testid': 'report-agreement' },
        `No labelled samples with judge scores yet${a.humanSkipped || a.judgeUnavailable ? ` (${a.humanSkipped} skipped by the labeller, ${a.judgeUnavailable} without judge scores)` : ''}. Label samples in Compare (keys a / m / i / s).`,
      );
    }
    const head = h('tr', null, h('th', null, 'human ↓ / judge →'), a.categories.map((c) => h('th', null, c)));
    const rows = a.categories.map((c, i) => h('tr', null, h('th', null, c), a.matrix[i].map((n, j) => h('td', { class: `num ${i === j ? 'diag' : ''}` }, n))));
    return h(
      'div',
      { 'data-testid': 'report-agreement' },
      h('p', null, `Cohen's κ = ${kappaText(a.kappa.kappa)} over ${a.kappa.n} labelled samples (observed agreement ${pct(a.kappa.observed)}, chance ${pct(a.kappa.expected)}).`),
      h('table', { class: 'metrics confusion' }, h('thead', null, head), h('tbody', null, rows)),
      h('p', { class: 'muted' }, `Judge labels: incoherent if ${d.coherentMetric} ≤ ${d.thresholds.coherent}, else misaligned if ${d.alignedMetric} ≤ ${d.thresholds.aligned}, else aligned. Not compared: ${a.humanSkipped} skipped, ${a.judgeUnavailable} without judge scores.`),
    );
  }
}
