// config.json → ModelSpec per family, unsupported architectures/options, and PEFT adapter matching/refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModelSpec, parseModelSpec, ModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { loadPeftAdapter, loadPeftAdapterStandalone, peftTargets, LoraConfig } from '../../../../src/engine/checkpoint/peftAdapter';
import { encodeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { ropeInvFreq } from '../../../../src/engine/graph/rope';
import { goldenPath, goldenSkip, GOLDEN_FAMILIES } from '../../helpers/golden';

const GOLDEN = goldenPath();
const skip = goldenSkip(...GOLDEN_FAMILIES.map((f) => `${f}/model/config.json`));
const tmp = mkdtempSync(path.join(tmpdir(), 'spec-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const base = { hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 3, intermediate_size: 128, vocab_size: 512 };

test('golden configs parse with each family\'s switches', { skip }, () => {
  const s = (f: string): ModelSpec => loadModelSpec(path.join(GOLDEN, f, 'model'));
  const q2 = s('qwen2');
  assert.equal(q2.qkvBias, true);
  assert.equal(q2.tieWordEmbeddings, true);
  const ll = s('llama');
  assert.equal(ll.layers[0].rope.scaling.type, 'llama3');
  assert.equal(ll.tieWordEmbeddings, false);
  const g2 = s('gemma2');
  assert.deepEqual(g2.layers.map((l) => l.slidingWindow), [4, null, 4]);
  assert.equal(g2.attnScale, 32 ** -0.5);
  assert.equal(g2.attnSoftcap, 50);
  assert.equal(g2.finalSoftcap, 30);
  assert.equal(g2.tieWordEmbeddings, true, 'absent tie_word_embeddings means the config class default (true for Gemma)');
  assert.equal(parseModelSpec({ ...base, model_type: 'llama' }, 'c.json').tieWordEmbeddings, false, 'LlamaConfig defaults to untied');
  const g3 = s('gemma3_text');
  assert.deepEqual(g3.layers.map((l) => l.slidingWindow), [4, null, 4]);
  assert.deepEqual(g3.layers.map((l) => l.rope.theta), [1e4, 1e6, 1e4]);
  assert.equal(g3.layers[1].rope.scaling.type, 'linear');
  assert.equal(g3.qkNorm, true);
  assert.equal(s('qwen3').qkNorm, true);
});

test('layer_types wins over sliding_window_pattern', () => {
  const spec = parseModelSpec({ ...base, model_type: 'gemma3_text', sliding_window: 8, sliding_window_pattern: 2, layer_types: ['full_attention', 'full_attention', 'sliding_attention'] }, 'cfg.json');
  assert.deepEqual(spec.layers.map((l) => l.slidingWindow), [null, null, 8]);
});

test('llama3 rope scaling keeps high frequencies, divides low ones, smooths between', () => {
  const scaling = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 };
  const plain = ropeInvFreq({ theta: 5e5, scaling: { type: 'none' } }, 16);
  const scaled = ropeInvFreq({ theta: 5e5, scaling }, 16);
  assert.equal(scaled[0], plain[0]); // wavelength 2π < 16: kept
  assert.ok(Math.abs(scaled[7] - plain[7] / 8) < 1e-12 * 1e3); // longest wavelength: divided by 8
  const mid = [...scaled].findIndex((v, i) => v !== plain[i] && Math.abs(v - Math.fround(plain[i] / 8)) > 1e-12);
  assert.ok(mid > 0, 'some frequency is smoothed');
});

test('unsupported architectures and options name what is supported', () => {
  assert.throws(() => parseModelSpec({ ...base, model_type: 'gpt2' }, '/m/config.json'), /\/m\/config\.json: model_type "gpt2" is not supported \(supported: qwen2, qwen3, llama, mistral, gemma2, gemma3_text\)/);
  assert.throws(() => parseModelSpec({ ...base, model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'c.json'), /rope_scaling type "yarn" is not supported \(supported: default\/none, linear, llama3\)/);
  assert.throws(() => parseModelSpec({ ...base, model_type: 'llama', hidden_act: 'relu' }, 'c.json'), /activation "relu" is not supported/);
  assert.throws(() => parseModelSpec({ ...base, model_type: 'llama', hidden_size: undefined }, 'c.json'), /required field "hidden_size" is missing/);
  const d = mkdtempSync(path.join(tmp, 'm-'));
  assert.throws(() => loadModelSpec(d), /config\.json: cannot read/);
});

function cfg(over: Partial<LoraConfig>): LoraConfig {
  return { r: 4, loraAlpha: 8, useRslora: false, targetModules: ['q_proj'], layersToTransform: null, layersPattern: null, rankPattern: {}, alphaPattern: {}, fanInFanOut: false, baseModelNameOrPath: null, warnings: [], ...over };
}

test('PEFT target_modules semantics: suffix list, exact key, regex, layers_to_transform, layers_pattern', () => {
  const k = (l: number, m: string) => `model.layers.${l}.${m.startsWith('q') || m.startsWith('k') || m.startsWith('v') || m.startsWith('o') ? 'self_attn' : 'mlp'}.${m}`;
  assert.equal(peftTargets(cfg({ targetModules: ['q_proj', 'v_proj'] }), k(0, 'v_proj')), true);
  assert.equal(peftTargets(cfg({ targetModules: ['q_proj'] }), k(0, 'k_proj')), false);
  assert.equal(peftTargets(cfg({ targetModules: ['proj'] }), k(0, 'q_proj')), false, 'suffix must follow a dot');
  assert.equal(peftTargets(cfg({ targetModules: '.*\\.(1|2)\\.mlp\\.down_proj' }), k(1, 'down_proj')), true);
  assert.equal(peftTargets(cfg({ targetModules: '.*\\.(1|2)\\.mlp\\.down_proj' }), k(0, 'down_proj')), false);
  assert.equal(peftTargets(cfg({ targetModules: 'down_proj' }), k(0, 'down_proj')), false, 'regex must match the whole key');
  assert.equal(peftTargets(cfg({ targetModules: 'all-linear' }), k(2, 'gate_proj')), true);
  assert.equal(peftTargets(cfg({ layersToTransform: [1] }), k(1, 'q_proj')), true);
  assert.equal(peftTargets(cfg({ layersToTransform: [1] }), k(0, 'q_proj')), false);
  assert.equal(peftTargets(cfg({ layersToTransform: 2 }), k(2, 'q_proj')), true);
  assert.equal(peftTargets(cfg({ layersToTransform: [1], layersPattern: 'layers' }), k(1, 'q_proj')), true);
  assert.equal(peftTargets(cfg({ layersToTransform: [1], layersPattern: ['blocks'] }), k(1, 'q_proj')), false);
  // layers_to_transform does not restrict an exact key match (PEFT checks it only in the suffix branch).
  assert.equal(peftTargets(cfg({ targetModules: [k(0, 'q_proj')], layersToTransform: [1] }), k(0, 'q_proj')), true);
});

test('golden adapters load with PEFT scales and shapes', { skip }, () => {
  const spec = loadModelSpec(path.join(GOLDEN, 'llama', 'model'));
  const a = loadPeftAdapter(path.join(GOLDEN, 'llama', 'lora_a'), spec);
  assert.deepEqual(a.modules.map((m) => [m.layer, m.module, m.r, m.scale]), [[1, 'down_proj', 1, 16]]);
  assert.equal(a.modules[0].A.length, 128);
  const b = loadPeftAdapter(path.join(GOLDEN, 'llama', 'lora_b'), spec);
  assert.equal(b.modules.length, 21);
  assert.ok(b.modules.every((m) => m.scale === 4 && m.r === 4));
});

/** A copy of golden lora_b with a changed config (and optionally weights). */
function adapterVariant(name: string, patch: Record<string, unknown>, weights?: Buffer): string {
  const d = path.join(tmp, name);
  mkdirSync(d, { recursive: true });
  const src = path.join(GOLDEN, 'llama', 'lora_b');
  const c = JSON.parse(readFileSync(path.join(src, 'adapter_config.json'), 'utf8'));
  writeFileSync(path.join(d, 'adapter_config.json'), JSON.stringify({ ...c, ...patch }));
  if (weights) writeFileSync(path.join(d, 'adapter_model.safetensors'), weights);
  else copyFileSync(path.join(src, 'adapter_model.safetensors'), path.join(d, 'adapter_model.safetensors'));
  return d;
}

test('adapter refusals and mismatches are clear', { skip }, () => {
  const spec = loadModelSpec(path.join(GOLDEN, 'llama', 'model'));
  assert.throws(() => loadPeftAdapter(adapterVariant('dora', { use_dora: true }), spec), /adapter_config\.json: use_dora: true \(DoRA\) is not supported/);
  assert.throws(() => loadPeftAdapter(adapterVariant('mts', { modules_to_save: ['lm_head'] }), spec), /modules_to_save \["lm_head"\] is not supported/);
  // rank_pattern with the wrong rank → shape mismatch naming the tensor.
  assert.throws(() => loadPeftAdapter(adapterVariant('rp', { rank_pattern: { q_proj: 2 } }), spec), /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 64\] but the base model .* needs \[2, 64\]/);
  // alpha_pattern changes the scale of matching modules only.
  const ap = loadPeftAdapter(adapterVariant('ap', { alpha_pattern: { 'layers\\.2\\.mlp\\.down_proj': 16 } }), spec);
  assert.ok(ap.modules.every((m) => m.scale === (m.layer === 2 && m.module === 'down_proj' ? 8 : 4)));
  // Adapter trained on a base with another hidden size.
  const wrong = encodeSafetensors({
    'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [1, 256], data: new Float32Array(256) },
    'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': { dtype: 'F32', shape: [96, 1], data: new Float32Array(96) },
  });
  const d = adapterVariant('other-base', { r: 1, lora_alpha: 16, use_rslora: false, target_modules: ['down_proj'], layers_to_transform: [1] }, wrong);
  assert.throws(() => loadPeftAdapter(d, spec), (e: Error) => /lora_A\.weight" has shape \[1, 256\] but the base model/.test(e.message) && e.message.includes(path.join(d, 'adapter_model.safetensors')));
  // Config targets a module with no weights.
  assert.throws(() => loadPeftAdapter(adapterVariant('missing', { target_modules: ['q_proj'], layers_to_transform: null }, encodeSafetensors({})), spec), /tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" is missing/);
  // Weights for modules the config does not target (or a deeper base).
  assert.throws(() => loadPeftAdapter(adapterVariant('extra', { target_modules: ['q_proj'] }), spec), /does not map to a targeted module/);
});

test('standalone adapter loading (no base model) agrees with the checked loader', { skip }, () => {
  const spec = loadModelSpec(path.join(GOLDEN, 'qwen3', 'model'));
  const checked = loadPeftAdapter(path.join(GOLDEN, 'qwen3', 'lora_b'), spec);
  const alone = loadPeftAdapterStandalone(path.join(GOLDEN, 'qwen3', 'lora_b'));
  assert.deepEqual(alone.modules.map((m) => [m.key, m.r, m.scale, m.inFeatures, m.outFeatures]), checked.modules.map((m) => [m.key, m.r, m.scale, m.inFeatures, m.outFeatures]));
  assert.deepEqual(alone.modules[5].B, checked.modules[5].B);
  assert.throws(() => loadPeftAdapterStandalone(adapterVariant('rp2', { rank_pattern: { v_proj: 8 } })), /do not have rank r=8/);
});
