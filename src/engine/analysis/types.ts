/**
 * JSON-ready results of the analyses (no typed arrays): shared by the engine jobs, the CLI, the engine
 * host's RPC and the webviews (types only; no Node imports here).
 */
import type { Trajectory } from './trajectory';
import type { AdapterStats } from './adapterStats';
import type { AdapterAlignment } from './adapterAlignment';

export type { Trajectory, AdapterStats, AdapterAlignment };

export interface TokenChangeInfo {
  id: number;
  text: string;
  pRef: number;
  pVariant: number;
}

/** One sample, teacher-forced through the reference and a variant on identical tokens. */
export interface SampleActivations {
  runPath: string;
  sampleId: string;
  variant: string;
  reference: string;
  tokens: { id: number; text: string }[];
  responseStart: number;
  /** Hidden-state labels: "embeddings", "layer 0", …, "layer L-1 (final norm)". */
  layerLabels: string[];
  /** [L+1][S] */
  diffNorm: number[][];
  relNorm: number[][];
  cosine: number[][];
  /** [S] KL(variant ‖ reference) of the next-token distribution after each token. */
  kl: number[];
  /** [S] tokens whose next-token probability changed most. */
  topChanges: TokenChangeInfo[][];
  /** [L+1] mean relative difference over response tokens. */
  meanRelResponse: (number | null)[];
}

/** Run level: per variant, per hidden-state index the mean relative difference over response tokens. */
export interface RunLayerCurve {
  runPath: string;
  reference: string;
  layerLabels: string[];
  variants: { variant: string; samples: number; responseTokens: number; meanRel: number[]; meanKl: number | null }[];
  skipped: { sampleId: string; reason: string }[];
  elapsedMs: number;
}

export interface DirectionReport {
  runPath: string;
  variant: string;
  out: string | null;
  judge: string | null;
  labelSource: string;
  /** Decoder layers 0..L-1 (direction of layer l = hidden state l+1). */
  layers: number[];
  norms: number[];
  trainCounts: { misaligned: number; aligned: number; alignedAvailable: number };
  testCounts: { misaligned: number; aligned: number };
  aucTrain: (number | null)[];
  aucTest: (number | null)[];
  bestLayer: number;
  /** Per layer mean projection on the unit direction of the aligned / misaligned samples it was built from. */
  alignedProjection: number[];
  misalignedProjection: number[];
  histograms: { edges: number[]; counts: { misaligned: number[]; aligned: number[] } }[];
  projections: { id: string; label: 'misaligned' | 'aligned'; split: 'train' | 'test' | 'unused'; values: number[] }[];
  seed: number;
  testFraction: number;
  /**
   * How the direction lines up with the variant's adapter's write directions (LoRA B of down_proj / o_proj,
   * compared with the direction at that layer's output): r = 1 signed cosine, r > 1 fraction in span(B).
   * Absent when the variant has no adapter (and in reports from before this field existed).
   */
  adapterAlignment?: AdapterAlignment[];
}

/** What an inspected folder is, with its statistics. */
export interface InspectorReport {
  dir: string;
  kind: 'model' | 'adapter' | 'training-run' | 'unknown';
  model: {
    family: string;
    numLayers: number;
    hiddenSize: number;
    intermediateSize: number | null;
    numHeads: number;
    numKvHeads: number;
    headDim: number;
    vocabSize: number;
    tieWordEmbeddings: boolean | null;
    parameters: number;
    dtypes: Record<string, number>;
    bytes: number;
    nanCount: number | null;
    infCount: number | null;
    scannedTensors: number;
  } | null;
  adapter: AdapterStats | null;
  trajectory: Trajectory | null;
  problems: string[];
}
