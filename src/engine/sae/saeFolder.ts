/**
 * Sparse autoencoders in the SAELens layout: a folder with `cfg.json` and `sae_weights.safetensors`.
 *
 * cfg.json (current SAELens): `architecture` (standard, jumprelu, topk), `d_in`, `d_sae`, `apply_b_dec_to_input`,
 * `normalize_activations` (none, expected_average_only_in, constant_norm_rescale, layer_norm), `k` (topk),
 * `metadata`/`meta` with `model_name`, `hook_name` (e.g. blocks.12.hook_resid_post), `hook_layer`.
 * Older files keep `model_name`, `hook_name` or `hook_point`, `hook_layer` at the top level and say
 * `activation_fn_str: "topk"` with `activation_fn_kwargs: {k}` instead of the architecture.
 * Weights: W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc [d_sae], b_dec [d_in], and for jumprelu `threshold`
 * [d_sae] (or `log_threshold`, threshold = exp(log_threshold)).
 *
 * Hook names map to transformers' hidden-state indices: `blocks.L.hook_resid_post` = output of decoder layer
 * L = hidden_states[L + 1]; `blocks.L.hook_resid_pre` = input of layer L = hidden_states[L]. Other hooks
 * (attention, MLP outputs) are not residual-stream activations this engine exposes: refused with a message.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile, type ByteRange } from '../checkpoint/safetensors';

export type SaeArchitecture = 'standard' | 'jumprelu' | 'topk';
export type SaeNormalization = 'none' | 'expected_average_only_in' | 'constant_norm_rescale' | 'layer_norm';

export interface SaeSpec {
  dir: string;
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  k: number | null;
  applyBDecToInput: boolean;
  normalizeActivations: SaeNormalization;
  modelName: string | null;
  hookName: string;
  /** transformers' hidden-state index the SAE reads (0 = embeddings, l + 1 = output of layer l). */
  hiddenStateIndex: number;
  /** How the hook name was mapped, in words (shown to the user). */
  hookMapping: string;
  weights: SafetensorsFile;
  /** Which stored tensor holds the jumprelu threshold, and whether it is a log. */
  threshold: { name: string; log: boolean } | null;
  warnings: string[];
}

export class SaeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaeError';
  }
}

function fail(file: string, what: string): never {
  throw new SaeError(`${file}: ${what}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Map a TransformerLens hook name to a hidden-state index and its block (decoder layer); null when it is not a
 * residual-stream hook.
 */
export function hookToHiddenState(hook: string): { index: number; block: number; mapping: string } | null {
  const m = /^blocks\.(\d+)\.hook_resid_(post|pre)$/.exec(hook);
  if (!m) return null;
  const layer = Number(m[1]);
  if (m[2] === 'post') return { index: layer + 1, block: layer, mapping: `${hook} = output of decoder layer ${layer} = hidden_states[${layer + 1}]` };
  return { index: layer, block: layer, mapping: `${hook} = input of decoder layer ${layer} = hidden_states[${layer}]` };
}

/**
 * The model an SAE must fit (hidden_size and num_hidden_layers of its config.json; numLayers may be left out
 * where only the hidden size is known); `dir` names it in messages.
 */
export interface SaeModelShape {
  hiddenSize: number;
  numLayers?: number;
  dir?: string;
}

/**
 * Refuses an SAE that does not fit the model: d_in against the hidden size, the hook's layer against the decoder
 * layers. Each message names cfg.json, the field, both values and what to do.
 */
function checkSaeFitsModel(cfgFile: string, dIn: number, hook: { field: string; name: string; block: number }, model: SaeModelShape): void {
  const theModel = model.dir ? `the model (${model.dir})` : 'the model';
  if (dIn !== model.hiddenSize) {
    fail(cfgFile, `d_in is ${dIn} but ${theModel} has hidden size ${model.hiddenSize} (hidden_size in its config.json): this SAE was trained on another model's residual stream. Pick an SAE with d_in ${model.hiddenSize} trained on this model, or load the model this SAE was trained on.`);
  }
  if (model.numLayers !== undefined && hook.block >= model.numLayers) {
    fail(cfgFile, `hook layer ${hook.block} (${hook.field} "${hook.name}") is beyond ${theModel}: it has ${model.numLayers} decoder layers (blocks 0..${model.numLayers - 1}, num_hidden_layers in its config.json), so this SAE was trained on a deeper model. Pick an SAE trained on one of layers 0..${model.numLayers - 1} of this model, or load the model this SAE was trained on.`);
  }
}

