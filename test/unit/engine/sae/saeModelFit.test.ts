// An SAE that does not fit the model (its hook layer beyond the model's layers, a d_in other than the hidden
// size, a hook_layer that contradicts the hook name) is refused with a message naming cfg.json, the field, the
// model's value and what to do, at every entry point, before any model is loaded or rebuilt: the SAE folder
// itself, steer-sae:/ablate-sae: variants (checkVariantsFitModel), the CLI's `run` and `sae-diff`, the engine
// host's Run Prompt Set (LocalBackend) and the Activations panel's SAE features (AnalysisService.sae), and the
// analyses of a run whose header holds such a variant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { checkVariantsFitModel, parseVariants } from '../../../../src/engine/jobs/variants';
import { openSaeFolder } from '../../../../src/engine/sae/saeFolder';
import { LocalBackend } from '../../../../src/engine/backends/local';
import { AnalysisService } from '../../../../src/engine/backends/analysis';
import { EngineError } from '../../../../src/engine/backends/errors';
import type { JobHooks, ModelHandle, ModelLoader } from '../../../../src/engine/backends/types';
import type { VariantSpec } from '../../../../src/engine/runs/schema';
import { runCliCapturingStderr } from '../../helpers/cli';

const ROOT = path.resolve(__dirname, '../../../..');
const BASE = path.join(ROOT, 'examples/organisms/demo-base'); // hidden_size 256, 4 decoder layers
const PROMPTS = path.join(ROOT, 'examples/prompts/demo.yaml');

/** A standard SAE of d_in H, 4 features, at `hook`; `extra` goes into cfg.json's metadata. */
function writeSae(dir: string, H: number, hook: string, extra: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  const F = 4;
  writeSafetensors(path.join(dir, 'sae_weights.safetensors'), {
    W_enc: { dtype: 'F32', shape: [H, F], data: new Float32Array(H * F) },
    W_dec: { dtype: 'F32', shape: [F, H], data: Float32Array.from({ length: F * H }, (_, j) => 1 + (j % 7)) },
    b_enc: { dtype: 'F32', shape: [F], data: new Float32Array(F) },
    b_dec: { dtype: 'F32', shape: [H], data: new Float32Array(H) },
  });
  writeFileSync(path.join(dir, 'cfg.json'), JSON.stringify({ architecture: 'standard', d_in: H, d_sae: F, metadata: { hook_name: hook, ...extra } }));
  return dir;
}

const hooks = (): JobHooks => ({ signal: new AbortController().signal, onProgress: () => undefined, log: () => undefined });

function withDir(fn: (d: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'ol-sae-fit-'));
    try {
      await fn(d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };
}

/** A run file (header only) of the demo base with these variants. */
function writeRun(file: string, variants: VariantSpec[]): string {
  const header = {
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0' }, created_at: '2026-12-06T00:00:00.000Z',
    model: { path: BASE, hash: 'sha256:test' }, adapters: [], prompt_set: { path: PROMPTS, hash: 'sha256:test' }, variants,
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1, backend: { kind: 'local', execution_provider: 'cpu' },
  };
  writeFileSync(file, `${JSON.stringify(header)}\n`);
  return file;
}

