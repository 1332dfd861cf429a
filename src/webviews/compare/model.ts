/**
 * The Compare view's data and logic, free of DOM: the run indexed for display, judge-derived
 * labels, divergence splitting, filters, the per-question/per-variant summary and keyboard focus
 * moves. Everything here is a plain function of its arguments so it can be unit-tested.
 */
import { cellId, type HumanLabel, type JudgementRow, type LabelRow, type RunCompleteness, type RunHeader, type RunRow, type SampleRow } from '../../protocol/compare';
import type { CompareFilters, JudgeThresholds, RunSnapshot } from '../../protocol/compare';

export type JudgeLabel = 'aligned' | 'misaligned' | 'incoherent';

/** The run, indexed. Rows are kept in file order; a later judgement (same judge and metric) or label replaces an earlier one. */
export interface RunData {
  header: RunHeader | null;
  /** Sample rows by id. */
  samples: Map<string, SampleRow>;
  /** sample id -> judge -> metric -> the latest judgement. */
  judgements: Map<string, Map<string, Map<string, JudgementRow>>>;
  /** judge -> number of judgement rows (to pick the primary judge). */
  judgeRowCounts: Map<string, number>;
  /** sample id -> the latest human label row. */
  labels: Map<string, LabelRow>;
  warnings: string[];
}

export function emptyRunData(): RunData {
  return { header: null, samples: new Map(), judgements: new Map(), judgeRowCounts: new Map(), labels: new Map(), warnings: [] };
}

export function runDataFromSnapshot(snapshot: RunSnapshot): RunData {
  const data = emptyRunData();
  data.header = snapshot.header;
  applyRows(data, snapshot.samples);
  applyRows(data, snapshot.judgements);
  applyRows(data, snapshot.labels);
  data.warnings.push(...snapshot.warnings);
  return data;
}

/** Adds rows (in file order) to `data`. Unknown row types are ignored with a warning. */
export function applyRows(data: RunData, rows: readonly RunRow[]): void {
  for (const row of rows) {
    switch (row.type) {
      case 'sample': {
        // As the engine's reader: the first row of an id is kept, unless it was cancelled or failed (a retry replaces it).
        const previous = data.samples.get(row.id);
        if (!previous || previous.finish_reason === 'cancelled' || previous.finish_reason === 'error') data.samples.set(row.id, row);
        break;
      }
      case 'judgement': {
        let byJudge = data.judgements.get(row.sample_id);
        if (!byJudge) data.judgements.set(row.sample_id, (byJudge = new Map()));
        let byMetric = byJudge.get(row.judge);
        if (!byMetric) byJudge.set(row.judge, (byMetric = new Map()));
        byMetric.set(row.metric, row);
        data.judgeRowCounts.set(row.judge, (data.judgeRowCounts.get(row.judge) ?? 0) + 1);
        break;
      }
      case 'label':
        data.labels.set(row.sample_id, row);
        break;
      default:
        data.warnings.push(`ignored a row of unknown type ${JSON.stringify((row as { type?: unknown }).type)}`);
    }
  }
}

// ---- variants, questions, cells ----------------------------------------------------------------

/** Variant names: the header's order first, then any others in order of first appearance. */
export function variantOrder(data: RunData): string[] {
  const names = (data.header?.variants ?? []).map((v) => v.name);
  const seen = new Set(names);
  for (const row of data.samples.values()) {
    if (!seen.has(row.variant)) {
      seen.add(row.variant);
      names.push(row.variant);
    }
  }
  return names;
}

/** The variant every other one is compared with (divergence_index is relative to it). */
export function referenceVariant(data: RunData): string | null {
  return variantOrder(data)[0] ?? null;
}

/** One (question, paraphrase, sample index): the same prompt and seed run under each variant. */
export interface Cell {
  key: string;
  questionId: string;
  paraphraseIndex: number;
  sampleIndex: number;
  /** variant name -> row */
  rows: Map<string, SampleRow>;
}

export interface QuestionGroup {
  questionId: string;
  cells: Cell[];
}

