/**
 * The Compare view's controller: holds the run and the view state, handles host messages and
 * keys, persists the view state, and renders. The page entry (main.ts) only wires it to the
 * real `acquireVsCodeApi()` and window events, so tests can drive it with a fake API.
 */
import type { HumanLabel, ReportData, RunDiff } from '../../protocol/compare';
import {
  DEFAULT_FILTERS,
  DEFAULT_THRESHOLDS,
  isCompareHostMessage,
  isCompareViewState,
  type CompareBootstrap,
  type CompareFilters,
  type CompareHostMessage,
  type CompareViewState,
  type CompareWebviewMessage,
  type JudgeThresholds,
} from '../../protocol/compare';
import type { WebviewApi } from '../../protocol/webviews';
import { isInsideControl } from '../components/controls';
import { h, replaceChildren } from '../shared/dom';
import {
  applyRows,
  cellPromptRow,
  emptyRunData,
  filterCells,
  focusIdOf,
  groupByQuestion,
  LABEL_KEYS,
  makeFilterContext,
  moveFocus,
  reduceFilters,
  referenceKey,
  runDataCompleteness,
  runDataFromSnapshot,
  visibleReportGroups,
  type Cell,
  type Column,
  type FilterAction,
  type FilterContext,
  type FocusMove,
  type QuestionGroup,
  type RunData,
  type VisibleQuestion,
} from './model';
import { renderFilters, renderLabelBar, renderMismatch, renderQuestions, renderRunDiff, renderRunHeader, renderSampleCard, renderSummary, type CardActions, type CardState } from './render';

export type CompareApi = WebviewApi<CompareWebviewMessage, CompareViewState>;

/** The parts of the page that a partial update replaces. */
interface RenderedParts {
  header: HTMLElement;
  status: HTMLElement;
  summary: HTMLElement;
}

const MOVE_KEYS: Record<string, FocusMove> = {
  j: 'next',
  ArrowDown: 'next',
  k: 'prev',
  ArrowUp: 'prev',
  h: 'left',
  ArrowLeft: 'left',
  l: 'right',
  ArrowRight: 'right',
  Home: 'first',
  End: 'last',
};

export class CompareApp {
  private data: RunData = emptyRunData();
  private loaded = false;
  private runUri: string;
  private fileName: string;
  private thresholds: JudgeThresholds = DEFAULT_THRESHOLDS;
  private labelsWritable = false;
  private labelsNote = '';
  /** Planned samples of an older run file (its header does not say); null: from the header or unknown. */
  private expectedSamples: number | null = null;
  private filters: CompareFilters = DEFAULT_FILTERS;
  private focusedSampleId: string | null = null;
  private readonly pending = new Map<string, HumanLabel>();
  private readonly labelErrors = new Map<string, string>();
  private error: string | null = null;
  private status = '';
  private visible: VisibleQuestion[] = [];
  private parts: RenderedParts | null = null;
  private summaryOpen = true;
  /** The engine's Run Report of this run (null until the host sends it) and why there is none. */
  private report: ReportData | null = null;
  private reportNote: string | null = null;
  /** Two-run mode: run A's URI (from the view state), its rows, the engine's diff, or why the runs cannot be paired. */
  private againstUri: string | null = null;
  private allowMismatch = false;
  private againstFileName = '';
  private against: RunData | null = null;
  private diff: RunDiff | null = null;
  private diffWarnings: string[] = [];
  private mismatch: string[] | null = null;
  /** focus id -> character offset of its first diverging token (decoded by the engine host). */
  private tokenOffsets = new Map<string, number>();
  private readonly actions: CardActions = {
    openActivations: (sampleId, side) => this.api.postMessage({ type: 'compare/openActivations', sampleId, ...(side ? { side } : {}) }),
  };

  constructor(
    private readonly root: HTMLElement,
    private readonly api: CompareApi,
    bootstrap: CompareBootstrap | null,
  ) {
    this.runUri = bootstrap?.runUri ?? '';
    this.fileName = bootstrap?.fileName ?? 'run';
    const saved = bootstrap?.viewState ?? api.getState();
    if (isCompareViewState(saved) && (this.runUri === '' || saved.runUri === this.runUri)) {
      this.runUri = saved.runUri;
      this.filters = saved.filters;
      this.focusedSampleId = saved.focusedSampleId;
      this.againstUri = saved.againstUri ?? null;
      this.allowMismatch = saved.allowMismatch ?? false;
    }
  }

  /** Renders the loading state and asks the host for the run. */
  start(): void {
    this.render();
    this.api.postMessage({ type: 'compare/ready' });
  }

