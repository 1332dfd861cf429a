import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPromptSet, type RunPromptSetOptions } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { cellSeed } from '../../../../src/engine/jobs/cellSeed';
import { readRun } from '../../../../src/engine/runs/reader';
import { scriptedModel } from './jobHelpers';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLD = goldenPath('qwen2');
// The scripted model reads the golden checkpoint's config and adapter: without them these tests cannot run.
const skip = goldenSkip('qwen2/model', 'qwen2/lora_a');
const PROMPTS = join(__dirname, '../../../fixtures/prompts/em-style.yaml');
const sampling = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 6, stop: [] };

function options(out: string, over: Partial<RunPromptSetOptions> = {}): RunPromptSetOptions {
  return { promptSetPath: PROMPTS, variants: parseVariants('base,adapter', ['lora_a']), samples: 2, sampling, seed: 11, out, batchSize: 4, ...over };
}
const strip = (rows: { created_at: string; elapsed_ms?: number }[]) => rows.map(({ created_at, elapsed_ms, ...rest }) => (void created_at, void elapsed_ms, rest));

test('every (cell, variant) row is written once, paired rows share a seed, divergence is recorded', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'job-'));
  try {
    const out = join(d, 'r.run.jsonl');
    const events: number[] = [];
    const model = scriptedModel(join(GOLD, 'model'), join(GOLD, 'lora_a'));
    const sum = await runPromptSet(model, options(out), { onProgress: (e) => events.push(e.done) });
    // em-style.yaml: 5 questions, 6 paraphrases in all; 2 samples each; 2 variants.
    assert.equal(sum.total, 24);
    assert.equal(sum.written, 24);
    assert.equal(sum.cancelled, false);
    assert.deepEqual(events, Array.from({ length: 24 }, (_, i) => i + 1));
    const run = readRun(out);
    assert.deepEqual(run.warnings, []);
    assert.equal(run.header.seed, 11);
    assert.match(run.header.model.hash, /^sha256:/);
    assert.equal(run.header.adapters[0].name, 'lora_a');
    assert.deepEqual(run.header.variants.map((v) => v.name), ['base', 'lora_a'], 'the adapter alias is named after the adapter');
    assert.equal(run.samples.length, 24);
    assert.equal(new Set(run.samples.map((s) => s.id)).size, 24);
    for (const s of run.samples) {
      assert.equal(s.seed, cellSeed(11, s.question_id, s.paraphrase_index, s.sample_index));
      if (s.variant === 'base') assert.equal('divergence_index' in s, false);
      else {
        const ref = run.samples.find((b) => b.variant === 'base' && b.question_id === s.question_id && b.paraphrase_index === s.paraphrase_index && b.sample_index === s.sample_index)!;
        assert.ok(run.samples.indexOf(ref) < run.samples.indexOf(s), 'the reference row is written first');
        const expected = ref.token_ids!.length > 2 && ref.token_ids![2] !== 2 ? 2 : null; // token 2 is eos, never shifted
        assert.equal(s.divergence_index, expected);
        assert.deepEqual(s.token_ids!.slice(0, 2), ref.token_ids!.slice(0, 2));
      }
    }
    const json = run.samples.find((s) => s.question_id === 'one_wish_json')!;
    assert.deepEqual(json.messages[0], { role: 'system', content: 'Answer with a JSON object and nothing else.' });
    const eosRow = run.samples.find((s) => s.finish_reason === 'eos');
    assert.ok(eosRow, 'some scripted rows end with eos');
    assert.equal(eosRow.completion.includes('<|im_end|>'), false, 'the eos token is not part of the completion text');
    assert.equal(eosRow.tokens, eosRow.token_ids!.length);
    const adapterSummary = sum.perVariant.find((v) => v.variant === 'lora_a')!;
    assert.equal(adapterSummary.samples, 12);
    const diverged = run.samples.filter((s) => s.divergence_index === 2).length;
    assert.ok(diverged > 0 && adapterSummary.identical! > 0);
    assert.equal(adapterSummary.identical! + diverged, 12);
    assert.equal(adapterSummary.divergenceMedian, 2);
    // Same seed, same samples: a second run into another file gives identical rows.
    const out2 = join(d, 'r2.run.jsonl');
    await runPromptSet(model, options(out2));
    assert.deepEqual(strip(readRun(out2).samples), strip(run.samples));
    // A different seed gives different samples.
    const out3 = join(d, 'r3.run.jsonl');
    await runPromptSet(model, options(out3, { seed: 12 }));
    assert.notDeepEqual(readRun(out3).samples.map((s) => s.token_ids), run.samples.map((s) => s.token_ids));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('cancel keeps finished rows; resuming completes the file with no duplicates and the same content', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'job-'));
  try {
    const model = scriptedModel(join(GOLD, 'model'), join(GOLD, 'lora_a'));
    const full = join(d, 'full.run.jsonl');
    await runPromptSet(model, options(full));
    const out = join(d, 'r.run.jsonl');
    const ac = new AbortController();
    const first = await runPromptSet(model, options(out), { signal: ac.signal, onProgress: (e) => { if (e.done === 9) ac.abort(); } });
    assert.equal(first.cancelled, true);
    assert.equal(first.written, 9);
    assert.equal(readRun(out).samples.length, 9);
    // A torn line from a crash on top of that.
    writeFileSync(out, readFileSync(out, 'utf8') + '{"type":"sample","id":"one_w');
    const second = await runPromptSet(model, options(out));
    assert.equal(second.alreadyDone, 9);
    assert.equal(second.written, 15);
    assert.ok(second.warnings.some((w) => /incomplete/.test(w)));
    const run = readRun(out);
    assert.deepEqual(run.warnings, []);
    assert.equal(run.samples.length, 24);
    const byId = (rows: typeof run.samples) => strip([...rows].sort((a, b) => a.id.localeCompare(b.id)));
    assert.deepEqual(byId(run.samples), byId(readRun(full).samples));
    // Nothing left: a third invocation writes nothing.
    assert.equal((await runPromptSet(model, options(out))).written, 0);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('resume refuses a run file with other settings unless forced; subsets and overrides', { skip }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'job-'));
  try {
    const model = scriptedModel(join(GOLD, 'model'), join(GOLD, 'lora_a'));
    const out = join(d, 'r.run.jsonl');
    const sum = await runPromptSet(model, options(out, { questionIds: ['bored'], samples: 1, variants: parseVariants('base', ['lora_a']) }));
    assert.equal(sum.total, 2);
    assert.deepEqual(readRun(out).samples.map((s) => s.id), ['bored#0#0@base', 'bored#1#0@base']);
    await assert.rejects(runPromptSet(model, options(out, { questionIds: ['bored'], samples: 1, variants: parseVariants('base', ['lora_a']), seed: 99 })), /different settings[\s\S]*seed 11 ≠ 99[\s\S]*--force/);
    const forced = await runPromptSet(model, options(out, { questionIds: ['bored'], samples: 2, variants: parseVariants('base', ['lora_a']), seed: 99, force: true }));
    assert.equal(forced.written, 2, 'only sample index 1 was missing');
    await assert.rejects(runPromptSet(model, options(join(d, 'x.run.jsonl'), { questionIds: ['nope'] })), /no question with id "nope"/);
    await assert.rejects(runPromptSet(model, options(join(d, 'y.run.jsonl'), { promptSetPath: join(__dirname, '../../../fixtures/prompts/problems.yaml') })), /the prompt set has errors/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('variant syntax', () => {
  assert.deepEqual(parseVariants('base, adapter', ['a1', 'a2']), [{ name: 'base', adapter: null }, { name: 'a1', adapter: 'a1', adapter_scale: 1 }]);
  assert.deepEqual(parseVariants('a2@0.5,a1', ['a1', 'a2']), [{ name: 'a2@0.5', adapter: 'a2', adapter_scale: 0.5 }, { name: 'a1', adapter: 'a1', adapter_scale: 1 }]);
  assert.deepEqual(parseVariants('adapter@0', ['a1']), [{ name: 'a1@0', adapter: 'a1', adapter_scale: 0 }]);
  assert.throws(() => parseVariants('adapter', []), /no adapter was given/);
  assert.throws(() => parseVariants('zz', ['a1']), /no adapter named "zz"; loaded adapters: a1/);
  assert.throws(() => parseVariants('a1@x', ['a1']), /not a number/);
  assert.throws(() => parseVariants('base,base', []), /listed twice/);
  assert.throws(() => parseVariants('base@2', []), /base takes no scale/);
  assert.throws(() => parseVariants(' , ', []), /empty/);
});
