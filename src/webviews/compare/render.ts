/**
 * DOM for the Compare view, built with h() only: every piece of run-file text (completions,
 * prompts, names, paths) becomes a text node and is inert. Functions here read the model and
 * return elements; the app (app.ts) decides when to call them.
 */
import type { HumanLabel, RunCompleteness, SampleRow, VariantSpec } from '../../protocol/compare';
import type { CompareFilters, JudgeThresholds } from '../../protocol/compare';
import { button, checkbox, dropdown } from '../components/controls';
import { h, type Child } from '../shared/dom';
import {
  cellPrompt,
  humanLabel,
  isDisagreement,
  judgeLabel,
  scoresOf,
  splitAtDivergence,
  type FilterAction,
  type FilterContext,
  type SummaryRow,
  type VisibleCell,
  type VisibleQuestion,
} from './model';

export interface CardState {
  focused: boolean;
  pendingLabel: HumanLabel | null;
  labelError: string | null;
}

const LABEL_TEXT: Record<HumanLabel, string> = { aligned: 'aligned', misaligned: 'misaligned', incoherent: 'incoherent', skip: 'skipped' };

/** The completion text, with the part after the divergence from the reference marked. */
export function renderCompletion(row: SampleRow, reference: SampleRow | undefined): HTMLElement {
  const el = h('div', { class: 'completion', 'data-testid': 'completion' });
  const diverges = reference !== undefined && reference.variant !== row.variant && row.divergence_index !== null;
  if (!diverges || row.completion === reference.completion) {
    el.appendChild(document.createTextNode(row.completion));
    if (row.completion.length === 0) el.appendChild(h('span', { class: 'empty' }, '(empty completion)'));
    return el;
  }
  const { common, rest } = splitAtDivergence(row.completion, reference.completion);
  const token = typeof row.divergence_index === 'number' ? row.divergence_index : null;
  const where = token === null ? 'differs from' : `first differs at token ${token} from`;
  el.append(
    document.createTextNode(common),
    h(
      'mark',
      {
        class: 'diverged',
        'data-testid': 'divergence',
        'data-token-index': token ?? undefined,
        title: `${where} ${reference.variant} (marked from the first differing word of the text; approximate)`,
      },
      rest.length ? rest : '\u200b',
    ),
  );
  return el;
}

export function renderSampleCard(
  row: SampleRow,
  reference: SampleRow | undefined,
  ctx: FilterContext,
  state: CardState,
): HTMLElement {
  const isReference = reference === undefined || reference.variant === row.variant;
  const scoresByJudge = judgeScoreLines(ctx, row.id);
  const jl = judgeLabel(scoresOf(ctx.data, row.id, ctx.judge), ctx.thresholds);
  const hl = humanLabel(ctx.data, row.id);
  const disagreement = isDisagreement(hl, jl);
  const divergence = isReference
    ? 'reference'
    : row.divergence_index === null
      ? 'identical'
      : typeof row.divergence_index === 'number'
        ? `diverges at token ${row.divergence_index}`
        : reference !== undefined && row.completion !== reference.completion
          ? 'differs'
          : 'identical';
  const aria = [
    `${row.variant}`,
    `question ${row.question_id}, paraphrase ${row.paraphrase_index}, sample ${row.sample_index}`,
    divergence,
    `${row.tokens} tokens, finished by ${row.finish_reason}`,
    jl ? `judge: ${jl}` : 'not judged',
    hl ? `your label: ${LABEL_TEXT[hl]}` : 'no label',
  ].join('; ');
  return h(
    'article',
    {
      class: `sample${state.focused ? ' focused' : ''}${disagreement ? ' disagreement' : ''}`,
      'data-testid': 'sample',
      'data-sample-id': row.id,
      'data-variant': row.variant,
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
      h('span', { class: 'variant-name' }, row.variant),
      h('span', { class: 'meta', 'data-testid': 'tokens' }, `${row.tokens} tokens`),
      h('span', { class: `meta finish finish-${row.finish_reason}`, 'data-testid': 'finish-reason' }, row.finish_reason),
      h('span', { class: `meta divergence-info${isReference ? '' : ' ' + divergenceClass(divergence)}`, 'data-testid': 'divergence-info' }, divergence),
    ),
    renderCompletion(row, reference),
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

/** One line per judge: "judge  aligned 12 · coherent 80" (the primary judge first). */
function judgeScoreLines(ctx: FilterContext, sampleId: string): HTMLElement[] {
  const byJudge = ctx.data.judgements.get(sampleId);
  if (!byJudge) return [];
  const judges = [...byJudge.keys()].sort((a, b) => (a === ctx.judge ? -1 : b === ctx.judge ? 1 : a.localeCompare(b)));
  return judges.map((judge) => {
    const scores = scoresOf(ctx.data, sampleId, judge);
    const parts = Object.entries(scores).map(([metric, score]) =>
      h('span', { class: 'score', 'data-metric': metric, 'data-score': score ?? 'none' }, `${metric} ${score === null ? 'none' : formatScore(score)}`),
    );
    return h('div', { class: 'judge-line', 'data-judge': judge }, h('span', { class: 'judge-name' }, judge), ...parts);
  });
}

function formatScore(score: number): string {
  return Number.isInteger(score) ? String(score) : score.toFixed(1);
}

export function renderCell(vc: VisibleCell, ctx: FilterContext, showPrompt: boolean, cardState: (id: string) => CardState): HTMLElement {
  const { cell } = vc;
  const reference = ctx.reference === null ? undefined : cell.rows.get(ctx.reference);
  const prompt = cellPrompt(cell);
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
      vc.variants.map((v) => {
        const row = cell.rows.get(v) as SampleRow;
        return renderSampleCard(row, reference, ctx, cardState(row.id));
      }),
    ),
  );
}

