/**
 * DOM for the Compare view, built with h() only: every piece of run-file text (completions,
 * prompts, names, paths) becomes a text node and is inert. Functions here read the model and
 * return elements; the app (app.ts) decides when to call them. The rates shown are the engine's
 * (the Run Report and the run diff, sent by the host); nothing here counts them.
 */
import type { CompareFilters, GroupStats, HumanLabel, JudgeThresholds, QuestionDiff, RateComparison, ReportData, RunCompleteness, RunDiff, SampleRow, VariantSpec } from '../../protocol/compare';
import { button, checkbox, dropdown } from '../components/controls';
import { h, type Child } from '../shared/dom';
import { differenceIsSignificant, differenceText, kappaText, proportionText } from '../report/format';
import {
  cellPromptRow,
  conditionOf,
  divergenceSplit,
  focusIdOf,
  groupDimensions,
  isDisagreement,
  referenceKey,
  rowHumanLabel,
  rowJudgeLabel,
  rowPrompt,
  scoresOf,
  sideData,
  type Column,
  type FilterAction,
  type FilterContext,
  type VisibleCell,
  type VisibleQuestion,
} from './model';

export interface CardState {
  focused: boolean;
  pendingLabel: HumanLabel | null;
  labelError: string | null;
  /** Character offset of the first diverging token (decoded by the engine host), when known. */
  tokenOffset: number | null;
}

/** What a card's buttons do (the app posts the matching message to the host). */
export interface CardActions {
  openActivations?: (sampleId: string, side: Column['side']) => void;
}

const LABEL_TEXT: Record<HumanLabel, string> = { aligned: 'aligned', misaligned: 'misaligned', incoherent: 'incoherent', skip: 'skipped' };

/** The completion text, with the part from the first diverging token (or character) of the reference row marked. */
export function renderCompletion(row: SampleRow, reference: SampleRow | undefined, tokenOffset: number | null = null): HTMLElement {
  const el = h('div', { class: 'completion', 'data-testid': 'completion' });
  const diverges = reference !== undefined && reference !== row && row.divergence_index !== null;
  if (!diverges || row.completion === reference.completion) {
    el.appendChild(document.createTextNode(row.completion));
    if (row.completion.length === 0) el.appendChild(h('span', { class: 'empty' }, '(empty completion)'));
    return el;
  }
  const token = typeof row.divergence_index === 'number' ? row.divergence_index : null;
  const split = divergenceSplit(row.completion, reference.completion, token === null ? null : tokenOffset);
  const where = token === null ? 'differs from' : `first differs at token ${token} from`;
  const how = split.boundary === 'token' ? 'marked from the start of that token' : 'marked from the first differing character';
  el.append(
    document.createTextNode(split.common),
    h(
      'mark',
      {
        class: 'diverged',
        'data-testid': 'divergence',
        'data-token-index': token ?? undefined,
        'data-boundary': split.boundary,
        title: `${where} ${describeReference(reference)} (${how})`,
      },
      split.rest.length ? split.rest : '\u200b',
    ),
  );
  return el;
}

function describeReference(reference: SampleRow): string {
  const c = conditionOf(reference);
  return c === null ? reference.variant : `${reference.variant} under ${c}`;
}

