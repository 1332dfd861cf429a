/**
 * The Compare view's controller: holds the run and the view state, handles host messages and
 * keys, persists the view state, and renders. The page entry (main.ts) only wires it to the
 * real `acquireVsCodeApi()` and window events, so tests can drive it with a fake API.
 */
import { sampleId, type HumanLabel } from '../../protocol/compare';
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
  emptyRunData,
  filterCells,
  groupByQuestion,
  LABEL_KEYS,
  makeFilterContext,
  moveFocus,
  primaryJudge,
  reduceFilters,
  runDataCompleteness,
  runDataFromSnapshot,
  shownVariants,
  summarize,
  type FilterAction,
  type FilterContext,
  type FocusMove,
  type RunData,
  type SummaryRow,
  type VisibleQuestion,
} from './model';
import { renderFilters, renderLabelBar, renderQuestions, renderRunHeader, renderSampleCard, renderSummary, type CardState } from './render';

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
    }
  }

  /** Renders the loading state and asks the host for the run. */
  start(): void {
    this.render();
    this.api.postMessage({ type: 'compare/ready' });
  }

  get viewState(): CompareViewState {
    return { version: 1, runUri: this.runUri, filters: this.filters, focusedSampleId: this.focusedSampleId };
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
        const judgeBefore = primaryJudge(this.data);
        applyRows(this.data, message.rows);
        this.data.warnings.push(...message.warnings);
        const touched = new Set<string>();
        let onlyScoresAndLabels = message.warnings.length === 0 && primaryJudge(this.data) === judgeBefore;
        for (const row of message.rows) {
          if (row.type === 'sample') onlyScoresAndLabels = false;
          else touched.add(row.sample_id);
        }
        if (!onlyScoresAndLabels || !this.renderCards(touched)) this.render();
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
    if (id === null || !this.data.samples.has(id)) {
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
    return this.visible.some((q) => q.cells.some((vc) => vc.variants.some((v) => vc.cell.rows.get(v)?.id === id)));
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
    const ctx = makeFilterContext(this.data, this.thresholds);
    const groups = groupByQuestion(this.data);
    this.visible = filterCells(groups, this.filters, ctx);
    const variants = shownVariants(this.filters, ctx.allVariants);
    const summaryGroups = this.filters.question === null ? groups : groups.filter((g) => g.questionId === this.filters.question);
    const shownSamples = this.visible.reduce((n, q) => n + q.cells.reduce((m, c) => m + c.variants.length, 0), 0);
    const parts: RenderedParts = {
      header: this.renderHeader(ctx, groups.length),
      status: this.renderStatus(),
      summary: this.summaryElement(summarize(summaryGroups, ctx, variants)),
    };
    replaceChildren(
      this.root,
      this.error ? h('p', { class: 'error', role: 'alert', 'data-testid': 'error' }, this.error) : null,
      parts.header,
      h(
        'div',
        { class: 'toolbar' },
        renderFilters(
          this.filters,
          groups.map((g) => g.questionId),
          ctx.allVariants,
          { samples: shownSamples, total: this.data.samples.size },
          (a) => this.dispatch(a),
        ),
        renderLabelBar(this.labelsWritable, (label) => this.label(label)),
      ),
      parts.status,
      parts.summary,
      renderQuestions(this.visible, ctx, (id) => this.cardState(id)),
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
    const ctx = makeFilterContext(this.data, this.thresholds);
    const groups = groupByQuestion(this.data);
    const summaryGroups = this.filters.question === null ? groups : groups.filter((g) => g.questionId === this.filters.question);
    const parts: RenderedParts = {
      header: this.renderHeader(ctx, groups.length),
      status: this.renderStatus(),
      summary: this.summaryElement(summarize(summaryGroups, ctx, shownVariants(this.filters, ctx.allVariants))),
    };
    this.parts.header.replaceWith(parts.header);
    this.parts.status.replaceWith(parts.status);
    this.parts.summary.replaceWith(parts.summary);
    this.parts = parts;
    for (const id of ids) {
      const old = this.cardElement(id);
      const row = this.data.samples.get(id);
      if (!old || !row) continue;
      const reference = ctx.reference === null ? undefined : this.data.samples.get(sampleId(row.question_id, row.paraphrase_index, row.sample_index, ctx.reference));
      const card = renderSampleCard(row, reference, ctx, this.cardState(id));
      old.replaceWith(card);
      this.listen(card);
      if (old === active) card.focus();
    }
    return true;
  }

  private renderHeader(ctx: FilterContext, questions: number): HTMLElement {
    let judgements = 0;
    for (const n of this.data.judgeRowCounts.values()) judgements += n;
    return renderRunHeader(ctx, {
      fileName: this.fileName,
      labelsWritable: this.labelsWritable,
      labelsNote: this.labelsNote,
      thresholds: this.thresholds,
      counts: { questions, samples: this.data.samples.size, judgements, labels: this.data.labels.size },
      completeness: runDataCompleteness(this.data, this.expectedSamples),
    });
  }

  private summaryElement(rows: SummaryRow[]): HTMLElement {
    const el = renderSummary(rows) as HTMLDetailsElement;
    el.open = this.summaryOpen;
    el.addEventListener('toggle', () => (this.summaryOpen = el.open));
    return el;
  }

  private renderStatus(): HTMLElement {
    return h('p', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-testid': 'status' }, this.status);
  }

  private cardState(id: string): CardState {
    return { focused: id === this.focusedSampleId, pendingLabel: this.pending.get(id) ?? null, labelError: this.labelErrors.get(id) ?? null };
  }

  private listen(card: HTMLElement): void {
    card.addEventListener('focus', () => {
      const id = card.dataset.sampleId;
      if (id) this.setFocus(id, false);
    });
  }
}
