/** Alignment of a direction with a LoRA adapter's write directions (columns of B on down_proj / o_proj). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { adapterAlignment, adapterAlignmentFromDir, writeAlignment } from '../../../../src/engine/analysis/adapterAlignment';
import { ADAPTER_ALIGNMENT_KEY, readAdapterAlignment } from '../../../../src/engine/analysis/directionFile';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { uniformAt } from '../../../../src/engine/runtime/rng';

/** A seeded uniform stream in [0, 1). */
function mulberry32(seed: number): () => number {
  let n = 0;
  return () => uniformAt(seed, n++);
}

const H = 16;

function randn(rand: () => number, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return x;
}

/** [H, r] row-major from columns. */
function fromColumns(cols: ArrayLike<number>[]): Float32Array {
  const r = cols.length;
  const B = new Float32Array(H * r);
  cols.forEach((c, j) => { for (let i = 0; i < H; i++) B[i * r + j] = c[i]; });
  return B;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

test('rank 1: the signed cosine between v and B[:,0], independent of scale', () => {
  const rand = mulberry32(7);
  const b = randn(rand, H);
  const w = randn(rand, H);
  // v = cosθ·b̂ + sinθ·ŵ⊥ with a chosen angle: the cosine must come back, with its sign.
  const bn = Math.sqrt(dot(b, b));
  const bh = b.map((x) => x / bn);
  const wp = w.map((x, i) => x - dot(w, bh) * bh[i]);
  const wpn = Math.sqrt(dot(wp, wp));
  for (const c of [-0.38, 0, 0.5, 1, -1]) {
    const s = Math.sqrt(1 - c * c);
    const v = bh.map((x, i) => 3 * (c * x + s * wp[i] / wpn));
    const got = writeAlignment(v, fromColumns([b]), 1);
    assert.equal(got.signed, true);
    assert.ok(Math.abs(got.cosine! - c) < 1e-6, `cos ${c}: got ${got.cosine}`);
    // B scaled (the adapter's alpha/r or NAME@S) or flipped: same magnitude.
    const scaled = writeAlignment(v, fromColumns([b.map((x) => -0.25 * x)]), 1);
    assert.ok(Math.abs(scaled.cosine! + c) < 1e-6);
  }
  assert.equal(writeAlignment(new Float64Array(H), fromColumns([b]), 1).cosine, null, 'zero direction');
  assert.equal(writeAlignment(b, new Float32Array(H), 1).cosine, null, 'zero B (LoRA at init)');
});

test('rank 2: the fraction of v in span(B); 1 inside, 0 orthogonal, known in between', () => {
  const rand = mulberry32(11);
  const b1 = randn(rand, H);
  const b2 = randn(rand, H);
  const B = fromColumns([b1, b2]);
  // Inside the span (a non-orthogonal combination of the columns).
  const inside = b1.map((x, i) => 2 * x - 0.7 * b2[i]);
  assert.deepEqual(writeAlignment(inside, B, 2).signed, false);
  assert.ok(Math.abs(writeAlignment(inside, B, 2).cosine! - 1) < 1e-6);
  // Orthogonal to both columns: project a random vector out of span(B) by solving the 2×2 normal equations.
  const w = randn(rand, H);
  const g11 = dot(b1, b1), g12 = dot(b1, b2), g22 = dot(b2, b2);
  const r1 = dot(b1, w), r2 = dot(b2, w);
  const det = g11 * g22 - g12 * g12;
  const c1 = (g22 * r1 - g12 * r2) / det;
  const c2 = (g11 * r2 - g12 * r1) / det;
  const perp = w.map((x, i) => x - c1 * b1[i] - c2 * b2[i]);
  assert.ok(writeAlignment(perp, B, 2).cosine! < 1e-6);
  // In between: inside·a + perp·b has fraction |a|‖inside‖ / ‖v‖.
  const ni = Math.sqrt(dot(inside, inside));
  const np = Math.sqrt(dot(perp, perp));
  const v = inside.map((x, i) => (0.6 * x) / ni + (0.8 * perp[i]) / np);
  assert.ok(Math.abs(writeAlignment(v, B, 2).cosine! - 0.6) < 1e-6);
  // Sign-free: −v gives the same fraction.
  assert.ok(Math.abs(writeAlignment(v.map((x) => -x), B, 2).cosine! - 0.6) < 1e-6);
  // A rank-deficient B (second column = 3 × first) spans one direction only.
  const dup = fromColumns([b1, b1.map((x) => 3 * x)]);
  const b1n = Math.sqrt(g11);
  assert.ok(Math.abs(writeAlignment(inside, dup, 2).cosine! - Math.abs(dot(inside, b1)) / (b1n * ni)) < 1e-6);
  assert.throws(() => writeAlignment(v, B, 3), /not 16×3/);
});

test('adapterAlignment: only down_proj / o_proj at layers with a direction, sorted; hidden-size mismatch named', () => {
  const rand = mulberry32(3);
  const vectors = [0, 1, 2].map(() => Float32Array.from(randn(rand, H)));
  const b = Float32Array.from(randn(rand, H));
  const mods = [
    { layer: 2, module: 'down_proj', r: 1, outFeatures: H, B: b },
    { layer: 0, module: 'o_proj', r: 1, outFeatures: H, B: vectors[0].map((x) => -x) },
    { layer: 1, module: 'q_proj', r: 1, outFeatures: H, B: b },
    { layer: 5, module: 'down_proj', r: 1, outFeatures: H, B: b },
    { layer: null, module: 'down_proj', r: 1, outFeatures: H, B: b },
  ];
  const al = adapterAlignment('em', vectors, mods);
  assert.deepEqual(al.map((a) => [a.adapter, a.layer, a.module, a.rank, a.signed]), [['em', 0, 'o_proj', 1, true], ['em', 2, 'down_proj', 1, true]]);
  assert.ok(Math.abs(al[0].cosine! + 1) < 1e-6);
  const nv = Math.sqrt(dot(vectors[2], vectors[2]));
  assert.ok(Math.abs(al[1].cosine! - dot(vectors[2], b) / (nv * Math.sqrt(dot(b, b)))) < 1e-6);
  assert.ok(Math.abs(al[1].directionNorm - nv) < 1e-4);
  assert.equal(al[1].chance, Math.sqrt(1 / H));
  assert.throws(() => adapterAlignment('em', vectors, [{ layer: 1, module: 'down_proj', key: 'model.layers.1.mlp.down_proj', r: 1, outFeatures: 8, B: new Float32Array(8) }]), /model\.layers\.1\.mlp\.down_proj writes 8 values .* has 16/);
});

test('adapterAlignmentFromDir reads a PEFT adapter folder; readAdapterAlignment round-trips and is null for older files', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'align-'));
  try {
    const rand = mulberry32(5);
    const r = 2;
    const cols = [randn(rand, H), randn(rand, H)];
    writeFileSync(path.join(d, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: 4, target_modules: ['down_proj', 'q_proj'] }));
    const I = 12;
    writeSafetensors(path.join(d, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [r, I], data: Float32Array.from(randn(rand, r * I)) },
      'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': { dtype: 'F32', shape: [H, r], data: fromColumns(cols) },
      'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight': { dtype: 'F32', shape: [r, H], data: Float32Array.from(randn(rand, r * H)) },
      'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight': { dtype: 'F32', shape: [H, r], data: Float32Array.from(randn(rand, H * r)) },
    });
    const v1 = Float32Array.from(cols[0].map((x, i) => x + cols[1][i]));
    const vectors = [Float32Array.from(randn(rand, H)), v1];
    const al = adapterAlignmentFromDir('narrow', d, vectors);
    assert.equal(al.length, 1);
    assert.deepEqual([al[0].layer, al[0].module, al[0].rank, al[0].signed], [1, 'down_proj', 2, false]);
    assert.ok(Math.abs(al[0].cosine! - 1) < 1e-5, `v in span(B): ${al[0].cosine}`);
    assert.equal(al[0].chance, Math.sqrt(2 / H));

    const withMeta = path.join(d, 'new.safetensors');
    writeSafetensors(withMeta, { 'layer.0': { dtype: 'F32', shape: [H], data: vectors[0] }, 'layer.1': { dtype: 'F32', shape: [H], data: v1 } }, { format: 'organism-lab-direction', [ADAPTER_ALIGNMENT_KEY]: JSON.stringify(al) });
    assert.deepEqual(readAdapterAlignment(withMeta), al);
    const old = path.join(d, 'old.safetensors');
    writeSafetensors(old, { 'layer.0': { dtype: 'F32', shape: [H], data: vectors[0] } }, { format: 'organism-lab-direction' });
    assert.equal(readAdapterAlignment(old), null);
    const bad = path.join(d, 'bad.safetensors');
    writeSafetensors(bad, { 'layer.0': { dtype: 'F32', shape: [H], data: vectors[0] } }, { [ADAPTER_ALIGNMENT_KEY]: '[{"layer":1}]' });
    assert.throws(() => readAdapterAlignment(bad), /bad\.safetensors: metadata "adapter_alignment" is not a list/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('formatDirection: the alignment table after the AUC table; no section for a variant without an adapter', async () => {
  const { formatDirection } = await import('../../../../src/cli/direction');
  const base = {
    runPath: '/r.run.jsonl', variant: 'em', out: null, judge: 'j', labelSource: 'judge j', layers: [0, 1], norms: [1, 2],
    trainCounts: { misaligned: 3, aligned: 3, alignedAvailable: 5 }, testCounts: { misaligned: 1, aligned: 1 },
    aucTrain: [0.9, 0.8], aucTest: [0.7, null], bestLayer: 0, alignedProjection: [0, 0], misalignedProjection: [1, 1],
    histograms: [], projections: [], seed: 0, testFraction: 0.3,
  };
  const plain = formatDirection(base);
  assert.doesNotMatch(plain, /alignment/);
  const withAl = formatDirection({
    ...base,
    adapterAlignment: [
      { adapter: 'em-r1', layer: 1, module: 'down_proj', rank: 1, cosine: -0.3812, signed: true, directionNorm: 2, chance: 0.0625 },
      { adapter: 'em-r1', layer: 1, module: 'o_proj', rank: 4, cosine: 0.25, signed: false, directionNorm: 2, chance: 0.125 },
      { adapter: 'em-r1', layer: 0, module: 'o_proj', rank: 1, cosine: null, signed: true, directionNorm: 0, chance: 0.0625 },
    ],
  });
  const lines = withAl.split('\n');
  const at = lines.findIndex((l) => l.startsWith("alignment with the adapter's write directions"));
  assert.ok(at > lines.findIndex((l) => l.startsWith('best layer')), 'after the AUC table');
  assert.match(withAl, /em-r1 +1 +down_proj +1 +2\.0000 +cos -0\.381 +0\.063\n/);
  assert.match(withAl, /em-r1 +1 +o_proj +4 +2\.0000 +0\.250 of ‖v‖ in span\(B\) +0\.125\n/);
  assert.match(withAl, /em-r1 +0 +o_proj +1 +0\.0000 +- \(zero vector\) +0\.063\n/);
  assert.match(formatDirection({ ...base, adapterAlignment: [] }), /none: the adapter has no LoRA on down_proj or o_proj/);
});
