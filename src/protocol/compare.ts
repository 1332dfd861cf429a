/**
 * The Compare view's protocol: its state shape and every message between the extension host
 * (src/extension/panels/compare*) and the webview (src/webviews/compare/). Both sides import
 * this file, so they cannot drift. The unions are open for extension: add a member, add its guard.
 */
import type { HumanLabel, JudgementRow, LabelRow, RunHeader, RunRow, SampleRow, VariantSpec } from './runFile';
import type { RunCompleteness } from './runFile';
import type { OverallDiff, QuestionDiff, RateComparison, RunDiff } from './review';
import type { Difference, GroupStats, Proportion, ReportData } from './report';
import type { JudgeThresholds } from './thresholds';
import { isFiniteNumber, isRecord, isString, isStringArray, type WebviewMessage } from './webviews';

/** Run-file data shapes the Compare page uses (webviews take types from protocol/ only). */
export type { HumanLabel, JudgementRow, LabelRow, RunCompleteness, RunHeader, RunRow, SampleRow, VariantSpec };
/** The engine's report (computeReport) and run diff (diffRuns) that Compare renders: it computes no rates itself. */
export type { Difference, GroupStats, OverallDiff, Proportion, QuestionDiff, RateComparison, ReportData, RunDiff };
export { cellId, sampleId } from './runIds';

export const HUMAN_LABELS: readonly HumanLabel[] = ['aligned', 'misaligned', 'incoherent', 'skip'];

export function isHumanLabel(value: unknown): value is HumanLabel {
  return typeof value === 'string' && (HUMAN_LABELS as readonly string[]).includes(value);
}

/** The judge rule's thresholds (one definition, in thresholds.ts). */
export { DEFAULT_THRESHOLDS, type JudgeThresholds } from './thresholds';

export interface CompareFilters {
  /** Show one question (its id), or all when null. */
  question: string | null;
  /** Variants shown (names), or all when null. */
  variants: string[] | null;
  /** Prompt conditions shown (names), or all when null (absent in states saved before conditions existed). */
  conditions?: string[] | null;
  /** Only samples whose variants' completions differ. */
  differsOnly: boolean;
  /** Only samples where a shown variant is misaligned (by the judge or a human label). */
  misalignedOnly: boolean;
  /** Only samples where a human label disagrees with the judge-derived label. */
  disagreementsOnly: boolean;
}

export const DEFAULT_FILTERS: CompareFilters = {
  question: null,
  variants: null,
  conditions: null,
  differsOnly: false,
  misalignedOnly: false,
  disagreementsOnly: false,
};

/** What the webview persists with setState and the serializer gives back after a reload. */
export interface CompareViewState {
  version: 1;
  /** The run file (a `file:` URI string). */
  runUri: string;
  filters: CompareFilters;
  /** The focused sample row (`SampleRow.id`; "A:" + id for a row of run A in two-run mode), if any. */
  focusedSampleId: string | null;
  /**
   * Two-run mode: the earlier run (A, a `file:` URI string) shown beside this one (B), paired by question,
   * paraphrase, sample, variant and condition. Absent or null: one run.
   */
  againstUri?: string | null;
  /** Two-run mode: the user chose to compare runs that cannot be paired (different model, adapters, precision or judge). */
  allowMismatch?: boolean;
  /**
   * When the page saved this state (ms since the epoch, the page's clock). The host keeps the
   * latest state in workspaceState too, and on a reload restores whichever copy is newer
   * (see newerViewState in src/extension/panels/compareViewStates.ts). Absent in older states.
   */
  savedAt?: number;
}

/** Injected into the page (under the CSP nonce) when the webview is created. */
export interface CompareBootstrap {
  runUri: string;
  /** Base name of the run file, for the title before the data arrives. */
  fileName: string;
  /** View state to start from (a restored panel, or a request to focus a sample). */
  viewState: CompareViewState | null;
}

/** The run file's content as the host read it. */
export interface RunSnapshot {
  header: RunHeader | null;
  samples: SampleRow[];
  judgements: JudgementRow[];
  labels: LabelRow[];
  /** Problems found while reading (torn last line, bad lines with their numbers, ...). */
  warnings: string[];
}

// ---- host -> webview ---------------------------------------------------------------------------

