// Weight precision through the layers that load models: the run header records it, a zero adapter scale still
// reproduces the (quantized) base rows, the engine host's LocalBackend honours organismLab.weights and reports
// the quantization's progress, and `auto` says what it picked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { readRun } from '../../../../src/engine/runs/reader';
import { LocalBackend } from '../../../../src/engine/backends/local';
import { FIXTURE_TOKENIZER } from '../jobs/jobHelpers';
import { goldenFamily } from '../../helpers/golden';

const { dir: GOLD, skip } = goldenFamily('qwen2');
const tmp = mkdtempSync(join(tmpdir(), 'weights-plumbing-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('int4 run: header records weights int4 (block 32); lora_a@0 rows equal the base rows', { skip }, async () => {
  const decisions: string[] = [];
  const model = await loadLocalJobModel(join(GOLD, 'model'), [{ name: 'lora_a', dir: join(GOLD, 'lora_a') }], {
    tokenizerDir: FIXTURE_TOKENIZER,
    threads: 1,
    runner: { weights: 'int4', cacheFolder: join(tmp, 'cache'), onWeightsDecision: (r) => decisions.push(r) },
  });
  try {
    const out = join(tmp, 'r.run.jsonl');
    await runPromptSet(model, {
      promptSetPath: join(__dirname, '../../../fixtures/prompts/em-style.yaml'),
      variants: parseVariants('base,lora_a@0,lora_a', ['lora_a']),
      samples: 1, seed: 3, out, batchSize: 6,
      sampling: { temperature: 1, top_p: 0.95, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] },
    });
    const run = readRun(out);
    assert.equal(run.header.weights, 'int4');
    assert.equal(run.header.weights_block_size, 32);
    assert.ok(run.samples.filter((s) => s.variant === 'lora_a@0').every((s) => s.divergence_index === null));
    assert.match(decisions[0], /^weights int4: ≈ \d+\.\d\d GB of \d+\.\d\d GB available$/);
  } finally {
    await model.dispose();
  }
});

const DEMO = join(__dirname, '../../../../examples/organisms/demo-base');

test('LocalBackend: organismLab.weights int8 loads quantized, with progress and log lines; auto picks f32 and says why', { skip: !existsSync(join(DEMO, 'tokenizer.json')) && 'no demo model' }, async () => {
  const backend = new LocalBackend();
  backend.configure({ executionProvider: 'cpu', threads: 1, cacheFolder: join(tmp, 'host'), weights: 'int8' });
  const events: { done: number; total: number }[] = [];
  const logs: string[] = [];
  const hooks = { signal: new AbortController().signal, onProgress: (e: { done: number; total: number }) => events.push(e), log: (_l: string, m: string) => logs.push(m) };
  const info = await backend.loadModel(DEMO, hooks);
  assert.equal(info.weights, 'int8');
  assert.ok(events.length > 0 && events[events.length - 1].done === events[events.length - 1].total, 'progress to the end');
  assert.ok(logs.some((m) => /quantizing .*100%/.test(m)));
  backend.configure({ executionProvider: 'cpu', threads: 1, cacheFolder: join(tmp, 'host'), weights: 'auto' });
  const auto = await backend.loadModel(DEMO, hooks);
  assert.equal(auto.weights, 'f32');
  assert.match(auto.weightsReason ?? '', /weights auto → f32: it fits/);
  await backend.dispose();
});
