// Issue 11 §2–3, prompt sets: YAML depth and alias expansion, text and message-count limits, the context
// budget preflight before anything is written, and no sample written from NaN/Inf logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePromptSet } from '../../../../src/engine/prompts/promptSet';
import { DEFAULT_PROMPT_SET_LIMITS } from '../../../../src/engine/limits/limits';
import { yamlDepthEstimate } from '../../../../src/engine/prompts/sizeLimits';
import { MAX_CHARS_PER_TOKEN, firstNonFiniteStep, preflightPrompts } from '../../../../src/engine/jobs/promptPreflight';
import { runPromptSet, type JobModel } from '../../../../src/engine/jobs/runPromptSet';
import type { SamplingParams } from '../../../../src/engine/runs/schema';
import { scriptedGenerate, scriptedModel } from '../jobs/jobHelpers';

const tmp = mkdtempSync(path.join(tmpdir(), 'limits-prompts-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const timed = <T>(f: () => T, ms: number, what: string): T => {
  const t0 = Date.now();
  const v = f();
  assert.ok(Date.now() - t0 < ms, `${what} took ${Date.now() - t0} ms (limit ${ms})`);
  return v;
};
const codes = (set: ReturnType<typeof parsePromptSet>) => set.problems.filter((p) => p.severity === 'error').map((p) => p.code);

test('YAML nested 1,000 deep (flow and block) is refused with a clear message, not a stack overflow', () => {
  const flow = '- id: a\n  paraphrases: [' + '['.repeat(1000) + ']'.repeat(1000) + ']\n';
  let block = '- id: a\n  paraphrases:\n';
  for (let i = 0; i < 1000; i++) block += ' '.repeat(4 + i) + 'a:\n';
  for (const text of [flow, block, '- ' + '- '.repeat(1000) + 'x\n']) {
    const set = timed(() => parsePromptSet('/p/deep.yaml', text), 2000, 'deep YAML');
    assert.deepEqual(codes(set), ['yaml-too-deep']);
    assert.ok(!set.problems.some((p) => /call stack/.test(p.message)));
    assert.match(set.problems[0].message, /nested more than 32 levels deep/);
  }
  // The estimate is not fooled by brackets in quoted text or block scalars, and a normal set is shallow.
  const normal = '- id: q\n  system: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["\n  paraphrases:\n    - |\n      [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n        deeply\n          indented\n    - it\'s [fine]\n';
  assert.ok(yamlDepthEstimate(normal, 32).depth <= 6, String(yamlDepthEstimate(normal, 32).depth));
  assert.deepEqual(codes(parsePromptSet('/p/ok.yaml', normal)), []);
});

test('YAML aliases: 2,000 uses of one 10 KB paraphrase and an alias bomb are refused in bounded time', () => {
  const many = '- id: q\n  paraphrases:\n    - &p "' + 'x'.repeat(10_000) + '"\n' + '    - *p\n'.repeat(2000);
  const set = timed(() => parsePromptSet('/p/alias.yaml', many), 5000, 'alias expansion');
  assert.deepEqual(codes(set), ['yaml-too-large']);
  assert.match(set.problems[0].message, /with its aliases \(\*name\) expanded, the prompt set holds more than 16,777,216 characters/);
  let bomb = '- id: q\n  paraphrases: [x]\n  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < 9; i++) bomb += `  a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]\n`;
  const b = timed(() => parsePromptSet('/p/bomb.yaml', bomb), 5000, 'alias bomb');
  assert.deepEqual(codes(b), ['yaml-too-large']);
  // Limits are configurable: a smaller character budget refuses a smaller expansion.
  const few = '- id: q\n  paraphrases:\n    - &p "' + 'x'.repeat(1000) + '"\n' + '    - *p\n'.repeat(20);
  assert.deepEqual(codes(parsePromptSet('/p/few.yaml', few)), []);
  assert.deepEqual(codes(parsePromptSet('/p/few.yaml', few, { ...DEFAULT_PROMPT_SET_LIMITS, maxExpandedChars: 10_000 })), ['yaml-too-large']);
});

test('one over-long paraphrase, system prompt, JSONL prompt or message is refused by question; 100,000 messages too', () => {
  const big = 'y'.repeat(DEFAULT_PROMPT_SET_LIMITS.maxTextChars + 1);
  assert.deepEqual(codes(parsePromptSet('/p/a.yaml', `- id: q\n  paraphrases: ["${big}"]\n`)), ['text-too-long']);
  assert.deepEqual(codes(parsePromptSet('/p/a.yaml', `- id: q\n  system: "${big}"\n  paraphrases: [hi]\n`)), ['text-too-long']);
  assert.deepEqual(codes(parsePromptSet('/p/a.jsonl', JSON.stringify({ id: 'q', prompt: big }))), ['text-too-long']);
  assert.deepEqual(codes(parsePromptSet('/p/a.jsonl', JSON.stringify({ id: 'q', messages: [{ role: 'user', content: big }] }))), ['text-too-long']);
  const msgs = Array.from({ length: 100_000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'hi' }));
  msgs.push({ role: 'user', content: 'q' });
  const set = timed(() => parsePromptSet('/p/m.jsonl', JSON.stringify({ id: 'long', messages: msgs })), 3000, '100,000 messages');
  assert.deepEqual(codes(set), ['too-many-messages']);
  assert.match(set.problems[0].message, /100,001 messages, above the limit of 4,096/);
  // A whole file above the character budget is refused before parsing.
  const f = path.join(tmp, 'huge.jsonl');
  writeFileSync(f, (JSON.stringify({ id: 'q', prompt: 'z'.repeat(1000) }) + '\n').repeat(20_000));
  const h = parsePromptSet(f, undefined, { ...DEFAULT_PROMPT_SET_LIMITS, maxExpandedChars: 1_000_000 });
  assert.deepEqual(codes(h), ['file-too-large']);
});

