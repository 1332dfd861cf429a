/**
 * Messages between the Run report panel host and its webview, plus the state the page persists.
 * No Node or vscode imports (bundled into the browser page too).
 */
import type { ArmStats, Difference, GroupStats, PairedDifference, Proportion, ReportData, ScatterPoint, Thresholds } from './reportData';
import type { RunCompleteness } from './runFile';
import { isRecord, isString, type WebviewMessage } from './webviews';

export type { ArmStats, Difference, GroupStats, PairedDifference, Proportion, ReportData, RunCompleteness, ScatterPoint, Thresholds };

export const REPORT_VIEW_TYPE = 'organismLab.runReport';
export const OPEN_RUN_REPORT_COMMAND = 'organismLab.openRunReport';

/** What the page persists (setState) and the serializer restores. */
export interface ReportViewState {
  runUri: string;
  /** Judge id chosen in the page; null = the default judge. */
  judge: string | null;
  /** Reference variant chosen in the page; null = the run's first variant. */
  reference: string | null;
  /** Reference condition chosen in the page (a run with conditions); null/absent = the run's first condition. */
  referenceCondition?: string | null;
}

/** Injected into the page at load. */
export interface ReportBootstrap {
  runUri: string;
  fileName: string;
  viewState: ReportViewState | null;
}

// host → webview
export interface ReportDataMessage extends WebviewMessage {
  type: 'report/data';
  data: ReportData;
  /** Warnings from reading the run file (torn lines, bad rows). */
  warnings: string[];
  /** Finished samples against the planned ones (an incomplete run: cancelled, crashed or still running). */
  completeness?: RunCompleteness;
}
export interface ReportErrorMessage extends WebviewMessage {
  type: 'report/error';
  message: string;
}
export type ReportHostMessage = ReportDataMessage | ReportErrorMessage;

// webview → host
export interface ReportReadyMessage extends WebviewMessage {
  type: 'report/ready';
  judge: string | null;
  reference: string | null;
  referenceCondition?: string | null;
}
export interface ReportOptionsMessage extends WebviewMessage {
  type: 'report/options';
  judge: string | null;
  reference: string | null;
  /** The condition the paired condition differences are taken against; null/absent = the run's first condition. */
  referenceCondition?: string | null;
}
export interface ReportOpenSampleMessage extends WebviewMessage {
  type: 'report/openSample';
  sampleId: string;
}
export interface ReportRefreshMessage extends WebviewMessage {
  type: 'report/refresh';
}
export type ReportWebviewMessage = ReportReadyMessage | ReportOptionsMessage | ReportOpenSampleMessage | ReportRefreshMessage;

/**
 * A paired difference's name, as the report page and the review reports write it: "trigger − control (adapter)"
 * (two conditions under a variant), "adapter − base (trigger)" (two variants under a condition), or "adapter − base"
 * in a run without conditions.
 */
export function pairLabel(p: PairedDifference, withConditions: boolean): string {
  const cond = (c: string | null) => c ?? 'no condition';
  if (p.kind === 'condition') return `${cond(p.first.condition)} − ${cond(p.second.condition)} (${p.first.variant})`;
  return `${p.first.variant} − ${p.second.variant}${withConditions ? ` (${cond(p.first.condition)})` : ''}`;
}

const nullableString = (v: unknown): v is string | null => v === null || isString(v);

/** Validates a message from the page before the host acts on it. */
export function parseReportWebviewMessage(value: unknown): ReportWebviewMessage | null {
  if (!isRecord(value) || !isString(value.type)) return null;
  switch (value.type) {
    case 'report/ready':
    case 'report/options':
      if (!nullableString(value.judge) || !nullableString(value.reference)) return null;
      if (value.referenceCondition !== undefined && !nullableString(value.referenceCondition)) return null;
      return { type: value.type, judge: value.judge, reference: value.reference, ...(value.referenceCondition !== undefined ? { referenceCondition: value.referenceCondition } : {}) };
    case 'report/openSample':
      return isString(value.sampleId) && value.sampleId.length > 0 && value.sampleId.length < 2000 ? { type: 'report/openSample', sampleId: value.sampleId } : null;
    case 'report/refresh':
      return { type: 'report/refresh' };
    default:
      return null;
  }
}

export function isReportViewState(value: unknown): value is ReportViewState {
  return isRecord(value) && isString(value.runUri) && nullableString(value.judge ?? null) && nullableString(value.reference ?? null) && nullableString(value.referenceCondition ?? null);
}
