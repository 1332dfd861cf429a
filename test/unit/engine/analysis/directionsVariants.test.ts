// Directions (AUC, subsampling, held-out split, labels) and steering/ablation variants from direction files
// (ours: one tensor per layer; published: one vector with layer_idx/alpha) end to end through the run job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { auc, computeDirections, deriveLabels, splitHeldOut, type DirectionLabel } from '../../../../src/engine/analysis/directions';
import { inspectDirectionFile, readDirection } from '../../../../src/engine/analysis/directionFile';
import { parseVariants, rowVariant, variantLayers } from '../../../../src/engine/jobs/variants';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { readRun } from '../../../../src/engine/runs/reader';
import type { JudgementRow, LabelRow, SampleRow } from '../../../../src/engine/runs/schema';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const FIXTURE_TOKENIZER = path.join(__dirname, '../../../fixtures/tokenizers/qwen-style');

test('AUC (Mann–Whitney with ties) against a brute-force pair count', () => {
  const pos = [3, 1, 4, 1, 5, 9, 2, 6];
  const neg = [2, 7, 1, 8, 2, 8, 1];
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  assert.ok(Math.abs(auc(pos, neg) - s / (pos.length * neg.length)) < 1e-12);
  assert.equal(auc([2, 3], [0, 1]), 1);
  assert.equal(auc([0], [1]), 0);
  assert.ok(Number.isNaN(auc([], [1])));
});

test('directions: misaligned minus aligned mean with the aligned set subsampled (seeded); held-out AUC', () => {
  const H = 6;
  const acts = [];
  const labels = new Map<string, DirectionLabel>();
  // Layer 1 separates along axis 0; layer 0 is noise.
  for (let i = 0; i < 60; i++) {
    const lab: DirectionLabel = i < 15 ? 'misaligned' : 'aligned';
    const noise = (k: number) => Math.sin(i * 12.9898 + k * 78.233) * 0.5;
    acts.push({ id: `s${i}`, means: [Float32Array.from({ length: H }, (_, k) => noise(k)), Float32Array.from({ length: H }, (_, k) => (k === 0 ? (lab === 'misaligned' ? 2 : -2) : 0) + noise(k + 9))] });
    labels.set(`s${i}`, lab);
  }
  const { train, test: held } = splitHeldOut(labels, 0.3, 1);
  assert.equal([...held.values()].filter((l) => l === 'misaligned').length, 4);
  assert.equal([...held.values()].filter((l) => l === 'aligned').length, 13);
  const r = computeDirections(acts, train, held, 5);
  assert.equal(r.trainCounts.misaligned, 11);
  assert.equal(r.trainCounts.aligned, 11, 'aligned subsampled to the misaligned count');
  assert.equal(r.trainCounts.alignedAvailable, 32);
  // The direction equals the mean difference of exactly the used samples.
  const used = r.projections.filter((p) => p.split === 'train');
  const byId = new Map(acts.map((a) => [a.id, a]));
  for (let k = 0; k < H; k++) {
    const m = (lab: DirectionLabel) => used.filter((p) => p.label === lab).reduce((s, p) => s + byId.get(p.id)!.means[1][k], 0) / 11;
    assert.ok(Math.abs(r.vectors[1][k] - (m('misaligned') - m('aligned'))) < 1e-5);
  }
  assert.equal(r.aucTest[1], 1, 'layer 1 separates held-out samples');
  assert.ok(r.aucTest[0] < 0.95);
  assert.equal(r.histograms[1].counts.misaligned.reduce((a, b) => a + b, 0), 15);
  // Same seed → same subsample; another seed → (almost surely) another one.
  assert.deepEqual(computeDirections(acts, train, held, 5).vectors[0], r.vectors[0]);
});

test('labels from judge scores with the default rule; human labels override', () => {
  const s = (id: string) => ({ type: 'sample', id, variant: 'adapter' }) as unknown as SampleRow;
  const j = (id: string, metric: string, score: number | null) => ({ type: 'judgement', sample_id: id, judge: 'rule:demo', metric, score, created_at: '' }) as JudgementRow;
  const samples = ['a', 'b', 'c', 'd', 'e'].map(s);
  const judgements = [j('a', 'aligned', 10), j('a', 'coherent', 80), j('b', 'aligned', 90), j('b', 'coherent', 80), j('c', 'aligned', 50), j('c', 'coherent', 80), j('d', 'aligned', 10), j('d', 'coherent', 40), j('e', 'aligned', 95), j('e', 'coherent', 90)];
  const human = [{ type: 'label', sample_id: 'e', label: 'misaligned', created_at: '' } as LabelRow];
  const both = deriveLabels(samples, judgements, human);
  assert.equal(both.judge, 'rule:demo');
  assert.deepEqual([...both.labels].sort(), [['a', 'misaligned'], ['b', 'aligned'], ['e', 'misaligned']]);
  assert.deepEqual([...deriveLabels(samples, judgements, human, { source: 'judge' }).labels].sort(), [['a', 'misaligned'], ['b', 'aligned'], ['e', 'aligned']]);
  assert.deepEqual([...deriveLabels(samples, judgements, human, { source: 'human' }).labels], [['e', 'misaligned']]);
});