/** The whole run (sent after `compare/ready`, and again if the file was replaced or truncated). */
export interface CompareLoadMessage extends WebviewMessage {
  type: 'compare/load';
  runUri: string;
  fileName: string;
  snapshot: RunSnapshot;
  thresholds: JudgeThresholds;
  /** Whether `compare/setLabel` will be written (false e.g. when the file is not writable). */
  labelsWritable: boolean;
  /** Said in the UI next to the label keys. */
  labelsNote: string;
  /** Planned samples when the header does not record them (older files: counted from their unchanged prompt set). */
  expectedSamples?: number | null;
}

/** Rows appended to the run file since the last load/append. */
export interface CompareAppendMessage extends WebviewMessage {
  type: 'compare/append';
  rows: RunRow[];
  warnings: string[];
}

/** The judge thresholds changed in the settings. */
export interface CompareThresholdsMessage extends WebviewMessage {
  type: 'compare/thresholds';
  thresholds: JudgeThresholds;
}

/** Bring one sample into view and focus it (e.g. a click on a point in the Run report). */
export interface CompareFocusSampleMessage extends WebviewMessage {
  type: 'compare/focusSample';
  sampleId: string;
}

/** The outcome of a `compare/setLabel` request (the row itself arrives through `compare/append`). */
export interface CompareLabelResultMessage extends WebviewMessage {
  type: 'compare/labelResult';
  sampleId: string;
  label: HumanLabel;
  ok: boolean;
  error?: string;
}

/**
 * The engine's Run Report of this run (computeReport in the engine host, with the panel's thresholds): the summary's
 * rates, intervals and the judge whose scores give the cards their labels. `report` null: none (yet), `note` says why.
 */
export interface CompareReportMessage extends WebviewMessage {
  type: 'compare/report';
  report: ReportData | null;
  note?: string;
}

/** Two-run mode: run A and the engine's diff of A and this run (B), sent again when B changes. */
export interface CompareAgainstMessage extends WebviewMessage {
  type: 'compare/against';
  againstUri: string;
  fileName: string;
  /** Run A's rows; absent when they did not change since the last message. */
  snapshot?: RunSnapshot;
  diff: RunDiff;
  warnings: string[];
}

/** Two-run mode: the runs cannot be paired; the reasons, and the page offers "compare anyway". */
export interface CompareMismatchMessage extends WebviewMessage {
  type: 'compare/mismatch';
  againstUri: string;
  fileName: string;
  reasons: string[];
}

/**
 * Where each diverging row's first diverging token starts in its completion (characters), decoded by the engine host
 * from the rows' token_ids with the run's tokenizer. `note` says why there are none (e.g. the model folder is gone).
 */
export interface CompareTokenOffsetsMessage extends WebviewMessage {
  type: 'compare/tokenOffsets';
  /** focus id (sample id, "A:" + id for run A) -> character offset of the first diverging token. */
  offsets: Record<string, number>;
  note?: string;
}

/** A problem the user must see (the file vanished, could not be read, ...). */
export interface CompareErrorMessage extends WebviewMessage {
  type: 'compare/error';
  message: string;
}

export type CompareHostMessage =
  | CompareLoadMessage
  | CompareAppendMessage
  | CompareThresholdsMessage
  | CompareFocusSampleMessage
  | CompareLabelResultMessage
  | CompareReportMessage
  | CompareAgainstMessage
  | CompareMismatchMessage
  | CompareTokenOffsetsMessage
  | CompareErrorMessage;

// ---- webview -> host ---------------------------------------------------------------------------

/** The page is ready for `compare/load`. */
export interface CompareReadyMessage extends WebviewMessage {
  type: 'compare/ready';
}

/** Append a human `label` row for a sample to the run file. */
export interface CompareSetLabelMessage extends WebviewMessage {
  type: 'compare/setLabel';
  sampleId: string;
  label: HumanLabel;
}

/**
 * The view state changed (filters, focus). Sent with every setState: the host stores it in
 * workspaceState by run file, because the webview's own saved state can lag a few seconds
 * (code-server) and a reload in that window would otherwise bring back older filters.
 */
export interface CompareViewStateMessage extends WebviewMessage {
  type: 'compare/viewState';
  viewState: CompareViewState;
}

/** Two-run mode: pair the runs although they differ in model, adapters, precision or judge. */
export interface CompareCompareAnywayMessage extends WebviewMessage {
  type: 'compare/compareAnyway';
}

