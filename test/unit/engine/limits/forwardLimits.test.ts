// Issue 11 §2–3, forward passes asked for by files: `forward` inputs (sequence length, rows, mask values)
// are refused before the model is loaded; teacher-forced activations on run samples are bounded; outputs
// computed from NaN/Inf are never written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkForwardInput } from '../../../../src/cli/forward';
import { loadModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { checkTeacherForcedSequence, teacherForcedPairs, teacherForcedValues } from '../../../../src/engine/analysis/teacherForced';
import { firstNonFinite } from '../../../../src/engine/limits/finiteOutput';
import { goldenPath, goldenSkip } from '../../helpers/golden';
import { runCliCapturingStderr } from '../../helpers/cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'limits-fwd-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const skip = goldenSkip('llama/model/config.json', 'llama/lora_b/adapter_config.json');
const MODEL = goldenPath('llama', 'model');

const cli = runCliCapturingStderr;

test('forward: 10^5 tokens, 10^6 rows and bad mask values are refused before loading the model', { skip }, async () => {
  const spec = loadModelSpec(MODEL); // max_position_embeddings 2048, vocab 512
  const input = (name: string, v: unknown) => {
    const f = path.join(tmp, name);
    writeFileSync(f, JSON.stringify(v));
    return f;
  };
  const out = path.join(tmp, 'never.safetensors');
  const long = await cli(['forward', '--model', MODEL, '--input', input('long.json', { input_ids: [Array(100_000).fill(5)] }), '--out', out]);
  assert.equal(long.code, 1);
  assert.match(long.err, /long\.json: "input_ids" rows are 100,000 tokens long, above the context budget of 2,048 \(max_position_embeddings in .*config\.json\)/);
  assert.ok(!/\n\s+at /.test(long.err), 'no stack trace');
  assert.ok(long.ms < 5000, `${long.ms} ms`);
  const rows = await cli(['forward', '--model', MODEL, '--input', input('rows.json', { input_ids: Array.from({ length: 1_000_000 }, () => [5]) }), '--out', out]);
  assert.equal(rows.code, 1);
  assert.match(rows.err, /"input_ids" has 1,000,000 rows, above the limit of 4,096/);
  const budget = await cli(['forward', '--model', MODEL, '--input', input('b.json', { input_ids: [Array(100).fill(5)] }), '--out', out, '--context-budget', '64']);
  assert.match(budget.err, /100 tokens long, above the context budget of 64/);
  for (const [v, re] of [[2, /attention_mask\[0\]\[1\] = 2; the mask holds 1 for real tokens and 0 for padding/], [-1, /attention_mask\[0\]\[1\] = -1/]] as const) {
    const r = await cli(['forward', '--model', MODEL, '--input', input(`m${v}.json`, { input_ids: [[5, 6, 7]], attention_mask: [[1, v, 1]] }), '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.err, re);
  }
  const empty = await cli(['forward', '--model', MODEL, '--input', input('empty.json', { input_ids: [[]] }), '--out', out]);
  assert.equal(empty.code, 1);
  assert.match(empty.err, /empty\.json: "input_ids" rows are empty/);
  const pad = await cli(['forward', '--model', MODEL, '--input', input('pad.json', { input_ids: [[5, 6, 7]], attention_mask: [[1, 1, 0]] }), '--out', out]);
  assert.match(pad.err, /does not end with a real token/);
  const pos = await cli(['forward', '--model', MODEL, '--input', input('pos.json', { input_ids: [[5, 6]], position_ids: [[0, 99999]] }), '--out', out]);
  assert.match(pos.err, /position_ids\[0\]\[1\] = 99999 is outside 0\.\.2047/);
  assert.equal(existsSync(out), false);
  // Output size: many rows of a long-enough sequence exceed the output budget even under the token limits.
  assert.throws(() => checkForwardInput('in.json', { ...spec, vocabSize: 1 << 20 }, Array.from({ length: 600 }, () => Array(1000).fill(1)), Array.from({ length: 600 }, () => Array(1000).fill(1)), undefined), /would write .* float32 values .* above the limit/);
});

test('forward: logits computed from an overflowing adapter scale are reported, not written (exit 1)', { skip }, async () => {
  const input = path.join(tmp, 'ok.json');
  writeFileSync(input, JSON.stringify({ input_ids: [[5, 6, 7, 8]] }));
  const out = path.join(tmp, 'nan.safetensors');
  const r = await cli(['forward', '--model', MODEL, '--adapter', goldenPath('llama', 'lora_b'), '--adapter-scale', '1e36', '--input', input, '--out', out, '--threads', '1']);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the model produced (NaN|Infinity|-Infinity) in (logits|hidden_states\[\d\]) at row 0, position \d; .*nan\.safetensors \(not written\)/);
  assert.equal(existsSync(out), false);
});

test('activations: run samples with thousands of token ids or ids outside the vocabulary are refused by sample', { skip }, () => {
  const spec = loadModelSpec(MODEL);
  assert.throws(() => checkTeacherForcedSequence(spec, Array(5000).fill(3), 'run.jsonl: sample q#0#0@base'), /sample q#0#0@base: the sequence is 5,000 tokens .* above the context budget of 2,048/);
  assert.throws(() => checkTeacherForcedSequence(spec, [1, 2, 600], 's'), /token id 600 at position 2 is outside the vocabulary 0\.\.511/);
  assert.throws(() => checkTeacherForcedSequence(spec, [1, 2.5], 's'), /token id 2.5/);
  assert.throws(() => checkTeacherForcedSequence(spec, Array(100).fill(1), 's', { maxValues: 1000 }), /need [\d,]+ output values .* above the limit of 1,000/);
  assert.equal(teacherForcedValues(spec, 1, 10), 2 * 10 * (512 + 4 * 64));
});

test('activations: a batch over the output budget is split (same numbers), and NaN outputs are refused', { skip }, async () => {
  const runner = await ModelRunner.load(MODEL, { threads: 1, adapters: [{ name: 'b', dir: goldenPath('llama', 'lora_b') }] });
  try {
    const pairs = [
      { tokenIds: [5, 6, 7, 8, 9], responseStart: 2, variant: { adapter: 'b', adapterScale: 1 } },
      { tokenIds: [10, 11, 12], responseStart: 1, variant: { adapter: 'b', adapterScale: 1 } },
    ];
    const whole = await teacherForcedPairs(runner, pairs, { jsKl: true });
    const split = await teacherForcedPairs(runner, pairs, { jsKl: true, maxValues: teacherForcedValues(runner.spec, 1, 5) });
    assert.equal(split.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual([...split[i].kl].map((x) => x.toFixed(4)), [...whole[i].kl].map((x) => x.toFixed(4)));
      assert.deepEqual([...split[i].relNorm[3]].map((x) => x.toFixed(4)), [...whole[i].relNorm[3]].map((x) => x.toFixed(4)));
    }
    await assert.rejects(
      teacherForcedPairs(runner, [{ ...pairs[0], variant: { adapter: 'b', adapterScale: 1e36 }, label: 'run.jsonl: sample q#0#0@b' }]),
      /run\.jsonl: sample q#0#0@b: the model produced .* of the compared row at token \d; no activations or KL were computed from it/,
    );
  } finally {
    await runner.dispose();
  }
  assert.deepEqual(firstNonFinite(Float32Array.from([1, 2, NaN, 4]), [2, 1, 2], (b) => b === 1), { b: 1, t: 0, i: 0, value: NaN });
  assert.equal(firstNonFinite(Float32Array.from([1, 2, NaN, 4]), [2, 1, 2], (b) => b === 0), null);
});