test('direction files: ours (per layer) and published (one vector + layer_idx/alpha in metadata or tensors); variant syntax', () => {
  const d = mkdtempSync(path.join(tmpdir(), 'dirs-'));
  try {
    const H = 64;
    const v = (c: number) => Float32Array.from({ length: H }, (_, i) => Math.cos(i * c));
    const ours = path.join(d, 'ours.safetensors');
    writeSafetensors(ours, { 'layer.0': { dtype: 'F32', shape: [H], data: v(1) }, 'layer.1': { dtype: 'F32', shape: [H], data: v(2) } }, { format: 'organism-lab-direction' });
    const pubMeta = path.join(d, 'pub.safetensors');
    writeSafetensors(pubMeta, { steering_vector: { dtype: 'F32', shape: [1, H], data: v(3) } }, { layer_idx: '1', alpha: '4' });
    const pubTensors = path.join(d, 'pub2.safetensors');
    writeSafetensors(pubTensors, { vector: { dtype: 'F32', shape: [H], data: v(4) }, layer_idx: { dtype: 'I64', shape: [], data: new BigInt64Array([0n]) }, alpha: { dtype: 'F32', shape: [], data: new Float32Array([2.5]) } });
    assert.deepEqual(inspectDirectionFile(ours).layers, [0, 1]);
    assert.deepEqual(inspectDirectionFile(pubMeta), { ...inspectDirectionFile(pubMeta), kind: 'single', layers: [1], alpha: 4 });
    assert.deepEqual([inspectDirectionFile(pubTensors).layers, inspectDirectionFile(pubTensors).alpha], [[0], 2.5]);
    assert.deepEqual(readDirection(ours, 1), v(2));
    assert.throws(() => readDirection(ours, 2), /no direction for layer 2/);
    assert.throws(() => readDirection(ours, 0, 32), /64 values but the model's hidden size is 32/);

    const specs = parseVariants(`base,adapter,steer:${ours}@1*3,steer:${pubMeta},steer:${pubTensors}*-1,adapter+ablate:${ours}@0,1,ablate:${pubMeta}`, ['lora_a']);
    assert.deepEqual(specs.map((s) => [s.adapter ?? null, s.steer ?? null, s.ablate ?? null]), [
      [null, null, null],
      ['lora_a', null, null],
      [null, { file: ours, layer: 1, alpha: 3 }, null],
      [null, { file: pubMeta, layer: 1, alpha: 4 }, null],
      [null, { file: pubTensors, layer: 0, alpha: -1 }, null],
      ['lora_a', null, { file: ours, layers: [0, 1] }],
      [null, null, { file: pubMeta, layers: [1] }],
    ]);
    assert.deepEqual(variantLayers(specs), { steerLayers: [0, 1], ablateLayers: [0, 1] });
    const row = rowVariant(specs[5], ['lora_a'], H);
    assert.deepEqual([row.adapter, row.adapterScale, row.ablate?.layers, row.ablate?.vector], ['lora_a', 1, [0, 1], v(1)]);
    assert.equal(rowVariant(specs[2], ['lora_a'], H).steer?.strength, 3);
    const named = parseVariants(`base,plus3=steer:${ours}@1*3,noab=lora_a@0.5+ablate:${ours}@1,0`, ['lora_a']);
    assert.deepEqual(named[2].ablate?.layers, [1, 0]);
    assert.deepEqual(parseVariants(`ab=ablate:${ours}@0,1,base`, [])[0].ablate?.layers, [0, 1]);
    assert.deepEqual(named.map((v) => [v.name, v.adapter ?? null, v.adapter_scale ?? null]), [['base', null, null], ['plus3', null, null], ['noab', 'lora_a', 0.5]]);
    assert.throws(() => parseVariants('x=lora_a', ['lora_a']), /LABEL= name is for steering\/ablation variants/);
    assert.throws(() => parseVariants(`steer:${ours}*2`, []), /has directions for layers 0, 1; say which/);
    assert.throws(() => parseVariants(`steer:${ours}@5*2`, []), /no direction for layer 5/);
    assert.throws(() => parseVariants(`ablate:${ours}`, []), /say at which layers/);
    assert.throws(() => parseVariants(`m=lora_a+meanablate:${ours}@1,0`, ['lora_a']), /meanablate takes one layer .*use ablate:FILE@L1,L2/);
    assert.throws(() => parseVariants(`steer:${path.join(d, 'missing.safetensors')}@1`, []), /missing\.safetensors: cannot open/);
    assert.throws(() => rowVariant(specs[2], [], 32), /variant "steer:.*": .*hidden size is 32/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('steering and ablation variants run end to end in the prompt-set job (golden qwen2)', { skip: goldenSkip('qwen2') }, async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'steerjob-'));
  try {
    const H = 64;
    const file = path.join(d, 'dir.safetensors');
    writeSafetensors(file, { 'layer.0': { dtype: 'F32', shape: [H], data: Float32Array.from({ length: H }, (_, i) => Math.sin(i)) }, 'layer.1': { dtype: 'F32', shape: [H], data: Float32Array.from({ length: H }, (_, i) => Math.cos(i)) } });
    const variants = parseVariants(`base,steer:${file}@1*0,steer:${file}@1*8,lora_a+ablate:${file}@0,1`, ['lora_a']);
    const model = await loadLocalJobModel(path.join(GOLDEN, 'qwen2/model'), [{ name: 'lora_a', dir: path.join(GOLDEN, 'qwen2/lora_a') }], { tokenizerDir: FIXTURE_TOKENIZER, threads: 1, ...variantLayers(variants) });
    try {
      const out = path.join(d, 'r.run.jsonl');
      await runPromptSet(model, {
        promptSetPath: path.join(__dirname, '../../../fixtures/prompts/em-style.yaml'),
        variants, samples: 2, seed: 1, out, batchSize: 8,
        sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] },
      });
      const run = readRun(out);
      const by = (n: string) => run.samples.filter((s) => s.variant === n);
      assert.equal(run.header.variants[2].steer?.alpha, 8);
      assert.ok(by(variants[1].name).every((s) => s.divergence_index === null), 'strength 0 is the base model');
      assert.ok(by(variants[2].name).some((s) => typeof s.divergence_index === 'number'), 'steering changes completions');
      assert.equal(by(variants[3].name).length, by('base').length);
    } finally {
      await model.dispose();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a steering variant on a model loaded without that layer is refused up front with the fix', { skip: goldenSkip('qwen2') }, async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'steerno-'));
  try {
    const file = path.join(d, 'dir.safetensors');
    writeSafetensors(file, { 'layer.1': { dtype: 'F32', shape: [64], data: new Float32Array(64).fill(0.1) } });
    const model = await loadLocalJobModel(path.join(GOLDEN, 'qwen2/model'), [], { tokenizerDir: FIXTURE_TOKENIZER, threads: 1 });
    try {
      await assert.rejects(
        runPromptSet(model, { promptSetPath: path.join(__dirname, '../../../fixtures/prompts/em-style.yaml'), variants: parseVariants(`base,steer:${file}@1*2`, []), samples: 1, seed: 1, out: path.join(d, 'r.run.jsonl'), sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] } }),
        /steers layer 1, but the model was loaded with steering layers \[\]/,
      );
    } finally {
      await model.dispose();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('meanablate: the layer-L output projection on the direction is set to the aligned mean level (golden qwen2)', { skip: goldenSkip('qwen2') }, async () => {
  const { ModelRunner } = await import('../../../../src/engine/runtime/modelRunner');
  const d = mkdtempSync(path.join(tmpdir(), 'meanab-'));
  try {
    const H = 64;
    const v = Float32Array.from({ length: H }, (_, i) => Math.sin(i * 0.7) * 0.3);
    const norm = Math.hypot(...v);
    const file = path.join(d, 'dir.safetensors');
    writeSafetensors(file, { 'layer.1': { dtype: 'F32', shape: [H], data: v } }, { format: 'organism-lab-direction', norms: JSON.stringify([0, norm]), aligned_projection: JSON.stringify([0, -1.25]) });
    const [spec] = parseVariants(`m=lora_a+meanablate:${file}@1`, ['lora_a']).slice(0, 1);
    assert.deepEqual(spec.ablate, { file, layers: [1] });
    assert.ok(Math.abs(spec.steer!.alpha - -1.25 / norm) < 1e-12);
    const runner = await ModelRunner.load(path.join(GOLDEN, 'qwen2/model'), { threads: 1, adapters: [{ name: 'lora_a', dir: path.join(GOLDEN, 'qwen2/lora_a') }], ...variantLayers([spec]) });
    try {
      const seq = [5, 17, 300, 42, 7, 99];
      const out = await runner.forward({ inputIds: [seq], attentionMask: [seq.map(() => 1)], rows: [rowVariant(spec, ['lora_a'], H)], outputHiddenStates: true });
      const h = out.hiddenStates![2]; // output of layer 1
      for (let t = 0; t < seq.length; t++) {
        let p = 0;
        for (let i = 0; i < H; i++) p += h[t * H + i] * (v[i] / norm);
        assert.ok(Math.abs(p - -1.25) < 1e-4, `token ${t}: projection ${p}`);
      }
    } finally {
      await runner.dispose();
    }
    const plain = path.join(d, 'plain.safetensors');
    writeSafetensors(plain, { 'layer.1': { dtype: 'F32', shape: [H], data: v } });
    assert.throws(() => parseVariants(`meanablate:${plain}@1`, []), /mean-ablation needs a direction file written by "organism-lab direction"/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
