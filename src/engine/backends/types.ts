/**
 * The interface the engine host serves: one object that owns the loaded model, its adapters and the running job.
 * The local backend (onnxruntime-node, in this process) implements it; the engine host maps RPC calls onto it.
 * The data crossing the RPC boundary (as JSON) is defined in src/protocol/engineJobs.ts and src/protocol/analysis.ts:
 * import those types from there; this module holds only the engine-side interfaces.
 */
import type {
  AnalyzeSampleRequest,
  CheckpointReport,
  DirectionRequest,
  EngineSettings,
  JudgeRunResult,
  LayerCurveRequest,
  LoadedAdapterInfo,
  LoadedModelInfo,
  LocalJudgeRequest,
  ProgressEvent,
  RunPromptSetRequest,
  RunPromptSetResult,
  SaeRequest,
  SaeResult,
  SmokeTestRequest,
  SmokeTestResult,
} from '../../protocol/engineJobs';
import type { DirectionReport, RunLayerCurve, SampleActivations } from '../../protocol/analysis';

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
