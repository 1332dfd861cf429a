/**
 * The Compare view's data and logic, free of DOM: the run (and in two-run mode the other run) indexed for display,
 * cells of conditions × variants, judge-derived labels, divergence splitting, filters, which of the engine report's
 * groups to show, and keyboard focus moves. The rates themselves are the engine's (computeReport, sent by the host):
 * nothing here counts them. Everything is a plain function of its arguments so it can be unit-tested.
 */
import { cellId, type HumanLabel, type JudgementRow, type LabelRow, type RunCompleteness, type RunHeader, type RunRow, type SampleRow } from '../../protocol/compare';
import type { CompareFilters, GroupStats, JudgeThresholds, ReportData, RunSnapshot } from '../../protocol/compare';
import { judgeCategory } from '../../protocol/judges';
import type { AgreementCategory } from '../../protocol/reportData';

/** The label a judge's scores imply (protocol/judges.ts judgeCategory, the rule the engine report's agreement table uses). */
export type JudgeLabel = AgreementCategory;

/** The run, indexed. Rows are kept in file order; a later judgement (same judge and metric) or label replaces an earlier one. */
export interface RunData {
  header: RunHeader | null;
  /** Sample rows by id. */
  samples: Map<string, SampleRow>;
  /** sample id -> judge -> metric -> the latest judgement. */
  judgements: Map<string, Map<string, Map<string, JudgementRow>>>;
  /** Judgement rows read (for the header's counts). */
  judgementRows: number;
  /** sample id -> the latest human label row. */
  labels: Map<string, LabelRow>;
  warnings: string[];
}

