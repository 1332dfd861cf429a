/**
 * The typed RPC between the extension host (client) and the engine host process (server).
 * Both sides import this file, so a method's name, parameters and result cannot drift apart.
 *
 * Transport: vscode-jsonrpc over Node's fork IPC channel (IPCMessageReader/IPCMessageWriter).
 * Long requests (runPromptSet, smokeTest) are cancellable with the request's CancellationToken and report
 * progress through the `engine/progress` notification, tagged with the caller's `token`.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type {
  AnalyzeSampleRequest,
  CheckpointReport,
  DirectionRequest,
  JudgeRunResult,
  LayerCurveRequest,
  LocalJudgeRequest,
  SaeRequest,
  SaeResult,
  EngineSettings,
  LoadedAdapterInfo,
  LoadedModelInfo,
  ProgressEvent,
  RunPromptSetRequest,
  RunPromptSetResult,
  RemoteGenerationServer,
  SmokeTestRequest,
  SmokeTestResult,
} from './engineJobs';
import type { JudgeSpec } from './judges';
import type { DirectionReport, RemoteSampleLogprobs, RunLayerCurve, SampleActivations } from './analysis';
import type { ReportData, ReportOptions } from './reportData';
import type { RunCompleteness, RunRow } from './runFile';
import type { RunSnapshot } from './compare';
import type { ExportResult, ExportRunParams, RunArmsParams, RunArmsResult } from './runExport';
import type { RunDiff } from './review';
import type { JudgeThresholds } from './thresholds';

/** Bumped on any incompatible change; the client refuses a host that answers another version. */
export const ENGINE_PROTOCOL_VERSION = 2;

export interface InitializeParams {
  protocolVersion: number;
  settings: EngineSettings;
}

export interface InitializeResult {
  protocolVersion: number;
  pid: number;
  nodeVersion: string;
  /** Version of the onnxruntime-node package the host resolved, or null if it could not be read. */
  onnxruntimeVersion: string | null;
}

export interface MemoryInfo {
  /** Resident set size of the engine host process, bytes. */
  rss: number;
  heapUsed: number;
  external: number;
}

export interface JobInfo {
  token: string;
  kind: 'runPromptSet' | 'smokeTest' | 'inspectCheckpoint' | 'layerCurve' | 'direction' | 'sae' | 'judgeRun' | 'loadModel';
  done: number;
  total: number;
}

export interface WeightsCacheParams {
  clear?: boolean;
}

export interface WeightsCacheResult {
  folder: string;
  entries: { file: string; bytes: number; bits: number | null; blockSize: number | null; source: string | null; created: string | null; partial: boolean }[];
  totalBytes: number;
  /** Files removed (clear). */
  removed?: number;
}

export interface EngineStatus {
  pid: number;
  uptimeMs: number;
  executionProvider: EngineSettings['executionProvider'];
  model: LoadedModelInfo | null;
  adapters: LoadedAdapterInfo[];
  memory: MemoryInfo;
  job: JobInfo | null;
}

export interface LoadModelParams {
  dir: string;
  /** Progress token: a first load at int8/int4 quantizes the checkpoint (progress in MB read; cancellable). */
  token?: string;
}

export interface LoadAdapterParams {
  dir: string;
  /** Name used in variants; defaults to the folder's basename. */
  name?: string;
}

export interface UnloadAdapterParams {
  name: string;
}

export interface InspectCheckpointParams {
  dir: string;
  /** Check an adapter against this base model (default: the loaded model, if any). */
  baseModelDir?: string;
  /** Tags progress notifications (weight scans and trajectories can take a while). */
  token?: string;
}

export type AnalyzeSampleParams = AnalyzeSampleRequest;

/** One sample of a remote run (header backend "openai") scored under its base and adapter served names by the server that generated it. */
export interface RemoteLogprobsParams {
  runPath: string;
  sampleId: string;
  /** The adapter variant to compare a base sample under (default: the run's first adapter variant). */
  variant?: string;
  /** The generation server's API key (the extension reads it from SecretStorage): sent with the requests only, never logged or written. */
  apiKey?: string;
}

/** A generation server's models (`GET /v1/models`), and loading a LoRA adapter folder on it at run time (`POST /v1/load_lora_adapter`). */
export interface ServerLoraParams {
  /** The server's API root (organismLab.server.baseUrl), e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  /** The server's API key: sent with the requests only, never logged or written. */
  apiKey?: string;
  /** Served name to give the adapter. */
  name: string;
  /** The adapter folder, as a path on the server's machine. */
  loraPath: string;
  /** false: only say whether the server lists `name`; true: load it when it does not. */
  load: boolean;
}

export interface ServerLoraResult {
  /** The server lists `name` (after loading it, when `load`). */
  listed: boolean;
  /** It was loaded by this request. */
  loaded: boolean;
  /** Every model the server lists now. */
  models: string[];
}

