// Each SAELens architecture's encoder, run in onnxruntime, against values computed here from the formula
// (SAELens: x' = norm(x) − b_dec·apply_b_dec_to_input; pre = x'W_enc + b_enc; standard relu(pre); jumprelu
// relu(pre)·[pre > θ]; topk relu of the k largest pre). Plus the folder checks and hook-name mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { hookToHiddenState, openSaeFolder } from '../../../../src/engine/sae/saeFolder';
import { SaeKernel } from '../../../../src/engine/sae/saeKernel';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

interface Fixture { dir: string; W_enc: Float32Array; b_enc: Float32Array; b_dec: Float32Array; threshold: Float32Array }

function makeSae(cfg: Record<string, unknown>, dIn: number, dSae: number, opts: { logThreshold?: boolean } = {}): Fixture {
  const r = rng(dIn * 31 + dSae);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ol-sae-'));
  const W_enc = Float32Array.from({ length: dIn * dSae }, () => r());
  const W_dec = Float32Array.from({ length: dSae * dIn }, () => r());
  const b_enc = Float32Array.from({ length: dSae }, () => 0.3 * r());
  const b_dec = Float32Array.from({ length: dIn }, () => 0.3 * r());
  const threshold = Float32Array.from({ length: dSae }, () => 0.2 + 0.5 * Math.abs(r()));
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
    W_enc: { dtype: 'F32', shape: [dIn, dSae], data: W_enc },
    W_dec: { dtype: 'F32', shape: [dSae, dIn], data: W_dec },
    b_enc: { dtype: 'F32', shape: [dSae], data: b_enc },
    b_dec: { dtype: 'F32', shape: [dIn], data: b_dec },
  };
  if (cfg.architecture === 'jumprelu') {
    tensors[opts.logThreshold ? 'log_threshold' : 'threshold'] = { dtype: 'F32', shape: [dSae], data: opts.logThreshold ? threshold.map(Math.log) : threshold };
  }
  writeSafetensors(path.join(dir, 'sae_weights.safetensors'), tensors);
  fs.writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ d_in: dIn, d_sae: dSae, metadata: { hook_name: 'blocks.1.hook_resid_post', model_name: 'test' }, ...cfg }));
  return { dir, W_enc, b_enc, b_dec, threshold };
}

/** The encoder by the formula, in float64. */
function reference(f: Fixture, x: Float32Array, n: number, dIn: number, dSae: number, cfg: { architecture: string; k?: number; apply_b_dec_to_input?: boolean; normalize_activations?: string }): Float64Array {
  const out = new Float64Array(n * dSae);
  for (let i = 0; i < n; i++) {
    let xi = Array.from(x.subarray(i * dIn, (i + 1) * dIn));
    if (cfg.normalize_activations === 'constant_norm_rescale') {
      const norm = Math.sqrt(xi.reduce((a, v) => a + v * v, 0));
      xi = xi.map((v) => (v * Math.sqrt(dIn)) / norm);
    } else if (cfg.normalize_activations === 'layer_norm') {
      const mu = xi.reduce((a, v) => a + v, 0) / dIn;
      const std = Math.sqrt(xi.reduce((a, v) => a + (v - mu) ** 2, 0) / (dIn - 1));
      xi = xi.map((v) => (v - mu) / (std + 1e-5));
    }
    if (cfg.apply_b_dec_to_input !== false) xi = xi.map((v, j) => v - f.b_dec[j]);
    const pre = new Float64Array(dSae);
    for (let s = 0; s < dSae; s++) {
      let acc = f.b_enc[s];
      for (let j = 0; j < dIn; j++) acc += xi[j] * f.W_enc[j * dSae + s];
      pre[s] = acc;
    }
    const row = out.subarray(i * dSae, (i + 1) * dSae);
    if (cfg.architecture === 'topk') {
      const order = [...pre.keys()].sort((a, b) => pre[b] - pre[a]).slice(0, cfg.k!);
      for (const s of order) row[s] = Math.max(0, pre[s]);
    } else {
      for (let s = 0; s < dSae; s++) row[s] = cfg.architecture === 'jumprelu' ? (pre[s] > f.threshold[s] ? Math.max(0, pre[s]) : 0) : Math.max(0, pre[s]);
    }
  }
  return out;
}

const CASES: { name: string; cfg: Record<string, unknown>; log?: boolean }[] = [
  { name: 'standard', cfg: { architecture: 'standard' } },
  { name: 'standard without b_dec on the input', cfg: { architecture: 'standard', apply_b_dec_to_input: false } },
  { name: 'standard, constant_norm_rescale', cfg: { architecture: 'standard', normalize_activations: 'constant_norm_rescale' } },
  { name: 'standard, layer_norm', cfg: { architecture: 'standard', normalize_activations: 'layer_norm' } },
  { name: 'jumprelu (threshold)', cfg: { architecture: 'jumprelu' } },
  { name: 'jumprelu (log_threshold)', cfg: { architecture: 'jumprelu' }, log: true },
  { name: 'topk', cfg: { architecture: 'topk', k: 5 } },
  { name: 'older topk (activation_fn_str)', cfg: { architecture: 'standard', activation_fn_str: 'topk', activation_fn_kwargs: { k: 3 } } },
];

