/**
 * Limits on what an input file (prompt set, run file, forward input, config.json, adapter_config.json,
 * judges file) can ask the engine for. Every limit is checked BEFORE the allocation it guards, and every
 * refusal is a LimitError naming the file, the field (or question / tensor) and what to do.
 *
 * The defaults are far above anything the supported workflows need; the ones that depend on a model
 * (the context budget) default to the model's own max_position_embeddings.
 */

export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/** Structure of config.json: anything beyond these is not a real decoder (the largest open models are far below). */
export const CONFIG_LIMITS = {
  num_hidden_layers: 1024,
  hidden_size: 1 << 17,
  intermediate_size: 1 << 20,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 4096,
  vocab_size: 1 << 23,
  max_position_embeddings: 1 << 24,
  sliding_window: 1 << 24,
  sliding_window_pattern: 1024,
} as const;

/** Prompt-set files: size of the parsed data (aliases expanded) and nesting. */
export interface PromptSetLimits {
  /** Characters of all strings after alias expansion, and of the file itself (default 16 Mi). */
  maxExpandedChars: number;
  /** Values (scalars, lists, mappings) after alias expansion (default 1 Mi). */
  maxExpandedNodes: number;
  /** Nesting of lists/mappings (default 32; prompt sets need 4). */
  maxDepth: number;
  /** Alias nodes in one YAML document (default 10,000). */
  maxAliases: number;
  /** Characters of one prompt, paraphrase, system prompt or message (default 1 Mi). */
  maxTextChars: number;
  /** Messages of one JSONL conversation (default 4096). */
  maxMessages: number;
}

export const DEFAULT_PROMPT_SET_LIMITS: PromptSetLimits = {
  maxExpandedChars: 16 * 1024 * 1024,
  maxExpandedNodes: 1024 * 1024,
  maxDepth: 32,
  maxAliases: 10_000,
  maxTextChars: 1024 * 1024,
  maxMessages: 4096,
};

/** Forward passes asked for by a file (`forward` input, `activations` samples). */
export const FORWARD_LIMITS = {
  /** Rows of one forward batch. */
  maxBatch: 4096,
  /** Batch × sequence tokens of one forward call. */
  maxBatchTokens: 1 << 20,
  /** Float32 values `forward` may write (logits + hidden states), 2 GiB worth. */
  maxOutputValues: 512 * 1024 * 1024,
} as const;

/**
 * The number of positions (prompt + generated tokens) a model may be run on: `budget` when given
 * (a positive integer, at most max_position_embeddings unless `allowBeyond`), else max_position_embeddings.
 */
export function contextBudget(maxPositionEmbeddings: number, budget?: number | null): number {
  if (budget === undefined || budget === null) return maxPositionEmbeddings;
  if (!Number.isInteger(budget) || budget < 1) throw new LimitError(`the context budget must be a positive integer, got ${budget}`);
  return budget;
}

/** No tokenizer we support has tokens longer than this many characters on average over a prompt: a text longer than budget × this is refused without tokenizing it. */
export const MAX_CHARS_PER_TOKEN = 64;

/** A readable count: 1234567 → "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Errors that mean "this input file is wrong" (with a message naming file, field and what to do), not "the
 * engine broke": the engine host reports them as InvalidInput, without a stack trace.
 */
export const INPUT_ERROR_NAMES: ReadonlySet<string> = new Set([
  'LimitError', 'RegexLimitError', 'NonFiniteLogitsError', 'NonFiniteOutputError', 'SafetensorsError', 'ModelSpecError', 'AdapterError', 'ForwardInputError',
]);

export function isInputError(err: unknown): err is Error {
  return err instanceof Error && INPUT_ERROR_NAMES.has(err.name);
}