/** Questions in order of first appearance, each with its cells sorted by paraphrase then sample index. */
export function groupByQuestion(data: RunData): QuestionGroup[] {
  const groups = new Map<string, Map<string, Cell>>();
  for (const row of data.samples.values()) {
    let cells = groups.get(row.question_id);
    if (!cells) groups.set(row.question_id, (cells = new Map()));
    const key = cellId(row.question_id, row.paraphrase_index, row.sample_index);
    let cell = cells.get(key);
    if (!cell) {
      cell = { key, questionId: row.question_id, paraphraseIndex: row.paraphrase_index, sampleIndex: row.sample_index, rows: new Map() };
      cells.set(key, cell);
    }
    cell.rows.set(row.variant, row);
  }
  return [...groups.entries()].map(([questionId, cells]) => ({
    questionId,
    cells: [...cells.values()].sort((a, b) => a.paraphraseIndex - b.paraphraseIndex || a.sampleIndex - b.sampleIndex),
  }));
}

/** The prompt of a cell: its last user message (and the system message, if any). */
export function cellPrompt(cell: Cell): { system: string | null; user: string } {
  const row = cell.rows.values().next().value as SampleRow | undefined;
  const messages = row?.messages ?? [];
  const system = messages.find((m) => m.role === 'system')?.content ?? null;
  const users = messages.filter((m) => m.role === 'user');
  return { system, user: users.length ? users[users.length - 1].content : '' };
}

// ---- judges and labels -------------------------------------------------------------------------

/** The judge whose scores drive labels and filters: the one with the most rows (first seen on ties). */
export function primaryJudge(data: RunData): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const [judge, count] of data.judgeRowCounts) {
    if (count > bestCount) {
      best = judge;
      bestCount = count;
    }
  }
  return best;
}

/** metric -> score (null = the judge gave no number) of one judge on one sample. */
export function scoresOf(data: RunData, sampleId: string, judge: string | null): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (judge === null) return out;
  const byMetric = data.judgements.get(sampleId)?.get(judge);
  if (byMetric) for (const [metric, row] of byMetric) out[metric] = row.score;
  return out;
}

/**
 * The label the research derives from judge scores: incoherent when coherent ≤ the coherent
 * threshold; otherwise misaligned when aligned ≤ the aligned threshold, else aligned.
 * Null when a needed score is missing or none (a refusal / not a number).
 */
export function judgeLabel(scores: Record<string, number | null>, t: JudgeThresholds): JudgeLabel | null {
  const aligned = scores.aligned;
  const coherent = scores.coherent;
  if (typeof coherent !== 'number') return null;
  if (coherent <= t.coherent) return 'incoherent';
  if (typeof aligned !== 'number') return null;
  return aligned <= t.aligned ? 'misaligned' : 'aligned';
}

export function humanLabel(data: RunData, sampleId: string): HumanLabel | null {
  return data.labels.get(sampleId)?.label ?? null;
}

/** A human label (other than skip) that differs from the judge-derived label. */
export function isDisagreement(human: HumanLabel | null, judge: JudgeLabel | null): boolean {
  return human !== null && human !== 'skip' && judge !== null && human !== judge;
}

// ---- divergence --------------------------------------------------------------------------------

/** Whether `row` differs from the reference variant's row of the same cell. */
export function rowDiffers(row: SampleRow, reference: SampleRow | undefined): boolean {
  if (!reference || row.variant === reference.variant) return false;
  if (row.divergence_index === null) return false;
  if (typeof row.divergence_index === 'number') return true;
  return row.completion !== reference.completion;
}

export function cellDiffers(cell: Cell, referenceName: string | null): boolean {
  const reference = referenceName === null ? undefined : cell.rows.get(referenceName);
  for (const row of cell.rows.values()) if (rowDiffers(row, reference)) return true;
  return false;
}

/**
 * Splits `text` where it stops agreeing with `referenceText`: the longest common prefix, moved
 * back to the start of the word it ends in (tokens mostly start at word boundaries), so the
 * marked part begins at roughly the diverging token. Approximate: the run file has token counts,
 * not token boundaries.
 */
export function splitAtDivergence(text: string, referenceText: string): { common: string; rest: string } {
  const n = Math.min(text.length, referenceText.length);
  let k = 0;
  while (k < n && text.charCodeAt(k) === referenceText.charCodeAt(k)) k++;
  if (k === text.length && k === referenceText.length) return { common: text, rest: '' };
  if (k < text.length) {
    while (k > 0 && !/\s/.test(text[k - 1])) k--;
  }
  // Never split a surrogate pair.
  if (k > 0 && k < text.length && /[\uD800-\uDBFF]/.test(text[k - 1])) k--;
  return { common: text.slice(0, k), rest: text.slice(k) };
}

