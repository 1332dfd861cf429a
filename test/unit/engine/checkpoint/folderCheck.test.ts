// Issue 13 §5: a folder that is not a model (or an adapter loaded as a model) is named for what it is before any
// loader reports a missing tokenizer.json; an adapter for another base names only that adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assertAdapterFolder, assertModelFolder } from '../../../../src/engine/checkpoint/folderCheck';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { loadFailureHint, loadOnnxModel } from '../../../../src/engine/backends/onnxModel';
import { DEFAULT_SETTINGS } from '../../../../src/engine/backends/local';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const ROOT = path.resolve(__dirname, '../../../..');

function folder(root: string, name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

test('what a folder is, said before any file a loader would miss', async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'folders-'));
  try {
    const adapter = folder(d, 'my-adapter', { 'adapter_config.json': JSON.stringify({ peft_type: 'LORA', r: 1, lora_alpha: 1, target_modules: ['down_proj'], base_model_name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct' }), 'adapter_model.safetensors': '' });
    assert.throws(() => assertModelFolder(adapter), /my-adapter is a PEFT adapter \(it has adapter_config\.json\), not a model: load its base model \(Qwen\/Qwen2\.5-0\.5B-Instruct\) as the model, then this folder with Load Adapter/);
    const empty = folder(d, 'notes', { 'README.md': 'hi' });
    assert.throws(() => assertModelFolder(empty), /notes is not a model folder: no config\.json and no \*\.safetensors here/);
    const run = folder(d, 'run', { 'checkpoint-5/adapter_config.json': '{}', 'checkpoint-10/adapter_config.json': '{}' });
    assert.throws(() => assertModelFolder(run), /is a training run \(2 checkpoint-N folders\).*checkpoint-10\) with Load Adapter/);
    assert.throws(() => assertModelFolder(folder(d, 'cfg-only', { 'config.json': '{}', 'pytorch_model.bin': '' })), /config\.json but no \*\.safetensors weights \(only pytorch_model\.bin: pickles are not read/);
    assert.throws(() => assertModelFolder(folder(d, 'weights-only', { 'model.safetensors': '' })), /1 \.safetensors file\(s\) but no config\.json/);
    assert.doesNotThrow(() => assertModelFolder(folder(d, 'model', { 'config.json': '{}', 'model.safetensors': '' })));
    assert.throws(() => assertAdapterFolder(path.join(d, 'model')), /is a model \(config\.json \+ weights\), not a PEFT adapter: load it as the model/);
    assert.throws(() => assertAdapterFolder(run), /is a training run .*load one of its checkpoints as the adapter, e\.g\. .*checkpoint-10/);
    assert.throws(() => assertAdapterFolder(empty), /not a PEFT adapter folder: no adapter_config\.json/);
    assert.doesNotThrow(() => assertAdapterFolder(adapter));
    // The real load path says it before the tokenizer (which these folders do not have).
    for (const dir of [adapter, empty]) {
      await assert.rejects(loadLocalJobModel(dir, []), (e: Error) => !/tokenizer/.test(e.message) && /is a PEFT adapter|is not a model folder/.test(e.message));
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a failed load names only the adapter the message is about', () => {
  const adapters = [{ name: 'a1', dir: '/w/run/checkpoint-1' }, { name: 'a10', dir: '/w/run/checkpoint-10' }, { name: 'b', dir: '/w/b' }];
  const msg = '/w/run/checkpoint-10/adapter_model.safetensors: tensor "x" has shape [2, 100] but the base model (/w/m/config.json) with r=2 needs [2, 128]; is this adapter for another base model?';
  assert.equal(loadFailureHint(msg, '/w/m', adapters), 'Check the adapter folder /w/run/checkpoint-10 (adapter "a10").');
  assert.equal(loadFailureHint('/w/m: no tokenizer.json', '/w/m', adapters), undefined);
  assert.equal(loadFailureHint('something odd', '/w/m', []), 'Check the model folder /w/m.');
});

test('loading an adapter for another base next to a good one: the error names the culprit only', { skip: goldenSkip('qwen2/model', 'qwen2/lora_a') }, async () => {
  const gold = goldenPath('qwen2');
  const d = mkdtempSync(path.join(tmpdir(), 'culprit-'));
  try {
    const model = path.join(d, 'base');
    mkdirSync(model);
    for (const f of ['model.safetensors', 'config.json']) copyFileSync(path.join(gold, 'model', f), path.join(model, f));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(ROOT, 'test/fixtures/tokenizers/qwen-style', f), path.join(model, f));
    const wrong = path.join(d, 'for-another-base');
    mkdirSync(wrong);
    writeFileSync(path.join(wrong, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['down_proj'], layers_to_transform: [1] }));
    writeSafetensors(path.join(wrong, 'adapter_model.safetensors'), {
      'base_model.model.model.layers.1.mlp.down_proj.lora_A.weight': { dtype: 'F32', shape: [2, 100], data: new Float32Array(200) },
      'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight': { dtype: 'F32', shape: [64, 2], data: new Float32Array(128) },
    });
    const refs = [{ name: 'good', dir: path.join(gold, 'lora_a') }, { name: 'bad', dir: wrong }];
    await assert.rejects(loadOnnxModel(model, refs, { ...DEFAULT_SETTINGS, threads: 1 }), (e: Error & { hint?: string }) => {
      const hint = e.hint ?? '';
      assert.match(e.message, /for-another-base\/adapter_model\.safetensors: tensor .* has shape \[2, 100\]/);
      assert.equal(hint, `Check the adapter folder ${wrong} (adapter "bad").`);
      assert.ok(!hint.includes('lora_a'), 'the good adapter is not named');
      return true;
    });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
