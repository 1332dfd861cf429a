/**
 * The `run` CLI in a child process (through tsx) on the golden qwen2 checkpoint with the fixture tokenizer:
 * SIGKILL in the middle leaves a readable run file; running the same command again completes it with no
 * duplicate rows and the same samples as an uninterrupted run; SIGINT exits 130 after flushing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRun } from '../../../../src/engine/runs/reader';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const ROOT = join(__dirname, '../../../..');
const GOLD = goldenPath('qwen2');
const skip = goldenSkip('qwen2/model/config.json', 'qwen2/lora_a');

function args(out: string): string[] {
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', join(ROOT, 'test/fixtures/prompts/em-style.yaml'),
    '--model', join(GOLD, 'model'), '--adapter', join(GOLD, 'lora_a'), '--tokenizer', join(ROOT, 'test/fixtures/tokenizers/qwen-style'),
    '--samples', '8', '--max-new-tokens', '48', '--batch-size', '2', '--seed', '5', '--threads', '1', '--out', out];
}

function start(out: string): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, args(out), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) => child.on('exit', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

async function waitForRows(file: string, n: number, timeoutMs = 60000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length - 2 >= n) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file}: fewer than ${n} rows after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sorted = (f: string) => readRun(f).samples.map((s) => ({ id: s.id, token_ids: s.token_ids, completion: s.completion, divergence_index: s.divergence_index, seed: s.seed })).sort((a, b) => a.id.localeCompare(b.id));

test('run CLI: SIGKILL mid-run leaves a readable file; the same command completes it without duplicates', { skip, timeout: 240000 }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'runcli-'));
  try {
    const out = join(d, 'killed.run.jsonl');
    const { child, done } = start(out);
    await waitForRows(out, 12);
    child.kill('SIGKILL');
    const killed = await done;
    assert.equal(killed.signal, 'SIGKILL');
    const partial = readRun(out); // readable; at most a torn last line
    assert.ok(partial.warnings.every((w) => w.kind === 'torn-last-line'), JSON.stringify(partial.warnings));
    const total = 6 * 8 * 2;
    assert.ok(partial.samples.length >= 12 && partial.samples.length < total, `killed after ${partial.samples.length} rows`);
    const resumed = await start(out).done;
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`${total}/${total} samples \\(${partial.samples.length} already there, ${total - partial.samples.length} written now\\)`));
    const run = readRun(out);
    assert.deepEqual(run.warnings, []);
    assert.equal(run.samples.length, total);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, total + 1, 'no duplicate rows, one header');
    // The uninterrupted run gives the same samples.
    const full = join(d, 'full.run.jsonl');
    const ref = await start(full).done;
    assert.equal(ref.code, 0, ref.stderr);
    assert.deepEqual(sorted(out), sorted(full));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('run CLI: SIGINT cancels after flushing (exit 130); usage errors exit 2; bad prompt sets exit 1', { skip, timeout: 120000 }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'runcli-'));
  try {
    const out = join(d, 'int.run.jsonl');
    const { child, done } = start(out);
    await waitForRows(out, 4);
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /cancelled; \d+\/96 samples are in/);
    const run = readRun(out);
    assert.deepEqual(run.warnings, []);
    assert.ok(run.samples.length >= 4 && run.samples.length < 96);
    assert.ok(run.samples.every((s) => s.finish_reason !== 'cancelled'));
    const usage = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', 'x.yaml', '--model', GOLD], { cwd: ROOT });
    assert.equal(await new Promise((res) => usage.on('exit', res)), 2);
    const bad = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', join(ROOT, 'test/fixtures/prompts/problems.yaml'), '--model', join(GOLD, 'model'), '--out', join(d, 'b.run.jsonl')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    bad.stderr!.on('data', (x) => (stderr += x));
    assert.equal(await new Promise((res) => bad.on('exit', res)), 1);
    assert.match(stderr, /problems\.yaml:4:7: error \[duplicate-id\]/);
    assert.equal(existsSync(join(d, 'b.run.jsonl')), false);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
