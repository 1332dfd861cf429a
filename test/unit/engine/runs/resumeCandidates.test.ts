import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPromptSet, type RunPromptSetOptions } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { completenessText, runCompleteness } from '../../../../src/engine/runs/completeness';
import { readRun } from '../../../../src/engine/runs/reader';
import { findResumableRun, legacyVariantNames, runFileCompleteness } from '../../../../src/engine/runs/resumeCandidates';
import type { RunHeader, SampleRow } from '../../../../src/engine/runs/schema';
import { scriptedModel } from '../jobs/jobHelpers';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLD = goldenPath('qwen2');
const skip = goldenSkip('qwen2/model', 'qwen2/lora_a');
const FIXTURE = join(__dirname, '../../../fixtures/prompts/em-style.yaml');
const sampling = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 6, stop: [] };

test('the adapter alias is named after the adapter (one naming rule for the CLI and the editor)', () => {
  assert.deepEqual(parseVariants('base,adapter', ['demo-narrow-r1']).map((v) => v.name), ['base', 'demo-narrow-r1']);
  assert.deepEqual(parseVariants('adapter@0.5', ['a1']), [{ name: 'a1@0.5', adapter: 'a1', adapter_scale: 0.5 }]);
  assert.deepEqual(parseVariants('a1@0.5', ['a1']), [{ name: 'a1@0.5', adapter: 'a1', adapter_scale: 0.5 }]);
  // An adapter really named "adapter" keeps its name.
  assert.deepEqual(parseVariants('adapter', ['x', 'adapter']), [{ name: 'adapter', adapter: 'adapter', adapter_scale: 1 }]);
});

const header = (variants: RunHeader['variants'], extra?: Record<string, unknown>): RunHeader => ({
  type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0' }, created_at: '', model: { path: '/m', hash: 'h' },
  adapters: [{ name: 'lora_a', path: '/a', hash: 'ha' }], prompt_set: { path: '/nowhere/p.yaml', hash: 'p' }, variants,
  sampling, seed: 0, ...(extra ? { extra } : {}),
});

test('legacy `adapter` names are kept when resuming an older CLI file', () => {
  const old = header([{ name: 'base', adapter: null }, { name: 'adapter', adapter: 'lora_a', adapter_scale: 1 }, { name: 'adapter@0.5', adapter: 'lora_a', adapter_scale: 0.5 }]);
  const wanted = parseVariants('base,lora_a,lora_a@0.5', ['lora_a']);
  assert.deepEqual(legacyVariantNames(old, wanted).map((v) => v.name), ['base', 'adapter', 'adapter@0.5']);
  // A different scale is not the same variant: no rename (resume then reports the mismatch).
  assert.deepEqual(legacyVariantNames(old, parseVariants('base,lora_a@0.25', ['lora_a'])).map((v) => v.name), ['base', 'lora_a@0.25']);
  // A new file already named after the adapter: unchanged.
  const fresh = header(parseVariants('base,lora_a', ['lora_a']));
  assert.deepEqual(legacyVariantNames(fresh, parseVariants('base,adapter', ['lora_a'])).map((v) => v.name), ['base', 'lora_a']);
});

test('completeness: present finished samples against header.extra.planned_samples', () => {
  const h = header([{ name: 'base', adapter: null }, { name: 'lora_a', adapter: 'lora_a', adapter_scale: 1 }], { planned_samples: 4 });
  const row = (id: string, variant: string, finish_reason: SampleRow['finish_reason'] = 'eos') => ({ id, variant, finish_reason });
  const c = runCompleteness(h, [row('q#0#0@base', 'base'), row('q#0#0@lora_a', 'lora_a'), row('q#0#1@base', 'base', 'cancelled'), row('q#0#1@zz', 'zz')]);
  assert.deepEqual(c, { present: 2, expected: 4, incomplete: true });
  assert.equal(completenessText(c), 'incomplete: 2 of 4 samples');
  assert.equal(completenessText(runCompleteness(header([]), [])), '0 samples');
  assert.equal(completenessText({ present: 4, expected: 4, incomplete: false }), 'complete: 4 samples');
});