export function emptyRunData(): RunData {
  return { header: null, samples: new Map(), judgements: new Map(), judgementRows: 0, labels: new Map(), warnings: [] };
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
        data.judgementRows++;
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

// ---- variants, conditions, columns, questions, cells --------------------------------------------

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

/** A sample row's prompt condition (SampleRow.condition), or null for a run without conditions. */
export function conditionOf(row: SampleRow): string | null {
  const c = (row as { condition?: unknown }).condition;
  return typeof c === 'string' && c !== '' ? c : null;
}

/** Condition names: the header's declared order (the first is the reference condition), then others as they appear. */
export function conditionOrder(data: RunData): string[] {
  const declared = (data.header as { conditions?: unknown } | null)?.conditions;
  const names: string[] = Array.isArray(declared) ? declared.flatMap((c) => (c && typeof (c as { name?: unknown }).name === 'string' ? [(c as { name: string }).name] : [])) : [];
  const seen = new Set(names);
  for (const row of data.samples.values()) {
    const c = conditionOf(row);
    if (c !== null && !seen.has(c)) {
      seen.add(c);
      names.push(c);
    }
  }
  return names;
}

/** Which run of a two-run Compare a row comes from (A: the earlier run, B: this run); null with one run. */
export type RunSide = 'A' | 'B';

/** One column of a cell: a (condition, variant) of a run. */
export interface Column {
  key: string;
  side: RunSide | null;
  condition: string | null;
  variant: string;
}

export function columnKey(side: RunSide | null, condition: string | null, variant: string): string {
  return `${side ? `${side}:` : ''}${variant}${condition !== null ? `~${condition}` : ''}`;
}

/** The id a card is focused and found by: the sample id, prefixed with "A:" for the other run's rows. */
export function focusIdOf(side: RunSide | null, row: SampleRow): string {
  return side === 'A' ? `A:${row.id}` : row.id;
}

/**
 * The columns of a run (conditions × variants, the reference first), and in two-run mode of both runs: each
 * (condition, variant) of A beside the same of B, so paired rows sit side by side.
 */
export function columnOrder(data: RunData, against: RunData | null = null): Column[] {
  const sides: (RunSide | null)[] = against ? ['A', 'B'] : [null];
  const merge = (xs: string[], ys: string[]) => [...new Set([...xs, ...ys])];
  const variants = against ? merge(variantOrder(data), variantOrder(against)) : variantOrder(data);
  const conditions = against ? merge(conditionOrder(data), conditionOrder(against)) : conditionOrder(data);
  const out: Column[] = [];
  for (const condition of conditions.length ? conditions : [null]) {
    for (const variant of variants) for (const side of sides) out.push({ key: columnKey(side, condition, variant), side, condition, variant });
  }
  return out;
}

/** The reference variant (divergence_index is relative to the first condition and first variant). */
export function referenceVariant(data: RunData): string | null {
  return variantOrder(data)[0] ?? null;
}

/** One (question, paraphrase, sample index): the same prompt and seed run under each condition and variant (of each run). */
export interface Cell {
  key: string;
  questionId: string;
  paraphraseIndex: number;
  sampleIndex: number;
  /** column key -> row */
  rows: Map<string, SampleRow>;
}

export interface QuestionGroup {
  questionId: string;
  cells: Cell[];
}

/**
 * Questions in order of first appearance, each with its cells sorted by paraphrase then sample index. With `against`
 * (two-run mode), rows of both runs are paired into the same cells by (question, paraphrase, sample, variant, condition).
 */
export function groupByQuestion(data: RunData, against: RunData | null = null): QuestionGroup[] {
  const groups = new Map<string, Map<string, Cell>>();
  const add = (source: RunData, side: RunSide | null) => {
    for (const row of source.samples.values()) {
      let cells = groups.get(row.question_id);
      if (!cells) groups.set(row.question_id, (cells = new Map()));
      const key = cellId(row.question_id, row.paraphrase_index, row.sample_index);
      let cell = cells.get(key);
      if (!cell) {
        cell = { key, questionId: row.question_id, paraphraseIndex: row.paraphrase_index, sampleIndex: row.sample_index, rows: new Map() };
        cells.set(key, cell);
      }
      cell.rows.set(columnKey(side, conditionOf(row), row.variant), row);
    }
  };
  if (against) add(against, 'A');
  add(data, against ? 'B' : null);
  return [...groups.entries()].map(([questionId, cells]) => ({
    questionId,
    cells: [...cells.values()].sort((a, b) => a.paraphraseIndex - b.paraphraseIndex || a.sampleIndex - b.sampleIndex),
  }));
}

/** The prompt of a row: its last user message (and the system message, if any). */
export function rowPrompt(row: SampleRow | undefined): { system: string | null; user: string } {
  const messages = row?.messages ?? [];
  const system = messages.find((m) => m.role === 'system')?.content ?? null;
  const users = messages.filter((m) => m.role === 'user');
  return { system, user: users.length ? users[users.length - 1].content : '' };
}

/** The prompt of a cell (its first row's; with conditions each card shows its own condition's prompt). */
export function cellPrompt(cell: Cell): { system: string | null; user: string } {
  return rowPrompt(cell.rows.values().next().value as SampleRow | undefined);
}

// ---- judges and labels -------------------------------------------------------------------------

/** metric -> score (null = the judge gave no number) of one judge on one sample. */
export function scoresOf(data: RunData, sampleId: string, judge: string | null): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (judge === null) return out;
  const byMetric = data.judgements.get(sampleId)?.get(judge);
  if (byMetric) for (const [metric, row] of byMetric) out[metric] = row.score;
  return out;
}

export function humanLabel(data: RunData, sampleId: string): HumanLabel | null {
  return data.labels.get(sampleId)?.label ?? null;
}

/** A human label (other than skip) that differs from the judge-derived label. */
export function isDisagreement(human: HumanLabel | null, judge: JudgeLabel | null): boolean {
  return human !== null && human !== 'skip' && judge !== null && human !== judge;
}

// ---- context -----------------------------------------------------------------------------------