/** A tokenizer stand-in: one token per character, counting calls. */
function charTokenizer() {
  const t = {
    calls: 0,
    dir: '/tok', specialTokens: {} as never, eosTokenIds: [2], hasChatTemplate: true, vocabSize: 512,
    encode: (s: string) => [...s].map((c) => c.charCodeAt(0) % 512),
    decode: (ids: number[]) => String.fromCharCode(...ids),
    tokenToId: () => undefined, idToToken: () => undefined,
    renderChat: (m: { content: string }[]) => m.map((x) => x.content).join('\n'),
    encodeChat(m: { content: string }[]) {
      t.calls++;
      return [...m.map((x) => x.content).join('\n')].map((c) => c.charCodeAt(0) % 512);
    },
  };
  return t;
}

test('context budget: a prompt longer than max_position_embeddings (or the configured budget) is refused before tokenizing or writing', () => {
  const f = path.join(tmp, 'long.yaml');
  writeFileSync(f, `- id: short\n  paraphrases: [hello]\n- id: long_one\n  paraphrases:\n    - ok\n    - "${'w'.repeat(300)}"\n`);
  const set = parsePromptSet(f);
  const tok = charTokenizer();
  assert.throws(
    () => preflightPrompts({ promptSetPath: f, questions: set.questions, tokenizer: tok as never, maxNewTokens: 16, maxPositions: 256, modelSource: '/m/config.json' }),
    (e: Error) => e.message.includes(`${f}:3: question "long_one" paraphrase 1: the prompt is 300 tokens, which leaves no position to generate in within the context budget of 256`) && /max_position_embeddings in \/m\/config\.json/.test(e.message),
  );
  // A configurable budget below max_position_embeddings.
  assert.throws(() => preflightPrompts({ promptSetPath: f, questions: set.questions, tokenizer: tok as never, maxNewTokens: 16, maxPositions: 4096, contextBudget: 20 }), /the prompt is 300 tokens, which leaves no position to generate in within the context budget of 20[\s\S]*--context-budget/);
  assert.equal(preflightPrompts({ promptSetPath: f, questions: set.questions, tokenizer: tok as never, maxNewTokens: 16, maxPositions: 4096 }).size, 3);
  // Far too long to fit at any token length: refused without tokenizing (bounded time and memory).
  const g = path.join(tmp, 'huge.yaml');
  writeFileSync(g, `- id: huge\n  paraphrases: ["${'v'.repeat(256 * MAX_CHARS_PER_TOKEN + 1)}"]\n`);
  const t2 = charTokenizer();
  assert.throws(() => preflightPrompts({ promptSetPath: g, questions: parsePromptSet(g).questions, tokenizer: t2 as never, maxNewTokens: 16, maxPositions: 256 }), /question "huge" paraphrase 0: the prompt has 16,385 characters, which cannot fit/);
  assert.equal(t2.calls, 0);
  // A completion that may run past the budget is a warning (as in transformers), not a refusal.
  const warnings: string[] = [];
  const short = parsePromptSet(f).questions.filter((q) => q.id === 'short');
  assert.equal(preflightPrompts({ promptSetPath: f, questions: short, tokenizer: t2 as never, maxNewTokens: 300, maxPositions: 256, warn: (m) => warnings.push(m) }).size, 1);
  assert.match(warnings.join('\n'), /the longest prompt is 5 tokens; with max_new_tokens 300 a completion may run past the context budget of 256/);
});

