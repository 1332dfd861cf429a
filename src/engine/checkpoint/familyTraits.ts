/**
 * What differs between the decoder families, in one table: the only place that knows a family by name.
 *
 * The config parser (./modelSpec) reads a family's row to resolve config.json into a ModelSpec, and the graph
 * builder (../graph/) reads only the resolved ModelSpec, so neither holds a `family === …` check.
 *
 * HOW TO ADD A FAMILY (a decoder that is llama-shaped: RMSNorm, rotary attention, gated MLP)
 *   1. Add its Hugging Face `model_type` as a row of FAMILY_TRAITS below, filling every trait from the
 *      family's transformers modeling file (`modeling_<type>.py`) and its config class's defaults
 *      (`configuration_<type>.py`: tie_word_embeddings, hidden_act). If it needs a behaviour no existing
 *      value describes (a new sliding-window rule, say), add the value to the trait's type here and its
 *      reading in ./modelSpec (the config parser's entry) or its node in ../graph/ — the type checker then
 *      names every place that must handle it.
 *   2. Add a golden test: reference outputs from transformers for a tiny random model of the family in
 *      ../shared/golden/<model_type>/ (see its README), and the family's name in test/unit/helpers/golden.ts.
 *   Nothing else changes: SUPPORTED_MODEL_TYPES and the error messages listing families come from this table.
 */

/** Which layers attend through a sliding window when config.json has no `layer_types` list (which always wins). */
export type SlidingPattern =
  /** No layer slides; `refuseFlag: true` in the config is refused (the family's own flag to switch windows on). */
  | { kind: 'none'; refuseFlag?: string }
  /** Every layer slides when `sliding_window` is set (Mistral). */
  | { kind: 'allWhenWindowSet' }
  /** Even layers slide, odd layers are global (Gemma 2). */
  | { kind: 'evenLayers' }
  /** Every layer slides except each n-th (n from `configKey`, else `fallback`; Gemma 3: 5 local, then 1 global). */
  | { kind: 'allButEveryNth'; configKey: string; fallback: number };

export interface FamilyTraits {
  /** RMSNorm scales by (normOffset + w): 0 for most, 1 for Gemma (its norm weights are stored around 0). */
  normOffset: 0 | 1;
  /** Four norms per layer (input, post-attention, pre-feedforward, post-feedforward; Gemma) instead of two. */
  sandwichNorms: boolean;
  /** Embedding output scaled: 'sqrtHidden' multiplies by sqrt(hidden_size) rounded to float32 (Gemma). */
  embeddingScale: 'none' | 'sqrtHidden';
  /** RMSNorm over head_dim on q and k before rotary (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Reads attn_logit_softcapping and final_logit_softcapping (absent/null = off); false: never soft-capped. */
  logitSoftcapping: boolean;
  slidingPattern: SlidingPattern;
  /** Sliding layers rotate with their own base (`rope_local_base_freq`, unscaled): Gemma 3. */
  localRopeBase: boolean;
  /** rope_scaling kinds accepted ('default' is always accepted). */
  ropeScaling: readonly ('linear' | 'llama3')[];
  /** q/k/v bias: 'always' (Qwen2) or only with `attention_bias: true`. */
  qkvBias: 'always' | 'attentionBias';
  /** o_proj bias: with `attention_bias: true`, or 'never' (Qwen2 biases q/k/v only). */
  oBias: 'never' | 'attentionBias';
  /** tie_word_embeddings when config.json omits it (save_pretrained omits a value equal to the class default). */
  tiedEmbeddingsDefault: boolean;
  /** hidden_activation / hidden_act when config.json omits both. */
  activationDefault: 'silu' | 'gelu_pytorch_tanh';
  /** Attention scores scaled by head_dim^-0.5, or by query_pre_attn_scalar^-0.5 (Gemma; head_dim when absent). */
  attnScale: 'headDim' | 'queryPreAttnScalar';
}

const LLAMA_LIKE: FamilyTraits = {
  normOffset: 0,
  sandwichNorms: false,
  embeddingScale: 'none',
  qkNorm: false,
  logitSoftcapping: false,
  slidingPattern: { kind: 'none' },
  localRopeBase: false,
  ropeScaling: ['linear', 'llama3'],
  qkvBias: 'attentionBias',
  oBias: 'attentionBias',
  tiedEmbeddingsDefault: false,
  activationDefault: 'silu',
  attnScale: 'headDim',
};

const GEMMA: FamilyTraits = {
  ...LLAMA_LIKE,
  normOffset: 1,
  sandwichNorms: true,
  embeddingScale: 'sqrtHidden',
  logitSoftcapping: true,
  tiedEmbeddingsDefault: true,
  activationDefault: 'gelu_pytorch_tanh',
  attnScale: 'queryPreAttnScalar',
};

/** Keyed by config.json's model_type; the key order is the order in which messages list the families. */
export const FAMILY_TRAITS = {
  qwen2: { ...LLAMA_LIKE, qkvBias: 'always', oBias: 'never', slidingPattern: { kind: 'none', refuseFlag: 'use_sliding_window' } },
  qwen3: { ...LLAMA_LIKE, qkNorm: true, slidingPattern: { kind: 'none', refuseFlag: 'use_sliding_window' } },
  llama: LLAMA_LIKE,
  mistral: { ...LLAMA_LIKE, slidingPattern: { kind: 'allWhenWindowSet' } },
  gemma2: { ...GEMMA, slidingPattern: { kind: 'evenLayers' }, ropeScaling: [] },
  gemma3_text: { ...GEMMA, qkNorm: true, slidingPattern: { kind: 'allButEveryNth', configKey: 'sliding_window_pattern', fallback: 6 }, localRopeBase: true },
} as const satisfies Record<string, FamilyTraits>;

export type ModelFamily = keyof typeof FAMILY_TRAITS;
export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILY_TRAITS) as ModelFamily[];

export function isModelFamily(t: unknown): t is ModelFamily {
  return typeof t === 'string' && Object.hasOwn(FAMILY_TRAITS, t);
}

export function familyTraits(family: ModelFamily): FamilyTraits {
  return FAMILY_TRAITS[family];
}