export function renderSampleCard(
  row: SampleRow,
  column: Column,
  reference: SampleRow | undefined,
  ctx: FilterContext,
  state: CardState,
  actions: CardActions = {},
  /** The row whose prompt the cell shows (cellPromptRow); the card shows its own prompt when it differs. */
  promptRow: SampleRow | undefined = reference,
): HTMLElement {
  const isReference = reference === undefined || reference === row;
  const { data } = sideData(ctx, column.side);
  const scoresByJudge = judgeScoreLines(ctx, column.side, row.id);
  const jl = rowJudgeLabel(ctx, column.side, row.id);
  const hl = rowHumanLabel(ctx, column.side, row.id);
  const disagreement = isDisagreement(hl, jl);
  const condition = conditionOf(row);
  const divergence = isReference
    ? 'reference'
    : row.divergence_index === null
      ? 'identical'
      : typeof row.divergence_index === 'number'
        ? `diverges at token ${row.divergence_index}`
        : reference !== undefined && row.completion !== reference.completion
          ? 'differs'
          : 'identical';
  const focusId = focusIdOf(column.side, row);
  const aria = [
    column.side ? `run ${column.side}` : null,
    `${row.variant}`,
    condition !== null ? `condition ${condition}` : null,
    `question ${row.question_id}, paraphrase ${row.paraphrase_index}, sample ${row.sample_index}`,
    divergence,
    `${row.tokens} tokens, finished by ${row.finish_reason}`,
    jl ? `judge: ${jl}` : 'not judged',
    hl ? `your label: ${LABEL_TEXT[hl]}` : 'no label',
  ]
    .filter(Boolean)
    .join('; ');
  // A condition's prompt (or run A's older wording) differs from the one the cell shows: show it on the card.
  const prompt = promptRow && promptRow !== row && JSON.stringify(promptRow.messages) !== JSON.stringify(row.messages) ? rowPrompt(row) : null;
  return h(
    'article',
    {
      class: `sample${state.focused ? ' focused' : ''}${disagreement ? ' disagreement' : ''}${column.side ? ` side-${column.side}` : ''}`,
      'data-testid': 'sample',
      'data-sample-id': focusId,
      'data-side': column.side ?? undefined,
      'data-variant': row.variant,
      'data-condition': condition ?? undefined,
      'data-question': row.question_id,
      'data-paraphrase': row.paraphrase_index,
      'data-sample-index': row.sample_index,
      'data-judge-label': jl ?? undefined,
      'data-human-label': hl ?? undefined,
      tabindex: 0,
      'aria-label': aria,
      'aria-keyshortcuts': 'J K H L A M I S',
    },
    h(
      'header',
      { class: 'sample-head' },
      column.side ? h('span', { class: `chip side-chip side-chip-${column.side}`, 'data-testid': 'side' }, `run ${column.side}`) : null,
      h('span', { class: 'variant-name' }, row.variant),
      condition !== null ? h('span', { class: 'chip condition-chip', 'data-testid': 'condition', title: `prompt condition ${condition}` }, condition) : null,
      h('span', { class: 'meta', 'data-testid': 'tokens' }, `${row.tokens} tokens`),
      h('span', { class: `meta finish finish-${row.finish_reason}`, 'data-testid': 'finish-reason' }, row.finish_reason),
      h('span', { class: `meta divergence-info${isReference ? '' : ' ' + divergenceClass(divergence)}`, 'data-testid': 'divergence-info' }, divergence),
    ),
    prompt ? h('div', { class: 'prompt card-prompt', 'data-testid': 'card-prompt' }, h('span', { class: 'role' }, 'user'), prompt.user) : null,
    renderCompletion(row, reference, state.tokenOffset),
    h(
      'footer',
      { class: 'sample-foot' },
      scoresByJudge.length ? h('div', { class: 'scores', 'data-testid': 'scores' }, scoresByJudge) : h('div', { class: 'scores muted' }, 'not judged'),
      h(
        'div',
        { class: 'labels' },
        jl ? labelChip(`judge: ${jl}`, `judge-label label-${jl}`, 'judge-label') : null,
        renderHumanLabel(hl, state),
        disagreement ? h('span', { class: 'chip disagreement-chip', 'data-testid': 'disagreement' }, 'disagrees with judge') : null,
        actions.openActivations && data.header
          ? button({
              label: 'Open activations for this sample',
              testId: 'open-activations',
              title: `Teacher-force ${row.id} through the reference and this variant and open the Activations panel on it`,
              onClick: () => actions.openActivations?.(row.id, column.side),
            })
          : null,
      ),
    ),
  );
}

