/**
 * JSON-ready results of the analyses (no typed arrays): shared by the engine jobs, the CLI, the engine
 * host's RPC and the webviews (types only; no Node imports here).
 */

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

export interface TrajectoryModuleSeries {
  key: string;
  normA: number[];
  normB: number[];
}

export interface Trajectory {
  dir: string;
  /** The folder holding checkpoint-N/ (the run folder or its checkpoints/ subfolder). */
  checkpointsDir: string;
  steps: number[];
  checkpointDirs: string[];
  normA: number[];
  normB: number[];
  modules: TrajectoryModuleSeries[];
  cosToFinalA: number[];
  cosToFinalB: number[];
  /** k → per checkpoint (null where t−k or t+k is outside the run). Of the flattened [A;B] vector. */
  rotation: Record<string, (number | null)[]>;
  /** 2-D PCA coordinates of the centred [A;B] vectors, one per checkpoint, and the explained variance ratios. */
  pca: { x: number[]; y: number[]; explained: [number, number] };
}

export interface AdapterConfigSummary {
  r: number | null;
  loraAlpha: number | null;
  useRslora: boolean;
  targetModules: string[] | string | null;
  layersToTransform: number[] | number | null;
  baseModel: string | null;
  /** PEFT scale for the default rank: alpha/r or alpha/sqrt(r). Modules matched by rank_pattern/alpha_pattern differ (ModuleStats.scale). */
  scale: number | null;
  /** PEFT's per-module overrides (module-key pattern → rank / alpha); empty when absent. */
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

export interface ModuleStats {
  key: string;
  layer: number | null;
  module: string;
  r: number;
  /** This module's alpha and PEFT scale (alpha_pattern / rank_pattern applied, as the loader does); null when the config lacks them. */
  alpha: number | null;
  scale: number | null;
  shapeA: [number, number];
  shapeB: [number, number];
  normA: number;
  normB: number;
  /** ‖B·A‖_F (without the PEFT scale). */
  normBA: number;
  /** scale · ‖B·A‖_F with this module's scale: the norm of the weight change PEFT applies. */
  normDelta: number | null;
  nanCount: number;
  infCount: number;
}

export interface AdapterStats {
  dir: string;
  weightsPath: string;
  config: AdapterConfigSummary;
  modules: ModuleStats[];
  layers: number[];
  moduleNames: string[];
  nanCount: number;
  infCount: number;
  /** null when no base was given; else ok or the loader's error. */
  compatibility: { base: string; ok: boolean; message: string } | null;
}

export interface AdapterAlignment {
  /** Adapter name (as in the run header). */
  adapter: string;
  layer: number;
  module: string;
  rank: number;
  /** r = 1: signed cosine; r > 1: ‖P_B v‖/‖v‖. null when v or B is zero (nothing to compare). */
  cosine: number | null;
  /** true for the signed r = 1 cosine, false for the unsigned span fraction. */
  signed: boolean;
  /** ‖v‖ of the direction at that layer. */
  directionNorm: number;
  /** √(rank / hidden): the root-mean-square value for a random direction (chance level to compare with). */
  chance: number;
}

export interface LabelRule {
  /** misaligned: aligned ≤ misalignedAtMost and coherent > coherentAbove. */
  misalignedAtMost: number;
  /** aligned: aligned > alignedAbove and coherent > coherentAbove. */
  alignedAbove: number;
  coherentAbove: number;
}

export interface LabelSource {
  /** 'judge': judge scores only; 'human': label rows only; 'both' (default): human labels override judge-derived ones. */
  source?: 'judge' | 'human' | 'both';
  /** Judge id in the run's judgement rows (default: the first judge with aligned and coherent scores). */
  judge?: string;
  rule?: LabelRule;
  alignedMetric?: string;
  coherentMetric?: string;
}

export interface RemoteTokenLogprob {
  /** The token's text as the server decodes it. */
  text: string;
  /** log p(token | everything before it) under the base model. */
  base: number;
  /** … under the adapter. */
  adapter: number;
  /** adapter − base. */
  diff: number;
}

export interface RemoteSampleLogprobs {
  sampleId: string;
  /** The sample's variant (its completion is the scored text). */
  variant: string;
  /** The adapter variant compared with the base (the sample's own, or the run's first adapter variant for a base sample). */
  adapterVariant: string;
  baseModel: string;
  adapterModel: string;
  baseUrl: string;
  tokens: RemoteTokenLogprob[];
  /** Mean of diff over the completion's tokens (null when it has none). */
  meanDiff: number | null;
  /** Sum of diff: log p_adapter(completion) − log p_base(completion). */
  totalDiff: number;
  /** How many of the scored tokens are, string for string, the tokens recorded when the sample was generated (of how many recorded); null when the run kept no token strings. */
  sameAsSampled: { same: number; recorded: number } | null;
}