const MAX_D = 1 << 24;

function positiveInt(cfg: Record<string, unknown>, field: string, file: string): number {
  const v = cfg[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_D) fail(file, `"${field}" must be a positive integer (at most ${MAX_D}); got ${JSON.stringify(v)}`);
  return v;
}

/** Read and check an SAE folder, and against the model it will read (when given: see checkSaeFitsModel). */
export function openSaeFolder(dir: string, model?: SaeModelShape): SaeSpec {
  const cfgFile = path.join(dir, 'cfg.json');
  const weightsFile = path.join(dir, 'sae_weights.safetensors');
  if (!existsSync(cfgFile)) fail(dir, 'no cfg.json here: an SAE folder in the SAELens layout holds cfg.json and sae_weights.safetensors');
  if (!existsSync(weightsFile)) fail(dir, 'no sae_weights.safetensors here: an SAE folder in the SAELens layout holds cfg.json and sae_weights.safetensors');
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    fail(cfgFile, `not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(cfg)) fail(cfgFile, 'must be a JSON object');
  const metaField = isRecord(cfg.metadata) ? 'metadata' : 'meta';
  const meta = isRecord(cfg.metadata) ? cfg.metadata : isRecord(cfg.meta) ? cfg.meta : {};
  const warnings: string[] = [];

  let architecture: SaeArchitecture;
  const arch = cfg.architecture ?? 'standard';
  const actFn = cfg.activation_fn_str ?? cfg.activation_fn;
  if (arch === 'standard' || arch === 'relu') architecture = actFn === 'topk' ? 'topk' : 'standard';
  else if (arch === 'jumprelu' || arch === 'topk') architecture = arch;
  else fail(cfgFile, `"architecture" ${JSON.stringify(arch)} is not supported (standard, jumprelu, topk)`);
  if (architecture === 'standard' && actFn !== undefined && actFn !== 'relu') fail(cfgFile, `"activation_fn" ${JSON.stringify(actFn)} is not supported for a standard SAE (relu, or topk)`);

  const dIn = positiveInt(cfg, 'd_in', cfgFile);
  const dSae = positiveInt(cfg, 'd_sae', cfgFile);
  let k: number | null = null;
  if (architecture === 'topk') {
    const kwargs = isRecord(cfg.activation_fn_kwargs) ? cfg.activation_fn_kwargs : {};
    const kv = cfg.k ?? kwargs.k ?? 100;
    if (typeof kv !== 'number' || !Number.isInteger(kv) || kv < 1 || kv > dSae) fail(cfgFile, `"k" must be an integer from 1 to d_sae (${dSae}); got ${JSON.stringify(kv)}`);
    k = kv;
  }
  const applyB = cfg.apply_b_dec_to_input ?? true;
  if (typeof applyB !== 'boolean') fail(cfgFile, `"apply_b_dec_to_input" must be true or false; got ${JSON.stringify(applyB)}`);
  const norm = cfg.normalize_activations ?? 'none';
  if (norm !== 'none' && norm !== 'expected_average_only_in' && norm !== 'constant_norm_rescale' && norm !== 'layer_norm') {
    fail(cfgFile, `"normalize_activations" ${JSON.stringify(norm)} is not one of none, expected_average_only_in, constant_norm_rescale, layer_norm`);
  }
  if (norm === 'expected_average_only_in') {
    warnings.push(`${cfgFile}: normalize_activations "expected_average_only_in" needs a dataset scaling factor that SAELens folds into the weights when it loads a pretrained SAE; this folder's weights are used as they are`);
  }
  if (cfg.reshape_activations !== undefined && cfg.reshape_activations !== 'none') fail(cfgFile, `"reshape_activations" ${JSON.stringify(cfg.reshape_activations)}: only residual-stream SAEs are supported`);

  const hookField = meta.hook_name !== undefined ? `${metaField}.hook_name` : cfg.hook_name !== undefined ? 'hook_name' : 'hook_point';
  const hookRaw = meta.hook_name ?? cfg.hook_name ?? cfg.hook_point;
  if (typeof hookRaw !== 'string' || !hookRaw) fail(cfgFile, 'no hook name (metadata.hook_name, hook_name or hook_point): which activations was this SAE trained on?');
  const mapped = hookToHiddenState(hookRaw);
  if (!mapped) fail(cfgFile, `${hookField} "${hookRaw}" is not a residual-stream hook point (blocks.L.hook_resid_post or blocks.L.hook_resid_pre); other activations are not exposed by this engine: pick an SAE trained on the residual stream`);
  // hook_layer (SAELens keeps it beside the hook name) must name the same block, or the file contradicts itself.
  const layerField = meta.hook_layer !== undefined ? `${metaField}.hook_layer` : 'hook_layer';
  const hookLayer = meta.hook_layer ?? cfg.hook_layer;
  if (hookLayer !== undefined && hookLayer !== null) {
    if (typeof hookLayer !== 'number' || !Number.isInteger(hookLayer) || hookLayer < 0) fail(cfgFile, `"${layerField}" must be a layer index (an integer >= 0); got ${JSON.stringify(hookLayer)}`);
    if (hookLayer !== mapped.block) fail(cfgFile, `${layerField} is ${hookLayer} but ${hookField} "${hookRaw}" names layer ${mapped.block}: the file contradicts itself; set both to the layer the SAE was trained on`);
  }
  const modelNameRaw = meta.model_name ?? cfg.model_name ?? null;
  const modelName = typeof modelNameRaw === 'string' ? modelNameRaw : null;

  if (model) checkSaeFitsModel(cfgFile, dIn, { field: hookField, name: hookRaw, block: mapped.block }, model);

  const weights = SafetensorsFile.open(weightsFile);
  const need: Record<string, number[]> = { W_enc: [dIn, dSae], W_dec: [dSae, dIn], b_enc: [dSae], b_dec: [dIn] };
  let threshold: SaeSpec['threshold'] = null;
  if (architecture === 'jumprelu') {
    if (weights.has('threshold')) threshold = { name: 'threshold', log: false };
    else if (weights.has('log_threshold')) threshold = { name: 'log_threshold', log: true };
    else fail(weightsFile, 'a jumprelu SAE needs a "threshold" (or "log_threshold") tensor of shape [d_sae]');
    need[threshold.name] = [dSae];
  }
  for (const [name, shape] of Object.entries(need)) {
    if (!weights.has(name)) fail(weightsFile, `tensor "${name}" is missing (expected shape [${shape.join(', ')}])`);
    const info = weights.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) fail(weightsFile, `tensor "${name}" has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from cfg.json`);
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') fail(weightsFile, `tensor "${name}" has dtype ${info.dtype}; expected F32, F16 or BF16`);
  }
  return {
    dir,
    architecture,
    dIn,
    dSae,
    k,
    applyBDecToInput: applyB,
    normalizeActivations: norm,
    modelName,
    hookName: hookRaw,
    hiddenStateIndex: mapped.index,
    hookMapping: mapped.mapping,
    weights,
    threshold,
    warnings,
  };
}

