// Adapter statistics and training-run trajectories against direct Float64 computations:
// ‖BA‖_F (formed explicitly here), norms, cosine to final, local rotation for k = 5/10/15, PCA path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { adapterStats, loraProductNorm, readLoraModules } from '../../../../src/engine/analysis/adapterStats';
import { computeTrajectory, findCheckpoints } from '../../../../src/engine/analysis/trajectory';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const DEMO_RUN = path.join(process.env.ORGANISM_LAB_EXAMPLES ?? path.resolve(__dirname, '../../../../examples'), 'organisms/demo-narrow-r1-run');

function directBA(A: Float32Array, B: Float32Array, r: number, inn: number, out: number): number {
  let s = 0;
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < inn; k++) {
      let v = 0;
      for (let j = 0; j < r; j++) v += B[o * r + j] * A[j * inn + k];
      s += v * v;
    }
  }
  return Math.sqrt(s);
}

/** A tiny deterministic pseudo-random stream. */
function lcg(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function writeAdapter(dir: string, A: Float32Array, B: Float32Array, r: number, inn: number, out: number, extra: Record<string, Float32Array> = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 16, target_modules: ['down_proj'], layers_to_transform: [1] }));
  const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
    'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [r, inn], data: A },
    'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': { dtype: 'F32', shape: [out, r], data: B },
  };
  for (const [k, v] of Object.entries(extra)) t[k] = { dtype: 'F32', shape: [v.length], data: v };
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), t);
}

