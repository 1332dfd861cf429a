/**
 * Hugging Face config.json → typed ModelSpec for the decoder families the graph builder supports. What differs
 * between families comes from their row of ./familyTraits; this parser resolves it against the config's values.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_LIMITS } from '../limits/limits';
import { familyTraits, FamilyTraits, isModelFamily, ModelFamily, SlidingPattern, SUPPORTED_MODEL_TYPES } from './familyTraits';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface RopeSpec {
  theta: number;
  scaling: RopeScaling;
}

export interface LayerSpec {
  /** Sliding-window size for this layer's attention, or null for full (global) attention. */
  slidingWindow: number | null;
  rope: RopeSpec;
}

export interface ModelSpec {
  family: ModelFamily;
  /** The config.json this spec came from. */
  configPath: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2, or attention_bias: true). */
  qkvBias: boolean;
  /** o_proj carries a bias (attention_bias: true on llama-style configs). */
  oBias: boolean;
  /** gate/up/down carry biases (llama mlp_bias). */
  mlpBias: boolean;
  /** RMSNorm over head_dim on q and k before RoPE (Qwen3, Gemma3). */
  qkNorm: boolean;
  /** RMSNorm scales by (normOffset + w): 1 for Gemma, 0 otherwise. */
  normOffset: number;
  /** Four norms per layer (post-attention and pre/post-feedforward besides the input norm), as Gemma. */
  sandwichNorms: boolean;
  /** Embedding output multiplier (Gemma: sqrt(hidden_size) in float32), or null. */
  embeddingScale: number | null;
  activation: 'silu' | 'gelu_tanh';
  /** Attention score scale (head_dim^-0.5, or query_pre_attn_scalar^-0.5 for Gemma). */
  attnScale: number;
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  layers: LayerSpec[];
  padTokenId: number | null;
  bosTokenId: number | number[] | null;
  eosTokenId: number | number[] | null;
  /** Data type recorded in config.json (informational; the actual tensors decide). */
  torchDtype: string | null;
  /** max_position_embeddings: the longest sequence (prompt + completion) the model was made for. */
  maxPositionEmbeddings: number;
}