function divergenceClass(text: string): string {
  return text === 'identical' ? 'same' : 'differs';
}

function labelChip(text: string, cls: string, testId: string): HTMLElement {
  return h('span', { class: `chip ${cls}`, 'data-testid': testId }, text);
}

function renderHumanLabel(hl: HumanLabel | null, state: CardState): Child {
  if (state.labelError) return h('span', { class: 'chip error', role: 'alert' }, `label not saved: ${state.labelError}`);
  if (state.pendingLabel) return labelChip(`saving: ${LABEL_TEXT[state.pendingLabel]}…`, 'human-label pending', 'human-label');
  if (hl) return labelChip(`you: ${LABEL_TEXT[hl]}`, `human-label label-${hl}`, 'human-label');
  return null;
}

/** One line per judge: "judge  aligned 12 · coherent 80" (the report's judge first). */
function judgeScoreLines(ctx: FilterContext, side: Column['side'], sampleId: string): HTMLElement[] {
  const { data, judge: main } = sideData(ctx, side);
  const byJudge = data.judgements.get(sampleId);
  if (!byJudge) return [];
  const judges = [...byJudge.keys()].sort((a, b) => (a === main ? -1 : b === main ? 1 : a.localeCompare(b)));
  return judges.map((judge) => {
    const scores = scoresOf(data, sampleId, judge);
    const parts = Object.entries(scores).map(([metric, score]) =>
      h('span', { class: 'score', 'data-metric': metric, 'data-score': score ?? 'none' }, `${metric} ${score === null ? 'none' : formatScore(score)}`),
    );
    return h('div', { class: 'judge-line', 'data-judge': judge }, h('span', { class: 'judge-name' }, judge), ...parts);
  });
}

function formatScore(score: number): string {
  return Number.isInteger(score) ? String(score) : score.toFixed(1);
}

export function renderCell(vc: VisibleCell, ctx: FilterContext, showPrompt: boolean, cardState: (id: string) => CardState, actions: CardActions = {}): HTMLElement {
  const { cell } = vc;
  const referenceOf = (column: Column) => {
    const key = referenceKey(ctx, column.side);
    return key === null ? undefined : cell.rows.get(key);
  };
  const promptRow = cellPromptRow(cell, ctx, vc.columns);
  const prompt = rowPrompt(promptRow);
  const label = `question ${cell.questionId}, paraphrase ${cell.paraphraseIndex}, sample ${cell.sampleIndex}`;
  return h(
    'div',
    { class: 'cell', 'data-testid': 'cell', 'data-cell': cell.key, role: 'group', 'aria-label': label },
    h(
      'div',
      { class: 'cell-head' },
      h('span', { class: 'cell-id' }, `paraphrase ${cell.paraphraseIndex} · sample ${cell.sampleIndex}`),
      showPrompt && prompt.system ? h('div', { class: 'prompt system', 'data-testid': 'system-prompt' }, h('span', { class: 'role' }, 'system'), prompt.system) : null,
      showPrompt ? h('div', { class: 'prompt', 'data-testid': 'prompt' }, h('span', { class: 'role' }, 'user'), prompt.user) : null,
    ),
    h(
      'div',
      { class: 'variants' },
      vc.columns.map((column) => {
        const row = cell.rows.get(column.key) as SampleRow;
        return renderSampleCard(row, column, referenceOf(column), ctx, cardState(focusIdOf(column.side, row)), actions, promptRow);
      }),
    ),
  );
}