test('‖BA‖_F without forming BA equals the explicit product; norms, NaN/Inf and compatibility', { skip: goldenSkip('qwen2') }, () => {
  const st = adapterStats(path.join(GOLDEN, 'qwen2/lora_b'), { baseModelDir: path.join(GOLDEN, 'qwen2/model') });
  const raw = readLoraModules(path.join(GOLDEN, 'qwen2/lora_b')).modules;
  assert.equal(st.modules.length, 3 * 7);
  assert.deepEqual(st.layers, [0, 1, 2]);
  for (const [i, m] of raw.entries()) {
    const s = st.modules[i];
    const ref = directBA(m.A, m.B, m.r, m.inFeatures, m.outFeatures);
    assert.ok(Math.abs(s.normBA - ref) <= 1e-9 * ref, `${m.key}: ${s.normBA} vs ${ref}`);
    assert.ok(Math.abs(s.normA - Math.hypot(...m.A)) <= 1e-9 * s.normA);
    assert.ok(Math.abs(s.normDelta! - (8 / Math.sqrt(4)) * ref) <= 1e-9 * ref, 'rsLoRA scale alpha/sqrt(r)');
  }
  assert.equal(st.compatibility?.ok, true);
  assert.equal(st.config.useRslora, true);
  const d = mkdtempSync(path.join(tmpdir(), 'astats-'));
  try {
    const r = 2, inn = 128, out = 64;
    const A = new Float32Array(r * inn).fill(0.5);
    A[3] = NaN;
    const B = new Float32Array(out * r).fill(0.25);
    B[7] = Infinity;
    writeAdapter(path.join(d, 'bad'), A, B, r, inn, out);
    const bad = adapterStats(path.join(d, 'bad'), { baseModelDir: path.join(GOLDEN, 'qwen2/model') });
    assert.equal(bad.nanCount, 1);
    assert.equal(bad.infCount, 1);
    // Loading refuses non-finite LoRA weights (issue 11), so the compatibility check (the loader itself) says so, naming the tensor.
    assert.equal(bad.compatibility?.ok, false);
    assert.match(bad.compatibility!.message, /lora_A\.weight.*(NaN|not finite)|(NaN|not finite).*lora_A\.weight/i);
    writeAdapter(path.join(d, 'wrong'), new Float32Array(r * 100), new Float32Array(out * r), r, 100, out);
    const wrong = adapterStats(path.join(d, 'wrong'), { baseModelDir: path.join(GOLDEN, 'qwen2/model') });
    assert.equal(wrong.compatibility?.ok, false);
    assert.match(wrong.compatibility!.message, /has shape \[2, 100\].*needs \[2, 128\]/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('trajectory of a synthetic 40-checkpoint run against direct Float64 computations', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'traj-'));
  try {
    const r = 1, inn = 24, out = 16, T = 40;
    const rnd = lcg(7);
    const a0 = Float64Array.from({ length: r * inn }, rnd);
    const b0 = Float64Array.from({ length: out * r }, rnd);
    const dA = Float64Array.from({ length: r * inn }, rnd);
    const dB = Float64Array.from({ length: out * r }, rnd);
    const turn = Float64Array.from({ length: out * r }, rnd);
    const vecs: { A: Float32Array; B: Float32Array }[] = [];
    for (let t = 0; t < T; t++) {
      // A straight path that turns at t = 20 (a "phase transition" in B).
      const A = Float32Array.from(a0, (x, i) => x + 0.1 * t * dA[i]);
      const B = Float32Array.from(b0, (x, i) => x + 0.1 * Math.min(t, 20) * dB[i] + 0.2 * Math.max(0, t - 20) * turn[i]);
      vecs.push({ A, B });
      writeAdapter(path.join(d, 'checkpoints', `checkpoint-${(t + 1) * 10}`), A, B, r, inn, out);
    }
    assert.equal(findCheckpoints(d).checkpoints.length, T, 'checkpoints/checkpoint-N/ layout found');
    const tr = computeTrajectory(d);
    assert.deepEqual(tr.steps, Array.from({ length: T }, (_, t) => (t + 1) * 10), 'numeric step order');
    const f64 = (x: Float32Array) => Array.from(x);
    const norm = (x: number[]) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
    const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0) / (norm(x) * norm(y));
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 + 1e-9 * Math.abs(b), `${what}: ${a} vs ${b}`);
    for (let t = 0; t < T; t++) {
      close(tr.normA[t], norm(f64(vecs[t].A)), `‖A‖ at ${t}`);
      close(tr.normB[t], norm(f64(vecs[t].B)), `‖B‖ at ${t}`);
      close(tr.cosToFinalA[t], cos(f64(vecs[t].A), f64(vecs[T - 1].A)), `cos A at ${t}`);
      close(tr.cosToFinalB[t], cos(f64(vecs[t].B), f64(vecs[T - 1].B)), `cos B at ${t}`);
    }
    close(tr.cosToFinalB[T - 1], 1, 'final to itself');
    const flat = vecs.map((v) => [...f64(v.A), ...f64(v.B)]);
    for (const k of [5, 10, 15]) {
      const series = tr.rotation[String(k)];
      assert.equal(series.length, T);
      for (let t = 0; t < T; t++) {
        if (t - k < 0 || t + k >= T) {
          assert.equal(series[t], null);
          continue;
        }
        const x = flat[t - k].map((v, i) => v - flat[t][i]);
        const y = flat[t + k].map((v, i) => v - flat[t][i]);
        close(series[t]!, cos(x, y), `rotation k=${k} at ${t}`);
      }
    }
    // On the straight part the path does not turn (cos = −1); around the bend it does.
    close(tr.rotation['5'][10]!, -1, 'straight segment');
    assert.ok(tr.rotation['5'][20]! > -0.99, 'the bend shows up');
    // PCA: coordinates reproduce the centred Gram matrix in 2-D as well as any 2-D projection can;
    // here the path lies in a plane (two directions) so the 2-D coordinates keep every pairwise distance.
    for (const [i, j] of [[0, 39], [3, 27], [15, 25]]) {
      const dist = norm(flat[i].map((v, k) => v - flat[j][k]));
      close(Math.hypot(tr.pca.x[i] - tr.pca.x[j], tr.pca.y[i] - tr.pca.y[j]), dist, `PCA distance ${i}-${j}`);
    }
    assert.ok(tr.pca.explained[0] + tr.pca.explained[1] > 0.999999);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('trajectory of the demo organism training run (when present)', { skip: !existsSync(DEMO_RUN) && 'demo organism not built' }, () => {
  const tr = computeTrajectory(DEMO_RUN);
  const raw = tr.checkpointDirs.map((c) => readLoraModules(c).modules);
  for (let t = 0; t < tr.steps.length; t++) {
    const a = raw[t].flatMap((m) => Array.from(m.A));
    assert.ok(Math.abs(tr.normA[t] - Math.hypot(...a)) <= 1e-9 * tr.normA[t]);
    const m = raw[t][0];
    assert.ok(Math.abs(loraProductNorm(m.A, m.B, m.r, m.inFeatures, m.outFeatures) - directBA(m.A, m.B, m.r, m.inFeatures, m.outFeatures)) <= 1e-9 + 1e-9 * directBA(m.A, m.B, m.r, m.inFeatures, m.outFeatures));
  }
});
