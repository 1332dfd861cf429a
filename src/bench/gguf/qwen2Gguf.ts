/**
 * A Qwen2 safetensors checkpoint (config.json + model.safetensors, BF16/F16/F32) written as a GGUF file
 * llama.cpp loads: architecture "qwen2" metadata and tensor names as llama.cpp's convert_hf_to_gguf.py
 * writes them, the 2-D weights in F32, F16, Q8_0 or Q4_0, norms and biases in F32, and the BPE tokenizer
 * from tokenizer.json (vocabulary padded to the embedding's rows with [PAD<id>] tokens, as the converter
 * does). Used by the llama.cpp side of `npm run bench -- --llama-cpp`.
 */
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadModelSpec, type ModelSpec } from '../../engine/checkpoint/modelSpec';
import { SafetensorsCheckpoint } from '../../engine/checkpoint/safetensors';
import { encodeF16, encodeQ4_0, encodeQ8_0 } from './ggmlBlocks';
import { GgufWriter, type GgmlTypeName, type GgufTensorDecl, type GgufValue } from './ggufWriter';

/** general.file_type values (llama.h's LLAMA_FTYPE_ALL_F32, _MOSTLY_F16, _MOSTLY_Q4_0, _MOSTLY_Q8_0). */
const FILE_TYPE: Record<GgmlTypeName, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };
/** tokenizer.ggml.token_type values (llama.h's llama_token_type). */
const TOKEN_TYPE = { normal: 1, control: 3, userDefined: 4, unused: 5 } as const;

interface TensorPlan {
  gguf: string;
  hf: string;
  shape: number[];
  type: GgmlTypeName;
}

/** The checkpoint's tensors in GGUF names and types: 2-D weights in `weightType`, everything 1-D in F32. */
export function qwen2TensorPlan(spec: ModelSpec, ckpt: SafetensorsCheckpoint, weightType: GgmlTypeName): TensorPlan[] {
  const plan: TensorPlan[] = [];
  const add = (gguf: string, hf: string): void => {
    const shape = ckpt.info(hf).shape;
    plan.push({ gguf, hf, shape, type: shape.length >= 2 ? weightType : 'F32' });
  };
  add('token_embd.weight', 'model.embed_tokens.weight');
  for (let l = 0; l < spec.numLayers; l++) {
    const hf = `model.layers.${l}`;
    const g = `blk.${l}`;
    add(`${g}.attn_norm.weight`, `${hf}.input_layernorm.weight`);
    for (const x of ['q', 'k', 'v'] as const) {
      add(`${g}.attn_${x}.weight`, `${hf}.self_attn.${x}_proj.weight`);
      add(`${g}.attn_${x}.bias`, `${hf}.self_attn.${x}_proj.bias`);
    }
    add(`${g}.attn_output.weight`, `${hf}.self_attn.o_proj.weight`);
    add(`${g}.ffn_norm.weight`, `${hf}.post_attention_layernorm.weight`);
    add(`${g}.ffn_gate.weight`, `${hf}.mlp.gate_proj.weight`);
    add(`${g}.ffn_up.weight`, `${hf}.mlp.up_proj.weight`);
    add(`${g}.ffn_down.weight`, `${hf}.mlp.down_proj.weight`);
  }
  add('output_norm.weight', 'model.norm.weight');
  // Tied embeddings: no output.weight; llama.cpp's qwen2 loader then uses token_embd for the LM head.
  if (!spec.tieWordEmbeddings) add('output.weight', 'lm_head.weight');
  return plan;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot read it as JSON (${(e as Error).message})`);
  }
}

/** tokenizer.* metadata from a Hugging Face tokenizer.json (byte-level BPE) in `dir`, padded to `vocabSize` tokens. */
export function bpeTokenizerMetadata(dir: string, vocabSize: number, fallbackEos: number | null): [string, GgufValue][] {
  const file = path.join(dir, 'tokenizer.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: the GGUF file needs the tokenizer (copy the model's tokenizer.json there)`);
  const tj = readJson(file);
  const model = tj.model as { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] } | undefined;
  if (!model || model.type !== 'BPE' || !model.vocab || !Array.isArray(model.merges)) throw new Error(`${file}: "model" must be a BPE model with "vocab" and "merges" (got type ${JSON.stringify(model?.type)})`);
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types = new Int32Array(vocabSize);
  const put = (id: number, text: string, type: number, where: string): void => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`${file}: ${where} "${text}" has id ${id}, outside the model's ${vocabSize} embedding rows`);
    tokens[id] = text;
    types[id] = type;
  };
  for (const [text, id] of Object.entries(model.vocab)) put(id, text, TOKEN_TYPE.normal, 'model.vocab token');
  const added = (tj.added_tokens ?? []) as { id: number; content: string; special?: boolean }[];
  for (const t of added) put(t.id, t.content, t.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined, 'added token');
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  const idOf = (key: string): number | null => {
    const v = cfg[key];
    const text = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null;
    if (text === null) return null;
    const i = tokens.indexOf(text);
    return i >= 0 ? i : null;
  };
  const md: [string, GgufValue][] = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: tokens as string[] }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', values: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', values: merges }],
  ];
  const eos = idOf('eos_token') ?? fallbackEos;
  if (eos !== null && eos < vocabSize) md.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  const pad = idOf('pad_token');
  if (pad !== null) md.push(['tokenizer.ggml.padding_token_id', { type: 'u32', value: pad }]);
  const bos = idOf('bos_token');
  if (bos !== null) md.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: bos }]);
  md.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }]);
  if (typeof cfg.chat_template === 'string') md.push(['tokenizer.chat_template', { type: 'string', value: cfg.chat_template }]);
  return md;
}