export interface FilterContext {
  /** This run (B in two-run mode). */
  data: RunData;
  /** The other run (A, e.g. on main) in two-run mode, else null. */
  against: RunData | null;
  thresholds: JudgeThresholds;
  /**
   * The judge whose scores drive labels and filters: the engine report's choice (computeReport: a judge that
   * scored both metrics, then the most rows), null until the report arrives or when nothing is judged.
   */
  judge: string | null;
  /** The judge of run A (the run diff's choice, by the same rule). */
  againstJudge: string | null;
  columns: Column[];
  variants: string[];
  conditions: string[];
}

export function makeFilterContext(
  data: RunData,
  thresholds: JudgeThresholds,
  judges: { judge: string | null; againstJudge?: string | null },
  against: RunData | null = null,
): FilterContext {
  const columns = columnOrder(data, against);
  return {
    data,
    against,
    thresholds,
    judge: judges.judge,
    againstJudge: judges.againstJudge ?? null,
    columns,
    variants: [...new Set(columns.map((c) => c.variant))],
    conditions: [...new Set(columns.flatMap((c) => (c.condition === null ? [] : [c.condition])))],
  };
}

/** The run a side's rows come from, and its judge. */
export function sideData(ctx: FilterContext, side: RunSide | null): { data: RunData; judge: string | null } {
  return side === 'A' && ctx.against ? { data: ctx.against, judge: ctx.againstJudge } : { data: ctx.data, judge: ctx.judge };
}

/** The reference column of a side: the first condition and the first variant (divergence_index is relative to it). */
export function referenceKey(ctx: FilterContext, side: RunSide | null): string | null {
  const variant = ctx.variants[0];
  return variant === undefined ? null : columnKey(side, ctx.conditions[0] ?? null, variant);
}

export function rowJudgeLabel(ctx: FilterContext, side: RunSide | null, sampleId: string): JudgeLabel | null {
  const { data, judge } = sideData(ctx, side);
  const scores = scoresOf(data, sampleId, judge);
  return judgeCategory(scores.aligned, scores.coherent, ctx.thresholds);
}

export function rowHumanLabel(ctx: FilterContext, side: RunSide | null, sampleId: string): HumanLabel | null {
  return humanLabel(sideData(ctx, side).data, sampleId);
}

/**
 * The row whose prompt a cell shows above its cards: the reference row of this run (B in two-run mode), else the
 * first row shown. A card whose prompt differs from it (another condition, run A's older wording) shows its own.
 */
export function cellPromptRow(cell: Cell, ctx: FilterContext, shown: Column[]): SampleRow | undefined {
  const key = referenceKey(ctx, ctx.against ? 'B' : null);
  return (key === null ? undefined : cell.rows.get(key)) ?? (shown[0] ? cell.rows.get(shown[0].key) : undefined);
}

// ---- divergence --------------------------------------------------------------------------------

/** Whether `row` differs from the reference row of its cell. */
export function rowDiffers(row: SampleRow, reference: SampleRow | undefined): boolean {
  if (!reference || reference === row) return false;
  if (row.divergence_index === null) return false;
  if (typeof row.divergence_index === 'number') return true;
  return row.completion !== reference.completion;
}

export function cellDiffers(cell: Cell, ctx: FilterContext): boolean {
  for (const column of ctx.columns) {
    const row = cell.rows.get(column.key);
    const ref = referenceKey(ctx, column.side);
    if (row && ref !== null && rowDiffers(row, cell.rows.get(ref))) return true;
  }
  return false;
}

export interface DivergenceSplit {
  common: string;
  rest: string;
  /**
   * How the boundary was found: `token` = the start of the first diverging token (decoded from the rows' token_ids by
   * the engine host); `characters` = the first differing character of the two texts (no token boundaries at hand).
   */
  boundary: 'token' | 'characters';
}

/** Longest common prefix length of two strings, never splitting a surrogate pair. */
function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  if (k > 0 && k < a.length && /[\uD800-\uDBFF]/.test(a[k - 1])) k--;
  return k;
}