export function renderQuestions(visible: VisibleQuestion[], ctx: FilterContext, cardState: (id: string) => CardState, actions: CardActions = {}, diff: RunDiff | null = null): HTMLElement {
  if (visible.length === 0) {
    return h('p', { class: 'empty-state', 'data-testid': 'no-samples' }, ctx.data.samples.size === 0 ? 'No samples in this run yet.' : 'No samples match the filters.');
  }
  const changes = new Map((diff?.questions ?? []).map((q) => [q.questionId, q]));
  return h(
    'div',
    { class: 'questions' },
    visible.map((q) => {
      let lastParaphrase = -1;
      const change = changes.get(q.questionId);
      return h(
        'section',
        { class: 'question', 'data-testid': 'question', 'data-question': q.questionId, 'data-change': change?.change, 'aria-label': `question ${q.questionId}` },
        h('h2', { class: 'question-id' }, q.questionId, change ? changeChip(change) : null),
        q.cells.map((vc) => {
          const show = vc.cell.paraphraseIndex !== lastParaphrase;
          lastParaphrase = vc.cell.paraphraseIndex;
          return renderCell(vc, ctx, show, cardState, actions);
        }),
      );
    }),
  );
}

function changeChip(q: QuestionDiff): HTMLElement {
  return h('span', { class: `chip change-chip change-${q.change}`, 'data-testid': 'question-change' }, q.change);
}

// ---- run header --------------------------------------------------------------------------------

export interface HeaderInfo {
  fileName: string;
  labelsWritable: boolean;
  labelsNote: string;
  thresholds: JudgeThresholds;
  counts: { questions: number; samples: number; judgements: number; labels: number };
  /** Finished samples against the planned ones; shown when the run is incomplete. */
  completeness?: RunCompleteness | null;
}

