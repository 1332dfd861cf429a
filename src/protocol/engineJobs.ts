/**
 * The requests and results of the engine host's jobs (model loading, prompt-set runs, judging, analyses, SAE
 * diffing), as they cross the RPC (src/protocol/engineHost.ts) and the CLI: plain JSON data, types only.
 * The backends implementing them live in src/engine/backends.
 */
import type { InspectorReport, LabelSource } from './analysis';
import type { LocalJudgeSpec } from './judges';
import type { SamplingParams, VariantSpec } from './runFile';
import type { SaeRunDiff, SaeTopToken } from './sae';

/** A prompt-set run as a backend accepts it (the job's options, engine/jobs/runPromptSet.ts, add the CLI-only ones). */
export interface RunPromptSetRequest {
  promptSetPath: string;
  /** Variants to run; adapters are referenced by the names they were loaded under. */
  variants: VariantSpec[];
  /** Overrides every question's samples_per_paraphrase; null/absent keeps the prompt set's own. */
  samples?: number | null;
  sampling: SamplingParams;
  seed: number;
  /** The run file to write (created, or appended to when resuming). */
  out: string;
  /** Run only these questions. */
  questionIds?: string[];
  /** Run only these of the prompt set's conditions (declared order is kept; default: all). */
  conditions?: string[];
  batchSize?: number;
}

export interface JudgeCellFailure {
  sampleId: string;
  metric: string;
  message: string;
}

export interface JudgeRunResult {
  judge: string;
  total: number;
  judged: number;
  skipped: number;
  failed: JudgeCellFailure[];
  cancelled: boolean;
  warnings: string[];
}

/** Judge a run file with a local-model judge (the model is loaded in the engine host for this job). */
export interface LocalJudgeRequest {
  runPath: string;
  judge: LocalJudgeSpec;
  /** Folder that a relative `judge.model` is resolved against (the judges file's folder). */
  baseDir?: string;
  /** Only these variants (default: all). */
  variants?: string[];
}

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface EngineSettings {
  executionProvider: ExecutionProviderName;
  /** Intra-op threads; 0 lets onnxruntime decide. */
  threads: number;
  /** organismLab.engine.threadSpinning: idle onnxruntime pool threads spin before sleeping (faster batch-1 decoding on a quiet machine; default off). */
  threadSpinning?: boolean;
  /** Folder for quantized weights and other caches ('' = none configured). */
  cacheFolder: string;
  /** organismLab.weights: weight precision of loaded models (default auto: f32 when it fits the memory budget, else int8, else int4). */
  weights?: 'auto' | 'f32' | 'f16' | 'int8' | 'int4';
  /** organismLab.engine.maxMemoryMB: the memory preflight's budget in MiB (0/absent = what the machine or container has). */
  maxMemoryMB?: number;
  /** organismLab.batchSize: rows per batch, sizes the KV cache in the memory preflight. */
  batchSize?: number;
}

export interface LoadedModelInfo {
  dir: string;
  /** config.json model_type, e.g. "qwen2". */
  modelType: string;
  numLayers: number;
  hiddenSize: number;
  vocabSize: number;
  /** Weight dtype as stored in the checkpoint (e.g. "BF16"), null when mixed or unknown. */
  dtype: string | null;
  loadMs: number;
  /** Weight precision of the session (f32, int8, int4) and why it was picked. */
  weights?: string;
  weightsReason?: string;
}

export interface LoadedAdapterInfo {
  name: string;
  dir: string;
  rank: number;
  alpha: number;
  targetModules: string[];
}

/** What a folder is and what is in it (model spec + weight stats, adapter stats, training-run trajectory). */
export type CheckpointReport = InspectorReport;

/**
 * An OpenAI-compatible generation server (vLLM with LoRA adapters served under their own names) that a prompt set
 * runs against instead of the local model. Base and adapters at scale 1 only: steering, ablation and other adapter
 * scales need the local backend.
 */
export interface RemoteGenerationServer {
  /** API root, e.g. http://localhost:8000/v1 */
  baseUrl: string;
  /** Served name of the base model. */
  servedModel: string;
  /** Adapters as variants name them → their served LoRA names. */
  adapters: { name: string; servedModel: string }[];
  /** Sent as a bearer token; never written to the run file or logs. */
  apiKey?: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

export interface RunPromptSetResult {
  out: string;
  /** Sample rows written by this job. */
  written: number;
  /** Sample rows the run file should hold when complete. */
  total: number;
  cancelled: boolean;
  elapsedMs: number;
  /** Non-fatal problems the job reported (e.g. prompt-set warnings). */
  warnings: string[];
}

export interface ProgressEvent {
  done: number;
  total: number;
  message?: string;
  questionId?: string;
  variant?: string;
}

export interface SmokeTestRequest {
  /** Defaults to a short greeting. */
  prompt?: string;
  maxNewTokens?: number;
}

export interface SmokeTestRow {
  variant: string;
  completion: string;
  tokens: number;
  finishReason: string;
  /** First token index where this row differs from the base row; null if identical; absent for base. */
  divergenceIndex?: number | null;
}

export interface SmokeTestResult {
  prompt: string;
  rows: SmokeTestRow[];
  elapsedMs: number;
}

export interface AnalyzeSampleRequest {
  runPath: string;
  sampleId: string;
  /** Reference variant (default: the run's plain base variant). */
  reference?: string | null;
  /** Variant to compare (default: the sample's own). */
  variant?: string | null;
  topK?: number;
  /** Overrides the model folder recorded in the run header. */
  modelDir?: string;
}

export interface LayerCurveRequest {
  runPath: string;
  reference?: string | null;
  variants?: string[];
  batchSize?: number;
  modelDir?: string;
}

export interface DirectionRequest {
  runPath: string;
  variant?: string;
  labels?: LabelSource;
  testFraction?: number;
  seed?: number;
  /** Write the direction to this .safetensors file. */
  out?: string;
  batchSize?: number;
  modelDir?: string;
}

/** SAE model diffing on a run (SAELens folder): the run-level diff, or one feature's top-activating tokens. */
export interface SaeRequest {
  runPath: string;
  saeDir: string;
  /** Set: this feature's top-activating tokens instead of the run-level diff. */
  feature?: number;
  variant?: string;
  top?: number;
  /** Use an SAE whose cfg.json model_name names another model. */
  allowModelMismatch?: boolean;
  modelDir?: string;
}

export type SaeResult = { kind: 'run'; diff: SaeRunDiff } | { kind: 'feature'; feature: number; variant: string | null; tokens: SaeTopToken[] };
