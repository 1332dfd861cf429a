/**
 * Direction files (.safetensors), two layouts:
 *  - ours: one [H] tensor per layer named "layer.L", metadata format = "organism-lab-direction" (+ run, labels, counts);
 *  - the published organisms' steering vectors: a single vector tensor with `layer_idx` and `alpha` in the
 *    metadata or as scalar tensors; it is added at the output of that layer's mlp.down_proj, which is the
 *    residual stream after that layer's MLP, i.e. the layer output (where our steering input adds it).
 *    That equality holds for the pre-norm families (Qwen2/3, Llama, Mistral); in Gemma 2/3 the MLP output
 *    passes through post_feedforward_layernorm before the residual add, so there a published vector is
 *    applied at the layer output, not inside the norm.
 */
import path from 'node:path';
import { SafetensorsFile } from '../checkpoint/safetensors';
import type { AdapterAlignment } from './adapterAlignment';

export const DIRECTION_FORMAT = 'organism-lab-direction';
/** Metadata key (JSON array of AdapterAlignment) for the alignment with the adapter's write directions; absent in older files. */
export const ADAPTER_ALIGNMENT_KEY = 'adapter_alignment';
export const directionTensorName = (layer: number): string => `layer.${layer}`;

export interface DirectionFileInfo {
  file: string;
  kind: 'per-layer' | 'single';
  /** per-layer: the layers that have a tensor; single: [layer_idx] when known. */
  layers: number[];
  /** single vectors: alpha from the file, when given. */
  alpha: number | null;
  hiddenSize: number;
  metadata: Record<string, string>;
}

const SCALAR_NAMES = new Set(['layer_idx', 'alpha', 'layer', 'scale']);

function scalarTensor(st: SafetensorsFile, name: string): number | null {
  if (!st.has(name)) return null;
  const info = st.info(name);
  if (info.shape.reduce((a, b) => a * b, 1) !== 1) return null;
  if (info.dtype === 'I64' || info.dtype === 'I32' || info.dtype === 'I16' || info.dtype === 'I8' || info.dtype === 'U8') return st.readInts(name)[0];
  return st.readFloat32(name)[0];
}

function metaNumber(meta: Record<string, string>, key: string, file: string): number | null {
  if (!(key in meta)) return null;
  const n = Number(meta[key]);
  if (String(meta[key]).trim() === '' || !Number.isFinite(n)) throw new Error(`${file}: metadata "${key}" is "${meta[key]}", not a number`);
  return n;
}

function vectorTensors(st: SafetensorsFile): string[] {
  return [...st.tensors.keys()].filter((n) => !SCALAR_NAMES.has(n));
}