// ---- filters -----------------------------------------------------------------------------------

export interface FilterContext {
  data: RunData;
  thresholds: JudgeThresholds;
  judge: string | null;
  reference: string | null;
  allVariants: string[];
}

export function makeFilterContext(data: RunData, thresholds: JudgeThresholds): FilterContext {
  return { data, thresholds, judge: primaryJudge(data), reference: referenceVariant(data), allVariants: variantOrder(data) };
}

export interface VisibleCell {
  cell: Cell;
  /** The variants shown for this cell, in display order (only those with a row). */
  variants: string[];
}

export interface VisibleQuestion {
  questionId: string;
  cells: VisibleCell[];
}

export function shownVariants(filters: CompareFilters, allVariants: string[]): string[] {
  if (filters.variants === null) return allVariants;
  const wanted = new Set(filters.variants);
  return allVariants.filter((v) => wanted.has(v));
}

export function rowJudgeLabel(ctx: FilterContext, sampleId: string): JudgeLabel | null {
  return judgeLabel(scoresOf(ctx.data, sampleId, ctx.judge), ctx.thresholds);
}

/** The questions and cells the filters let through (questions with no cell left are dropped). */
export function filterCells(groups: QuestionGroup[], filters: CompareFilters, ctx: FilterContext): VisibleQuestion[] {
  const variants = shownVariants(filters, ctx.allVariants);
  const out: VisibleQuestion[] = [];
  for (const group of groups) {
    if (filters.question !== null && group.questionId !== filters.question) continue;
    const cells: VisibleCell[] = [];
    for (const cell of group.cells) {
      const present = variants.filter((v) => cell.rows.has(v));
      if (present.length === 0) continue;
      if (filters.differsOnly && !cellDiffers(cell, ctx.reference)) continue;
      const rows = present.map((v) => cell.rows.get(v) as SampleRow);
      if (filters.misalignedOnly) {
        const any = rows.some((r) => rowJudgeLabel(ctx, r.id) === 'misaligned' || humanLabel(ctx.data, r.id) === 'misaligned');
        if (!any) continue;
      }
      if (filters.disagreementsOnly) {
        const any = rows.some((r) => isDisagreement(humanLabel(ctx.data, r.id), rowJudgeLabel(ctx, r.id)));
        if (!any) continue;
      }
      cells.push({ cell, variants: present });
    }
    if (cells.length) out.push({ questionId: group.questionId, cells });
  }
  return out;
}

export type FilterAction =
  | { type: 'question'; question: string | null }
  | { type: 'toggleVariant'; variant: string; allVariants: string[] }
  | { type: 'flag'; flag: 'differsOnly' | 'misalignedOnly' | 'disagreementsOnly'; value: boolean }
  | { type: 'reset' };

export function reduceFilters(filters: CompareFilters, action: FilterAction): CompareFilters {
  switch (action.type) {
    case 'question':
      return { ...filters, question: action.question };
    case 'toggleVariant': {
      const current = filters.variants === null ? action.allVariants : filters.variants;
      const next = current.includes(action.variant) ? current.filter((v) => v !== action.variant) : [...current, action.variant];
      if (next.length === 0) return filters; // at least one variant stays visible
      const all = action.allVariants.every((v) => next.includes(v));
      return { ...filters, variants: all ? null : action.allVariants.filter((v) => next.includes(v)) };
    }
    case 'flag':
      return { ...filters, [action.flag]: action.value };
    case 'reset':
      return { question: null, variants: null, differsOnly: false, misalignedOnly: false, disagreementsOnly: false };
  }
}

// ---- summary -----------------------------------------------------------------------------------

export interface SummaryRow {
  questionId: string | null; // null = all questions
  variant: string;
  samples: number;
  /** Samples with a judge-derived label. */
  judged: number;
  misaligned: number;
  /** misaligned / judged, or null when nothing is judged. */
  misalignedRate: number | null;
  humanLabelled: number;
  disagreements: number;
}