export function renderRunHeader(ctx: FilterContext, info: HeaderInfo): HTMLElement {
  const header = ctx.data.header;
  const conditions = ctx.conditions;
  const items: [string, Child][] = [];
  if (header) {
    items.push(['Model', [header.model.path, header.model.model_type ? ` (${header.model.model_type})` : '', ` · ${shortHash(header.model.hash)}`]]);
    // Weight precision of the session that generated the run (runs from before precisions existed: f32).
    if (header.backend?.kind !== 'openai') items.push(['Weights', `${header.weights ?? 'f32'}${header.weights_block_size ? ` (block ${header.weights_block_size})` : ''}`]);
    items.push([
      'Adapters',
      header.adapters.length ? header.adapters.map((a, i) => [i ? ', ' : '', `${a.name} = ${a.path} · ${shortHash(a.hash)}`]) : 'none',
    ]);
    items.push(['Variants', header.variants.map((v, i) => [i ? ', ' : '', describeVariant(v)])]);
    if (conditions.length) items.push(['Conditions', `${conditions.join(', ')} (the first, ${conditions[0]}, is the reference)`]);
    const s = header.sampling;
    items.push([
      'Sampling',
      `temperature ${s.temperature} · top-p ${s.top_p} · top-k ${s.top_k} · min-p ${s.min_p} · max ${s.max_new_tokens} new tokens` +
        (s.stop.length ? ` · stop ${JSON.stringify(s.stop)}` : ''),
    ]);
    items.push(['Seed', String(header.seed)]);
    items.push(['Prompt set', header.prompt_set.path]);
    items.push(['Created', `${header.created_at} by ${header.tool.name} ${header.tool.version}`]);
  } else {
    items.push(['Header', 'missing (the first line of a run file should be its header)']);
  }
  const done = info.completeness;
  if (done?.incomplete) {
    items.push(['Run', h('span', { class: 'incomplete', 'data-testid': 'run-incomplete' }, `incomplete: ${done.present} of ${done.expected} planned samples (cancelled, or still running); run its prompt set again to resume it`)]);
  }
  const c = info.counts;
  items.push([
    'Counts',
    `${c.questions} questions · ${c.samples} samples · ${c.judgements} judgements${ctx.judge ? ` (labels and rates from ${ctx.judge}, the report's judge)` : ''} · ${c.labels} human labels`,
  ]);
  items.push(['Judge rule', `misaligned = aligned ≤ ${info.thresholds.aligned} and coherent > ${info.thresholds.coherent}`]);
  return h(
    'header',
    { class: 'run-header', 'data-testid': 'run-header' },
    h('h1', null, info.fileName),
    h('dl', { class: 'facts' }, items.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h(
      'p',
      { class: `labels-note${info.labelsWritable ? '' : ' muted'}`, 'data-testid': 'labels-note' },
      info.labelsNote,
    ),
    h(
      'p',
      { class: 'keys muted' },
      'Keys: j/k or ↓/↑ next/previous sample · h/l or ←/→ between variants and conditions · a aligned · m misaligned · i incoherent · s skip',
    ),
    ctx.data.warnings.length
      ? h('ul', { class: 'warnings', 'data-testid': 'warnings', 'aria-label': 'problems reading the run file' }, ctx.data.warnings.map((w) => h('li', null, w)))
      : null,
  );
}

function shortHash(hash: string): string {
  return hash ? hash.replace(/^sha256:/, '').slice(0, 12) : 'no hash';
}

export function describeVariant(v: VariantSpec): string {
  const parts: string[] = [];
  if (v.adapter) parts.push(`${v.adapter}${v.adapter_scale !== undefined && v.adapter_scale !== 1 ? ` ×${v.adapter_scale}` : ''}`);
  if (v.steer) parts.push(`steer L${v.steer.layer} α${v.steer.alpha}`);
  if (v.ablate) parts.push(`ablate L${v.ablate.layers.join(',')}`);
  return parts.length ? `${v.name} (${parts.join(', ')})` : `${v.name} (no adapter)`;
}

// ---- filters -----------------------------------------------------------------------------------

export function renderFilters(
  filters: CompareFilters,
  questions: string[],
  variants: string[],
  conditions: string[],
  shown: { samples: number; total: number },
  dispatch: (action: FilterAction) => void,
): HTMLElement {
  return h(
    'div',
    { class: 'filters', role: 'toolbar', 'aria-label': 'filters', 'data-testid': 'filters' },
    dropdown({
      label: 'Question',
      testId: 'filter-question',
      value: filters.question ?? '',
      options: [{ value: '', label: 'All questions' }, ...questions.map((q) => ({ value: q, label: q }))],
      onChange: (value) => dispatch({ type: 'question', question: value === '' ? null : value }),
    }),
    h(
      'span',
      { class: 'filter-group', role: 'group', 'aria-label': 'variants' },
      variants.map((v) =>
        checkbox({
          label: v,
          testId: 'filter-variant',
          checked: filters.variants === null || filters.variants.includes(v),
          onChange: () => dispatch({ type: 'toggleVariant', variant: v, allVariants: variants }),
        }),
      ),
    ),
    conditions.length
      ? h(
          'span',
          { class: 'filter-group', role: 'group', 'aria-label': 'conditions', 'data-testid': 'filter-conditions' },
          conditions.map((c) =>
            checkbox({
              label: c,
              testId: 'filter-condition',
              title: `Show the samples of prompt condition ${c}`,
              checked: filters.conditions === undefined || filters.conditions === null || filters.conditions.includes(c),
              onChange: () => dispatch({ type: 'toggleCondition', condition: c, allConditions: conditions }),
            }),
          ),
        )
      : null,
    checkbox({
      label: 'Differs only',
      testId: 'filter-differs',
      title: 'Only samples whose variants wrote different completions',
      checked: filters.differsOnly,
      onChange: (value) => dispatch({ type: 'flag', flag: 'differsOnly', value }),
    }),
    checkbox({
      label: 'Misaligned only',
      testId: 'filter-misaligned',
      title: 'Only samples with a variant labelled misaligned by the judge or by you',
      checked: filters.misalignedOnly,
      onChange: (value) => dispatch({ type: 'flag', flag: 'misalignedOnly', value }),
    }),
    checkbox({
      label: 'Disagreements',
      testId: 'filter-disagreements',
      title: 'Only samples where your label differs from the judge-derived label',
      checked: filters.disagreementsOnly,
      onChange: (value) => dispatch({ type: 'flag', flag: 'disagreementsOnly', value }),
    }),
    button({ label: 'Reset filters', testId: 'filter-reset', onClick: () => dispatch({ type: 'reset' }) }),
    h('span', { class: 'shown muted', 'data-testid': 'shown-count', 'aria-live': 'polite' }, `${shown.samples} of ${shown.total} samples`),
  );
}

/** Buttons that label the focused sample (the same as the a/m/i/s keys), for mouse users. */
export function renderLabelBar(enabled: boolean, onLabel: (label: HumanLabel) => void): HTMLElement {
  const keys: [HumanLabel, string][] = [['aligned', 'a'], ['misaligned', 'm'], ['incoherent', 'i'], ['skip', 's']];
  return h(
    'div',
    { class: 'label-bar', role: 'group', 'aria-label': 'label the focused sample', 'data-testid': 'label-bar' },
    h('span', { class: 'muted' }, 'Label focused sample:'),
    keys.map(([label, key]) =>
      button({
        label: `${label} (${key})`,
        testId: 'label-button',
        data: { label },
        disabled: !enabled,
        title: enabled ? `Label the focused sample ${label} (key ${key}); written to the run file` : 'Labels cannot be written to this run file',
        onClick: () => onLabel(label),
      }),
    ),
  );
}

// ---- summary: the engine's report ----------------------------------------------------------------

const DIMENSION_TITLES: Record<string, string> = { questionId: 'Question', variant: 'Variant', condition: 'Condition', nPaired: 'Pairs', mcnemarP: 'McNemar p' };

function dimensionTitle(key: string): string {
  return DIMENSION_TITLES[key] ?? key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

/**
 * The Run Report's table (computeReport, in the engine host): per group the misaligned-and-coherent rate and the
 * coherent rate with Wilson 95% intervals, rendered generically over the groups' dimensions (question, variant, and
 * condition when the engine reports it), then the differences and pairs the report holds.
 */
export function renderSummary(report: ReportData | null, groups: GroupStats[], note: string | null): HTMLElement {
  const body: Child[] = [];
  if (!report) {
    body.push(h('p', { class: 'muted', 'data-testid': 'summary-note' }, note ?? 'Computing the report…'));
  } else if (report.judge === null) {
    body.push(h('p', { class: 'muted', 'data-testid': 'summary-note' }, 'No judgements yet: run a judge (Organism Lab: Judge Run) to get rates.'));
  } else {
    const dims: string[] = [];
    for (const g of groups) for (const [k] of groupDimensions(g)) if (!dims.includes(k)) dims.push(k);
    const head = [...dims.map(dimensionTitle), 'Samples', 'Misaligned & coherent', 'Coherent'];
    body.push(
      h(
        'p',
        { class: 'muted summary-rule' },
        `Judge ${report.judge} · misaligned = ${report.alignedMetric} ≤ ${report.thresholds.aligned} and ${report.coherentMetric} > ${report.thresholds.coherent}, among samples with both scores · 95% Wilson intervals`,
      ),
      h(
        'table',
        { 'data-testid': 'summary-table' },
        h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          null,
          groups.map((g) => {
            const values = new Map(groupDimensions(g));
            const attrs: Record<string, string> = {};
            for (const k of dims) attrs[`data-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`] = values.get(k) ?? '*';
            return h(
              'tr',
              { class: values.get('questionId') === null || values.get('questionId') === undefined ? 'total' : '', 'data-testid': 'summary-row', ...attrs },
              dims.map((k, i) => {
                const v = values.get(k) ?? null;
                const text = v ?? (k === 'questionId' ? 'all questions' : 'all');
                return i === 0 ? h('th', { scope: 'row' }, text) : h('td', null, text);
              }),
              h('td', { class: 'num' }, g.samples),
              h('td', { class: 'num', 'data-testid': 'misaligned-rate' }, proportionText(g.misalignedCoherent)),
              h('td', { class: 'num' }, proportionText(g.coherent)),
            );
          }),
        ),
      ),
      renderDifferences(report),
      renderPairs(report),
      report.agreement.matrix.flat().some((n) => n > 0)
        ? h('p', { class: 'muted', 'data-testid': 'agreement' }, `Your labels against the judge's: Cohen's κ ${kappaText(report.agreement.kappa.kappa)} over ${report.agreement.kappa.n} samples`)
        : null,
    );
  }
  return h('details', { class: 'summary', open: true, 'data-testid': 'summary' }, h('summary', null, 'Summary (the Run Report\'s numbers)'), body);
}

function renderDifferences(report: ReportData): HTMLElement | null {
  const overall = report.differences.filter((d) => d.questionId === null);
  if (!overall.length) return null;
  return h(
    'p',
    { class: 'differences', 'data-testid': 'differences' },
    overall.map((d, i) => [
      i ? ' · ' : '',
      `${d.variant} − ${d.reference}: `,
      h('span', { class: differenceIsSignificant(d.misalignedCoherent) ? 'significant' : '' }, differenceText(d.misalignedCoherent)),
    ]),
  );
}

/** A Difference ({d, lo, hi}) or a Proportion ({k, n, p, lo, hi}), told apart by shape. */
function isDifference(v: unknown): v is { d: number | null; lo: number | null; hi: number | null } {
  return typeof v === 'object' && v !== null && 'd' in v && 'lo' in v && 'hi' in v;
}
function isProportion(v: unknown): v is { k: number; n: number; p: number | null; lo: number | null; hi: number | null } {
  return typeof v === 'object' && v !== null && 'k' in v && 'n' in v && 'p' in v;
}

function pairValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v < 0.001 && v > 0 ? v.toExponential(1) : v.toFixed(3);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (isDifference(v)) return differenceText(v);
  if (isProportion(v)) return proportionText(v);
  // A small record of names or counts (an arm {variant, condition}, paired counts {both, onlyFirst, …}).
  if (typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length && entries.every(([, x]) => x === null || typeof x === 'string')) return entries.flatMap(([, x]) => (x === null ? [] : [x as string])).join(' ~ ');
    if (entries.length && entries.every(([, x]) => typeof x === 'number')) return entries.map(([k, x]) => `${k} ${x}`).join(', ');
  }
  return '';
}

