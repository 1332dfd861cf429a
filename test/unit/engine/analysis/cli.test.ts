// organism-lab inspect / activations / direction through the dispatcher (golden qwen2): exit codes, usage errors,
// the JSON and file outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliMain } from '../../../../src/cli/main';
import { inspectDirectionFile } from '../../../../src/engine/analysis/directionFile';
import { readRun } from '../../../../src/engine/runs/reader';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const GOLD = path.join(GOLDEN, 'qwen2');
const TOK = path.join(__dirname, '../../../fixtures/tokenizers/qwen-style');
const skip = goldenSkip('qwen2/model/config.json');

async function quiet<T>(f: () => Promise<T>): Promise<{ value: T; out: string; err: string }> {
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  let out = '';
  let err = '';
  process.stdout.write = ((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    return { value: await f(), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

test('CLI: inspect, activations, direction', { skip }, async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'anacli-'));
  try {
    const insOut = path.join(d, 'inspect.json');
    const ins = await quiet(() => cliMain(['inspect', path.join(GOLD, 'lora_a'), '--base', path.join(GOLD, 'model'), '--out', insOut]));
    assert.equal(ins.value, 0);
    assert.match(ins.out, /compatibility with .*: ok/);
    const rep = JSON.parse(readFileSync(insOut, 'utf8'));
    assert.equal(rep.kind, 'adapter');
    assert.equal(rep.adapter.compatibility.ok, true);
    assert.equal((await quiet(() => cliMain(['inspect', path.join(d, 'nope')]))).value, 2);

    const runPath = path.join(d, 'r.run.jsonl');
    const run = await quiet(() => cliMain(['run', path.join(__dirname, '../../../fixtures/prompts/em-style.yaml'), '--model', path.join(GOLD, 'model'), '--tokenizer', TOK, '--adapter', path.join(GOLD, 'lora_a'), '--samples', '4', '--max-new-tokens', '6', '--threads', '1', '--out', runPath, '--no-progress']));
    assert.equal(run.value, 0, run.err);
    const curveOut = path.join(d, 'curve.json');
    const curve = await quiet(() => cliMain(['activations', runPath, '--curve', '--tokenizer', TOK, '--threads', '1', '--out', curveOut]));
    assert.equal(curve.value, 0, curve.err);
    const c = JSON.parse(readFileSync(curveOut, 'utf8'));
    assert.deepEqual(c.variants.map((v: { variant: string }) => v.variant), ['lora_a']);
    assert.deepEqual(c.variants[0].meanRel.slice(0, 2), [0, 0]);
    assert.equal((await quiet(() => cliMain(['activations', runPath, '--tokenizer', TOK]))).value, 2, 'neither --sample nor --curve');
    assert.equal((await quiet(() => cliMain(['activations', runPath, '--sample', 'nope@base', '--tokenizer', TOK]))).value, 2);

    // No judgements yet: a clear failure naming what to do.
    const none = await quiet(() => cliMain(['direction', runPath, '--out', path.join(d, 'x.safetensors'), '--tokenizer', TOK]));
    assert.equal(none.value, 1);
    assert.match(none.err, /0 misaligned and 0 aligned labelled samples.*Judge the run or label more samples/);
    for (const s of readRun(runPath).samples.filter((x) => x.variant === 'lora_a')) {
      const mis = (s.token_ids![0] ?? 0) % 2 === 0;
      for (const [metric, score] of [['aligned', mis ? 5 : 95], ['coherent', 90]] as const) appendFileSync(runPath, JSON.stringify({ type: 'judgement', sample_id: s.id, judge: 'rule:t', metric, score, created_at: '' }) + '\n');
    }
    const out = path.join(d, 'dir.safetensors');
    const report = path.join(d, 'dir.json');
    const dir = await quiet(() => cliMain(['direction', runPath, '--out', out, '--report', report, '--tokenizer', TOK, '--threads', '1', '--test-fraction', '0.25']));
    assert.equal(dir.value, 0, dir.err);
    assert.match(dir.out, /written to .*dir\.safetensors/);
    assert.deepEqual(inspectDirectionFile(out).layers, [0, 1, 2]);
    const r = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(r.aucTest.length, 3);
    assert.equal(r.judge, 'rule:t');
    // lora_a: rank 1 on layer 1's down_proj.
    assert.match(dir.out, /alignment with the adapter's write directions[\s\S]*\nlora_a +1 +down_proj +1 +[\d.]+ +cos [+-]\d\.\d{3} +0\.125\n/);
    assert.deepEqual(r.adapterAlignment.map((a: { layer: number; module: string; rank: number }) => [a.layer, a.module, a.rank]), [[1, 'down_proj', 1]]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