  get viewState(): CompareViewState {
    const state: CompareViewState = { version: 1, runUri: this.runUri, filters: this.filters, focusedSampleId: this.focusedSampleId };
    if (this.againstUri !== null) {
      state.againstUri = this.againstUri;
      if (this.allowMismatch) state.allowMismatch = true;
    }
    return state;
  }

  handleMessage(message: unknown): void {
    if (!isCompareHostMessage(message)) return;
    this.apply(message);
  }

  private apply(message: CompareHostMessage): void {
    switch (message.type) {
      case 'compare/load': {
        const first = !this.loaded;
        this.data = runDataFromSnapshot(message.snapshot);
        this.runUri = message.runUri;
        this.fileName = message.fileName;
        this.thresholds = message.thresholds;
        this.labelsWritable = message.labelsWritable;
        this.labelsNote = message.labelsNote;
        this.expectedSamples = typeof message.expectedSamples === 'number' ? message.expectedSamples : null;
        this.loaded = true;
        this.error = null;
        this.persist();
        this.render();
        // A restored view brings its focused sample back into sight.
        if (first && this.focusedSampleId !== null) this.focusCard(true);
        break;
      }
      case 'compare/append': {
        applyRows(this.data, message.rows);
        this.data.warnings.push(...message.warnings);
        const touched = new Set<string>();
        let onlyScoresAndLabels = message.warnings.length === 0;
        for (const row of message.rows) {
          if (row.type === 'sample') onlyScoresAndLabels = false;
          else touched.add(row.sample_id);
        }
        if (!onlyScoresAndLabels || !this.renderCards(touched)) this.render();
        break;
      }
      case 'compare/report': {
        // The report's judge gives the cards their labels: a full render when it changed, else only the summary
        // (the report is recomputed after every appended row while a judge runs).
        const judgeChanged = (this.report?.judge ?? null) !== (message.report?.judge ?? null);
        this.report = message.report;
        this.reportNote = message.note ?? null;
        if (judgeChanged || !this.renderSummaryOnly()) this.render();
        break;
      }
      case 'compare/against':
        this.againstUri = message.againstUri;
        this.againstFileName = message.fileName;
        if (message.snapshot) this.against = runDataFromSnapshot(message.snapshot);
        else if (!this.against) break; // rows of A never arrived: wait for a message that has them
        this.diff = message.diff;
        this.diffWarnings = message.warnings;
        this.mismatch = null;
        this.render();
        break;
      case 'compare/mismatch':
        this.againstUri = message.againstUri;
        this.againstFileName = message.fileName;
        this.against = null;
        this.diff = null;
        this.mismatch = message.reasons;
        this.render();
        break;
      case 'compare/tokenOffsets': {
        const next = new Map(Object.entries(message.offsets));
        const same = next.size === this.tokenOffsets.size && [...next].every(([id, offset]) => this.tokenOffsets.get(id) === offset);
        this.tokenOffsets = next;
        if (!same) this.render();
        break;
      }
      case 'compare/thresholds':
        this.thresholds = message.thresholds;
        this.render();
        break;
      case 'compare/focusSample':
        if (!this.data.samples.has(message.sampleId)) {
          this.status = `Sample ${message.sampleId} is not in this run.`;
          this.render();
          break;
        }
        // Make sure the sample is visible: clear filters that hide it.
        this.focusedSampleId = message.sampleId;
        if (!this.isVisible(message.sampleId)) this.filters = DEFAULT_FILTERS;
        this.persist();
        this.render();
        this.focusCard(true);
        break;
      case 'compare/labelResult':
        this.pending.delete(message.sampleId);
        if (message.ok) {
          this.labelErrors.delete(message.sampleId);
          this.status = '';
        } else {
          const error = message.error ?? 'unknown error';
          this.labelErrors.set(message.sampleId, error);
          this.status = `Could not save the label: ${error}`;
        }
        if (!this.renderCards(new Set([message.sampleId]))) this.render();
        break;
      case 'compare/error':
        this.error = message.message;
        this.render();
        break;
    }
  }

  /** Keyboard navigation and labelling; returns whether the key was used. */
  handleKey(event: KeyboardEvent): boolean {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    if (isInsideControl(event.target)) return false;
    const move = MOVE_KEYS[event.key];
    if (move) {
      const next = moveFocus(this.visible, this.focusedSampleId, move);
      if (next === null) return false;
      event.preventDefault();
      this.setFocus(next, true);
      return true;
    }
    const label = LABEL_KEYS[event.key];
    if (label) {
      event.preventDefault();
      this.label(label);
      return true;
    }
    return false;
  }