export interface LayerCurveParams extends LayerCurveRequest {
  token: string;
}

export interface DirectionParams extends DirectionRequest {
  token: string;
}

export interface SaeParams extends SaeRequest {
  token: string;
}

/**
 * Judge a run file in the engine host, with any judge: rules and OpenAI-compatible judges run there without a
 * model, a local-model judge loads its model for the job. The host is then the one writer of judgement rows.
 */
export interface JudgeRunParams extends Omit<LocalJudgeRequest, 'judge'> {
  token: string;
  /** As parsed from a judges file; a rules judge's compiled matchers do not cross the RPC (the host compiles its patterns again). */
  judge: JudgeSpec;
  /** An OpenAI-compatible judge's API key (the extension reads it from SecretStorage): sent with its requests only, never logged or written. */
  apiKey?: string;
}

export interface RunPromptSetParams extends RunPromptSetRequest {
  /** Caller-chosen id that tags this job's progress notifications. */
  token: string;
  /**
   * Run against this OpenAI-compatible server instead of the loaded local model (no model needs to be loaded;
   * variants: base and the server's adapters at scale 1). Absent: the local backend.
   */
  server?: RemoteGenerationServer;
}

export interface ProgressParams extends ProgressEvent {
  token: string;
}

export interface SmokeTestParams extends SmokeTestRequest {
  token: string;
}