const sampling: SamplingParams = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] };

test('runPromptSet: the preflight runs before the run file is created', async () => {
  const f = path.join(tmp, 'job.yaml');
  writeFileSync(f, `- id: fits\n  paraphrases: [hi]\n- id: too_long\n  paraphrases: ["${'long words '.repeat(400)}"]\n`);
  const model: JobModel = { ...scriptedModel('/m', '/a'), maxPositions: 128, modelSource: '/m/config.json' };
  const out = path.join(tmp, 'job.run.jsonl');
  await assert.rejects(runPromptSet(model, { promptSetPath: f, variants: [{ name: 'base' }], sampling, seed: 1, out }), /question "too_long" paraphrase 0: the prompt is [\d,]+ tokens, which leaves no position/);
  assert.equal(existsSync(out), false, 'nothing was written');
});

test('runPromptSet: a sample computed from NaN/Inf logits is not written; the job fails naming the sample', async () => {
  const f = path.join(tmp, 'nan.yaml');
  writeFileSync(f, `- id: q\n  paraphrases: [hi]\n  samples_per_paraphrase: 2\n`);
  const model: JobModel = {
    ...scriptedModel('/m', '/a'),
    generate: async (rows, params, hooks) => scriptedGenerate(rows, params, {
      ...hooks,
      // The adapted row of sample 1 gets NaN logits at its first token.
      onRowDone: (r) => hooks.onRowDone?.(r.key === 'q#0#1@lora_a' ? { ...r, logprobs: r.logprobs.map((x, i) => (i === 0 ? NaN : x)) } : r),
    }),
  };
  const out = path.join(tmp, 'nan.run.jsonl');
  await assert.rejects(
    runPromptSet(model, { promptSetPath: f, variants: [{ name: 'base' }, { name: 'lora_a', adapter: 'lora_a' }], sampling, seed: 1, out, batchSize: 4 }),
    /NaN\/Inf logits for sample "q#0#1@lora_a" at completion token 0; that sample was not written/,
  );
  const ids = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l).id);
  assert.ok(!ids.includes('q#0#1@lora_a'), ids.join(', '));
  assert.equal(firstNonFiniteStep({ logprobs: [-1, -Infinity] }), 1);
  assert.equal(firstNonFiniteStep({ logprobs: [-1, -2] }), -1);
});