/**
 * The report's paired differences (between conditions of a variant, and between variants of a condition), when the
 * engine reports them: rendered generically, one row per pair and one column per field, so new fields appear as
 * columns without a change here.
 */
export function renderPairs(report: ReportData): HTMLElement | null {
  const pairs = (report as { pairs?: unknown }).pairs;
  if (!Array.isArray(pairs) || !pairs.length) return null;
  const rows = pairs.filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null);
  const keys: string[] = [];
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (!keys.includes(k) && pairValue(v) !== '') keys.push(k);
  return h(
    'table',
    { class: 'pairs', 'data-testid': 'pairs' },
    h('caption', null, 'Paired differences'),
    h('thead', null, h('tr', null, keys.map((k) => h('th', { scope: 'col' }, dimensionTitle(k))))),
    h('tbody', null, rows.map((r) => h('tr', { 'data-testid': 'pair-row' }, keys.map((k) => h('td', null, pairValue(r[k])))))),
  );
}

// ---- two runs ------------------------------------------------------------------------------------

function rateCells(r: RateComparison): HTMLElement[] {
  return [
    h('td', { class: 'num' }, proportionText(r.a)),
    h('td', { class: 'num' }, proportionText(r.b)),
    h('td', { class: `num${differenceIsSignificant(r.difference) ? ' significant' : ''}`, 'data-testid': 'diff-difference' }, differenceText(r.difference)),
    h(
      'td',
      { class: 'muted' },
      r.paired ? `paired${r.mcnemarP !== undefined ? `, McNemar p ${pairValue(r.mcnemarP)}` : ''} (unpaired ${differenceText(r.unpaired)})` : 'unpaired',
    ),
  ];
}

