/**
 * The subset of Inspect AI's log format (`EvalLog` and friends, log format version 2) that Organism Lab writes
 * and reads. Field names and meanings follow inspect_ai's `src/inspect_ai/log/_log.py`; the JSON schema we
 * check our output against is vendored in test/fixtures/inspect/ (its SOURCE.md names the commit).
 * Pydantic writes every field, defaults included, so the writer sets each one (null where we have nothing).
 */

export const INSPECT_LOG_VERSION = 2;

export type InspectContent = string | { type: string; text?: string; reasoning?: string; [k: string]: unknown }[];

export interface InspectChatMessage {
  id: string | null;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: InspectContent;
  source: 'input' | 'generate' | null;
  metadata: Record<string, unknown> | null;
  [k: string]: unknown;
}

/** A score's value: a number, string, boolean, a list of those, or a mapping of those (null allowed in a mapping). */
export type InspectScoreValue = string | number | boolean | (string | number | boolean)[] | Record<string, string | number | boolean | null>;

export interface InspectScore {
  value: InspectScoreValue;
  answer: string | null;
  explanation: string | null;
  metadata: Record<string, unknown> | null;
  history: unknown[];
}

export interface InspectModelOutput {
  model: string;
  choices: { message: InspectChatMessage; stop_reason: string; logprobs: unknown }[];
  completion: string;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number; [k: string]: unknown } | null;
  time: number | null;
  metadata: Record<string, unknown> | null;
  error: string | null;
}

export interface InspectSample {
  id: string | number;
  epoch: number;
  input: string | InspectChatMessage[];
  target: string | string[];
  messages: InspectChatMessage[];
  output: InspectModelOutput;
  scores: Record<string, InspectScore> | null;
  metadata: Record<string, unknown>;
  completed_at?: string | null;
  total_time?: number | null;
  error?: { message: string } | null;
  attachments?: Record<string, string>;
  [k: string]: unknown;
}

export interface InspectGenerateConfig {
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  stop_seqs?: string[] | null;
  seed?: number | null;
  [k: string]: unknown;
}

export interface InspectEvalSpec {
  eval_id: string;
  run_id: string;
  created: string;
  task: string;
  task_args?: Record<string, unknown>;
  dataset: { name: string | null; location: string | null; samples: number | null; sample_ids: (string | number)[] | null; shuffled: boolean | null };
  model: string;
  model_generate_config: InspectGenerateConfig;
  model_base_url?: string | null;
  metadata?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export interface InspectEvalMetric {
  name: string;
  value: number;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
}

export interface InspectEvalScore {
  name: string;
  scorer: string;
  reducer: string | null;
  scored_samples: number | null;
  unscored_samples: number | null;
  params: Record<string, unknown>;
  metrics: Record<string, InspectEvalMetric>;
  metadata: Record<string, unknown> | null;
}

export interface InspectSampleReductions {
  scorer: string;
  reducer: string | null;
  samples: (InspectScore & { sample_id: string | number | null })[];
}

/** header.json of an .eval log (and a .json log without its samples). */
export interface InspectLogHeader {
  version: number;
  status: 'started' | 'success' | 'cancelled' | 'error';
  eval: InspectEvalSpec;
  plan: { name: string; steps: { solver: string; params: Record<string, unknown>; params_passed: Record<string, unknown> }[]; finish: null; config: InspectGenerateConfig };
  results: { total_samples: number; completed_samples: number; early_stopping: null; scores: InspectEvalScore[]; metadata: Record<string, unknown> | null } | null;
  stats: { started_at: string; completed_at: string; model_usage: Record<string, unknown>; role_usage: Record<string, unknown> };
  [k: string]: unknown;
}

/** A whole log: its header and samples (what `inspect view` shows). */
export interface InspectLog {
  header: InspectLogHeader;
  samples: InspectSample[];
  reductions: InspectSampleReductions[];
}
