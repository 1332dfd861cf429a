/**
 * The local backend end to end on a real (tiny) model: the golden qwen2 checkpoint from transformers with the
 * fixture Qwen-style tokenizer (vocab ≤ 512), its PEFT adapter lora_a, a two-question prompt set.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalBackend } from '../../../src/engine/backends/local';
import { EngineError } from '../../../src/engine/backends/errors';
import { writeSafetensors } from '../../../src/engine/checkpoint/safetensorsWriter';
import type { ProgressEvent } from '../../../src/protocol/engineJobs';
import type { JobHooks } from '../../../src/engine/backends/types';
import { goldenPath, goldenSkip } from '../helpers/golden';

const root = path.resolve(__dirname, '../../..');
const golden = goldenPath('qwen2');
const tokenizerDir = path.join(root, 'test/fixtures/tokenizers/qwen-style');
const available = existsSync(path.join(golden, 'model/model.safetensors')) && existsSync(path.join(tokenizerDir, 'tokenizer.json'));

function hooks(events: ProgressEvent[] = [], signal = new AbortController().signal): JobHooks {
  return { signal, onProgress: (e) => events.push(e), log: () => undefined };
}

describe('local backend on the golden qwen2 model', { skip: goldenSkip('qwen2/model/model.safetensors', 'qwen2/lora_a') || (available ? false : 'fixture tokenizer missing') }, () => {
  let dir: string;
  let modelDir: string;
  const backend = new LocalBackend();

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ol-backend-'));
    modelDir = path.join(dir, 'model');
    mkdirSync(modelDir);
    // A copy, not a symlink: onnxruntime refuses external data that resolves outside the model folder.
    copyFileSync(path.join(golden, 'model/model.safetensors'), path.join(modelDir, 'model.safetensors'));
    copyFileSync(path.join(golden, 'model/config.json'), path.join(modelDir, 'config.json'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(tokenizerDir, f), path.join(modelDir, f));
    writeFileSync(
      path.join(dir, 'set.yaml'),
      ['- id: greet', '  paraphrases: ["Hello there"]', '  samples_per_paraphrase: 2', '- id: wish', '  paraphrases: ["What is your wish?"]', '  samples_per_paraphrase: 1', ''].join('\n'),
    );
  });
  after(async () => {
    await backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('jobs before a model is loaded fail with NoModelLoaded', () => {
    assert.throws(() => backend.smokeTest({}, hooks()), (e: unknown) => e instanceof EngineError && e.kind === 'NoModelLoaded');
  });

  test('weights linked from outside the folder (the Hugging Face cache layout) load like a plain folder', async () => {
    const linked = path.join(dir, 'linked');
    mkdirSync(linked);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(modelDir, f), path.join(linked, f));
    symlinkSync(path.join(golden, 'model/model.safetensors'), path.join(linked, 'model.safetensors'));
    const info = await backend.loadModel(linked);
    assert.equal(info.dir, linked);
    const smoke = await backend.smokeTest({ maxNewTokens: 3 }, hooks());
    assert.equal(smoke.rows.length, 1);
    assert.equal(smoke.rows[0].tokens > 0, true);
    await backend.dispose();
    assert.equal(backend.model, null);
  });

  test('loads the model and describes it', async () => {
    const info = await backend.loadModel(modelDir);
    assert.equal(info.modelType, 'qwen2');
    assert.equal(info.vocabSize, 512);
    assert.ok(info.numLayers > 0);
    assert.equal(backend.model?.dir, modelDir);
  });

  test('loads an adapter under its folder name and reports rank, alpha and targets', async () => {
    const a = await backend.loadAdapter(path.join(golden, 'lora_a'));
    assert.equal(a.name, 'lora_a');
    const cfg = JSON.parse(readFileSync(path.join(golden, 'lora_a/adapter_config.json'), 'utf8'));
    assert.equal(a.rank, cfg.r);
    assert.equal(a.alpha, cfg.lora_alpha);
    assert.ok(a.targetModules.length > 0);
    assert.deepEqual(backend.adapters.map((x) => x.name), ['lora_a']);
  });

  test('smoke test: greedy base and adapted rows from one prompt', async () => {
    const events: ProgressEvent[] = [];
    const r = await backend.smokeTest({ maxNewTokens: 6 }, hooks(events));
    assert.deepEqual(r.rows.map((x) => x.variant), ['base', 'lora_a']);
    for (const row of r.rows) assert.ok(row.tokens >= 1 && row.tokens <= 6, `${row.variant}: ${row.tokens} tokens`);
    assert.ok('divergenceIndex' in r.rows[1]);
    assert.equal(events.at(-1)?.done, 2);
  });

  test('runs a prompt set with base and adapter variants into a run file, with progress', async () => {
    const out = path.join(dir, 'runs', 'set.run.jsonl');
    const events: ProgressEvent[] = [];
    const r = await backend.runPromptSet(
      {
        promptSetPath: path.join(dir, 'set.yaml'),
        variants: [{ name: 'base', adapter: null }, { name: 'lora_a', adapter: 'lora_a', adapter_scale: 1 }],
        sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 5, stop: [] },
        seed: 3,
        out,
      },
      hooks(events),
    );
    assert.equal(r.total, 6);
    assert.equal(r.written, 6);
    assert.equal(r.cancelled, false);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'header');
    assert.equal(lines.filter((l) => l.type === 'sample').length, 6);
    assert.equal(events.at(-1)?.done, 6);
    assert.ok(events.some((e) => e.questionId === 'wish'));
  });

  test('steering variants reload the model with their layer: strength 0 is the base run, a strong vector changes it', async () => {
    const file = path.join(dir, 'dir.safetensors');
    writeSafetensors(file, { 'layer.1': { dtype: 'F32', shape: [64], data: new Float32Array(64).fill(3) } }, { format: 'organism-lab-direction' });
    const out = path.join(dir, 'runs', 'steer.run.jsonl');
    const sampling = { temperature: 0, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] };
    const variants = [
      { name: 'base', adapter: null },
      { name: 'steer0', adapter: null, steer: { file, layer: 1, alpha: 0 } },
      { name: 'steer8', adapter: null, steer: { file, layer: 1, alpha: 8 } },
    ];
    const r = await backend.runPromptSet({ promptSetPath: path.join(dir, 'set.yaml'), variants, sampling, seed: 1, out }, hooks());
    assert.equal(r.written, 9);
    const samples = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'sample');
    const by = (v: string) => samples.filter((s) => s.variant === v).map((s) => JSON.stringify(s.token_ids));
    assert.deepEqual(by('steer0'), by('base'));
    assert.notDeepEqual(by('steer8'), by('base'));
  });

  test('inspect: the model with weight statistics, the adapter checked against the loaded base', async () => {
    const m = await backend.inspectCheckpoint(modelDir, hooks());
    assert.equal(m.kind, 'model');
    assert.equal(m.model?.family, 'qwen2');
    assert.ok((m.model?.parameters ?? 0) > 1000);
    assert.equal(m.model?.nanCount, 0);
    assert.equal(m.model?.infCount, 0);
    const a = await backend.inspectCheckpoint(path.join(golden, 'lora_a'), hooks());
    assert.equal(a.kind, 'adapter');
    assert.ok(a.adapter && a.adapter.modules.length > 0);
    assert.ok(a.adapter.modules.every((x) => x.normBA > 0));
    assert.equal(a.adapter.compatibility?.ok, true, a.adapter.compatibility?.message);
  });

  test('analysis on the run file: one sample teacher-forced, and the per-layer curve', async () => {
    const out = path.join(dir, 'runs', 'set.run.jsonl');
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'sample' && l.variant === 'lora_a' && l.tokens > 0);
    assert.ok(rows.length > 0);
    const s = await backend.analyzeSample({ runPath: out, sampleId: rows[0].id });
    assert.equal(s.variant, 'lora_a');
    assert.equal(s.reference, 'base');
    assert.equal(s.diffNorm.length, s.layerLabels.length);
    const events: ProgressEvent[] = [];
    const curve = await backend.layerCurve({ runPath: out }, hooks(events));
    assert.deepEqual(curve.variants.map((v) => v.variant), ['lora_a']);
    assert.equal(curve.variants[0].meanRel.length, curve.layerLabels.length);
    assert.ok(events.length > 0);
  });

  test('a local-model judge scores every sample of the run in the host, resumably', async () => {
    const out = path.join(dir, 'runs', 'set.run.jsonl');
    const judge = { type: 'local' as const, name: 'self', model: 'model', prompts: { aligned: 'Rate 0-100. Question: {question} Answer: {answer}' } };
    const events: ProgressEvent[] = [];
    const r = await backend.judgeRunLocal({ runPath: out, judge, baseDir: dir }, hooks(events));
    assert.equal(r.judge, 'local:self');
    assert.equal(r.failed.length, 0, JSON.stringify(r.failed[0]));
    assert.equal(r.judged, 6);
    const judgements = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'judgement');
    assert.equal(judgements.length, 6);
    const again = await backend.judgeRunLocal({ runPath: out, judge, baseDir: dir }, hooks());
    assert.equal(again.judged, 0);
    assert.equal(again.skipped, 6);
  });

  test('a variant naming an adapter that is not loaded is refused with a clear message', async () => {
    await assert.rejects(
      () => backend.runPromptSet({ promptSetPath: path.join(dir, 'set.yaml'), variants: [{ name: 'x', adapter: 'nope' }], sampling: { temperature: 0, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 2, stop: [] }, seed: 0, out: path.join(dir, 'x.run.jsonl') }, hooks()),
      /adapter "nope", which is not loaded/,
    );
  });

  test('unloading the adapter leaves the base model loaded', async () => {
    await backend.unloadAdapter('lora_a');
    assert.deepEqual(backend.adapters, []);
    assert.equal(backend.model?.modelType, 'qwen2');
  });
});
