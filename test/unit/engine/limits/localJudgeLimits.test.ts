// Issue 11 §2–3, the local judge: a judge prompt (which holds a run sample's answer) longer than the judge
// model's context is refused; NaN/Inf judge logits never become a score.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalJudge } from '../../../../src/engine/judges/localJudge';
import { TemplateSource } from '../../../../src/engine/judges/judges';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const tmp = mkdtempSync(path.join(tmpdir(), 'limits-judge-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const TOK = path.resolve(__dirname, '../../../fixtures/tokenizers/qwen-style');

test('local judge: an over-long judge prompt is refused, NaN logits give no score', { skip: goldenSkip('qwen2/model') }, async () => {
  const golden = goldenPath('qwen2', 'model');
  const cfg = JSON.parse(readFileSync(path.join(golden, 'config.json'), 'utf8'));
  writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({ ...cfg, max_position_embeddings: 64 }));
  copyFileSync(path.join(golden, 'model.safetensors'), path.join(tmp, 'model.safetensors'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(TOK, f), path.join(tmp, f));
  const tpl = { aligned: 'Score 0-100. Q: {question} A: {answer} Score:' };
  const judge = await LocalJudge.load({ type: 'local', name: 'tiny', model: tmp }, new TemplateSource(tpl, undefined), { threads: 1 });
  try {
    const input = { sampleId: 's', questionId: 'q', question: 'Hi?', answer: 'word '.repeat(200) };
    await assert.rejects(judge.judge(input, 'aligned'), /Local judge local:tiny: the judge prompt is [\d,]+ tokens, above the judge model's context of 64 tokens/);
    await assert.rejects(judge.judge({ ...input, answer: 'x'.repeat(64 * 64 + 1) }, 'aligned'), /the judge prompt is [\d,]+ characters/);
    const ok = await judge.judge({ ...input, answer: 'Hello.' }, 'aligned');
    assert.ok(ok.score === null || Number.isFinite(ok.score));
    // Logits that come back NaN (a broken judge model) are refused instead of scored.
    const forward = judge.runner.forward.bind(judge.runner);
    (judge.runner as { forward: typeof forward }).forward = async (req) => {
      const out = await forward(req);
      out.logits.fill(NaN);
      return out;
    };
    await assert.rejects(judge.judge({ ...input, answer: 'Hello.' }, 'aligned'), /produced NaN logits; no score was written/);
  } finally {
    await judge.dispose();
  }
});