test('the SAE folder against a model: hook layer, d_in, hook_layer and hook point, each named with what to do', withDir((d) => {
  const model = { hiddenSize: 8, numLayers: 24, dir: '/models/m24' };
  const deep = writeSae(path.join(d, 'deep'), 8, 'blocks.30.hook_resid_post');
  const cfg = path.join(deep, 'cfg.json');
  assert.throws(() => openSaeFolder(deep, model), (e: Error) => e.message.startsWith(`${cfg}: hook layer 30 (metadata.hook_name "blocks.30.hook_resid_post") is beyond the model (/models/m24): it has 24 decoder layers (blocks 0..23`) && /Pick an SAE trained on one of layers 0\.\.23 of this model, or load the model this SAE was trained on/.test(e.message));
  assert.equal(openSaeFolder(deep).hiddenStateIndex, 31, 'without a model the folder alone is fine');
  // blocks.24 does not exist in a 24-layer model, even as hook_resid_pre (which reads hidden_states[24]).
  const pre = writeSae(path.join(d, 'pre24'), 8, 'blocks.24.hook_resid_pre');
  assert.throws(() => openSaeFolder(pre, model), /hook layer 24 .* it has 24 decoder layers/);
  assert.equal(openSaeFolder(writeSae(path.join(d, 'last'), 8, 'blocks.23.hook_resid_post'), model).hiddenStateIndex, 24);

  const wide = writeSae(path.join(d, 'wide'), 16, 'blocks.3.hook_resid_post');
  assert.throws(() => openSaeFolder(wide, model), (e: Error) => e.message === `${path.join(wide, 'cfg.json')}: d_in is 16 but the model (/models/m24) has hidden size 8 (hidden_size in its config.json): this SAE was trained on another model's residual stream. Pick an SAE with d_in 8 trained on this model, or load the model this SAE was trained on.`);

  const contradicts = writeSae(path.join(d, 'contra'), 8, 'blocks.3.hook_resid_post', { hook_layer: 30 });
  assert.throws(() => openSaeFolder(contradicts), /cfg\.json: metadata\.hook_layer is 30 but metadata\.hook_name "blocks\.3\.hook_resid_post" names layer 3: the file contradicts itself/);
  assert.equal(openSaeFolder(writeSae(path.join(d, 'agrees'), 8, 'blocks.3.hook_resid_post', { hook_layer: 3 })).hookName, 'blocks.3.hook_resid_post');
  const badLayer = writeSae(path.join(d, 'badlayer'), 8, 'blocks.3.hook_resid_post', { hook_layer: 'three' });
  assert.throws(() => openSaeFolder(badLayer), /"metadata\.hook_layer" must be a layer index/);

  // An older cfg.json names its hook `hook_point`: the message names that field.
  const old = path.join(d, 'old');
  writeSae(old, 8, 'x');
  writeFileSync(path.join(old, 'cfg.json'), JSON.stringify({ d_in: 8, d_sae: 4, hook_point: 'blocks.3.attn.hook_z', hook_point_layer: 3 }));
  assert.throws(() => openSaeFolder(old, model), /cfg\.json: hook_point "blocks\.3\.attn\.hook_z" is not a residual-stream hook point/);
}));

test('steer-sae / ablate-sae variants and direction layers against the model (checkVariantsFitModel)', withDir((d) => {
  const deep = writeSae(path.join(d, 'deep'), 8, 'blocks.30.hook_resid_post');
  const ok = writeSae(path.join(d, 'ok'), 8, 'blocks.2.hook_resid_post');
  // Parsing knows no model: the variants parse, the model check refuses them.
  const [steer, ablate, fine] = parseVariants(`steer-sae:${deep}#1*2,adapter+ablate-sae:${deep}#0,steer-sae:${ok}#1*2`, ['lora']);
  const model = { hiddenSize: 8, numLayers: 24 };
  assert.throws(() => checkVariantsFitModel([fine, steer], model), (e: Error) => e.message.startsWith(`variant "${steer.name}": ${path.join(deep, 'cfg.json')}: hook layer 30`));
  assert.throws(() => checkVariantsFitModel([ablate], model), (e: Error) => e.message.startsWith(`variant "lora+ablate-sae:${deep}#0": ${path.join(deep, 'cfg.json')}: hook layer 30`));
  assert.throws(() => checkVariantsFitModel([fine], { hiddenSize: 16, numLayers: 24 }), /variant ".*": .*cfg\.json: d_in is 8 but the model has hidden size 16/);
  checkVariantsFitModel([{ name: 'base', adapter: null }, fine], model);
  // A direction file's layer beyond the model (no SAE): the same check, not the graph builder's bare range.
  const far: VariantSpec = { name: 'far', adapter: null, steer: { file: path.join(d, 'v.safetensors'), layer: 30, alpha: 1 } };
  assert.throws(() => checkVariantsFitModel([far], { ...model, dir: '/m' }), /variant "far": layer 30 is not a decoder layer of the model \(\/m\): it has 24 layers \(0\.\.23\)/);
  assert.throws(() => checkVariantsFitModel([{ name: 'abl', adapter: null, ablate: { file: 'x', layers: [1, 24] } }], model), /variant "abl": layer 24 is not a decoder layer/);
}));

test('CLI run: an SAE beyond the model\'s layers or of another width is a usage error before the model loads', withDir(async (d) => {
  const deep = writeSae(path.join(d, 'deep'), 256, 'blocks.30.hook_resid_post');
  const wide = writeSae(path.join(d, 'wide'), 128, 'blocks.1.hook_resid_post');
  for (const [variant, re] of [
    [`steer-sae:${deep}#1*2`, /hook layer 30 \(metadata\.hook_name "blocks\.30\.hook_resid_post"\) is beyond the model \(.*demo-base\): it has 4 decoder layers/],
    [`ablate-sae:${wide}#1`, /d_in is 128 but the model \(.*demo-base\) has hidden size 256/],
  ] as const) {
    const out = path.join(d, 'x.run.jsonl');
    const r = await runCliCapturingStderr(['run', PROMPTS, '--model', BASE, '--out', out, '--variants', `base,${variant}`]);
    assert.equal(r.code, 2, r.err);
    assert.ok(r.err.startsWith(`organism-lab run: --variants: variant "${variant}": `), r.err);
    assert.match(r.err, re);
    assert.match(r.err, /Pick an SAE/);
    assert.equal(existsSync(out), false, 'nothing was run');
  }
}));

