/**
 * Integrity checks of a checkpoint against its config, shared by loading (ModelRunner.load refuses on the
 * first problem) and `inspect` (which lists them all), so inspect finds everything load would refuse:
 *  - every tensor the graph reads is present, with the shape the config implies and a float dtype;
 *  - no weight holds NaN or ±Inf (./finiteScan; SafetensorsCheckpoint.open runs it unless told not to).
 */
import { LINEAR_MODULES, linearParent, linearShape, type ModelSpec } from './modelSpec';
import { SafetensorsCheckpoint, SafetensorsError, type SafetensorsDtype } from './safetensors';
export { countNonFiniteF32, describeNonFinite, scanCheckpointNonFinite, scanFileNonFinite, type NonFiniteTensor } from './finiteScan';

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** The tensors the decoder graph reads for this spec (names as in Hugging Face state dicts). */
export function expectedTensors(spec: ModelSpec): ExpectedTensor[] {
  const H = spec.hiddenSize;
  const hd = spec.headDim;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [spec.vocabSize, H] }];
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    out.push({ name: `${p}.input_layernorm.weight`, shape: [H] });
    if (spec.qkNorm) out.push({ name: `${p}.self_attn.q_norm.weight`, shape: [hd] }, { name: `${p}.self_attn.k_norm.weight`, shape: [hd] });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [H] });
    if (spec.sandwichNorms) out.push({ name: `${p}.pre_feedforward_layernorm.weight`, shape: [H] }, { name: `${p}.post_feedforward_layernorm.weight`, shape: [H] });
    for (const m of LINEAR_MODULES) {
      const prefix = `${p}.${linearParent(m)}.${m}`;
      const [o, i] = linearShape(spec, m);
      out.push({ name: `${prefix}.weight`, shape: [o, i] });
      const bias = m === 'o_proj' ? spec.oBias : m === 'q_proj' || m === 'k_proj' || m === 'v_proj' ? spec.qkvBias : spec.mlpBias;
      if (bias) out.push({ name: `${prefix}.bias`, shape: [o] });
    }
  }
  out.push({ name: 'model.norm.weight', shape: [H] });
  if (!spec.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [spec.vocabSize, H] });
  return out;
}

const FLOAT_DTYPES: SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

/** Every structural problem of the checkpoint for this spec (missing tensors, wrong shapes or dtypes), each naming file and tensor. */
export function structuralProblems(spec: ModelSpec, ckpt: SafetensorsCheckpoint, limit = 20): string[] {
  const problems: string[] = [];
  const missing: string[] = [];
  for (const t of expectedTensors(spec)) {
    if (!ckpt.has(t.name)) {
      missing.push(t.name);
      continue;
    }
    if (problems.length >= limit) continue;
    const info = ckpt.info(t.name);
    const file = ckpt.fileOf(t.name).file;
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      problems.push(`${file}: tensor "${t.name}" has shape [${info.shape.join(', ')}] but ${spec.configPath} implies [${t.shape.join(', ')}]; the weights do not belong to this config`);
    } else if (!FLOAT_DTYPES.includes(info.dtype)) {
      problems.push(`${file}: tensor "${t.name}" has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    }
  }
  if (missing.length) {
    problems.unshift(`${ckpt.dir}: tensor "${missing[0]}"${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''} is missing from the checkpoint, but ${spec.configPath} needs it; is this the right model folder for its config.json, or is a shard missing?`);
  }
  return problems;
}

/** Throws the first structural problem (as SafetensorsError). */
export function assertStructure(spec: ModelSpec, ckpt: SafetensorsCheckpoint): void {
  const p = structuralProblems(spec, ckpt, 1);
  if (p.length) throw new SafetensorsError(p[0]);
}