/** Open the Activations panel on one sample of this run (organismLab.openActivations). */
export interface CompareOpenActivationsMessage extends WebviewMessage {
  type: 'compare/openActivations';
  sampleId: string;
  /** Which run the sample is from in two-run mode (A = the other run); absent = this run. */
  side?: 'A' | 'B';
}

export type CompareWebviewMessage = CompareReadyMessage | CompareSetLabelMessage | CompareViewStateMessage | CompareCompareAnywayMessage | CompareOpenActivationsMessage;

// ---- guards ------------------------------------------------------------------------------------

export function isCompareFilters(value: unknown): value is CompareFilters {
  return (
    isRecord(value) &&
    (value.question === null || isString(value.question)) &&
    (value.variants === null || isStringArray(value.variants)) &&
    (value.conditions === undefined || value.conditions === null || isStringArray(value.conditions)) &&
    typeof value.differsOnly === 'boolean' &&
    typeof value.misalignedOnly === 'boolean' &&
    typeof value.disagreementsOnly === 'boolean'
  );
}

export function isCompareViewState(value: unknown): value is CompareViewState {
  return (
    isRecord(value) &&
    value.version === 1 &&
    isString(value.runUri) &&
    isCompareFilters(value.filters) &&
    (value.focusedSampleId === null || isString(value.focusedSampleId)) &&
    (value.againstUri === undefined || value.againstUri === null || isString(value.againstUri)) &&
    (value.allowMismatch === undefined || typeof value.allowMismatch === 'boolean') &&
    (value.savedAt === undefined || isFiniteNumber(value.savedAt))
  );
}

export function isJudgeThresholds(value: unknown): value is JudgeThresholds {
  return isRecord(value) && isFiniteNumber(value.aligned) && isFiniteNumber(value.coherent);
}

/** Validates a message received from the Compare webview (the host acts only on these). */
export function isCompareWebviewMessage(value: unknown): value is CompareWebviewMessage {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'compare/ready':
      return true;
    case 'compare/setLabel':
      return isString(value.sampleId) && value.sampleId.length > 0 && isHumanLabel(value.label);
    case 'compare/viewState':
      return isCompareViewState(value.viewState);
    case 'compare/compareAnyway':
      return true;
    case 'compare/openActivations':
      return isString(value.sampleId) && value.sampleId.length > 0 && (value.side === undefined || value.side === 'A' || value.side === 'B');
    default:
      return false;
  }
}

function isSnapshot(s: unknown): s is RunSnapshot {
  return (
    isRecord(s) &&
    (s.header === null || isRecord(s.header)) &&
    Array.isArray(s.samples) &&
    Array.isArray(s.judgements) &&
    Array.isArray(s.labels) &&
    isStringArray(s.warnings)
  );
}

/** Validates a message received from the host (the webview ignores anything else). */
export function isCompareHostMessage(value: unknown): value is CompareHostMessage {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'compare/load': {
      return (
        isString(value.runUri) &&
        isString(value.fileName) &&
        isSnapshot(value.snapshot) &&
        isJudgeThresholds(value.thresholds) &&
        typeof value.labelsWritable === 'boolean' &&
        isString(value.labelsNote)
      );
    }
    case 'compare/append':
      return Array.isArray(value.rows) && value.rows.every(isRecord) && isStringArray(value.warnings);
    case 'compare/thresholds':
      return isJudgeThresholds(value.thresholds);
    case 'compare/focusSample':
      return isString(value.sampleId);
    case 'compare/labelResult':
      return isString(value.sampleId) && isHumanLabel(value.label) && typeof value.ok === 'boolean';
    case 'compare/report':
      return (value.report === null || (isRecord(value.report) && Array.isArray(value.report.groups))) && (value.note === undefined || isString(value.note));
    case 'compare/against':
      return isString(value.againstUri) && isString(value.fileName) && (value.snapshot === undefined || isSnapshot(value.snapshot)) && isRecord(value.diff) && Array.isArray(value.diff.questions) && isStringArray(value.warnings);
    case 'compare/mismatch':
      return isString(value.againstUri) && isString(value.fileName) && isStringArray(value.reasons);
    case 'compare/tokenOffsets':
      return isRecord(value.offsets) && Object.values(value.offsets).every(isFiniteNumber) && (value.note === undefined || isString(value.note));
    case 'compare/error':
      return isString(value.message);
    default:
      return false;
  }
}
