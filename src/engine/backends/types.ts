/**
 * The interface the engine host serves: one object that owns the loaded model, its adapters and the running job.
 * The local backend (onnxruntime-node, in this process) implements it; the engine host maps RPC calls onto it.
 * Plain data only (everything here crosses the RPC boundary as JSON).
 */
import type { DirectionReport, InspectorReport, RunLayerCurve, SampleActivations } from '../analysis/types';
import type { LabelSource } from '../analysis/directions';
import type { SaeRunDiff, SaeTopToken } from '../sae/saeDiff';
import type { JudgeRunResult } from '../jobs/judgeRun';
import type { RunPromptSetOptions } from '../jobs/runPromptSet';
import type { LocalJudgeSpec } from '../judges/judgesFile';

export type { JudgeRunResult } from '../jobs/judgeRun';
export type { LocalJudgeSpec } from '../judges/judgesFile';

/** Judge a run file with a local-model judge (the model is loaded in the engine host for this job). */
export interface LocalJudgeRequest {
  runPath: string;
  judge: LocalJudgeSpec;
  /** Folder that a relative `judge.model` is resolved against (the judges file's folder). */
  baseDir?: string;
  /** Only these variants (default: all). */
  variants?: string[];
}

export type { DirectionReport, InspectorReport, RunLayerCurve, SampleActivations } from '../analysis/types';

export type ExecutionProviderName = 'cpu' | 'cuda';

export interface EngineSettings {
  executionProvider: ExecutionProviderName;
  /** Intra-op threads; 0 lets onnxruntime decide. */
  threads: number;
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

/** A prompt-set run as a backend accepts it: the job's own options, less the CLI-only force/plain-chat/extra. */
export type RunPromptSetRequest = Pick<RunPromptSetOptions, 'promptSetPath' | 'variants' | 'samples' | 'sampling' | 'seed' | 'out' | 'questionIds' | 'conditions' | 'batchSize'>;

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

export interface JobHooks {
  signal: AbortSignal;
  onProgress: (event: ProgressEvent) => void;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface EngineBackend {
  configure(settings: EngineSettings): void;
  readonly settings: EngineSettings;
  /** `hooks`: progress and cancellation of a first-load quantization (int8/int4 weights). */
  loadModel(dir: string, hooks?: JobHooks): Promise<LoadedModelInfo>;
  loadAdapter(dir: string, name?: string): Promise<LoadedAdapterInfo>;
  unloadAdapter(name: string): Promise<void>;
  readonly model: LoadedModelInfo | null;
  readonly adapters: LoadedAdapterInfo[];
  inspectCheckpoint(dir: string, hooks: JobHooks, baseModelDir?: string): Promise<CheckpointReport>;
  analyzeSample(request: AnalyzeSampleRequest): Promise<SampleActivations>;
  layerCurve(request: LayerCurveRequest, hooks: JobHooks): Promise<RunLayerCurve>;
  direction(request: DirectionRequest, hooks: JobHooks): Promise<DirectionReport>;
  /** SAE model diffing on a run: the run-level feature diff, or one feature's top-activating tokens. */
  sae(request: SaeRequest, hooks: JobHooks): Promise<SaeResult>;
  judgeRunLocal(request: LocalJudgeRequest, hooks: JobHooks): Promise<JudgeRunResult>;
  runPromptSet(request: RunPromptSetRequest, hooks: JobHooks): Promise<RunPromptSetResult>;
  smokeTest(request: SmokeTestRequest, hooks: JobHooks): Promise<SmokeTestResult>;
  dispose(): Promise<void>;
}

// Analysis requests (served by AnalysisService in ./analysis with the run's own model).

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

// The local backend's model handle (implemented in ./onnxModel, used by ./local).

export interface AdapterRef {
  name: string;
  dir: string;
}

/** A loaded model with a fixed adapter set: what the jobs run on (the local backend's handle, see ./local). */
export interface ModelHandle {
  readonly info: LoadedModelInfo;
  readonly adapters: LoadedAdapterInfo[];
  runPromptSet(request: RunPromptSetRequest, hooks: JobHooks): Promise<RunPromptSetResult>;
  smokeTest(request: SmokeTestRequest, hooks: JobHooks): Promise<SmokeTestResult>;
  /** Layers whose steering / ablation inputs the graph has (steering and ablation variants need them). */
  readonly steerLayers: number[];
  readonly ablateLayers: number[];
  dispose(): Promise<void>;
}

/** Residual-stream layers the graph must expose as steering / ablation inputs. */
export interface InterventionLayers {
  steerLayers: number[];
  ablateLayers: number[];
}

export type ModelLoader = (dir: string, adapters: AdapterRef[], settings: EngineSettings, layers?: InterventionLayers, hooks?: JobHooks) => Promise<ModelHandle>;
