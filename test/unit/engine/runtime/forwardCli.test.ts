// `organism-lab forward` end to end (in process): golden steered + adapted logits and hidden states, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliMain } from '../../../../src/cli/main';
import { SafetensorsFile } from '../../../../src/engine/checkpoint/safetensors';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const dir = path.join(GOLDEN, 'gemma3_text');
const tmp = mkdtempSync(path.join(tmpdir(), 'fwd-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function maxRel(a: Float32Array, b: Float32Array, keep: (i: number) => boolean = () => true): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

test('forward CLI reproduces golden steered and adapted outputs', { skip: goldenSkip('gemma3_text') }, async () => {
  const ex = SafetensorsFile.open(path.join(dir, 'expected.safetensors'));
  const [B, S] = ex.info('input_ids_batch').shape;
  const flat = ex.readInts('input_ids_batch');
  const mflat = ex.readInts('attention_mask_batch');
  const ids = [flat.slice(0, S), flat.slice(S)];
  const mask = [mflat.slice(0, S), mflat.slice(S)];
  const input = path.join(tmp, 'in.json');
  writeFileSync(input, JSON.stringify({ input_ids: ids, attention_mask: mask }));
  const steer = path.join(tmp, 'steer.safetensors');
  writeSafetensors(steer, { 'layer.1': { dtype: 'F32', shape: [64], data: ex.readFloat32('steer_vector') } });
  const keep = (inner: number) => (i: number) => {
    const pos = Math.floor(i / inner) % (B * S);
    return mask[Math.floor(pos / S)][pos % S] === 1;
  };

  const out1 = path.join(tmp, 'steer-out.safetensors');
  assert.equal(await cliMain(['forward', '--model', path.join(dir, 'model'), '--steer', steer, '--steer-layer', '1', '--input', input, '--out', out1, '--threads', '1']), 0);
  const o1 = SafetensorsFile.open(out1);
  assert.deepEqual(o1.info('logits').shape, [B, S, 512]);
  assert.deepEqual(o1.info('hidden_states').shape, [4, B, S, 64]);
  assert.ok(maxRel(o1.readFloat32('logits'), ex.readFloat32('logits_batch_steer'), keep(512)) < 1e-4);

  const out2 = path.join(tmp, 'lora-out.safetensors');
  assert.equal(await cliMain(['forward', '--model', path.join(dir, 'model'), '--adapter', path.join(dir, 'lora_b'), '--input', input, '--out', out2]), 0);
  assert.ok(maxRel(SafetensorsFile.open(out2).readFloat32('logits'), ex.readFloat32('logits_batch_lora_b'), keep(512)) < 1e-4);

  // Base run: hidden states match HF output_hidden_states.
  const out3 = path.join(tmp, 'base-out.safetensors');
  assert.equal(await cliMain(['forward', '--model', path.join(dir, 'model'), '--adapter', path.join(dir, 'lora_b'), '--adapter-scale', '0', '--input', input, '--out', out3]), 0);
  const hs = SafetensorsFile.open(out3).readFloat32('hidden_states');
  const per = B * S * 64;
  for (let i = 0; i < 4; i++) assert.ok(maxRel(hs.subarray(i * per, (i + 1) * per), ex.readFloat32(`hidden_states_batch_${i}`), keep(64)) < 1e-4, `hidden ${i}`);
});

test('forward CLI exit codes: 2 for usage errors, 1 for failures (a bad input file included)', async () => {
  const input = path.join(tmp, 'in2.json');
  writeFileSync(input, JSON.stringify({ input_ids: [[1, 2, 3]] }));
  const silence = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(await cliMain(['forward', '--input', input, '--out', path.join(tmp, 'x.safetensors')]), 2); // no --model
    assert.equal(await cliMain(['forward', '--model', dir, '--bogus']), 2);
    assert.equal(await cliMain(['forward', '--model', dir, '--input', input, '--out', 'x', '--steer-layer', '1']), 2);
    assert.equal(await cliMain(['nosuchcommand']), 2);
    writeFileSync(path.join(tmp, 'bad.json'), '{"input_ids": [[1, 2], [3]]}');
    assert.equal(await cliMain(['forward', '--model', dir, '--input', path.join(tmp, 'bad.json'), '--out', 'x']), 1); // a bad input file is a failure naming it (exit 1), not a usage error
    assert.equal(await cliMain(['forward', '--model', path.join(tmp, 'no-model'), '--input', input, '--out', path.join(tmp, 'x.safetensors')]), 1);
  } finally {
    process.stderr.write = silence;
  }
});
