/**
 * Messages between the Checkpoint inspector panel host and its webview, and the state the page persists.
 * No Node or vscode imports (bundled into the browser page too).
 */
import type { InspectorReport } from './analysis';
import { isRecord, isString, type WebviewMessage } from './webviews';

export type { InspectorReport };

export const INSPECTOR_VIEW_TYPE = 'organismLab.inspector';
export const INSPECT_CHECKPOINT_COMMAND = 'organismLab.inspectCheckpoint';

export interface InspectorViewState {
  dir: string;
}

export interface InspectorBootstrap {
  dir: string;
  name: string;
  viewState: InspectorViewState | null;
}

// host → webview
export interface InspectorReportMessage extends WebviewMessage {
  type: 'inspector/report';
  report: InspectorReport;
}
export interface InspectorBusyMessage extends WebviewMessage {
  type: 'inspector/busy';
  done?: number;
  total?: number;
}
export interface InspectorErrorMessage extends WebviewMessage {
  type: 'inspector/error';
  message: string;
}
export type InspectorHostMessage = InspectorReportMessage | InspectorBusyMessage | InspectorErrorMessage;

// webview → host
export interface InspectorReadyMessage extends WebviewMessage {
  type: 'inspector/ready';
}
export interface InspectorRefreshMessage extends WebviewMessage {
  type: 'inspector/refresh';
}
export type InspectorWebviewMessage = InspectorReadyMessage | InspectorRefreshMessage;

export function parseInspectorWebviewMessage(raw: unknown): InspectorWebviewMessage | null {
  if (!isRecord(raw) || !isString(raw.type)) return null;
  return raw.type === 'inspector/ready' || raw.type === 'inspector/refresh' ? { type: raw.type } : null;
}

export function isInspectorViewState(v: unknown): v is InspectorViewState {
  return isRecord(v) && isString(v.dir);
}