export function inspectDirectionFile(file: string): DirectionFileInfo {
  const abs = path.resolve(file);
  const st = SafetensorsFile.open(abs);
  const perLayer = [...st.tensors.keys()].map((n) => /^layers?\.(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null);
  const hiddenOf = (name: string): number => {
    const shape = st.info(name).shape;
    if (shape.filter((d) => d !== 1).length > 1) throw new Error(`${abs}: tensor "${name}" has shape [${shape.join(', ')}]; a direction is one vector ([H] or [1, H])`);
    return shape.reduce((a, b) => a * b, 1);
  };
  if (perLayer.length > 0) {
    const layers = perLayer.map((m) => Number(m[1])).sort((a, b) => a - b);
    const hs = new Set(perLayer.map((m) => hiddenOf(m[0])));
    if (hs.size !== 1) throw new Error(`${abs}: per-layer tensors have different sizes (${[...hs].join(', ')})`);
    return { file: abs, kind: 'per-layer', layers, alpha: null, hiddenSize: [...hs][0], metadata: st.metadata };
  }
  const vecs = vectorTensors(st);
  if (vecs.length !== 1) {
    throw new Error(`${abs}: cannot tell which tensor is the direction (tensors: ${[...st.tensors.keys()].join(', ') || 'none'}); expected "layer.L" tensors or one vector with layer_idx/alpha`);
  }
  const layer = metaNumber(st.metadata, 'layer_idx', abs) ?? scalarTensor(st, 'layer_idx');
  const alpha = metaNumber(st.metadata, 'alpha', abs) ?? scalarTensor(st, 'alpha');
  if (layer !== null && !(Number.isInteger(layer) && layer >= 0)) throw new Error(`${abs}: layer_idx ${layer} is not a layer index`);
  return { file: abs, kind: 'single', layers: layer === null ? [] : [layer], alpha, hiddenSize: hiddenOf(vecs[0]), metadata: st.metadata };
}

/** The direction vector to use at `layer` (per-layer files: that layer's tensor; single vectors: the vector). */
export function readDirection(file: string, layer: number, hiddenSize?: number): Float32Array {
  const info = inspectDirectionFile(file);
  const st = SafetensorsFile.open(info.file);
  let name: string;
  if (info.kind === 'per-layer') {
    const n = [`layer.${layer}`, `layers.${layer}`].find((x) => st.has(x));
    if (!n) throw new Error(`${info.file}: no direction for layer ${layer} (layers in the file: ${info.layers.join(', ')})`);
    name = n;
  } else name = vectorTensors(st)[0];
  if (hiddenSize !== undefined && info.hiddenSize !== hiddenSize) {
    throw new Error(`${info.file}: the direction has ${info.hiddenSize} values but the model's hidden size is ${hiddenSize}; it was made for another model`);
  }
  const v = st.readFloat32(name);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`${info.file}: tensor "${name}" holds a non-finite value at index ${i}`);
  return v;
}

/**
 * Per layer: the mean projection of the aligned samples on the unit direction and the direction's norm,
 * from the metadata `organism-lab direction` writes (for mean-ablation: set the projection to the aligned level).
 */
export function alignedLevel(file: string, layer: number): { projection: number; norm: number } {
  const info = inspectDirectionFile(file);
  const parse = (key: string): number[] | null => {
    try {
      const v = JSON.parse(info.metadata[key] ?? 'null');
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? v : null;
    } catch {
      return null;
    }
  };
  const proj = parse('aligned_projection');
  const norms = parse('norms');
  if (!proj || !norms || proj[layer] === undefined || norms[layer] === undefined) {
    throw new Error(`${info.file}: no aligned_projection/norms metadata for layer ${layer}; mean-ablation needs a direction file written by "organism-lab direction" (use ablate: for other files)`);
  }
  return { projection: proj[layer], norm: norms[layer] };
}

/**
 * The alignment with the adapter's write directions that `organism-lab direction` stored in the file's
 * metadata; null when the file has none (older files, variants without an adapter, other tools' vectors).
 */
export function readAdapterAlignment(file: string): AdapterAlignment[] | null {
  const info = inspectDirectionFile(file);
  const raw = info.metadata[ADAPTER_ALIGNMENT_KEY];
  if (raw === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${info.file}: metadata "${ADAPTER_ALIGNMENT_KEY}" is not valid JSON (${(e as Error).message}); rewrite the file with organism-lab direction`);
  }
  const ok = (x: unknown): x is AdapterAlignment => {
    if (typeof x !== 'object' || x === null) return false;
    const o = x as Record<string, unknown>;
    return typeof o.adapter === 'string' && Number.isInteger(o.layer) && typeof o.module === 'string' && Number.isInteger(o.rank)
      && (o.cosine === null || typeof o.cosine === 'number') && typeof o.signed === 'boolean' && typeof o.directionNorm === 'number' && typeof o.chance === 'number';
  };
  if (!Array.isArray(v) || !v.every(ok)) {
    throw new Error(`${info.file}: metadata "${ADAPTER_ALIGNMENT_KEY}" is not a list of {adapter, layer, module, rank, cosine, signed, directionNorm, chance}; rewrite the file with organism-lab direction`);
  }
  return v;
}