  /** Labels the focused sample (sent to the host, which appends a `label` row to the run file). */
  label(label: HumanLabel): void {
    const id = this.focusedSampleId;
    if (id !== null && id.startsWith('A:') && this.against?.samples.has(id.slice(2))) {
      this.status = `Run A (${this.againstFileName}) is shown read-only: label the samples of run B, or open run A in its own Compare panel.`;
    } else if (id === null || !this.data.samples.has(id)) {
      this.status = 'Focus a sample first (click it, or press j).';
    } else if (!this.labelsWritable) {
      this.status = 'Labels cannot be written to this run file.';
    } else {
      this.pending.set(id, label);
      this.labelErrors.delete(id);
      this.status = '';
      this.api.postMessage({ type: 'compare/setLabel', sampleId: id, label });
    }
    if (id === null || !this.renderCards(new Set([id]))) this.render();
  }

  private dispatch(action: FilterAction): void {
    this.filters = reduceFilters(this.filters, action);
    this.persist();
    this.render();
  }

  private setFocus(id: string, moveDomFocus: boolean): void {
    if (this.focusedSampleId === id && !moveDomFocus) return;
    this.focusedSampleId = id;
    this.persist();
    for (const el of this.root.querySelectorAll('[data-testid="sample"].focused')) el.classList.remove('focused');
    this.focusCard(moveDomFocus);
  }

  private focusCard(moveDomFocus: boolean): void {
    if (this.focusedSampleId === null) return;
    const card = this.cardElement(this.focusedSampleId);
    if (!card) return;
    card.classList.add('focused');
    if (moveDomFocus) {
      card.focus();
      if (typeof card.scrollIntoView === 'function') card.scrollIntoView({ block: 'nearest' });
    }
  }

  private cardElement(id: string): HTMLElement | null {
    for (const el of this.root.querySelectorAll<HTMLElement>('[data-testid="sample"]')) {
      if (el.dataset.sampleId === id) return el;
    }
    return null;
  }

  private isVisible(id: string): boolean {
    return this.visible.some((q) => q.cells.some((vc) => vc.columns.some((c) => this.focusIdAt(vc.cell, c) === id)));
  }

  private focusIdAt(cell: Cell, column: Column): string | null {
    const row = cell.rows.get(column.key);
    return row ? focusIdOf(column.side, row) : null;
  }

  private context(): FilterContext {
    return makeFilterContext(this.data, this.thresholds, { judge: this.report?.judge ?? null, againstJudge: this.diff?.a.judge ?? null }, this.against);
  }

  /** Saves the view state with setState and tells the host (which keeps it across reloads, see protocol). */
  private persist(): void {
    const state: CompareViewState = { ...this.viewState, savedAt: Date.now() };
    this.api.setState(state);
    this.api.postMessage({ type: 'compare/viewState', viewState: state });
  }

  render(): void {
    const doc = this.root.ownerDocument;
    const active = doc.activeElement as HTMLElement | null;
    const cardHadFocus = active !== null && active.getAttribute('data-testid') === 'sample' && this.root.contains(active);
    this.root.setAttribute('aria-busy', String(!this.loaded));
    if (!this.loaded) {
      this.parts = null;
      replaceChildren(
        this.root,
        this.error
          ? h('p', { class: 'error', role: 'alert', 'data-testid': 'error' }, this.error)
          : h('p', { class: 'loading muted' }, `Loading ${this.fileName}…`),
      );
      return;
    }
    const ctx = this.context();
    const groups = groupByQuestion(this.data, this.against);
    this.visible = filterCells(groups, this.filters, ctx);
    const shownSamples = this.visible.reduce((n, q) => n + q.cells.reduce((m, c) => m + c.columns.length, 0), 0);
    const total = this.data.samples.size + (this.against?.samples.size ?? 0);
    const parts: RenderedParts = {
      header: this.renderHeader(ctx, groups.length),
      status: this.renderStatus(),
      summary: this.summaryElement(ctx),
    };
    replaceChildren(
      this.root,
      this.error ? h('p', { class: 'error', role: 'alert', 'data-testid': 'error' }, this.error) : null,
      parts.header,
      this.twoRunSection(),
      h(
        'div',
        { class: 'toolbar' },
        renderFilters(
          this.filters,
          groups.map((g) => g.questionId),
          ctx.variants,
          ctx.conditions,
          { samples: shownSamples, total },
          (a) => this.dispatch(a),
        ),
        renderLabelBar(this.labelsWritable, (label) => this.label(label)),
      ),
      parts.status,
      parts.summary,
      renderQuestions(this.visible, ctx, (id) => this.cardState(id), this.actions, this.diff),
    );
    this.parts = parts;
    for (const card of this.root.querySelectorAll<HTMLElement>('[data-testid="sample"]')) this.listen(card);
    if (cardHadFocus) this.focusCard(true);
  }

