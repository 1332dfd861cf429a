/**
 * PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors), matched to base modules with
 * PEFT's own target_modules / layers_to_transform / layers_pattern / rank_pattern / alpha_pattern rules,
 * every shape checked against the base ModelSpec. Usable without loading a model (adapter statistics).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LINEAR_MODULES, LinearModule, ModelSpec, linearParent, linearShape } from './modelSpec';
import { SafetensorsFile } from './safetensors';
import { countNonFiniteF32 } from './integrity';
import { compileSafeRegex, type SafeRegex } from '../limits/safeRegex';

export class AdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdapterError';
  }
}

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  useRslora: boolean;
  targetModules: string[] | string;
  layersToTransform: number[] | number | null;
  layersPattern: string[] | string | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  fanInFanOut: boolean;
  baseModelNameOrPath: string | null;
  /** Non-fatal notes (e.g. fan_in_fan_out ignored for nn.Linear, as PEFT does). */
  warnings: string[];
}

export interface LoraModuleWeights {
  layer: number;
  module: LinearModule;
  /** Base-model module path, e.g. model.layers.3.self_attn.q_proj */
  key: string;
  r: number;
  /** PEFT scaling: alpha/r, or alpha/sqrt(r) with use_rslora. */
  scale: number;
  /** [r, in], row-major */
  A: Float32Array;
  /** [out, r], row-major */
  B: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface PeftAdapter {
  dir: string;
  configPath: string;
  weightsPath: string;
  config: LoraConfig;
  modules: LoraModuleWeights[];
}

/** Largest LoRA rank / |lora_alpha| accepted from a config (real adapters use r ≤ 1024, alpha ≤ 1024). */
export const MAX_LORA_RANK = 65536;
export const MAX_LORA_ALPHA = 1e6;

/**
 * Patterns from adapter_config.json run on the linear-time matcher (src/engine/limits/safeRegex), compiled
 * once per (pattern, field): a pattern such as ([a-z_.0-9]+)+X cannot hang loading.
 */
const patternCache = new Map<string, SafeRegex>();
function safePattern(source: string, where: string): SafeRegex {
  const k = `${where}\0${source}`;
  let re = patternCache.get(k);
  if (!re) {
    re = compileSafeRegex(source, '', where, { timeoutMs: 1000 });
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(k, re);
  }
  return re;
}

/** PEFT's check_target_module_exists for a base module key. */
export function peftTargets(cfg: LoraConfig, key: string): boolean {
  const tm = cfg.targetModules;
  if (typeof tm === 'string') {
    if (tm === 'all-linear') return LINEAR_MODULES.some((m) => key.endsWith(`.${m}`));
    return safePattern(`^(?:${tm})$`, 'adapter_config.json: target_modules').test(key);
  }
  if (tm.includes(key)) return true;
  let found = tm.some((t) => key.endsWith(`.${t}`));
  const idx = cfg.layersToTransform;
  const usingIdx = idx !== null && (Array.isArray(idx) ? idx.length !== 0 : true);
  if (usingIdx && found) {
    let layer: number | null = null;
    const pats = cfg.layersPattern === null || cfg.layersPattern.length === 0 ? null : typeof cfg.layersPattern === 'string' ? [cfg.layersPattern] : cfg.layersPattern;
    if (pats === null) {
      const m = /^.*\.[^.]*\.(\d+)\./.exec(key);
      if (m) layer = Number(m[1]);
    } else {
      for (const p of pats) {
        // PEFT's re.match(r".*\.{p}\.(\d+)\.", key), greedy (the last such number), with the pattern on the
        // linear-time matcher: `.<p>.<digits>.` where <p> spans dot-separated parts parts[j..i], j ≥ 1.
        const parts = key.split('.');
        const re = safePattern(`^(?:${p})$`, 'adapter_config.json: layers_pattern');
        for (let i = parts.length - 3; i >= 1 && layer === null; i--) {
          if (!/^\d+$/.test(parts[i + 1])) continue;
          for (let j = i; j >= 1; j--) {
            if (re.test(parts.slice(j, i + 1).join('.'))) {
              layer = Number(parts[i + 1]);
              break;
            }
          }
        }
        if (layer !== null) break;
      }
    }
    if (layer === null) found = false;
    else found = typeof idx === 'number' ? layer === idx : (idx as number[]).includes(layer);
  }
  return found;
}

/** PEFT's get_pattern_key: the first pattern key matching the module key, as `(^|.*\.)pattern$`. */
function patternValue(pattern: Record<string, number>, key: string): number | undefined {
  for (const [p, v] of Object.entries(pattern)) {
    if (p === key || safePattern(`^(?:.*\\.)?(?:${p})$`, 'adapter_config.json: rank_pattern/alpha_pattern').test(key)) return v;
  }
  return undefined;
}

/**
 * PEFT's scaling of one module's LoRA branch — the single definition the loader and the adapter statistics
 * (Inspector, `inspect`) share: r from rank_pattern else r, alpha from alpha_pattern else lora_alpha (PEFT's
 * get_pattern_key: the first matching pattern), scale = alpha / r, or alpha / √r with use_rslora.
 */
export function loraModuleScale(config: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora' | 'rankPattern' | 'alphaPattern'>, key: string): { r: number; alpha: number; scale: number } {
  const r = patternValue(config.rankPattern, key) ?? config.r;
  const alpha = patternValue(config.alphaPattern, key) ?? config.loraAlpha;
  return { r, alpha, scale: config.useRslora ? alpha / Math.sqrt(r) : alpha / r };
}

/** Reads and checks adapter_config.json: every field PEFT's LoRA uses is type- and range-checked, naming the file and field. */
export function parseAdapterConfig(file: string): LoraConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new AdapterError(`${file}: cannot read adapter config (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AdapterError(`${file}: expected a JSON object (a PEFT LoRA config with "r", "lora_alpha", "target_modules"), got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}; re-save the adapter with PEFT`);
  }
  const bad = (field: string, what: string, v: unknown): never => {
    throw new AdapterError(`${file}: "${field}" must be ${what}, got ${JSON.stringify(v)?.slice(0, 80)}; fix adapter_config.json`);
  };
  const isNull = (v: unknown) => v === undefined || v === null;
  const peftType = raw.peft_type;
  if (!isNull(peftType) && typeof peftType !== 'string') bad('peft_type', 'a string ("LORA")', peftType);
  if (!isNull(peftType) && peftType !== 'LORA') throw new AdapterError(`${file}: peft_type ${JSON.stringify(peftType)} is not supported (only LORA)`);
  for (const f of ['use_dora', 'use_rslora', 'fan_in_fan_out', 'inference_mode']) if (!isNull(raw[f]) && typeof raw[f] !== 'boolean') bad(f, 'true or false', raw[f]);
  if (raw.use_dora === true) throw new AdapterError(`${file}: use_dora: true (DoRA) is not supported yet; merge the adapter or train a plain LoRA`);
  const mts = raw.modules_to_save;
  if (Array.isArray(mts) && mts.length > 0) {
    throw new AdapterError(`${file}: modules_to_save ${JSON.stringify(mts)} is not supported yet (fully trained copies of modules); only LoRA matrices can be loaded`);
  }
  if (raw.target_parameters !== undefined && raw.target_parameters !== null && !(Array.isArray(raw.target_parameters) && raw.target_parameters.length === 0)) {
    throw new AdapterError(`${file}: target_parameters is not supported`);
  }
  const rank = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_LORA_RANK;
  const alphaOk = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_LORA_ALPHA;
  const r = raw.r;
  if (!rank(r)) bad('r', `a positive integer up to ${MAX_LORA_RANK}`, r);
  const alpha = raw.lora_alpha === undefined ? 8 : raw.lora_alpha; // PEFT's default when absent; null is not a number
  if (!alphaOk(alpha)) bad('lora_alpha', `a finite number with |lora_alpha| ≤ ${MAX_LORA_ALPHA}`, alpha);
  const tm = raw.target_modules;
  if (!(typeof tm === 'string' || (Array.isArray(tm) && tm.length <= 10_000 && tm.every((x) => typeof x === 'string' && x.length <= 1000)))) {
    throw new AdapterError(`${file}: "target_modules" must be a list of module names or a regex string, got ${JSON.stringify(tm)?.slice(0, 80)}`);
  }
  if (typeof tm === 'string' && tm !== 'all-linear') compileSafeRegex(`^(?:${tm})$`, '', `${file}: target_modules`);
  const ltt = raw.layers_to_transform ?? null;
  const layerIdx = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 1_000_000;
  if (!(ltt === null || layerIdx(ltt) || (Array.isArray(ltt) && ltt.length <= 100_000 && ltt.every(layerIdx)))) {
    throw new AdapterError(`${file}: "layers_to_transform" must be a layer index (an integer ≥ 0) or a list of them, got ${JSON.stringify(ltt)?.slice(0, 80)}`);
  }
  const lp = raw.layers_pattern ?? null;
  if (!(lp === null || typeof lp === 'string' || (Array.isArray(lp) && lp.every((x) => typeof x === 'string')))) bad('layers_pattern', 'a string or a list of strings', lp);
  for (const p of lp === null ? [] : typeof lp === 'string' ? [lp] : (lp as string[])) compileSafeRegex(`^(?:${p})$`, '', `${file}: layers_pattern`);
  const patterns = (field: 'rank_pattern' | 'alpha_pattern'): Record<string, number> => {
    const v = raw[field];
    if (isNull(v)) return {};
    if (typeof v !== 'object' || Array.isArray(v)) bad(field, 'a mapping of module-name patterns to numbers', v);
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (field === 'rank_pattern' ? !rank(x) : !alphaOk(x)) {
        bad(`${field}.${k}`, field === 'rank_pattern' ? `a positive integer up to ${MAX_LORA_RANK}` : `a finite number with |alpha| ≤ ${MAX_LORA_ALPHA}`, x);
      }
      compileSafeRegex(`^(?:.*\\.)?(?:${k})$`, '', `${file}: ${field} key ${JSON.stringify(k)}`);
      out[k] = x as number;
    }
    return out;
  };
  const rankPattern = patterns('rank_pattern');
  const alphaPattern = patterns('alpha_pattern');
  const warnings: string[] = [];
  if (raw.fan_in_fan_out === true) warnings.push('fan_in_fan_out is true but the target modules are nn.Linear; PEFT resets it to false for them, and so do we');
  if (raw.exclude_modules !== undefined && raw.exclude_modules !== null) {
    throw new AdapterError(`${file}: exclude_modules is not supported yet`);
  }
  const bias = raw.bias;
  if (bias !== undefined && bias !== 'none') throw new AdapterError(`${file}: bias ${JSON.stringify(bias)} is not supported (only "none")`);
  const base = raw.base_model_name_or_path;
  if (!isNull(base) && typeof base !== 'string') bad('base_model_name_or_path', 'a string (a model id or folder)', base);
  return {
    r: r as number,
    loraAlpha: alpha as number,
    useRslora: raw.use_rslora === true,
    targetModules: tm as string[] | string,
    layersToTransform: ltt as number[] | number | null,
    layersPattern: lp as string[] | string | null,
    rankPattern,
    alphaPattern,
    fanInFanOut: raw.fan_in_fan_out === true,
    baseModelNameOrPath: typeof base === 'string' ? base : null,
    warnings,
  };
}

/** A LoRA matrix as float32, refused when it holds NaN or ±Inf (they would make every adapted row's output NaN). */
function readFinite(st: SafetensorsFile, name: string): Float32Array {
  const v = st.readFloat32(name);
  const c = countNonFiniteF32(v);
  if (c.nan || c.inf) {
    throw new AdapterError(`${st.file}: tensor "${name}" holds ${c.nan} NaN and ${c.inf} Inf values (first at element ${c.first}); the adapter is corrupt (a diverged training run?): use another checkpoint of it`);
  }
  return v;
}

/** Weight key candidates for one module in adapter_model.safetensors. */
function keyCandidates(moduleKey: string, part: 'A' | 'B'): string[] {
  return [`base_model.model.${moduleKey}.lora_${part}.weight`, `base_model.model.${moduleKey}.lora_${part}.default.weight`];
}

/** Loads and checks an adapter folder against a base model spec. */
export function loadPeftAdapter(dir: string, spec: ModelSpec): PeftAdapter {
  const abs = path.resolve(dir);
  const configPath = path.join(abs, 'adapter_config.json');
  if (!existsSync(configPath)) throw new AdapterError(`${abs}: no adapter_config.json; point at a PEFT adapter folder`);
  const config = parseAdapterConfig(configPath);
  const weightsPath = path.join(abs, 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) {
    const bin = path.join(abs, 'adapter_model.bin');
    throw new AdapterError(`${abs}: no adapter_model.safetensors${existsSync(bin) ? ' (only adapter_model.bin, a pickle we do not load: re-save with safe_serialization=True)' : ''}`);
  }
  const st = SafetensorsFile.open(weightsPath);
  const used = new Set<string>();
  const modules: LoraModuleWeights[] = [];
  for (let layer = 0; layer < spec.numLayers; layer++) {
    for (const module of LINEAR_MODULES) {
      const key = `model.layers.${layer}.${linearParent(module)}.${module}`;
      if (!peftTargets(config, key)) continue;
      const aKey = keyCandidates(key, 'A').find((k) => st.has(k));
      const bKey = keyCandidates(key, 'B').find((k) => st.has(k));
      if (!aKey || !bKey) {
        throw new AdapterError(`${weightsPath}: tensor "${keyCandidates(key, aKey ? 'B' : 'A')[0]}" is missing, but ${configPath} targets ${key}; the adapter files do not match each other`);
      }
      const { r, scale } = loraModuleScale(config, key);
      const [out, inn] = linearShape(spec, module);
      const aInfo = st.info(aKey);
      const bInfo = st.info(bKey);
      if (aInfo.shape.length !== 2 || aInfo.shape[0] !== r || aInfo.shape[1] !== inn) {
        throw new AdapterError(`${weightsPath}: tensor "${aKey}" has shape [${aInfo.shape.join(', ')}] but the base model (${spec.configPath}) with r=${r} needs [${r}, ${inn}]; is this adapter for another base model?`);
      }
      if (bInfo.shape.length !== 2 || bInfo.shape[0] !== out || bInfo.shape[1] !== r) {
        throw new AdapterError(`${weightsPath}: tensor "${bKey}" has shape [${bInfo.shape.join(', ')}] but the base model (${spec.configPath}) with r=${r} needs [${out}, ${r}]; is this adapter for another base model?`);
      }
      used.add(aKey);
      used.add(bKey);
      modules.push({
        layer, module, key, r,
        scale,
        A: readFinite(st, aKey),
        B: readFinite(st, bKey),
        inFeatures: inn,
        outFeatures: out,
      });
    }
  }
  const extra = [...st.tensors.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) {
    throw new AdapterError(`${weightsPath}: tensor "${extra[0]}"${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} does not map to a targeted module of the base model (${spec.configPath}, ${spec.numLayers} layers); is this adapter for another base model?`);
  }
  if (modules.length === 0) throw new AdapterError(`${configPath}: target_modules ${JSON.stringify(config.targetModules)} match no module of the base model`);
  return { dir: abs, configPath, weightsPath, config, modules };
}

const KEY_RE = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.lora_(A|B)(?:\.default)?\.weight$/;

/**
 * Loads an adapter WITHOUT a base model (adapter statistics, training trajectories): modules come from
 * the tensor names, shapes are checked against each other and against r / rank_pattern, not against a base.
 */
export function loadPeftAdapterStandalone(dir: string): PeftAdapter {
  const abs = path.resolve(dir);
  const configPath = path.join(abs, 'adapter_config.json');
  if (!existsSync(configPath)) throw new AdapterError(`${abs}: no adapter_config.json; point at a PEFT adapter folder`);
  const config = parseAdapterConfig(configPath);
  const weightsPath = path.join(abs, 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) throw new AdapterError(`${abs}: no adapter_model.safetensors`);
  const st = SafetensorsFile.open(weightsPath);
  const pairs = new Map<string, { layer: number; module: LinearModule; A?: string; B?: string }>();
  for (const name of st.tensors.keys()) {
    const m = KEY_RE.exec(name);
    if (!m) throw new AdapterError(`${weightsPath}: tensor "${name}" is not a LoRA matrix of a decoder layer's linear module`);
    const key = `model.layers.${m[1]}.${m[2]}.${m[3]}`;
    let p = pairs.get(key);
    if (!p) pairs.set(key, (p = { layer: Number(m[1]), module: m[3] as LinearModule }));
    p[m[4] as 'A' | 'B'] = name;
  }
  const modules: LoraModuleWeights[] = [];
  for (const [key, p] of pairs) {
    if (!p.A || !p.B) throw new AdapterError(`${weightsPath}: ${key} has lora_${p.A ? 'A' : 'B'} but no lora_${p.A ? 'B' : 'A'}`);
    const a = st.info(p.A);
    const b = st.info(p.B);
    const { r, scale } = loraModuleScale(config, key);
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== r || b.shape[1] !== r) {
      throw new AdapterError(`${weightsPath}: tensors "${p.A}" [${a.shape.join(', ')}] and "${p.B}" [${b.shape.join(', ')}] do not have rank r=${r} from ${configPath}`);
    }
    modules.push({
      layer: p.layer, module: p.module, key, r,
      scale,
      A: readFinite(st, p.A),
      B: readFinite(st, p.B),
      inFeatures: a.shape[1],
      outFeatures: b.shape[0],
    });
  }
  modules.sort((x, y) => x.layer - y.layer || LINEAR_MODULES.indexOf(x.module) - LINEAR_MODULES.indexOf(y.module));
  if (modules.length === 0) throw new AdapterError(`${weightsPath}: no LoRA tensors`);
  return { dir: abs, configPath, weightsPath, config, modules };
}
