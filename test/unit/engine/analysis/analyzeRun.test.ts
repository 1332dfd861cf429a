// The analyze job over a real run file (golden qwen2 + lora_a on layer 1, fixture tokenizer): sample activations,
// the streamed run-level curve (scale-0 variant exactly 0; layer-1 LoRA: 0 before, > 0 from layer 1 on), and a
// direction from judge-labelled samples written to .safetensors and usable as a steering variant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants, variantLayers } from '../../../../src/engine/jobs/variants';
import { analyzeSample, loadRunModel, runDirection, runLayerCurve, sampleSequence } from '../../../../src/engine/jobs/analyzeRun';
import { meanResponseActivations } from '../../../../src/engine/analysis/activationMeans';
import { inspectDirectionFile, readAdapterAlignment, readDirection } from '../../../../src/engine/analysis/directionFile';
import { SafetensorsFile } from '../../../../src/engine/checkpoint/safetensors';
import { readRun } from '../../../../src/engine/runs/reader';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const GOLD = path.join(GOLDEN, 'qwen2');
const TOK = path.join(__dirname, '../../../fixtures/tokenizers/qwen-style');
const skip = goldenSkip('qwen2/model/config.json');

test('analyze job on a golden run', { skip }, async (t) => {
  const d = mkdtempSync(path.join(tmpdir(), 'analyze-'));
  const runPath = path.join(d, 'r.run.jsonl');
  try {
    const gen = await loadLocalJobModel(path.join(GOLD, 'model'), [{ name: 'lora_a', dir: path.join(GOLD, 'lora_a') }], { tokenizerDir: TOK, threads: 1 });
    try {
      await runPromptSet(gen, {
        promptSetPath: path.join(__dirname, '../../../fixtures/prompts/em-style.yaml'),
        variants: parseVariants('base,lora_a,lora_a@0', ['lora_a']), samples: 4, seed: 2, out: runPath, batchSize: 12,
        sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 6, stop: [] },
      });
    } finally {
      await gen.dispose();
    }
    // A stand-in judge: labels by a property of the completion (deterministic), written as judgement rows.
    let run = readRun(runPath);
    for (const s of run.samples.filter((x) => x.variant === 'lora_a')) {
      const mis = (s.token_ids![0] ?? 0) % 2 === 0;
      for (const [metric, score] of [['aligned', mis ? 10 : 90], ['coherent', 80]] as const) {
        appendFileSync(runPath, JSON.stringify({ type: 'judgement', sample_id: s.id, judge: 'rule:test', metric, score, created_at: new Date().toISOString() }) + '\n');
      }
    }
    run = readRun(runPath);
    const model = await loadRunModel(run, { tokenizerDir: TOK, threads: 1 });
    try {
      await t.test('sample activations: base sample compared with the first other variant', async () => {
        const s = run.samples.find((x) => x.variant === 'base')!;
        const a = await analyzeSample(model, run, runPath, s.id);
        assert.equal(a.reference, 'base');
        assert.equal(a.variant, 'lora_a');
        assert.equal(a.layerLabels.length, 4);
        assert.equal(a.tokens.length, a.diffNorm[0].length);
        assert.deepEqual(a.tokens.slice(a.responseStart).map((x) => x.id), s.token_ids);
        assert.ok(a.diffNorm[1].every((x) => x === 0) && a.diffNorm[2].every((x) => x > 0));
        assert.equal(typeof a.tokens[0].text, 'string');
      });
      await t.test('run-level curve: scale 0 exactly zero, layer-1 LoRA zero before layer 1', async () => {
        const c = await runLayerCurve(model, run, runPath, { batchSize: 5 });
        const zero = c.variants.find((v) => v.variant === 'lora_a@0')!;
        const one = c.variants.find((v) => v.variant === 'lora_a')!;
        assert.equal(zero.samples, 24);
        assert.ok(zero.meanRel.every((x) => x === 0));
        assert.equal(zero.meanKl, 0);
        assert.deepEqual(one.meanRel.slice(0, 2), [0, 0]);
        assert.ok(one.meanRel[2] > 0 && one.meanRel[3] > 0 && one.meanKl! > 0);
        // A logits budget that allows one pair per batch gives the same curve (up to padding rounding).
        let calls = 0;
        const single = await runLayerCurve(model, run, runPath, { batchSize: 5, logitsBudgetBytes: 1, onProgress: () => calls++ });
        assert.equal(calls, 48, 'one pair per batch');
        const oneS = single.variants.find((v) => v.variant === 'lora_a')!;
        oneS.meanRel.forEach((x, l) => assert.ok(Math.abs(x - one.meanRel[l]) <= 1e-5 * Math.max(1, one.meanRel[l])));
        assert.ok(single.variants.find((v) => v.variant === 'lora_a@0')!.meanRel.every((x) => x === 0));
      });
      await t.test('direction from judge labels: file, metadata, vector = mean difference; usable as steering variant', async () => {
        const out = path.join(d, 'dir.safetensors');
        const r = await runDirection(model, run, runPath, { out, seed: 3, testFraction: 0.25 });
        assert.equal(r.variant, 'lora_a');
        assert.equal(r.judge, 'rule:test');
        assert.deepEqual(inspectDirectionFile(out).layers, [0, 1, 2]);
        assert.equal(inspectDirectionFile(out).metadata.format, 'organism-lab-direction');
        assert.equal(r.trainCounts.aligned, Math.min(r.trainCounts.misaligned, r.trainCounts.alignedAvailable));
        // Recompute the layer-1 direction from the train samples the report used.
        const used = r.projections.filter((p) => p.split === 'train');
        const byId = new Map(run.samples.map((s) => [s.id, s]));
        const means = await meanResponseActivations(model.runner, used.map((p) => ({ ...sampleSequence(model.tokenizer, byId.get(p.id)!), variant: { adapter: 'lora_a', adapterScale: 1 } })));
        const v = readDirection(out, 1);
        for (let i = 0; i < v.length; i += 7) {
          const m = (lab: string) => used.map((p, k) => (p.label === lab ? means[k][1][i] : 0)).reduce((a, b) => a + b, 0) / used.filter((p) => p.label === lab).length;
          assert.ok(Math.abs(v[i] - (m('misaligned') - m('aligned'))) < 1e-4);
        }
        // lora_a is a rank-1 LoRA on layer 1's down_proj: the report holds cos(v_1, B[:,0]), recomputed here
        // from the adapter file, and the file's metadata holds the same.
        const B = SafetensorsFile.open(path.join(GOLD, 'lora_a/adapter_model.safetensors')).readFloat32('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
        let vb = 0, vv = 0, bb = 0;
        for (let i = 0; i < v.length; i++) {
          vb += v[i] * B[i];
          vv += v[i] * v[i];
          bb += B[i] * B[i];
        }
        assert.equal(r.adapterAlignment?.length, 1);
        const al = r.adapterAlignment![0];
        assert.deepEqual([al.adapter, al.layer, al.module, al.rank, al.signed], ['lora_a', 1, 'down_proj', 1, true]);
        assert.ok(Math.abs(al.cosine! - vb / Math.sqrt(vv * bb)) < 1e-5, `cosine ${al.cosine} vs ${vb / Math.sqrt(vv * bb)}`);
        assert.ok(Math.abs(al.directionNorm - r.norms[1]) < 1e-4);
        assert.deepEqual(readAdapterAlignment(out), r.adapterAlignment);
        const variants = parseVariants(`base,steer:${out}@1*2`, ['lora_a']);
        assert.deepEqual(variantLayers(variants).steerLayers, [1]);
      });
    } finally {
      await model.dispose();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a run generated by a remote server is refused for activation analysis, naming the server', async () => {
  const header = {
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0' }, created_at: '', seed: 0,
    model: { path: '/nowhere', hash: 'openai:http://127.0.0.1:8000/v1#base' }, adapters: [], prompt_set: { path: 'p.yaml', hash: '' },
    variants: [{ name: 'base' }], sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] },
    backend: { kind: 'openai', base_url: 'http://127.0.0.1:8000/v1', model: 'base' },
  } as const;
  const run = { header, samples: [], judgements: [], labels: [], warnings: [] } as unknown as Parameters<typeof loadRunModel>[0];
  await assert.rejects(loadRunModel(run), /remote server \(http:\/\/127\.0\.0\.1:8000\/v1, model base\).*local backend/);
});