export function renderQuestions(visible: VisibleQuestion[], ctx: FilterContext, cardState: (id: string) => CardState): HTMLElement {
  if (visible.length === 0) {
    return h('p', { class: 'empty-state', 'data-testid': 'no-samples' }, ctx.data.samples.size === 0 ? 'No samples in this run yet.' : 'No samples match the filters.');
  }
  return h(
    'div',
    { class: 'questions' },
    visible.map((q) => {
      let lastParaphrase = -1;
      return h(
        'section',
        { class: 'question', 'data-testid': 'question', 'data-question': q.questionId, 'aria-label': `question ${q.questionId}` },
        h('h2', { class: 'question-id' }, q.questionId),
        q.cells.map((vc) => {
          const show = vc.cell.paraphraseIndex !== lastParaphrase;
          lastParaphrase = vc.cell.paraphraseIndex;
          return renderCell(vc, ctx, show, cardState);
        }),
      );
    }),
  );
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
    `${c.questions} questions · ${c.samples} samples · ${c.judgements} judgements${ctx.judge ? ` (labels from ${ctx.judge})` : ''} · ${c.labels} human labels`,
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
      'Keys: j/k or ↓/↑ next/previous sample · h/l or ←/→ between variants · a aligned · m misaligned · i incoherent · s skip',
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

// ---- summary -----------------------------------------------------------------------------------

export function renderSummary(rows: SummaryRow[]): HTMLElement {
  const head = ['Question', 'Variant', 'Samples', 'Judged', 'Misaligned', 'Human labels', 'Disagreements'];
  return h(
    'details',
    { class: 'summary', open: true, 'data-testid': 'summary' },
    h('summary', null, 'Summary per question and variant'),
    h(
      'table',
      null,
      h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        null,
        rows.map((r) =>
          h(
            'tr',
            { class: r.questionId === null ? 'total' : '', 'data-testid': 'summary-row', 'data-question': r.questionId ?? '*', 'data-variant': r.variant },
            h('th', { scope: 'row' }, r.questionId ?? 'all questions'),
            h('td', null, r.variant),
            h('td', { class: 'num' }, r.samples),
            h('td', { class: 'num' }, r.judged),
            h('td', { class: 'num', 'data-testid': 'misaligned-rate' }, r.misalignedRate === null ? '–' : `${r.misaligned} (${(100 * r.misalignedRate).toFixed(1)}%)`),
            h('td', { class: 'num' }, r.humanLabelled),
            h('td', { class: 'num' }, r.disagreements),
          ),
        ),
      ),
    ),
  );
}

