/**
 * Messages between the Activations panel host and its webview, and the state the page persists.
 * No Node or vscode imports (bundled into the browser page too).
 */
import type { DirectionReport, RunLayerCurve, SampleActivations } from './analysis';
import type { SaeRunDiff, SaeTopToken } from './sae';
import type { RemoteSampleLogprobs } from './analysis';
import { isRecord, isString, type WebviewMessage } from './webviews';

export type { DirectionReport, RemoteSampleLogprobs, RunLayerCurve, SampleActivations, SaeRunDiff, SaeTopToken };

export const ACTIVATIONS_VIEW_TYPE = 'organismLab.activations';
export const OPEN_ACTIVATIONS_COMMAND = 'organismLab.openActivations';

export interface ActivationsSampleInfo {
  id: string;
  questionId: string;
  variant: string;
  completion: string;
}

export interface ActivationsViewState {
  runUri: string;
  sampleId: string | null;
  /** Heatmap metric. */
  metric: 'relNorm' | 'diffNorm' | 'cosine';
}

export interface ActivationsBootstrap {
  runUri: string;
  fileName: string;
  viewState: ActivationsViewState | null;
}

// host → webview
export interface ActivationsSamplesMessage extends WebviewMessage {
  type: 'activations/samples';
  samples: ActivationsSampleInfo[];
  variants: string[];
  /** Set for a remote run (header backend "openai"): why the run-level curve, direction and SAE diff are disabled. */
  localModelNeeded?: string;
}

/** Why a remote run's run-level analyses are unavailable: they teacher-force every sample through the local model. */
export function localModelNeededReason(modelPath: string): string {
  return `Needs the model loaded locally: load ${modelPath} or use the log-prob strip.`;
}

/** The reason for a run whose header says it was generated remotely (backend "openai"); null for a local run. */
export function localModelNeededFor(header: { backend?: { kind: string } | null; model: { path: string } }): string | null {
  return header.backend?.kind === 'openai' ? localModelNeededReason(header.model.path) : null;
}
export interface ActivationsSampleMessage extends WebviewMessage {
  type: 'activations/sample';
  data: SampleActivations;
}
export interface ActivationsCurveMessage extends WebviewMessage {
  type: 'activations/curve';
  data: RunLayerCurve;
}
/** The host picked a sample (e.g. the first one when the page opened with none). */
export interface ActivationsSelectMessage extends WebviewMessage {
  type: 'activations/select';
  sampleId: string;
}
export interface ActivationsDirectionMessage extends WebviewMessage {
  type: 'activations/direction';
  data: DirectionReport;
}
/** The run-level SAE diff (features the variant turns up / down on identical tokens). */
export interface ActivationsSaeDiffMessage extends WebviewMessage {
  type: 'activations/saeDiff';
  data: SaeRunDiff;
}
/** One SAE feature's top-activating response tokens across the run. */
export interface ActivationsSaeFeatureMessage extends WebviewMessage {
  type: 'activations/saeFeature';
  feature: number;
  tokens: SaeTopToken[];
}
/**
 * A remote run's sample (header backend "openai"): no activations exist locally; the per-token log-prob difference
 * of the sampled tokens (adapter − base) the generation server reports, shown in place of the KL strip, and why.
 */
export interface ActivationsRemoteLogprobsMessage extends WebviewMessage {
  type: 'activations/remoteLogprobs';
  data: RemoteSampleLogprobs;
  reason: string;
}
export interface ActivationsBusyMessage extends WebviewMessage {
  type: 'activations/busy';
  what: string;
  done?: number;
  total?: number;
}
export interface ActivationsErrorMessage extends WebviewMessage {
  type: 'activations/error';
  message: string;
}
export type ActivationsHostMessage =
  | ActivationsSamplesMessage
  | ActivationsSampleMessage
  | ActivationsCurveMessage
  | ActivationsDirectionMessage
  | ActivationsSaeDiffMessage
  | ActivationsSaeFeatureMessage
  | ActivationsSelectMessage
  | ActivationsRemoteLogprobsMessage
  | ActivationsBusyMessage
  | ActivationsErrorMessage;

// webview → host
export interface ActivationsReadyMessage extends WebviewMessage {
  type: 'activations/ready';
}
export interface ActivationsPickSampleMessage extends WebviewMessage {
  type: 'activations/pickSample';
  sampleId: string;
}
export interface ActivationsComputeCurveMessage extends WebviewMessage {
  type: 'activations/computeCurve';
}
/** Direction from the run's labelled samples (judge-derived, human labels override), saved next to the run file. */
export interface ActivationsComputeDirectionMessage extends WebviewMessage {
  type: 'activations/computeDirection';
}
/** Run the SAE diff: the host asks which SAE folder (SAELens layout). */
export interface ActivationsComputeSaeDiffMessage extends WebviewMessage {
  type: 'activations/computeSaeDiff';
}
/** Top-activating tokens of a feature of the SAE last diffed. */
export interface ActivationsSaeFeatureRequestMessage extends WebviewMessage {
  type: 'activations/saeFeatureTokens';
  feature: number;
}
/** Steer with a feature of the SAE last diffed: the host asks the strength, copies the steer-sae: variant, offers a run. */
export interface ActivationsSaeSteerMessage extends WebviewMessage {
  type: 'activations/saeSteer';
  feature: number;
}
export type ActivationsWebviewMessage =
  | ActivationsReadyMessage
  | ActivationsPickSampleMessage
  | ActivationsComputeCurveMessage
  | ActivationsComputeDirectionMessage
  | ActivationsComputeSaeDiffMessage
  | ActivationsSaeFeatureRequestMessage
  | ActivationsSaeSteerMessage;

export function parseActivationsWebviewMessage(raw: unknown): ActivationsWebviewMessage | null {
  if (!isRecord(raw) || !isString(raw.type)) return null;
  switch (raw.type) {
    case 'activations/ready':
    case 'activations/computeCurve':
    case 'activations/computeDirection':
    case 'activations/computeSaeDiff':
      return { type: raw.type };
    case 'activations/saeFeatureTokens':
    case 'activations/saeSteer':
      return typeof raw.feature === 'number' && Number.isInteger(raw.feature) && raw.feature >= 0 ? { type: raw.type, feature: raw.feature } : null;
    case 'activations/pickSample':
      return isString(raw.sampleId) && raw.sampleId.length < 2000 ? { type: raw.type, sampleId: raw.sampleId } : null;
    default:
      return null;
  }
}

export function isActivationsViewState(v: unknown): v is ActivationsViewState {
  return isRecord(v) && isString(v.runUri) && (v.sampleId === null || isString(v.sampleId)) && (v.metric === 'relNorm' || v.metric === 'diffNorm' || v.metric === 'cosine');
}
