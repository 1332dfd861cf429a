/**
 * LoRA adapter statistics read straight from adapter files (no model, no onnxruntime):
 * per layer and module ‖A‖_F, ‖B‖_F and ‖B·A‖_F computed WITHOUT forming B·A
 * (‖BA‖_F² = trace((BᵀB)(AAᵀ)), r×r Gram matrices), NaN/Inf counts, and the adapter's config.
 * Shape compatibility with a base model goes through the engine's own PEFT loader.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadModelSpec } from '../checkpoint/modelSpec';
import { loadPeftAdapter, loraModuleScale } from '../checkpoint/peftAdapter';
import { SafetensorsFile } from '../checkpoint/safetensors';
import type { AdapterConfigSummary, AdapterStats, ModuleStats } from '../../protocol/analysis';

export type { AdapterConfigSummary, AdapterStats, ModuleStats };

export interface RawLoraModule {
  /** Base-model module path, e.g. model.layers.3.mlp.down_proj */
  key: string;
  layer: number | null;
  module: string;
  /** [r, in] row-major */
  A: Float32Array;
  /** [out, r] row-major */
  B: Float32Array;
  r: number;
  inFeatures: number;
  outFeatures: number;
}

const LORA_RE = /^(?:base_model\.model\.)?(.*)\.lora_([AB])(?:\.default)?\.weight$/;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function readAdapterConfig(dir: string): AdapterConfigSummary {
  const file = path.join(dir, 'adapter_config.json');
  if (!existsSync(file)) throw new Error(`${path.resolve(dir)}: no adapter_config.json; point at a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = num(cfg.r);
  const alpha = num(cfg.lora_alpha);
  const useRslora = cfg.use_rslora === true;
  const tm = cfg.target_modules;
  const ltt = cfg.layers_to_transform;
  const pattern = (v: unknown): Record<string, number> =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => num(x) !== null)) as Record<string, number> : {};
  return {
    r,
    loraAlpha: alpha,
    useRslora,
    targetModules: typeof tm === 'string' || (Array.isArray(tm) && tm.every((x) => typeof x === 'string')) ? (tm as string[] | string) : null,
    layersToTransform: typeof ltt === 'number' || (Array.isArray(ltt) && ltt.every((x) => typeof x === 'number')) ? (ltt as number[] | number) : null,
    baseModel: typeof cfg.base_model_name_or_path === 'string' ? cfg.base_model_name_or_path : null,
    scale: r && alpha !== null ? (useRslora ? alpha / Math.sqrt(r) : alpha / r) : null,
    rankPattern: pattern(cfg.rank_pattern),
    alphaPattern: pattern(cfg.alpha_pattern),
  };
}

/** A module's alpha and scale by the loader's own rule (loraModuleScale); null when the config has no alpha or rank for it. */
export function moduleScale(config: AdapterConfigSummary, key: string, tensorRank: number): { alpha: number; scale: number } | null {
  const hasAlpha = config.loraAlpha !== null || Object.keys(config.alphaPattern).length > 0;
  if (!hasAlpha) return null;
  try {
    const s = loraModuleScale({ r: config.r ?? tensorRank, loraAlpha: config.loraAlpha ?? Number.NaN, useRslora: config.useRslora, rankPattern: config.rankPattern, alphaPattern: config.alphaPattern }, key);
    return Number.isFinite(s.scale) && s.r > 0 ? { alpha: s.alpha, scale: s.scale } : null;
  } catch {
    return null; // a pattern that is not a valid regular expression (the loader reports it)
  }
}

/** Every LoRA module of adapter_model.safetensors, sorted by layer then module name. */
export function readLoraModules(dir: string): { weightsPath: string; modules: RawLoraModule[] } {
  const weightsPath = path.join(path.resolve(dir), 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) throw new Error(`${path.resolve(dir)}: no adapter_model.safetensors (adapters saved as .bin pickles are not read; re-save with safe_serialization=True)`);
  const st = SafetensorsFile.open(weightsPath);
  const byKey = new Map<string, { A?: string; B?: string }>();
  for (const name of st.tensors.keys()) {
    const m = LORA_RE.exec(name);
    if (!m) continue;
    const e = byKey.get(m[1]) ?? {};
    e[m[2] as 'A' | 'B'] = name;
    byKey.set(m[1], e);
  }
  if (byKey.size === 0) throw new Error(`${weightsPath}: no tensors named *.lora_A.weight / *.lora_B.weight; is this a PEFT LoRA adapter?`);
  const modules: RawLoraModule[] = [];
  for (const [key, e] of byKey) {
    if (!e.A || !e.B) {
      const have = (e.A ?? e.B)!;
      const missing = e.A ? have.replace(/lora_A(?=[.])/, 'lora_B') : have.replace(/lora_B(?=[.])/, 'lora_A');
      throw new Error(`${weightsPath}: tensor "${missing}" is missing (module ${key} has "${have}" but not its pair); the file is incomplete or was renamed`);
    }
    const ia = st.info(e.A);
    const ib = st.info(e.B);
    if (ia.shape.length !== 2 || ib.shape.length !== 2 || ia.shape[0] !== ib.shape[1]) {
      throw new Error(`${weightsPath}: tensors "${e.A}" [${ia.shape.join(', ')}] and "${e.B}" [${ib.shape.join(', ')}] do not fit (need lora_A [r, in] and lora_B [out, r])`);
    }
    const lm = /\.layers\.(\d+)\./.exec(key);
    modules.push({
      key,
      layer: lm ? Number(lm[1]) : null,
      module: key.split('.').pop()!,
      A: st.readFloat32(e.A),
      B: st.readFloat32(e.B),
      r: ia.shape[0],
      inFeatures: ia.shape[1],
      outFeatures: ib.shape[0],
    });
  }
  modules.sort((a, b) => (a.layer ?? -1) - (b.layer ?? -1) || a.module.localeCompare(b.module) || a.key.localeCompare(b.key));
  return { weightsPath, modules };
}

function sumSq(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

function countBad(x: Float32Array): { nan: number; inf: number } {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  return { nan, inf };
}

/** ‖B·A‖_F with B [out, r], A [r, in], via trace((BᵀB)(AAᵀ)); never forms the out×in product. */
export function loraProductNorm(A: Float32Array, B: Float32Array, r: number, inFeatures: number, outFeatures: number): number {
  const gA = new Float64Array(r * r);
  const gB = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      let s = 0;
      const oi = i * inFeatures;
      const oj = j * inFeatures;
      for (let k = 0; k < inFeatures; k++) s += A[oi + k] * A[oj + k];
      gA[i * r + j] = gA[j * r + i] = s;
      let t = 0;
      for (let o = 0; o < outFeatures; o++) t += B[o * r + i] * B[o * r + j];
      gB[i * r + j] = gB[j * r + i] = t;
    }
  }
  let tr = 0;
  for (let i = 0; i < r * r; i++) tr += gA[i] * gB[i]; // both symmetric: trace(GB·GA) = Σ GB∘GA
  return Math.sqrt(Math.max(0, tr));
}

export function adapterStats(dir: string, opts: { baseModelDir?: string } = {}): AdapterStats {
  const config = readAdapterConfig(dir);
  const { weightsPath, modules } = readLoraModules(dir);
  let nanCount = 0;
  let infCount = 0;
  const stats: ModuleStats[] = modules.map((m) => {
    const a = countBad(m.A);
    const b = countBad(m.B);
    nanCount += a.nan + b.nan;
    infCount += a.inf + b.inf;
    const normBA = loraProductNorm(m.A, m.B, m.r, m.inFeatures, m.outFeatures);
    const ms = m.r > 0 ? moduleScale(config, m.key, m.r) : null;
    const scale = ms?.scale ?? null;
    return {
      key: m.key,
      layer: m.layer,
      module: m.module,
      r: m.r,
      alpha: ms?.alpha ?? null,
      scale,
      shapeA: [m.r, m.inFeatures],
      shapeB: [m.outFeatures, m.r],
      normA: Math.sqrt(sumSq(m.A)),
      normB: Math.sqrt(sumSq(m.B)),
      normBA,
      normDelta: scale === null ? null : scale * normBA,
      nanCount: a.nan + b.nan,
      infCount: a.inf + b.inf,
    };
  });
  let compatibility: AdapterStats['compatibility'] = null;
  if (opts.baseModelDir) {
    try {
      loadPeftAdapter(dir, loadModelSpec(opts.baseModelDir));
      compatibility = { base: path.resolve(opts.baseModelDir), ok: true, message: 'every LoRA tensor matches a module of the base model' };
    } catch (e) {
      compatibility = { base: path.resolve(opts.baseModelDir), ok: false, message: (e as Error).message };
    }
  }
  return {
    dir: path.resolve(dir),
    weightsPath,
    config,
    modules: stats,
    layers: [...new Set(stats.map((s) => s.layer).filter((l): l is number => l !== null))].sort((a, b) => a - b),
    moduleNames: [...new Set(stats.map((s) => s.module))].sort(),
    nanCount,
    infCount,
    compatibility,
  };
}
