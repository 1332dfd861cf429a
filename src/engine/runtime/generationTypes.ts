/**
 * The contract between batched generation (engine/runtime/generate.ts) and its callers
 * (the prompt-set job, the CLI, the engine host). Types only.
 */

/** Per-row variant of the one shared session: LoRA branch scale and steering/ablation strengths. */
export interface RowVariant {
  /** Name of a loaded adapter, or null for none. */
  adapter: string | null;
  /** Multiplies the adapter's PEFT scale (alpha/r or alpha/sqrt(r)); 0 reproduces the base model exactly. */
  adapterScale: number;
  /** Steering: add strength * vector at the output of `layer`. */
  steer?: { vector: Float32Array; layer: number; strength: number } | null;
  /** Ablation: project `vector` out of the residual stream at these layers. */
  ablate?: { vector: Float32Array; layers: number[] } | null;
}

export interface GenerationRequestRow {
  /** Prompt token ids (chat template already applied). */
  promptIds: number[];
  variant: RowVariant;
  /** Rows with the same seed share one random stream: step t of each uses the same uniform draw. */
  seed: number;
  /** Opaque key the caller uses to find the row again. */
  key: string;
  /**
   * This row's own sampling parameters, stop strings and token limit, in place of the call's (the serve
   * batcher runs requests with different parameters in one call). Fields left out come from the call.
   */
  sampling?: RowSampling;
}

/** The per-row part of GenerationParams. */
export type RowSampling = Partial<Pick<GenerationParams, 'temperature' | 'topP' | 'topK' | 'minP' | 'stop' | 'maxNewTokens'>>;

export interface GenerationParams {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  maxNewTokens: number;
  eosTokenIds: number[];
  /** Stop strings, checked on decoded text by `decode`. */
  stop: string[];
  /** Needed for stop strings and streaming text. */
  decode?: (ids: number[]) => string;
  /** Rows per forward batch (the generator refills the batch as rows finish). */
  maxBatchSize?: number;
}

export interface GenerationResultRow {
  key: string;
  tokenIds: number[];
  logprobs: number[];
  finishReason: 'eos' | 'stop' | 'length' | 'cancelled';
  /** Text with the stop string removed when finishReason = 'stop' (only when decode was given). */
  text?: string;
}

export interface GenerationHooks {
  signal?: AbortSignal;
  onToken?: (key: string, tokenId: number, step: number) => void;
  /** Called as soon as a row finishes, so the caller can write it to the run file at once. */
  onRowDone?: (row: GenerationResultRow) => void;
  /**
   * An open call: asked for more rows whenever the call's queue is drained and the batch has a free slot;
   * the rows it returns join the running batch at the next refill point (after the rows already there). The
   * call ends when its queue is drained, no row is active and `more` returns none. Joined rows are
   * reported through onRowDone only (the call returns the results of its request rows): an open call
   * may run for as long as rows keep coming, and keeps nothing of the joined rows that have finished.
   */
  more?: () => GenerationRequestRow[];
}
