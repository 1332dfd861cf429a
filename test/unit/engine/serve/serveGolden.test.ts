/**
 * organism-lab serve against Hugging Face: the golden qwen2 model with its lora_a adapter, served, answers a
 * greedy /v1/completions request with token ids exactly as HF generate() does (tokens and step
 * log-probabilities), for the base and the adapter in one batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { goldenFamily, logSoftmaxAt, openExpected } from '../../helpers/golden';
import { ServedModel } from '../../../../src/engine/serve/servedModel';
import { startServer } from '../../../../src/engine/serve/server';

const FIXTURE_TOKENIZER = path.join(__dirname, '../../../fixtures/tokenizers/qwen-style');
const { dir, skip } = goldenFamily('qwen2');

test('served golden qwen2: greedy completions from token ids equal HF generate(), base and lora_a in one batch', { skip }, async () => {
  const ex = openExpected(dir);
  const model = await ServedModel.load(path.join(dir, 'model'), [{ name: 'lora_a', dir: path.join(dir, 'lora_a') }], { threads: 1, tokenizerDir: FIXTURE_TOKENIZER });
  const batches: number[] = [];
  const srv = await startServer(model, { port: 0, batcher: { windowMs: 100, onBatch: (b) => batches.push(b.rows) } });
  try {
    const V = model.runner.spec.vocabSize;
    const prompt = ex.readInts('input_ids_single');
    const eos = new Set(model.tokenizer.eosTokenIds);
    const ask = (m: string) =>
      fetch(`${srv.baseUrl}/completions`, { method: 'POST', body: JSON.stringify({ model: m, prompt, temperature: 0, max_tokens: 8, logprobs: 0 }) }).then((r) => r.json() as Promise<any>);
    const [base, lora] = await Promise.all([ask('model'), ask('lora_a')]);
    assert.ok(batches.length <= 2);
    for (const [res, seq, logits] of [[base, 'generate_single_sequences', 'generate_single_step_logits'], [lora, 'generate_single_lora_a_sequences', 'generate_single_lora_a_step_logits']] as const) {
      let want = ex.readInts(seq).slice(prompt.length);
      const stop = want.findIndex((t) => eos.has(t));
      if (stop >= 0) want = want.slice(0, stop + 1);
      const c = res.choices[0];
      assert.equal(res.usage.completion_tokens, want.length, seq);
      assert.equal(c.text, model.tokenizer.decode(stop >= 0 ? want.slice(0, -1) : want), seq);
      assert.equal(c.finish_reason, stop >= 0 ? 'stop' : 'length');
      const step = ex.readFloat32(logits);
      c.logprobs.token_logprobs.forEach((lp: number, s: number) => assert.ok(Math.abs(lp - logSoftmaxAt(step.subarray(s * V, (s + 1) * V), want[s])) < 1e-3, `${seq} step ${s}`));
    }
  } finally {
    await srv.close();
    await model.dispose();
  }
});