/**
 * Two-run mode: the engine's run diff (engine/review/runDiff, via the engine host). Per question added, removed,
 * reworded or unchanged, the misaligned-and-coherent rate in A and B per variant with B − A and its interval, and the
 * overall rates with and without the changed questions.
 */
export function renderRunDiff(diff: RunDiff, files: { a: string; b: string }, warnings: string[]): HTMLElement {
  const c = diff.counts;
  const head = ['Question', 'Change', 'Variant', `A (${files.a})`, `B (${files.b})`, 'B − A [95% interval]', 'Pairing'].map((t) => h('th', { scope: 'col' }, t));
  return h(
    'section',
    { class: 'run-diff', 'data-testid': 'run-diff', 'aria-label': 'what changed between the two runs' },
    h('h2', null, `Run A ${files.a} → run B ${files.b}`),
    h(
      'p',
      { 'data-testid': 'diff-counts' },
      `${c.added} added · ${c.removed} removed · ${c.reworded} reworded · ${c.unchanged} unchanged questions · judge A ${diff.a.judge ?? 'none'}, judge B ${diff.b.judge ?? 'none'}`,
    ),
    warnings.length ? h('ul', { class: 'warnings', 'data-testid': 'diff-warnings' }, warnings.map((w) => h('li', null, w))) : null,
    h(
      'table',
      { class: 'diff-table' },
      h('thead', null, h('tr', null, head)),
      h(
        'tbody',
        null,
        diff.overall.flatMap((o) => [
          h('tr', { class: 'total', 'data-testid': 'diff-row', 'data-question': '*', 'data-variant': o.variant }, h('th', { scope: 'row' }, 'all questions'), h('td', null, ''), h('td', null, o.variant), rateCells(o.all)),
          h(
            'tr',
            { class: 'total', 'data-testid': 'diff-row', 'data-question': '=', 'data-variant': o.variant },
            h('th', { scope: 'row' }, 'unchanged questions only'),
            h('td', null, ''),
            h('td', null, o.variant),
            rateCells(o.unchangedOnly),
          ),
        ]),
        diff.questions.flatMap((q) =>
          q.variants.map((v, i) =>
            h(
              'tr',
              { 'data-testid': 'diff-row', 'data-question': q.questionId, 'data-variant': v.variant, 'data-change': q.change },
              h('th', { scope: 'row' }, i === 0 ? q.questionId : ''),
              h('td', null, i === 0 ? [changeChip(q), q.change === 'reworded' && q.textA !== q.textB ? h('div', { class: 'reworded muted' }, h('del', null, q.textA ?? ''), ' → ', h('ins', null, q.textB ?? '')) : null] : ''),
              h('td', null, v.variant),
              rateCells(v),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Two-run mode, refused: why the runs cannot be paired, and a button to compare them anyway. */
export function renderMismatch(files: { a: string; b: string }, reasons: string[], onCompareAnyway: () => void): HTMLElement {
  return h(
    'section',
    { class: 'run-diff mismatch', role: 'alert', 'data-testid': 'run-mismatch' },
    h('h2', null, `Run A ${files.a} and run B ${files.b} cannot be paired`),
    h('ul', null, reasons.map((r) => h('li', null, r))),
    h('p', { class: 'muted' }, 'Their rates come from different organisms or judges, so a difference between them says little about the prompt-set change.'),
    button({ label: 'Compare anyway', testId: 'compare-anyway', appearance: 'primary', onClick: onCompareAnyway }),
  );
}