  /**
   * Re-renders only the given samples' cards (plus header, status and summary) when nothing else
   * can have changed: no filter that depends on labels or scores is on. Returns false when a full
   * render is needed instead. Keeps labelling fast on runs with thousands of samples.
   */
  private renderCards(ids: Set<string>): boolean {
    if (!this.loaded || !this.parts || this.filters.misalignedOnly || this.filters.disagreementsOnly) return false;
    const doc = this.root.ownerDocument;
    const active = doc.activeElement as HTMLElement | null;
    const ctx = this.context();
    const groups = groupByQuestion(this.data, this.against);
    const parts: RenderedParts = {
      header: this.renderHeader(ctx, groups.length),
      status: this.renderStatus(),
      summary: this.summaryElement(ctx),
    };
    this.parts.header.replaceWith(parts.header);
    this.parts.status.replaceWith(parts.status);
    this.parts.summary.replaceWith(parts.summary);
    this.parts = parts;
    for (const id of ids) {
      const old = this.cardElement(id);
      const found = old ? locate(groups, ctx.columns, id) : null;
      if (!old || !found) continue;
      const refKey = referenceKey(ctx, found.column.side);
      const reference = refKey === null ? undefined : found.cell.rows.get(refKey);
      const row = found.cell.rows.get(found.column.key)!;
      const shown = this.visible.flatMap((q) => q.cells).find((vc) => vc.cell.key === found.cell.key && vc.cell.questionId === found.cell.questionId)?.columns ?? [found.column];
      const card = renderSampleCard(row, found.column, reference, ctx, this.cardState(id), this.actions, cellPromptRow(found.cell, ctx, shown));
      old.replaceWith(card);
      this.listen(card);
      if (old === active) card.focus();
    }
    return true;
  }

  /** Replaces only the summary (the report changed, its judge did not); false when the page is not rendered yet. */
  private renderSummaryOnly(): boolean {
    if (!this.loaded || !this.parts) return false;
    const summary = this.summaryElement(this.context());
    this.parts.summary.replaceWith(summary);
    this.parts = { ...this.parts, summary };
    return true;
  }

  private renderHeader(ctx: FilterContext, questions: number): HTMLElement {
    const judgements = this.data.judgementRows;
    return renderRunHeader(ctx, {
      fileName: this.fileName,
      labelsWritable: this.labelsWritable,
      labelsNote: this.labelsNote,
      thresholds: this.thresholds,
      counts: { questions, samples: this.data.samples.size, judgements, labels: this.data.labels.size },
      completeness: runDataCompleteness(this.data, this.expectedSamples),
    });
  }

  private summaryElement(ctx: FilterContext): HTMLElement {
    const groups = this.report ? visibleReportGroups(this.report, this.filters, ctx) : [];
    const el = renderSummary(this.report, groups, this.reportNote) as HTMLDetailsElement;
    el.open = this.summaryOpen;
    el.addEventListener('toggle', () => (this.summaryOpen = el.open));
    return el;
  }

  /** Two-run mode: the engine's diff of the runs, or why they cannot be paired; nothing with one run. */
  private twoRunSection(): HTMLElement | null {
    if (this.againstUri === null) return null;
    const files = { a: this.againstFileName || this.againstUri.replace(/^.*\//, ''), b: this.fileName };
    if (this.mismatch) {
      return renderMismatch(files, this.mismatch, () => {
        this.allowMismatch = true;
        this.persist();
        this.api.postMessage({ type: 'compare/compareAnyway' });
      });
    }
    if (this.diff) return renderRunDiff(this.diff, files, this.diffWarnings);
    return h('p', { class: 'muted', 'data-testid': 'run-diff-loading' }, `Diffing against ${files.a}…`);
  }

  private renderStatus(): HTMLElement {
    return h('p', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-testid': 'status' }, this.status);
  }

  private cardState(id: string): CardState {
    return {
      focused: id === this.focusedSampleId,
      pendingLabel: this.pending.get(id) ?? null,
      labelError: this.labelErrors.get(id) ?? null,
      tokenOffset: this.tokenOffsets.get(id) ?? null,
    };
  }

  private listen(card: HTMLElement): void {
    card.addEventListener('focus', () => {
      const id = card.dataset.sampleId;
      if (id) this.setFocus(id, false);
    });
  }
}

/** The cell and column of a card's focus id ("A:" + sample id for run A's rows in two-run mode). */
function locate(groups: QuestionGroup[], columns: Column[], focusId: string): { cell: Cell; column: Column } | null {
  for (const g of groups) {
    for (const cell of g.cells) {
      for (const column of columns) {
        const row = cell.rows.get(column.key);
        if (row && focusIdOf(column.side, row) === focusId) return { cell, column };
      }
    }
  }
  return null;
}