export class ModelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelSpecError';
  }
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ModelSpecError(`${file}: required field "${key}" is missing`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelSpecError(`${file}: field "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = num(cfg, key, file, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ModelSpecError(`${file}: field "${key}" must be a positive integer, got ${v}`);
  const max = (CONFIG_LIMITS as Record<string, number>)[key];
  if (max !== undefined && v > max) throw new ModelSpecError(`${file}: field "${key}" is ${v}, above the limit of ${max}; this is not a real model configuration (fix config.json)`);
  return v;
}

/** A finite number > 0 (and < `below` when given). */
function positive(cfg: Json, key: string, file: string, fallback?: number, below?: number): number {
  const v = num(cfg, key, file, fallback);
  if (!(v > 0) || (below !== undefined && !(v < below))) {
    throw new ModelSpecError(`${file}: field "${key}" must be a number above 0${below !== undefined ? ` and below ${below}` : ''}, got ${v}; fix config.json`);
  }
  return v;
}

/** true / false, or absent/null (= `fallback`). */
function bool(cfg: Json, key: string, file: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ModelSpecError(`${file}: field "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A token id (or, when `list`, a list of them) inside the vocabulary, or absent/null. */
function tokenId(cfg: Json, key: string, file: string, vocab: number, list: boolean): number | number[] | null {
  const v = cfg[key];
  if (v === undefined || v === null || (key === 'pad_token_id' && v === -1)) return null; // -1: "no pad" in older configs
  const ok = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < vocab;
  if (ok(v)) return v as number;
  if (list && Array.isArray(v) && v.length > 0 && v.length <= 1024 && v.every(ok)) return v as number[];
  throw new ModelSpecError(`${file}: field "${key}" must be a token id${list ? ' or a list of token ids' : ''} in 0..${vocab - 1} (vocab_size), got ${JSON.stringify(v).slice(0, 80)}`);
}

function parseRopeScaling(cfg: Json, file: string): RopeScaling {
  const rs = cfg.rope_scaling as Json | null | undefined;
  if (rs === undefined || rs === null) return { type: 'none' };
  if (typeof rs !== 'object') throw new ModelSpecError(`${file}: "rope_scaling" must be an object or null`);
  const type = (rs.rope_type ?? rs.type) as string | undefined;
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: positive(rs, 'factor', `${file} rope_scaling`) };
  if (type === 'llama3') {
    const r: RopeScaling = {
      type: 'llama3',
      factor: positive(rs, 'factor', `${file} rope_scaling`),
      lowFreqFactor: positive(rs, 'low_freq_factor', `${file} rope_scaling`),
      highFreqFactor: positive(rs, 'high_freq_factor', `${file} rope_scaling`),
      originalMaxPositionEmbeddings: posInt(rs, 'original_max_position_embeddings', `${file} rope_scaling`),
    };
    if (!(r.highFreqFactor > r.lowFreqFactor)) {
      throw new ModelSpecError(`${file} rope_scaling: "high_freq_factor" (${r.highFreqFactor}) must be above "low_freq_factor" (${r.lowFreqFactor}); fix config.json`);
    }
    return r;
  }
  throw new ModelSpecError(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported (supported: default/none, linear, llama3)`);
}

/** Whether layer `i` slides by the family's pattern (config.json without `layer_types`). */
function slidesByPattern(p: SlidingPattern, cfg: Json, file: string, family: ModelFamily, i: number, window: number | null): boolean {
  switch (p.kind) {
    case 'none':
      if (p.refuseFlag !== undefined && cfg[p.refuseFlag] === true) {
        throw new ModelSpecError(`${file}: ${p.refuseFlag}: true is not supported for ${family} (set it to false; transformers ignores it for eager attention too)`);
      }
      return false;
    case 'allWhenWindowSet':
      return window !== null;
    case 'evenLayers':
      return i % 2 === 0;
    case 'allButEveryNth':
      return (i + 1) % posInt(cfg, p.configKey, file, p.fallback) !== 0;
  }
}

function resolveActivation(cfg: Json, file: string, family: ModelFamily, t: FamilyTraits): ModelSpec['activation'] {
  const act = (cfg.hidden_activation ?? cfg.hidden_act ?? t.activationDefault) as string;
  if (act === 'silu' || act === 'swish') return 'silu';
  if (act === 'gelu_pytorch_tanh' || act === 'gelu_tanh') return 'gelu_tanh';
  throw new ModelSpecError(`${file}: activation ${JSON.stringify(act)} is not supported for ${family} (supported: silu, gelu_pytorch_tanh)`);
}

/** Parses a config object (already read from `configPath`). */
export function parseModelSpec(cfg: Json, configPath: string): ModelSpec {
  const file = configPath;
  const mt = cfg.model_type;
  if (!isModelFamily(mt)) {
    throw new ModelSpecError(
      `${file}: model_type ${JSON.stringify(mt)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  const family = mt;
  const traits = familyTraits(family);
  const hiddenSize = posInt(cfg, 'hidden_size', file);
  const numHeads = posInt(cfg, 'num_attention_heads', file);
  const numKvHeads = posInt(cfg, 'num_key_value_heads', file, numHeads);
  const headDim = cfg.head_dim === undefined || cfg.head_dim === null ? hiddenSize / numHeads : posInt(cfg, 'head_dim', file);
  if (!Number.isInteger(headDim)) throw new ModelSpecError(`${file}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}; set head_dim`);
  if (numHeads % numKvHeads !== 0) throw new ModelSpecError(`${file}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new ModelSpecError(`${file}: head_dim ${headDim} must be even for rotary embeddings`);
  const numLayers = posInt(cfg, 'num_hidden_layers', file);
  const partial = cfg.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1 && partial !== 1.0) {
    throw new ModelSpecError(`${file}: partial_rotary_factor ${partial} is not supported (only 1.0)`);
  }
  const activation = resolveActivation(cfg, file, family, traits);

  // Rotary: the global rope, and (localRopeBase) the sliding layers' own.
  const theta = positive(cfg, 'rope_theta', file, 10000);
  const scaling = parseRopeScaling(cfg, file);
  const globalRope: RopeSpec = { theta, scaling };
  if (scaling.type !== 'none' && !(traits.ropeScaling as readonly string[]).includes(scaling.type)) {
    throw new ModelSpecError(`${file}: rope_scaling${traits.ropeScaling.length ? ` type "${scaling.type}"` : ''} is not supported for ${family}${traits.ropeScaling.length ? ` (supported: default/none, ${traits.ropeScaling.join(', ')})` : ''}`);
  }

  // Sliding windows: layer_types when the config lists them, else the family's pattern.
  const window = cfg.sliding_window === undefined || cfg.sliding_window === null ? null : posInt(cfg, 'sliding_window', file);
  const layers: LayerSpec[] = [];
  const layerTypes = cfg.layer_types as unknown;
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== numLayers) {
      throw new ModelSpecError(`${file}: "layer_types" must be a list of ${numLayers} entries`);
    }
  }
  for (let i = 0; i < numLayers; i++) {
    let sliding: boolean;
    if (Array.isArray(layerTypes)) {
      const t = layerTypes[i];
      if (t !== 'sliding_attention' && t !== 'full_attention') throw new ModelSpecError(`${file}: layer_types[${i}] = ${JSON.stringify(t)} is not supported (full_attention, sliding_attention)`);
      sliding = t === 'sliding_attention';
    } else sliding = slidesByPattern(traits.slidingPattern, cfg, file, family, i, window);
    if (sliding && window === null) throw new ModelSpecError(`${file}: layer ${i} uses sliding attention but "sliding_window" is missing`);
    const rope = traits.localRopeBase && sliding ? { theta: positive(cfg, 'rope_local_base_freq', file, 10000), scaling: { type: 'none' } as const } : globalRope;
    layers.push({ slidingWindow: sliding ? window : null, rope });
  }

  const attnScale = Math.pow(traits.attnScale === 'queryPreAttnScalar' ? positive(cfg, 'query_pre_attn_scalar', file, headDim) : headDim, -0.5);
  const softcap = (k: string): number | null => (!traits.logitSoftcapping || cfg[k] === undefined || cfg[k] === null ? null : positive(cfg, k, file));

  const attentionBias = bool(cfg, 'attention_bias', file, false);
  const vocabSize = posInt(cfg, 'vocab_size', file);
  const maxPositionEmbeddings = posInt(cfg, 'max_position_embeddings', file, 2048);
  if (cfg.torch_dtype !== undefined && cfg.torch_dtype !== null && typeof cfg.torch_dtype !== 'string') {
    throw new ModelSpecError(`${file}: field "torch_dtype" must be a string such as "bfloat16", got ${JSON.stringify(cfg.torch_dtype)}`);
  }
  return {
    family,
    configPath: file,
    vocabSize,
    hiddenSize,
    intermediateSize: posInt(cfg, 'intermediate_size', file),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive(cfg, 'rms_norm_eps', file, 1e-6, 1),
    // Absent means the config class's default (save_pretrained omits it only when it equals that default).
    tieWordEmbeddings: bool(cfg, 'tie_word_embeddings', file, traits.tiedEmbeddingsDefault),
    qkvBias: traits.qkvBias === 'always' || attentionBias,
    oBias: traits.oBias === 'attentionBias' && attentionBias,
    mlpBias: bool(cfg, 'mlp_bias', file, false),
    qkNorm: traits.qkNorm,
    normOffset: traits.normOffset,
    sandwichNorms: traits.sandwichNorms,
    embeddingScale: traits.embeddingScale === 'sqrtHidden' ? Math.fround(Math.sqrt(hiddenSize)) : null,
    activation,
    attnScale,
    attnSoftcap: softcap('attn_logit_softcapping'),
    finalSoftcap: softcap('final_logit_softcapping'),
    layers,
    padTokenId: tokenId(cfg, 'pad_token_id', file, vocabSize, false) as number | null,
    bosTokenId: tokenId(cfg, 'bos_token_id', file, vocabSize, true),
    eosTokenId: tokenId(cfg, 'eos_token_id', file, vocabSize, true),
    torchDtype: typeof cfg.torch_dtype === 'string' ? cfg.torch_dtype : null,
    maxPositionEmbeddings,
  };
}

/** Reads `<modelDir>/config.json` and parses it. */
export function loadModelSpec(modelDir: string): ModelSpec {
  const file = path.resolve(modelDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelSpecError(`${file}: cannot read (${(e as Error).message}); point at a Hugging Face model folder with config.json`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new ModelSpecError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new ModelSpecError(`${file}: expected a JSON object`);
  return parseModelSpec(cfg as Json, file);
}

/** Names of the linear modules in one decoder layer, as in HF state dicts. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

/** [out, in] of a layer's linear module. */
export function linearShape(spec: ModelSpec, m: LinearModule): [number, number] {
  const H = spec.hiddenSize;
  switch (m) {
    case 'q_proj': return [spec.numHeads * spec.headDim, H];
    case 'k_proj':
    case 'v_proj': return [spec.numKvHeads * spec.headDim, H];
    case 'o_proj': return [H, spec.numHeads * spec.headDim];
    case 'gate_proj':
    case 'up_proj': return [spec.intermediateSize, H];
    case 'down_proj': return [H, spec.intermediateSize];
  }
}

export function linearParent(m: LinearModule): 'self_attn' | 'mlp' {
  return m === 'q_proj' || m === 'k_proj' || m === 'v_proj' || m === 'o_proj' ? 'self_attn' : 'mlp';
}