/** Byte range of a weight tensor in sae_weights.safetensors (for external data). */
export function saeTensorRange(spec: SaeSpec, name: string): ByteRange {
  return spec.weights.byteRange(name);
}

function modelNames(dir: string): string[] {
  const names = [path.basename(path.resolve(dir))];
  try {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { _name_or_path?: unknown };
    if (typeof cfg._name_or_path === 'string' && cfg._name_or_path) names.push(cfg._name_or_path);
  } catch {
    // no readable config: the folder name is all there is
  }
  return names;
}

/** Whether the SAE's model_name plausibly names this model (the last path component, case-insensitive). */
export function saeModelMatches(spec: SaeSpec, modelDir: string): boolean {
  if (!spec.modelName) return true;
  const last = (s: string) => s.split('/').filter(Boolean).pop()?.toLowerCase() ?? '';
  return modelNames(modelDir).some((n) => last(n) === last(spec.modelName!));
}

/** Refuses an SAE whose model_name names another model; `override` says how to use it anyway. */
export function checkSaeModel(spec: SaeSpec, modelDir: string, override: string): void {
  if (saeModelMatches(spec, modelDir)) return;
  throw new SaeError(
    `${path.join(spec.dir, 'cfg.json')}: model_name "${spec.modelName}" does not name this run's model (${modelNames(modelDir).join(', ')}); an SAE trained on another model's activations reads nonsense. ${override} if it is the same base under another name.`,
  );
}