/**
 * Splits a completion where it stops agreeing with the reference row's. `tokenOffset` is the character offset of the
 * first diverging token (the decoded length of the shared token prefix, token_ids[0 : divergence_index]); it is used
 * when it is consistent with both texts, else the split falls back to the first differing character.
 */
export function divergenceSplit(text: string, referenceText: string, tokenOffset: number | null = null): DivergenceSplit {
  const lcp = commonPrefixLength(text, referenceText);
  if (tokenOffset !== null && Number.isInteger(tokenOffset) && tokenOffset >= 0 && tokenOffset <= lcp) {
    return { common: text.slice(0, tokenOffset), rest: text.slice(tokenOffset), boundary: 'token' };
  }
  return { common: text.slice(0, lcp), rest: text.slice(lcp), boundary: 'characters' };
}

// ---- filters -----------------------------------------------------------------------------------

export interface VisibleCell {
  cell: Cell;
  /** The columns shown for this cell, in display order (only those with a row). */
  columns: Column[];
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

export function shownConditions(filters: CompareFilters, allConditions: string[]): string[] {
  const chosen = filters.conditions ?? null;
  if (chosen === null) return allConditions;
  const wanted = new Set(chosen);
  return allConditions.filter((c) => wanted.has(c));
}

/** The columns the variant and condition filters let through. */
export function shownColumns(filters: CompareFilters, ctx: FilterContext): Column[] {
  const variants = new Set(shownVariants(filters, ctx.variants));
  const conditions = new Set(shownConditions(filters, ctx.conditions));
  return ctx.columns.filter((c) => variants.has(c.variant) && (c.condition === null || conditions.has(c.condition)));
}

/** The questions and cells the filters let through (questions with no cell left are dropped). */
export function filterCells(groups: QuestionGroup[], filters: CompareFilters, ctx: FilterContext): VisibleQuestion[] {
  const columns = shownColumns(filters, ctx);
  const out: VisibleQuestion[] = [];
  for (const group of groups) {
    if (filters.question !== null && group.questionId !== filters.question) continue;
    const cells: VisibleCell[] = [];
    for (const cell of group.cells) {
      const present = columns.filter((c) => cell.rows.has(c.key));
      if (present.length === 0) continue;
      if (filters.differsOnly && !cellDiffers(cell, ctx)) continue;
      const rows = present.map((c) => ({ side: c.side, row: cell.rows.get(c.key) as SampleRow }));
      if (filters.misalignedOnly) {
        const any = rows.some(({ side, row }) => rowJudgeLabel(ctx, side, row.id) === 'misaligned' || rowHumanLabel(ctx, side, row.id) === 'misaligned');
        if (!any) continue;
      }
      if (filters.disagreementsOnly) {
        const any = rows.some(({ side, row }) => isDisagreement(rowHumanLabel(ctx, side, row.id), rowJudgeLabel(ctx, side, row.id)));
        if (!any) continue;
      }
      cells.push({ cell, columns: present });
    }
    if (cells.length) out.push({ questionId: group.questionId, cells });
  }
  return out;
}

export type FilterAction =
  | { type: 'question'; question: string | null }
  | { type: 'toggleVariant'; variant: string; allVariants: string[] }
  | { type: 'toggleCondition'; condition: string; allConditions: string[] }
  | { type: 'flag'; flag: 'differsOnly' | 'misalignedOnly' | 'disagreementsOnly'; value: boolean }
  | { type: 'reset' };

/** Toggles one name in a "null = all" selection, keeping at least one and folding back to null when all are on. */
function toggleIn(current: string[] | null, name: string, all: string[]): string[] | null | undefined {
  const on = current === null ? all : current;
  const next = on.includes(name) ? on.filter((v) => v !== name) : [...on, name];
  if (next.length === 0) return undefined; // at least one stays visible
  return all.every((v) => next.includes(v)) ? null : all.filter((v) => next.includes(v));
}

export function reduceFilters(filters: CompareFilters, action: FilterAction): CompareFilters {
  switch (action.type) {
    case 'question':
      return { ...filters, question: action.question };
    case 'toggleVariant': {
      const next = toggleIn(filters.variants, action.variant, action.allVariants);
      return next === undefined ? filters : { ...filters, variants: next };
    }
    case 'toggleCondition': {
      const next = toggleIn(filters.conditions ?? null, action.condition, action.allConditions);
      return next === undefined ? filters : { ...filters, conditions: next };
    }
    case 'flag':
      return { ...filters, [action.flag]: action.value };
    case 'reset':
      return { question: null, variants: null, conditions: null, differsOnly: false, misalignedOnly: false, disagreementsOnly: false };
  }
}

// ---- summary (the engine's report) -------------------------------------------------------------

/** The fields of a report group that are numbers, not what the group is of. */
const GROUP_MEASURES = new Set(['samples', 'misalignedCoherent', 'misalignedAmongCoherent', 'coherent', 'metrics']);

/**
 * What a report group is of, as (field, value) pairs: variant and question today, and any other dimension the
 * engine adds (e.g. condition); null = all together. Rendered generically so new dimensions show up as columns.
 */
export function groupDimensions(group: GroupStats): [string, string | null][] {
  const out: [string, string | null][] = [];
  for (const [key, value] of Object.entries(group)) {
    if (GROUP_MEASURES.has(key)) continue;
    if (value === null || typeof value === 'string') out.push([key, value]);
  }
  return out;
}

/**
 * The report's groups the filters let through: the question filter keeps that question's groups and the totals
 * (question null); the variant and condition filters drop groups of hidden variants or conditions.
 */
export function visibleReportGroups(report: ReportData, filters: CompareFilters, ctx: FilterContext): GroupStats[] {
  const variants = new Set(shownVariants(filters, ctx.variants));
  const conditions = new Set(shownConditions(filters, ctx.conditions));
  // The report's groups, then its condition × variant arms (arms without a condition repeat the variant groups).
  const arms = ((report as { arms?: unknown }).arms ?? []) as GroupStats[];
  const rows = [...report.groups, ...(Array.isArray(arms) ? arms.filter((a) => typeof (a as { condition?: unknown }).condition === 'string') : [])];
  return rows.filter((g) => {
    const dims = new Map(groupDimensions(g));
    const q = dims.get('questionId') ?? null;
    if (filters.question !== null && q !== null && q !== filters.question) return false;
    const v = dims.get('variant') ?? null;
    if (v !== null && !variants.has(v)) return false;
    const c = dims.get('condition') ?? null;
    if (c !== null && ctx.conditions.includes(c) && !conditions.has(c)) return false;
    return true;
  });
}

// ---- keyboard focus ----------------------------------------------------------------------------

export type FocusMove = 'next' | 'prev' | 'left' | 'right' | 'first' | 'last';

/**
 * The focus id (focusIdOf) focus moves to. next/prev go to the following/preceding cell, keeping the
 * column when that cell has it (else the nearest column); left/right move between the columns of one
 * cell. With nothing focused (or the focused sample filtered out) focus goes to the first sample.
 */
export function moveFocus(visible: VisibleQuestion[], currentId: string | null, move: FocusMove): string | null {
  const cells = visible.flatMap((q) => q.cells);
  if (cells.length === 0) return null;
  const idOf = (vc: VisibleCell, col: number): string => {
    const column = vc.columns[Math.max(0, Math.min(col, vc.columns.length - 1))];
    return focusIdOf(column.side, vc.cell.rows.get(column.key) as SampleRow);
  };
  let ci = -1;
  let col = 0;
  if (currentId !== null) {
    for (let i = 0; i < cells.length && ci < 0; i++) {
      const c = cells[i].columns.findIndex((column) => {
        const row = cells[i].cell.rows.get(column.key);
        return row !== undefined && focusIdOf(column.side, row) === currentId;
      });
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
      return idOf(current, Math.min(current.columns.length - 1, col + 1));
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