export interface Qwen2GgufOptions {
  /** Checkpoint folder (config.json, model.safetensors[.index.json]). */
  model: string;
  out: string;
  weightType: GgmlTypeName;
  /** Folder with tokenizer.json (and tokenizer_config.json); default: the model folder. */
  tokenizerDir?: string;
  /** Context length recorded in the file (default: the config's max_position_embeddings). */
  contextLength?: number;
}

/** Writes the GGUF file (to a temporary name, renamed when complete); returns its size in bytes. */
export function writeQwen2Gguf(o: Qwen2GgufOptions): number {
  const spec = loadModelSpec(o.model);
  if (spec.family !== 'qwen2') throw new Error(`${spec.configPath}: model_type is "${spec.family}"; the GGUF writer handles qwen2 checkpoints only`);
  const ckpt = SafetensorsCheckpoint.open(o.model, { verifyFinite: false });
  const plan = qwen2TensorPlan(spec, ckpt, o.weightType);
  const eosFallback = Array.isArray(spec.eosTokenId) ? (spec.eosTokenId[0] ?? null) : spec.eosTokenId;
  const arch = 'qwen2';
  const md: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: path.basename(path.resolve(o.model)) }],
    ['general.file_type', { type: 'u32', value: FILE_TYPE[o.weightType] }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
    ['general.alignment', { type: 'u32', value: 32 }],
    [`${arch}.context_length`, { type: 'u32', value: o.contextLength ?? spec.maxPositionEmbeddings }],
    [`${arch}.embedding_length`, { type: 'u32', value: spec.hiddenSize }],
    [`${arch}.feed_forward_length`, { type: 'u32', value: spec.intermediateSize }],
    [`${arch}.block_count`, { type: 'u32', value: spec.numLayers }],
    [`${arch}.attention.head_count`, { type: 'u32', value: spec.numHeads }],
    [`${arch}.attention.head_count_kv`, { type: 'u32', value: spec.numKvHeads }],
    [`${arch}.rope.freq_base`, { type: 'f32', value: spec.layers[0].rope.theta }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: spec.rmsNormEps }],
    ...bpeTokenizerMetadata(o.tokenizerDir ?? o.model, spec.vocabSize, eosFallback),
  ];
  const decls: GgufTensorDecl[] = plan.map((t) => ({ name: t.gguf, shape: t.shape, type: t.type }));
  const tmp = `${o.out}.partial`;
  const w = new GgufWriter(tmp, md, decls);
  try {
    for (const t of plan) {
      const x = ckpt.readFloat32(t.hf);
      const bytes = t.type === 'F32' ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : t.type === 'F16' ? encodeF16(x) : t.type === 'Q8_0' ? encodeQ8_0(x) : encodeQ4_0(x);
      w.writeTensor(t.gguf, bytes);
    }
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  renameSync(tmp, o.out);
  return statSync(o.out).size;
}
