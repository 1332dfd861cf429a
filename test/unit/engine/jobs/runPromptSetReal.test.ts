/** The job over the real ModelRunner (golden qwen2, vocab 512) with the fixture tokenizer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { readRun } from '../../../../src/engine/runs/reader';
import { FIXTURE_TOKENIZER } from './jobHelpers';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLD = goldenPath('qwen2');
const skip = goldenSkip('qwen2/model/config.json', 'qwen2/lora_a');

test('real runner: adapter at scale 0 never diverges from base; at scale 1 it does; token ids and logprobs are kept', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'jobreal-'));
  const model = await loadLocalJobModel(join(GOLD, 'model'), [{ name: 'lora_a', dir: join(GOLD, 'lora_a') }], { tokenizerDir: FIXTURE_TOKENIZER, threads: 1 });
  try {
    const out = join(d, 'r.run.jsonl');
    const sum = await runPromptSet(model, {
      promptSetPath: join(__dirname, '../../../fixtures/prompts/em-style.yaml'),
      variants: parseVariants('base,lora_a@0,lora_a', ['lora_a']),
      samples: 3, seed: 3, out, batchSize: 6,
      sampling: { temperature: 1, top_p: 0.95, top_k: 0, min_p: 0, max_new_tokens: 12, stop: [] },
    });
    assert.equal(sum.written, 6 * 3 * 3);
    const run = readRun(out);
    const zero = run.samples.filter((s) => s.variant === 'lora_a@0');
    const one = run.samples.filter((s) => s.variant === 'lora_a');
    assert.equal(zero.length, 18);
    assert.ok(zero.every((s) => s.divergence_index === null), 'scale 0 reproduces the base rows exactly');
    assert.ok(one.some((s) => typeof s.divergence_index === 'number'), 'the adapter changes some choices');
    assert.equal(run.header.model.model_type, 'qwen2');
    assert.equal(run.header.backend?.kind, 'local');
    for (const s of run.samples) {
      assert.equal(s.token_ids!.length, s.tokens);
      assert.equal(s.logprobs!.length, s.tokens);
      assert.ok(s.logprobs!.every((l) => l <= 0));
    }
  } finally {
    await model.dispose();
    rmSync(d, { recursive: true, force: true });
  }
});

test('real runner: a tokenizer larger than the model vocabulary is refused', { skip }, async () => {
  await assert.rejects(loadLocalJobModel(join(GOLD, 'model'), [], { tokenizerDir: join(__dirname, '../../../fixtures/tokenizers/llama3-style') }), /514 tokens but .*config\.json declares vocab_size 512/);
});