export interface LogParams {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** The Run Report of one run file (computeReport in the engine host): the numbers the Report and Compare panels show. */
export interface RunReportParams {
  runPath: string;
  options?: ReportOptions;
}

export interface RunReportResult {
  data: ReportData;
  /** Problems found reading the run file (torn last line, bad rows). */
  warnings: string[];
  /** Finished samples against the planned ones (absent without a header). */
  completeness?: RunCompleteness;
}

/** Diff run A (earlier, e.g. on main) and run B (e.g. on a branch): engine/review/runDiff in the engine host. */
export interface RunDiffParams {
  pathA: string;
  pathB: string;
  thresholds?: JudgeThresholds;
  /** Pair runs of different models, adapters, precisions or judges anyway. */
  allowMismatch?: boolean;
}

/** `mismatch`: the runs cannot be paired, with the reasons (ask before retrying with allowMismatch). */
export type RunDiffResult = { kind: 'diff'; diff: RunDiff; warnings: string[] } | { kind: 'mismatch'; reasons: string[] };

/** Where each diverging row's first diverging token starts in its completion (Compare's token-exact highlight). */
export interface DivergenceOffsetsParams {
  runPath: string;
}

export interface DivergenceOffsetsResult {
  /** sample id -> character offset in its completion of token `divergence_index` (the decoded shared token prefix). */
  offsets: Record<string, number>;
  /** Why some or all rows have no offset (no token_ids recorded, the run's tokenizer cannot be loaded, …). */
  note?: string;
}

/**
 * Where a reader of a growing run file stands (Compare follows its run as it is written and judged): returned with
 * every `engine/runRows` answer and passed back, unchanged, with the next request. The host keeps no state per reader.
 */
export interface RunRowsCursor {
  /** The file version read: a changed size, modification time or inode is a new version. */
  size: number;
  mtimeMs: number;
  ino: number;
  /** How many rows of each kind the reader has. */
  samples: number;
  judgements: number;
  labels: number;
  /** Digest of what a later version must still hold for its new rows to be appends: the header, those samples' ids, finish reasons and completions, the last judgement and label. */
  digest: string;
  /** The reading warnings the reader was given (not repeated). */
  warnings: string[];
}

export interface RunRowsParams {
  runPath: string;
  /** The cursor of the last answer; absent or null: the whole run. */
  since?: RunRowsCursor | null;
  /** A changed file comes back whole (`load`), never as appended rows (Compare's run A, shown whole beside run B). */
  wholeOnChange?: boolean;
}

/**
 * `load`: the whole run (the first read, or the file was replaced, truncated or a row rewritten), with the planned
 * sample count of an older run whose header does not record it (counted from its unchanged prompt set; else null).
 * `append`: the rows written since the cursor, and new reading warnings. `unchanged`: nothing new.
 */
export type RunRowsResult =
  | { kind: 'load'; snapshot: RunSnapshot; expectedSamples: number | null; cursor: RunRowsCursor }
  | { kind: 'append'; rows: RunRow[]; warnings: string[]; cursor: RunRowsCursor }
  | { kind: 'unchanged'; cursor: RunRowsCursor };

/** Error codes the host uses in ResponseError.code (JSON-RPC reserves -32768..-32000 for itself). */
export const EngineErrorCodes = {
  /** Bad input: a file or field the user can fix. `data.hint` says what to do. */
  InvalidInput: 1001,
  /** A request needs a loaded model. */
  NoModelLoaded: 1002,
  /** Another job is running; the host runs one job at a time. */
  Busy: 1003,
  /** A capability the host does not have (an engine module missing in this build). */
  Unsupported: 1004,
  /** Unexpected failure; `data.stack` has the stack. */
  Internal: 1099,
} as const;

export interface EngineErrorData {
  hint?: string;
  stack?: string;
}

export const EngineMethods = {
  initialize: new RequestType<InitializeParams, InitializeResult, void>('engine/initialize'),
  loadModel: new RequestType<LoadModelParams, LoadedModelInfo, void>('engine/loadModel'),
  loadAdapter: new RequestType<LoadAdapterParams, LoadedAdapterInfo, void>('engine/loadAdapter'),
  unloadAdapter: new RequestType<UnloadAdapterParams, void, void>('engine/unloadAdapter'),
  status: new RequestType0<EngineStatus, void>('engine/status'),
  /** The quantized-weights cache (<cacheFolder>/weights): list it, or clear it. */
  weightsCache: new RequestType<WeightsCacheParams, WeightsCacheResult, void>('engine/weightsCache'),
  inspectCheckpoint: new RequestType<InspectCheckpointParams, CheckpointReport, void>('engine/inspectCheckpoint'),
  runPromptSet: new RequestType<RunPromptSetParams, RunPromptSetResult, void>('engine/runPromptSet'),
  smokeTest: new RequestType<SmokeTestParams, SmokeTestResult, void>('engine/smokeTest'),
  /** One sample teacher-forced through the reference and a variant: per layer/token ‖Δh‖, relative, cosine, KL. */
  analyzeSample: new RequestType<AnalyzeSampleParams, SampleActivations, void>('engine/analyzeSample'),
  /** A remote run's sample: per-token log-probability of its completion under base and adapter (the server's prompt_logprobs, or /v1/completions echo + logprobs), and the difference. */
  remoteLogprobs: new RequestType<RemoteLogprobsParams, RemoteSampleLogprobs, void>('engine/remoteLogprobs'),
  /** A generation server: is this LoRA adapter served, and load it at run time when asked (refusal: an Unsupported error naming VLLM_ALLOW_RUNTIME_LORA_UPDATING). */
  serverLora: new RequestType<ServerLoraParams, ServerLoraResult, void>('engine/serverLora'),
  /** Per variant and layer, the mean relative difference over response tokens of a whole run (progress, cancellable). */
  layerCurve: new RequestType<LayerCurveParams, RunLayerCurve, void>('engine/layerCurve'),
  /** Misaligned-minus-aligned direction per layer from labelled samples (progress, cancellable). */
  direction: new RequestType<DirectionParams, DirectionReport, void>('engine/direction'),
  /** SAE model diffing on a run (SAELens folder): run-level feature diff or a feature's top tokens (progress, cancellable). */
  sae: new RequestType<SaeParams, SaeResult, void>('engine/sae'),
  /** Judge a run file (rules, OpenAI-compatible or local-model judge); judgements are appended as they come (progress, cancellable, resumable). */
  judgeRun: new RequestType<JudgeRunParams, JudgeRunResult, void>('engine/judgeRun'),
  /** The Run Report of a run file (no model needed; not a job). */
  runReport: new RequestType<RunReportParams, RunReportResult, void>('engine/runReport'),
  /** Character offsets of the first diverging token of a run's rows, decoded with the run's tokenizer (not a job). */
  divergenceOffsets: new RequestType<DivergenceOffsetsParams, DivergenceOffsetsResult, void>('engine/divergenceOffsets'),
  /** The diff of two run files (no model needed; not a job). */
  runDiff: new RequestType<RunDiffParams, RunDiffResult, void>('engine/runDiff'),
  /** A run file's rows for a reader that follows it (Compare): the whole run, or what was appended since its cursor (not a job). */
  runRows: new RequestType<RunRowsParams, RunRowsResult, void>('engine/runRows'),
  /** Export a run file as CSV, JSONL or LLM Comparator JSON (no model needed; not a job). */
  exportRun: new RequestType<ExportRunParams, ExportResult, void>('engine/exportRun'),
  /** The arms of a run file an LLM Comparator export can compare, from its header (no model needed; not a job). */
  runArms: new RequestType<RunArmsParams, RunArmsResult, void>('engine/runArms'),
  shutdown: new RequestType0<void, void>('engine/shutdown'),
  /** Test-only: the host exits at once with the given code (to exercise crash handling). */
  debugCrash: new RequestType<{ exitCode: number }, void, void>('engine/debugCrash'),
} as const;

export const EngineNotifications = {
  progress: new NotificationType<ProgressParams>('engine/progress'),
  log: new NotificationType<LogParams>('engine/log'),
} as const;