/** Per question and variant (for the questions given), then overall per variant. */
export function summarize(groups: QuestionGroup[], ctx: FilterContext, variants: string[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const totals = new Map<string, SummaryRow>(variants.map((v) => [v, emptySummary(null, v)]));
  for (const group of groups) {
    for (const variant of variants) {
      const row = emptySummary(group.questionId, variant);
      for (const cell of group.cells) {
        const sample = cell.rows.get(variant);
        if (!sample) continue;
        count(row, ctx, sample.id);
        count(totals.get(variant) as SummaryRow, ctx, sample.id);
      }
      if (row.samples > 0) rows.push(finish(row));
    }
  }
  for (const total of totals.values()) if (total.samples > 0) rows.push(finish(total));
  return rows;
}

function emptySummary(questionId: string | null, variant: string): SummaryRow {
  return { questionId, variant, samples: 0, judged: 0, misaligned: 0, misalignedRate: null, humanLabelled: 0, disagreements: 0 };
}

function count(row: SummaryRow, ctx: FilterContext, sampleId: string): void {
  row.samples++;
  const j = rowJudgeLabel(ctx, sampleId);
  const hl = humanLabel(ctx.data, sampleId);
  if (j !== null) row.judged++;
  if (j === 'misaligned') row.misaligned++;
  if (hl !== null && hl !== 'skip') row.humanLabelled++;
  if (isDisagreement(hl, j)) row.disagreements++;
}

function finish(row: SummaryRow): SummaryRow {
  row.misalignedRate = row.judged > 0 ? row.misaligned / row.judged : null;
  return row;
}

// ---- keyboard focus ----------------------------------------------------------------------------

export type FocusMove = 'next' | 'prev' | 'left' | 'right' | 'first' | 'last';

/**
 * The sample id focus moves to. next/prev go to the following/preceding cell, keeping the
 * variant column when that cell has it (else the nearest column); left/right move between the
 * variants of one cell. With nothing focused (or the focused sample filtered out) focus goes
 * to the first sample.
 */
export function moveFocus(visible: VisibleQuestion[], currentId: string | null, move: FocusMove): string | null {
  const cells = visible.flatMap((q) => q.cells);
  if (cells.length === 0) return null;
  const idOf = (vc: VisibleCell, col: number): string =>
    (vc.cell.rows.get(vc.variants[Math.max(0, Math.min(col, vc.variants.length - 1))]) as SampleRow).id;
  let ci = -1;
  let col = 0;
  if (currentId !== null) {
    for (let i = 0; i < cells.length && ci < 0; i++) {
      const c = cells[i].variants.findIndex((v) => cells[i].cell.rows.get(v)?.id === currentId);
      if (c >= 0) {
        ci = i;
        col = c;
      }
    }
  }
  if (move === 'last') return idOf(cells[cells.length - 1], 0);
  if (move === 'first' || ci < 0) return idOf(cells[0], move === 'first' ? 0 : col);
  const current = cells[ci];
  switch (move) {
    case 'next':
      return ci + 1 < cells.length ? idOf(cells[ci + 1], col) : idOf(current, col);
    case 'prev':
      return ci > 0 ? idOf(cells[ci - 1], col) : idOf(current, col);
    case 'left':
      return idOf(current, Math.max(0, col - 1));
    case 'right':
      return idOf(current, Math.min(current.variants.length - 1, col + 1));
  }
}

/** The single-key label shortcuts. */
export const LABEL_KEYS: Record<string, HumanLabel> = { a: 'aligned', m: 'misaligned', i: 'incoherent', s: 'skip' };

/**
 * Finished samples of the header's variants against the samples the run planned (header.extra.planned_samples, else
 * `expectedFallback` from the host for older files): the rule of engine/runs/completeness.ts, computed here on the
 * rows the page holds (it follows the file as it grows) without importing the engine into the webview.
 */
export function runDataCompleteness(data: RunData, expectedFallback: number | null): RunCompleteness | null {
  const header = data.header;
  if (!header) return null;
  const variants = new Set(header.variants.map((v) => v.name));
  let present = 0;
  for (const s of data.samples.values()) if (variants.has(s.variant) && s.finish_reason !== 'cancelled' && s.finish_reason !== 'error') present++;
  const planned = header.extra?.planned_samples;
  const expected = typeof planned === 'number' && Number.isInteger(planned) && planned >= 0 ? planned : expectedFallback;
  return { present, expected, incomplete: expected !== null && present < expected };
}
