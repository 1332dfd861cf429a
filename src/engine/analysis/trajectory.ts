/**
 * Training-run trajectories from adapter files only: a run folder holds checkpoint-N/ (or
 * checkpoints/checkpoint-N/) adapter folders. Per checkpoint: ‖A‖ and ‖B‖ (all modules together and per
 * module), the cosine of its flattened A and B vectors to the final checkpoint's, the local rotation
 * cos((v[t−k]−v[t]), (v[t+k]−v[t])) for k = 5, 10, 15 checkpoints, and a 2-D PCA path of the flattened
 * [A;B] vectors. Memory: the flattened vectors of every checkpoint are held (Float32), T × adapter size.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkpointSteps } from '../checkpoint/trainingRun';
import { readLoraModules } from './adapterStats';
import type { Trajectory, TrajectoryModuleSeries } from '../../protocol/analysis';

export type { Trajectory, TrajectoryModuleSeries };

export const ROTATION_KS = [5, 10, 15] as const;

/** checkpoint-N folders of a training run: directly inside `dir` or inside `dir/checkpoints`. */
export function findCheckpoints(dir: string): { checkpointsDir: string; checkpoints: { step: number; dir: string }[] } {
  for (const d of [dir, path.join(dir, 'checkpoints')]) {
    const cps = checkpointSteps(d).filter((c) => existsSync(path.join(c.dir, 'adapter_model.safetensors')));
    if (cps.length) return { checkpointsDir: d, checkpoints: cps };
  }
  throw new Error(`${path.resolve(dir)}: no checkpoint-N/ folders with adapter_model.safetensors (looked in the folder and in its checkpoints/ subfolder); point at a training-run folder`);
}

function dot(a: Float32Array | Float64Array, b: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function cos(a: Float32Array, b: Float32Array): number {
  const d = Math.sqrt(dot(a, a) * dot(b, b));
  return d > 0 ? dot(a, b) / d : 0;
}

/** cos((v[t−k]−v[t]), (v[t+k]−v[t])); −1 = straight line, near +1 = the path turns back. */
export function localRotation(vs: Float32Array[], t: number, k: number): number | null {
  if (t - k < 0 || t + k >= vs.length) return null;
  const a = vs[t - k];
  const b = vs[t + k];
  const c = vs[t];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < c.length; i++) {
    const x = a[i] - c[i];
    const y = b[i] - c[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  const d = Math.sqrt(aa * bb);
  return d > 0 ? ab / d : 0;
}

/** Top-2 principal coordinates through the T×T Gram matrix of the centred rows (power iteration + deflation). */
export function pca2(vs: Float32Array[]): { x: number[]; y: number[]; explained: [number, number] } {
  const T = vs.length;
  const D = T ? vs[0].length : 0;
  const mean = new Float64Array(D);
  for (const v of vs) for (let i = 0; i < D; i++) mean[i] += v[i] / T;
  const cen = vs.map((v) => {
    const c = new Float64Array(D);
    for (let i = 0; i < D; i++) c[i] = v[i] - mean[i];
    return c;
  });
  const G = Array.from({ length: T }, () => new Float64Array(T));
  for (let i = 0; i < T; i++) for (let j = i; j < T; j++) G[i][j] = G[j][i] = dot(cen[i], cen[j]);
  let total = 0;
  for (let i = 0; i < T; i++) total += G[i][i];
  const coords: number[][] = [];
  const lambdas: number[] = [];
  for (let comp = 0; comp < 2; comp++) {
    let u = new Float64Array(T).map((_, i) => 1 + ((i * 7919) % 13) / 13); // fixed, non-degenerate start
    let lambda = 0;
    for (let it = 0; it < 500; it++) {
      const w = new Float64Array(T);
      for (let i = 0; i < T; i++) w[i] = dot(G[i], u);
      const n = Math.sqrt(dot(w, w));
      if (!(n > 0)) {
        lambda = 0;
        break;
      }
      for (let i = 0; i < T; i++) w[i] /= n;
      const delta = Math.abs(n - lambda);
      lambda = n;
      u = w;
      if (delta <= 1e-13 * n) break;
    }
    // Sign convention: the first checkpoint has a non-positive coordinate.
    if (T && u[0] > 0) u = u.map((x) => -x);
    coords.push(Array.from(u, (x) => x * Math.sqrt(Math.max(lambda, 0))));
    lambdas.push(lambda);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) G[i][j] -= lambda * u[i] * u[j];
  }
  return { x: coords[0], y: coords[1], explained: [total > 0 ? lambdas[0] / total : 0, total > 0 ? lambdas[1] / total : 0] };
}

export function computeTrajectory(dir: string, opts: { onProgress?: (done: number, total: number) => void } = {}): Trajectory {
  const { checkpointsDir, checkpoints } = findCheckpoints(dir);
  const vA: Float32Array[] = [];
  const vB: Float32Array[] = [];
  const vAB: Float32Array[] = [];
  const normA: number[] = [];
  const normB: number[] = [];
  let keys: string[] | null = null;
  const perModule = new Map<string, TrajectoryModuleSeries>();
  checkpoints.forEach((cp, idx) => {
    const { modules } = readLoraModules(cp.dir);
    const ks = modules.map((m) => `${m.key}:${m.r}x${m.inFeatures}x${m.outFeatures}`);
    if (keys === null) keys = ks;
    else if (ks.join('|') !== keys.join('|')) {
      throw new Error(`${cp.dir}: its LoRA modules or shapes differ from ${checkpoints[0].dir}; every checkpoint of a run must have the same modules`);
    }
    const lenA = modules.reduce((s, m) => s + m.A.length, 0);
    const lenB = modules.reduce((s, m) => s + m.B.length, 0);
    const a = new Float32Array(lenA);
    const b = new Float32Array(lenB);
    let oa = 0;
    let ob = 0;
    for (const m of modules) {
      a.set(m.A, oa);
      b.set(m.B, ob);
      oa += m.A.length;
      ob += m.B.length;
      const s = perModule.get(m.key) ?? { key: m.key, normA: [], normB: [] };
      s.normA.push(Math.sqrt(dot(m.A, m.A)));
      s.normB.push(Math.sqrt(dot(m.B, m.B)));
      perModule.set(m.key, s);
    }
    const ab = new Float32Array(lenA + lenB);
    ab.set(a, 0);
    ab.set(b, lenA);
    vA.push(a);
    vB.push(b);
    vAB.push(ab);
    normA.push(Math.sqrt(dot(a, a)));
    normB.push(Math.sqrt(dot(b, b)));
    opts.onProgress?.(idx + 1, checkpoints.length);
  });
  const T = checkpoints.length;
  const rotation: Record<string, (number | null)[]> = {};
  for (const k of ROTATION_KS) rotation[String(k)] = Array.from({ length: T }, (_, t) => localRotation(vAB, t, k));
  return {
    dir: path.resolve(dir),
    checkpointsDir: path.resolve(checkpointsDir),
    steps: checkpoints.map((c) => c.step),
    checkpointDirs: checkpoints.map((c) => path.resolve(c.dir)),
    normA,
    normB,
    modules: [...perModule.values()],
    cosToFinalA: vA.map((v) => cos(v, vA[T - 1])),
    cosToFinalB: vB.map((v) => cos(v, vB[T - 1])),
    rotation,
    pca: pca2(vAB),
  };
}
