/**
 * Does a labelled direction line up with the adapter's own write directions? A LoRA on mlp.down_proj or
 * self_attn.o_proj of layer k adds B·(A·x)·scale to the residual stream at the output of layer k, i.e. along
 * the columns of B ([hidden, r]). Compared with the direction v_k of the same layer (output of layer k):
 *  - r = 1: the signed cosine cos(v_k, B[:,0]) (the sign is arbitrary: A·x takes either sign);
 *  - r > 1: the fraction of v_k inside span(B), ‖P_B v‖ / ‖v‖ in [0, 1] (B's columns orthonormalised with
 *    modified Gram–Schmidt in float64; a column dependent on earlier ones adds nothing).
 * The adapter's scale (and a variant's NAME@S) multiplies B·A and so does not change these directions.
 */
import { readLoraModules } from './adapterStats';
import type { AdapterAlignment } from '../../protocol/analysis';

export type { AdapterAlignment };

/** The modules whose LoRA output lands directly in the residual stream at the layer's output. */
export const RESIDUAL_WRITE_MODULES = ['down_proj', 'o_proj'] as const;

/**
 * cos(v, B[:,0]) for r = 1, else ‖P_B v‖/‖v‖. `B` is [out, r] row-major (PEFT's lora_B layout), out = v.length.
 * null when ‖v‖ = 0 or B is zero.
 */
export function writeAlignment(v: ArrayLike<number>, B: ArrayLike<number>, r: number): { cosine: number | null; signed: boolean } {
  const H = v.length;
  if (!(Number.isInteger(r) && r >= 1) || B.length !== H * r) throw new Error(`LoRA B has ${B.length} values, not ${H}×${r} ([hidden, r]) for a direction of ${H} values`);
  let vv = 0;
  for (let i = 0; i < H; i++) vv += v[i] * v[i];
  const vn = Math.sqrt(vv);
  if (r === 1) {
    let bb = 0;
    let vb = 0;
    for (let i = 0; i < H; i++) {
      bb += B[i] * B[i];
      vb += v[i] * B[i];
    }
    const bn = Math.sqrt(bb);
    return { cosine: vn > 0 && bn > 0 ? clamp(vb / (vn * bn), -1, 1) : null, signed: true };
  }
  // Modified Gram–Schmidt (two passes, for stability) over B's columns in float64. B comes from float32
  // (or bf16) storage, so a column whose remainder is below 1e-5 of its own norm lies in the span of the
  // earlier ones up to storage rounding and is dropped.
  const basis: Float64Array[] = [];
  for (let j = 0; j < r; j++) {
    const q = new Float64Array(H);
    let n0 = 0;
    for (let i = 0; i < H; i++) {
      q[i] = B[i * r + j];
      n0 += q[i] * q[i];
    }
    n0 = Math.sqrt(n0);
    for (let pass = 0; pass < 2; pass++) {
      for (const e of basis) {
        let d = 0;
        for (let i = 0; i < H; i++) d += e[i] * q[i];
        for (let i = 0; i < H; i++) q[i] -= d * e[i];
      }
    }
    let n = 0;
    for (let i = 0; i < H; i++) n += q[i] * q[i];
    n = Math.sqrt(n);
    if (!(n0 > 0) || !(n > 1e-5 * n0)) continue;
    for (let i = 0; i < H; i++) q[i] /= n;
    basis.push(q);
  }
  if (!(vn > 0) || basis.length === 0) return { cosine: null, signed: false };
  let pp = 0;
  for (const e of basis) {
    let d = 0;
    for (let i = 0; i < H; i++) d += e[i] * v[i];
    pp += d * d;
  }
  return { cosine: clamp(Math.sqrt(pp) / vn, 0, 1), signed: false };
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

export interface LoraWriteModule {
  layer: number | null;
  module: string;
  key?: string;
  r: number;
  outFeatures: number;
  /** [out, r] row-major */
  B: Float32Array;
}

/**
 * One entry per LoRA module of `modules` on down_proj / o_proj whose layer has a direction in `vectors`
 * (vectors[l] = direction at the output of layer l), sorted by layer then module.
 */
export function adapterAlignment(adapter: string, vectors: ArrayLike<number>[], modules: LoraWriteModule[], source = `adapter "${adapter}"`): AdapterAlignment[] {
  const out: AdapterAlignment[] = [];
  for (const m of modules) {
    if (m.layer === null || !(RESIDUAL_WRITE_MODULES as readonly string[]).includes(m.module)) continue;
    const v = vectors[m.layer];
    if (!v) continue;
    if (m.outFeatures !== v.length) {
      throw new Error(`${source}: lora_B of ${m.key ?? `layer ${m.layer} ${m.module}`} writes ${m.outFeatures} values but the direction at layer ${m.layer} has ${v.length} (the hidden size); the adapter is for another model`);
    }
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i] * v[i];
    out.push({ adapter, layer: m.layer, module: m.module, rank: m.r, ...writeAlignment(v, m.B, m.r), directionNorm: Math.sqrt(vv), chance: Math.sqrt(Math.min(m.r, v.length) / v.length) });
  }
  return out.sort((a, b) => a.layer - b.layer || a.module.localeCompare(b.module));
}

/** adapterAlignment for an adapter folder (adapter_model.safetensors read directly; A·B never formed). */
export function adapterAlignmentFromDir(adapter: string, dir: string, vectors: ArrayLike<number>[]): AdapterAlignment[] {
  const { weightsPath, modules } = readLoraModules(dir);
  return adapterAlignment(adapter, vectors, modules, weightsPath);
}