test('CLI sae-diff and the Activations panel\'s SAE features (AnalysisService.sae) refuse the SAE before loading the model', withDir(async (d) => {
  const run = writeRun(path.join(d, 'r.run.jsonl'), [{ name: 'base', adapter: null }]);
  const deep = writeSae(path.join(d, 'deep'), 256, 'blocks.30.hook_resid_post');
  const wide = writeSae(path.join(d, 'wide'), 128, 'blocks.1.hook_resid_post');
  const r = await runCliCapturingStderr(['sae-diff', run, '--sae', deep]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /^organism-lab sae-diff: .*deep\/cfg\.json: hook layer 30 .* it has 4 decoder layers \(blocks 0\.\.3/);

  let loads = 0;
  const service = new AnalysisService(() => ({ executionProvider: 'cpu', threads: 1, cacheFolder: '' }));
  // Were the model loaded, this would count it: the error must come first.
  (service as unknown as { model: () => Promise<never> }).model = async () => {
    loads++;
    throw new Error('the model was loaded');
  };
  for (const [sae, re] of [[deep, /hook layer 30 .*beyond the model .* 4 decoder layers/], [wide, /d_in is 128 but the model .* has hidden size 256/]] as const) {
    await assert.rejects(service.sae({ runPath: run, saeDir: sae }, hooks()), (e: unknown) => e instanceof EngineError && e.kind === 'InvalidInput' && e.message.startsWith(path.join(sae, 'cfg.json')) && re.test(e.message) && /trained on this model/.test(e.hint ?? ''));
    await assert.rejects(service.sae({ runPath: run, saeDir: sae, feature: 1 }, hooks()), (e: unknown) => e instanceof EngineError && re.test(e.message));
  }
  assert.equal(loads, 0);
}));

test('a run whose header steers along a too-deep SAE feature: its analyses say so instead of failing in the graph', withDir(async (d) => {
  const deep = writeSae(path.join(d, 'deep'), 256, 'blocks.30.hook_resid_post');
  const run = writeRun(path.join(d, 'r.run.jsonl'), [{ name: 'base', adapter: null }, ...parseVariants(`f1=steer-sae:${deep}#1*4`, [])]);
  const service = new AnalysisService(() => ({ executionProvider: 'cpu', threads: 1, cacheFolder: '' }));
  await assert.rejects(service.sample({ runPath: run, sampleId: 'x' }), (e: unknown) => e instanceof EngineError && /Cannot load the run's model .*: variant "f1": .*deep\/cfg\.json: hook layer 30 .* 4 decoder layers/.test(e.message));
}));

test('engine host Run Prompt Set: a steer-sae variant that does not fit the loaded model is refused without a reload', withDir(async (d) => {
  const deep = writeSae(path.join(d, 'deep'), 256, 'blocks.30.hook_resid_post');
  const wide = writeSae(path.join(d, 'wide'), 128, 'blocks.1.hook_resid_post');
  const loads: number[][] = [];
  const handle: ModelHandle = {
    info: { dir: BASE, modelType: 'qwen2', numLayers: 4, hiddenSize: 256, vocabSize: 512, dtype: 'F32', loadMs: 0 },
    adapters: [],
    steerLayers: [],
    ablateLayers: [],
    runPromptSet: async () => assert.fail('the run must not start'),
    smokeTest: async () => assert.fail('not used'),
    dispose: async () => undefined,
  };
  const loader: ModelLoader = async (_dir, _adapters, _settings, layers) => {
    loads.push(layers?.steerLayers ?? []);
    return handle;
  };
  const backend = new LocalBackend(loader);
  await backend.loadModel(BASE);
  for (const [variant, re] of [[`steer-sae:${deep}#1*2`, /hook layer 30 .* it has 4 decoder layers/], [`ablate-sae:${wide}#0`, /d_in is 128 but the model .* has hidden size 256/]] as const) {
    const variants = parseVariants(`base,${variant}`, []);
    await assert.rejects(
      backend.runPromptSet({ promptSetPath: PROMPTS, variants, out: path.join(d, 'runs/x.run.jsonl'), sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] }, seed: 1 }, hooks()),
      (e: unknown) => e instanceof EngineError && e.kind === 'InvalidInput' && e.message.startsWith(`variant "${variant}": `) && re.test(e.message) && /load the model it was made for/.test(e.hint ?? ''),
    );
  }
  assert.deepEqual(loads, [[]], 'only the first load; no reload with layer 30');
}));