test('re-running: the header plans the samples, the latest incomplete run is found, an old `adapter` file resumes with base,adapter', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'resume-'));
  try {
    const prompts = join(d, 'set.yaml');
    copyFileSync(FIXTURE, prompts);
    mkdirSync(join(d, 'runs'));
    const model = scriptedModel(join(GOLD, 'model'), join(GOLD, 'lora_a'));
    const opts = (out: string, over: Partial<RunPromptSetOptions> = {}): RunPromptSetOptions =>
      ({ promptSetPath: prompts, variants: parseVariants('base,adapter', ['lora_a']), samples: 2, sampling, seed: 3, out, batchSize: 4, ...over });
    // A complete run, then a newer cancelled one.
    const done = join(d, 'runs', 'set-1.run.jsonl');
    await runPromptSet(model, opts(done));
    assert.equal(readRun(done).header.extra?.planned_samples, 24);
    assert.deepEqual(runFileCompleteness(done), { present: 24, expected: 24, incomplete: false });
    const cut = join(d, 'runs', 'set-2.run.jsonl');
    const ac = new AbortController();
    await runPromptSet(model, opts(cut), { signal: ac.signal, onProgress: (e) => { if (e.done === 7) ac.abort(); } });
    const found = findResumableRun(prompts);
    assert.equal(found?.file, cut);
    assert.deepEqual(found?.completeness, { present: 7, expected: 24, incomplete: true });
    assert.equal(findResumableRun(prompts, { questionIds: ['bored'] }), null, 'another question selection is another run');
    assert.equal(findResumableRun(prompts, { accept: () => false }), null);
    // An older CLI file: variant "adapter", no planned_samples (counted from the unchanged prompt set).
    const old = join(d, 'runs', 'set-0.run.jsonl');
    const lines = readFileSync(cut, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    lines[0].variants = lines[0].variants.map((v: { name: string }) => (v.name === 'lora_a' ? { ...v, name: 'adapter' } : v));
    delete lines[0].extra.planned_samples;
    for (const r of lines.slice(1)) if (r.variant === 'lora_a') Object.assign(r, { variant: 'adapter', id: r.id.replace(/@lora_a$/, '@adapter') });
    writeFileSync(old, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    utimesSync(old, new Date(), new Date(Date.now() + 60_000)); // now the newest
    assert.deepEqual(runFileCompleteness(old), { present: 7, expected: 24, incomplete: true });
    assert.equal(findResumableRun(prompts)?.file, old);
    const resumed = await runPromptSet(model, opts(old));
    assert.equal(resumed.alreadyDone, 7);
    assert.equal(resumed.written, 17);
    const run = readRun(old);
    assert.deepEqual(run.header.variants.map((v) => v.name), ['base', 'adapter']);
    assert.deepEqual([...new Set(run.samples.map((s) => s.variant))].sort(), ['adapter', 'base']);
    assert.deepEqual(runFileCompleteness(old), { present: 24, expected: 24, incomplete: false });
    // The prompt set changed: its old runs cannot be resumed.
    writeFileSync(prompts, readFileSync(prompts, 'utf8') + '\n# edited\n');
    assert.equal(findResumableRun(prompts), null);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('CLI: a plain re-run (default variants) completes a run file the editor started (variant named after the adapter folder)', { skip }, async () => {
  const { runCommand } = await import('../../../../src/cli/run');
  const d = mkdtempSync(join(tmpdir(), 'resume-cli-'));
  try {
    const model = scriptedModel(join(GOLD, 'model'), join(GOLD, 'lora_a'));
    const out = join(d, 'editor.run.jsonl');
    // What the editor writes: variants base + the adapter's folder name.
    const ac = new AbortController();
    await runPromptSet(model, { promptSetPath: FIXTURE, variants: [{ name: 'base', adapter: null }, { name: 'lora_a', adapter: 'lora_a', adapter_scale: 1 }], samples: 2, sampling, seed: 0, out, batchSize: 4 }, { signal: ac.signal, onProgress: (e) => { if (e.done === 5) ac.abort(); } });
    assert.equal(readRun(out).samples.length, 5);
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    const code = await runCommand([FIXTURE, '--model', join(GOLD, 'model'), '--adapter', join(GOLD, 'lora_a'), '--samples', '2', '--max-new-tokens', '6', '--seed', '0', '--no-progress', '--out', out], { loadModel: async () => model, stdout: sink, stderr: sink });
    assert.equal(code, 0, 'no "--variants base,lora_a" needed');
    const run = readRun(out);
    assert.equal(run.samples.length, 24);
    assert.deepEqual(run.header.variants.map((v) => v.name), ['base', 'lora_a']);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
