/**
 * JSON-ready results of SAE model diffing (computed by engine/sae/saeDiff.ts; shown by the Activations webview).
 * Types only.
 */

export interface SaeFeatureRow {
  feature: number;
  /** Mean activation over response tokens, reference and variant. */
  meanRef: number;
  meanVar: number;
  delta: number;
  /** Samples with the feature active on at least one response token. */
  samplesRef: number;
  samplesVar: number;
  /** AUC of the per-sample mean (variant rows) for misaligned vs aligned samples; null without both labels. */
  aucMisaligned: number | null;
}

export interface SaeRunDiff {
  runPath: string;
  sae: { dir: string; architecture: string; dSae: number; hookName: string; hookMapping: string; warnings: string[] };
  reference: string;
  variant: string;
  samples: number;
  responseTokens: number;
  labels: { misaligned: number; aligned: number; judge: string | null };
  rising: SaeFeatureRow[];
  falling: SaeFeatureRow[];
  skipped: { sampleId: string; reason: string }[];
  elapsedMs: number;
}

export interface SaeTokenDiff {
  token: number;
  text: string;
  response: boolean;
  features: { feature: number; ref: number; var: number }[];
}

export interface SaeSampleDiff {
  sampleId: string;
  reference: string;
  variant: string;
  tokens: SaeTokenDiff[];
}

export interface SaeTopToken {
  sampleId: string;
  position: number;
  token: string;
  /** A little context around the token (decoded). */
  context: string;
  activation: number;
}
