/**
 * The run-file format (`*.run.jsonl`): one JSON object per line, append-only.
 * Line 1 is a `header`; every later line is a `sample`, `judgement` or `label` row.
 * Field names are snake_case so `pandas.read_json(path, lines=True)` gives tidy columns.
 *
 * This module (in the protocol layer, a leaf) holds only types and tiny pure helpers; it is imported by the engine, the CLI,
 * the extension host and the webviews alike (no Node or vscode imports here).
 */

export const RUN_SCHEMA_VERSION = 1;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingParams {
  temperature: number; // 0 = greedy
  top_p: number; // 1 = off
  top_k: number; // 0 = off
  min_p: number; // 0 = off
  max_new_tokens: number;
  stop: string[]; // stop strings (in addition to end-of-sequence ids)
}

/** The SAE feature whose decoder row W_dec[feature] is a steering / ablation direction (`file` is then the SAE folder). */
export interface SaeFeatureRef {
  feature: number;
  hook_name: string; // the SAE's hook (cfg.json), e.g. blocks.1.hook_resid_post
  hash: string; // fingerprint of the SAE folder (cfg.json + weights)
  decoder_norm: number; // ‖W_dec[feature]‖: the row is used as stored, not normalized
}

/** One way of running the model: base, an adapter at a scale, steering or ablation along a direction. */
export interface VariantSpec {
  name: string; // e.g. "base", "adapter", "adapter@0.5", "steer+4"
  adapter?: string | null; // name of an entry in RunHeader.adapters; null/absent = no adapter
  adapter_scale?: number; // multiplies the PEFT scale; default 1 when an adapter is set
  steer?: { file: string; layer: number; alpha: number; sae?: SaeFeatureRef } | null; // add alpha * v at the output of `layer`
  ablate?: { file: string; layers: number[]; sae?: SaeFeatureRef } | null; // project v out of the residual stream at `layers`
}

/**
 * A prompt condition: a named transformation of every question's messages (issue 14). A condition with no
 * transformation field is a control. The first condition of a run is its reference condition.
 */
export interface ConditionSpec {
  name: string; // [A-Za-z0-9_.-]+
  user_prefix?: string; // prepended to the user turn (a `messages` question: its last user turn)
  user_suffix?: string; // appended to the user turn
  user_template?: string; // applied to the user turn: {user} is the turn's text, {name} a question's vars entry
  system?: string; // replaces the system prompt ("" removes it)
  system_append?: string; // appended after a newline to the system prompt, or becomes it
}

export interface RunHeader {
  type: 'header';
  schema_version: number;
  tool: { name: 'organism-lab'; version: string };
  created_at: string; // ISO 8601
  model: { path: string; hash: string; model_type?: string };
  adapters: { name: string; path: string; hash: string }[];
  prompt_set: { path: string; hash: string };
  variants: VariantSpec[];
  /** The run's prompt conditions in order (the first is the reference); absent when the prompt set has none. */
  conditions?: ConditionSpec[];
  sampling: SamplingParams;
  seed: number;
  backend?: { kind: 'local' | 'openai'; execution_provider?: string; base_url?: string; model?: string };
  /** Weight precision of the local session that generated the run: f32 (exact), int8, int4 (block-quantized, see engine/quant). Absent: f32 (runs before precisions existed) or a remote backend. */
  weights?: string;
  /** Quantization block size of int8/int4 weights. */
  weights_block_size?: number;
  /** Anything else the writer wants to keep (e.g. the command line). */
  extra?: Record<string, unknown>;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled' | 'error';

export interface SampleRow {
  type: 'sample';
  /** Stable id: `${question_id}#${paraphrase_index}#${sample_index}@${variant}` + (`~${condition}` with a condition) (see sampleId()). */
  id: string;
  question_id: string;
  paraphrase_index: number;
  sample_index: number;
  variant: string;
  /** The prompt condition this row ran under; absent when the prompt set has no conditions (or the question opted out). */
  condition?: string;
  messages: ChatMessage[]; // the prompt as sent (system + user ...)
  completion: string;
  tokens: number; // completion token count
  finish_reason: FinishReason;
  /** Index of the first completion token where this row differs from the cell's reference row (first condition, first variant); null if identical, absent for the reference row. */
  divergence_index?: number | null;
  token_ids?: number[];
  logprobs?: number[]; // log-probability of each chosen token under the (processed) sampling distribution's source logits
  seed: number; // the per-sample seed (shared by the paired rows)
  elapsed_ms?: number;
  created_at: string;
}

export interface JudgementRow {
  type: 'judgement';
  sample_id: string;
  judge: string; // e.g. "openai:gpt-4o-2024-08-06", "rule:demo", "local:/path/model"
  metric: string; // e.g. "aligned", "coherent"
  score: number | null; // 0..100, null = none (refusal / not a number)
  raw?: unknown; // raw answer or top logprobs, for auditing
  created_at: string;
}

export type HumanLabel = 'aligned' | 'misaligned' | 'incoherent' | 'skip';

export interface LabelRow {
  type: 'label';
  sample_id: string;
  label: HumanLabel;
  annotator?: string;
  note?: string;
  created_at: string;
}

export type RunRow = SampleRow | JudgementRow | LabelRow;
export type RunLine = RunHeader | RunRow;

/** Sample and cell ids (defined in the protocol layer, which the webviews share). */
export { armLabel, cellId, sampleId } from './runIds';

/** How complete a run file is (computed by engine/runs/completeness.ts). */
export interface RunCompleteness {
  /** Distinct finished samples of the header's variants. */
  present: number;
  /** Planned samples, null when unknown (an older file whose prompt set changed or is gone). */
  expected: number | null;
  /** present < expected (false when expected is unknown). */
  incomplete: boolean;
}
