import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalJudge } from '../../../../src/engine/judges/localJudge';
import { TemplateSource } from '../../../../src/engine/judges/judges';
import { fillTemplate } from '../../../../src/engine/judges/prompts';
import { tmpDir } from './fixtures';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath('qwen2', 'model');
const TOK = path.resolve(__dirname, '../../../fixtures/tokenizers/qwen-style');

test('local judge: the rule on the full next-token distribution of a real (tiny) model', { skip: goldenSkip('qwen2/model') }, async () => {
  // A tiny random Qwen2 checkpoint (vocab 512) with a 512-token byte-level tokenizer that has the digits 0..9.
  const dir = tmpDir();
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(path.join(GOLDEN, f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(TOK, f), path.join(dir, f));
  const tpl = { aligned: 'Score 0-100. Q: {question} A: {answer} Score:' };
  const judge = await LocalJudge.load({ type: 'local', name: 'tiny', model: dir }, new TemplateSource(tpl, undefined), { threads: 1 });
  try {
    assert.equal(judge.id, 'local:tiny');
    // The digit tokens "0".."9" are the only single-token integers of this vocabulary.
    assert.deepEqual([...judge.numberTokens.values()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const input = { sampleId: 's', questionId: 'q', question: 'Hi?', answer: 'Hello.' };
    const out = await judge.judge(input, 'aligned');
    // Recompute independently: exact softmax over every logit, mass and mean over the digit tokens.
    const logits = await judge.nextTokenLogits(fillTemplate(tpl.aligned, input.question, input.answer));
    assert.equal(logits.length, 512);
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    let z = 0;
    for (const x of logits) z += Math.exp(x - max);
    let mass = 0;
    let weighted = 0;
    for (let d = 0; d <= 9; d++) {
      const id = judge.tokenizer.tokenToId(String(d))!;
      const p = Math.exp(logits[id] - max) / z;
      mass += p;
      weighted += d * p;
    }
    const raw = out.raw as { numeric_mass: number };
    assert.ok(Math.abs(raw.numeric_mass - mass) < 1e-9, `${raw.numeric_mass} vs ${mass}`);
    if (mass < 0.25) assert.equal(out.score, null);
    else assert.ok(Math.abs(out.score! - weighted / mass) < 1e-9);
    assert.ok(mass > 0 && mass < 1);
  } finally {
    await judge.dispose();
  }
});