for (const c of CASES) {
  test(`SAE encoder in onnxruntime matches the formula: ${c.name}`, async () => {
    const dIn = 16;
    const dSae = 48;
    const n = 7;
    const f = makeSae(c.cfg, dIn, dSae, { logThreshold: c.log });
    try {
      const spec = openSaeFolder(f.dir, { hiddenSize: dIn, numLayers: 2 });
      const kernel = await SaeKernel.create(spec, 1);
      const r = rng(99);
      const x = Float32Array.from({ length: n * dIn }, () => 2 * r());
      const acts = await kernel.encode(x, n);
      const k = (c.cfg.k as number | undefined) ?? ((c.cfg.activation_fn_kwargs as { k?: number } | undefined)?.k);
      const ref = reference(f, x, n, dIn, dSae, { ...(c.cfg as { architecture: string }), architecture: spec.architecture, k });
      let maxErr = 0;
      let nonzero = 0;
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(acts[i] - ref[i]));
        if (ref[i] > 0) nonzero++;
      }
      assert.ok(maxErr < 1e-4, `max |Δ| = ${maxErr}`);
      assert.ok(nonzero > 0, 'some features are active');
      if (spec.architecture === 'topk') for (let i = 0; i < n; i++) assert.ok(acts.subarray(i * dSae, (i + 1) * dSae).filter((v) => v > 0).length <= k!);
      // The diff graph agrees with two encodes.
      const x2 = Float32Array.from(x, (v) => v + 0.5 * r());
      const acts2 = await kernel.encode(x2, n);
      const d = await kernel.diff(x, x2, n, 4);
      for (let s = 0; s < dSae; s++) {
        let sr = 0;
        let sv = 0;
        for (let i = 0; i < n; i++) {
          sr += acts[i * dSae + s];
          sv += acts2[i * dSae + s];
        }
        assert.ok(Math.abs(d.sumRef[s] - sr) < 1e-3 && Math.abs(d.sumVar[s] - sv) < 1e-3);
      }
      const id0 = Number(d.topIds[0]);
      const best = Math.max(...Array.from({ length: dSae }, (_, s) => Math.abs(acts2[s] - acts[s])));
      assert.ok(Math.abs(Math.abs(acts2[id0] - acts[id0]) - best) < 1e-4, 'row 0: the top changed feature is the largest |Δ|');
      await kernel.dispose();
    } finally {
      fs.rmSync(f.dir, { recursive: true, force: true });
    }
  });
}

test('hook names map to hidden-state indices; bad SAE folders are refused with the file and field', () => {
  assert.deepEqual(hookToHiddenState('blocks.12.hook_resid_post')?.index, 13);
  assert.deepEqual(hookToHiddenState('blocks.0.hook_resid_pre')?.index, 0);
  assert.equal(hookToHiddenState('blocks.3.hook_mlp_out'), null);
  const f = makeSae({ architecture: 'standard' }, 8, 12);
  try {
    assert.throws(() => openSaeFolder(f.dir, { hiddenSize: 16, numLayers: 2 }), /d_in is 8 but the model has hidden size 16/);
    assert.throws(() => openSaeFolder(f.dir, { hiddenSize: 8, numLayers: 1 }), /hook layer 1 \(.*"blocks\.1\.hook_resid_post"\) is beyond the model: it has 1 decoder layers/);
    fs.writeFileSync(path.join(f.dir, 'cfg.json'), JSON.stringify({ d_in: 8, d_sae: 12, hook_point: 'blocks.0.attn.hook_z' }));
    assert.throws(() => openSaeFolder(f.dir), /cfg\.json: hook_point "blocks\.0\.attn\.hook_z" is not a residual-stream hook point/);
    fs.writeFileSync(path.join(f.dir, 'cfg.json'), JSON.stringify({ d_in: 8, d_sae: 13, hook_name: 'blocks.0.hook_resid_post' }));
    assert.throws(() => openSaeFolder(f.dir), /tensor "W_enc" has shape \[8, 12\], expected \[8, 13\]/);
    fs.writeFileSync(path.join(f.dir, 'cfg.json'), JSON.stringify({ d_in: 8, d_sae: 12, hook_name: 'blocks.0.hook_resid_post', architecture: 'jumprelu' }));
    assert.throws(() => openSaeFolder(f.dir), /needs a "threshold"/);
    fs.writeFileSync(path.join(f.dir, 'cfg.json'), '{"d_in": 1e12}');
    assert.throws(() => openSaeFolder(f.dir), /"d_in" must be a positive integer/);
  } finally {
    fs.rmSync(f.dir, { recursive: true, force: true });
  }
});
