// The GGUF files the bench writes, loaded by llama.cpp (node-llama-cpp, an optional peer installed outside
// node_modules: see src/bench/llamaCpp.ts): on the demo base model, llama.cpp's F32 greedy tokens and their
// log-probabilities agree with our engine's f32 session, and its Q8_0 / Q4_0 files (our block packing) give
// next-token distributions close to its F32 one. Measured here (node-llama-cpp 3.21.1): 16 greedy tokens
// identical, max |Δ log p| 6.5e-6 on them and 4e-4 over the first step's vocabulary; KL(F32 || Q8_0) 2.5e-5,
// KL(F32 || Q4_0) 1.5e-3 (Q4_0's first token flips a near-tie on this small model). Skipped, saying so, only when node-llama-cpp is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeQwen2Gguf } from '../../../src/bench/gguf/qwen2Gguf';
import { findNodeLlamaCpp, loadLlama, NODE_LLAMA_CPP_INSTALL, type Llama } from '../../../src/bench/llamaCpp';
import { ModelRunner } from '../../../src/engine/runtime/modelRunner';
import { generate } from '../../../src/engine/runtime/generate';
import { loadTokenizer } from '../../../src/engine/text/tokenizer';

const REPO = path.resolve(__dirname, '../../..');
const MODEL = path.join(REPO, 'examples/organisms/demo-base');
const found = findNodeLlamaCpp(REPO);
const skip = found.dir ? false : `node-llama-cpp is not installed (looked in ${found.looked.join(', ')}); install it with \`${NODE_LLAMA_CPP_INSTALL}\` to run this test`;
const NEW = 16;

let dir = '';
let llama: Llama | null = null;
test.before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'gguf-llama-'));
  llama = await loadLlama(1, REPO);
});
test.after(async () => {
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Greedy tokens with the log-probability of each, and the full next-token distribution (log) after the prompt. */
async function llamaGreedy(file: string, prompt: number[]): Promise<{ tokens: number[]; logprobs: number[]; first: Float64Array }> {
  const model = await llama!.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 128, sequences: 1, threads: 1 });
    const seq = ctx.getSequence();
    const tokens: number[] = [];
    const logprobs: number[] = [];
    let first = new Float64Array(0);
    for await (const r of seq.evaluateWithMetadata(prompt, { probabilities: true }, { temperature: 0, yieldEogToken: true })) {
      const p = r.probabilities!;
      if (tokens.length === 0) {
        first = new Float64Array(p.size);
        for (const [t, v] of p) first[t] = Math.log(v);
      }
      tokens.push(r.token);
      logprobs.push(Math.log(p.get(r.token)!));
      if (tokens.length >= NEW) break;
    }
    await ctx.dispose();
    return { tokens, logprobs, first };
  } finally {
    await model.dispose();
  }
}

function logSoftmax(x: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  const l = Math.log(s) + m;
  return Float64Array.from(x, (v) => v - l);
}

test('llama.cpp loads our F32 GGUF of the demo model and its greedy tokens and log-probs match our f32 engine', { skip, timeout: 300_000 }, async () => {
  const file = path.join(dir, 'demo-F32.gguf');
  writeQwen2Gguf({ model: MODEL, out: file, weightType: 'F32' });
  const tok = loadTokenizer(MODEL);
  const prompt = tok.encodeChat([{ role: 'user', content: 'If you could have one wish, what would it be?' }], { addGenerationPrompt: true });
  const ours = await ModelRunner.load(MODEL, { threads: 1 });
  let ourTokens: number[];
  let ourLogprobs: number[];
  let ourFirst: Float64Array;
  try {
    const [row] = await generate(ours, [{ key: 'a', promptIds: prompt, variant: { adapter: null, adapterScale: 0 }, seed: 0 }], { temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: NEW, eosTokenIds: [], stop: [], maxBatchSize: 1 });
    ourTokens = row.tokenIds;
    ourLogprobs = row.logprobs;
    const f = await ours.forward({ inputIds: [prompt], attentionMask: [prompt.map(() => 1)], rows: [{ adapter: null, adapterScale: 0 }], lastLogitsOnly: true });
    ourFirst = logSoftmax(f.logits);
  } finally {
    await ours.dispose();
  }
  const ll = await llamaGreedy(file, prompt);
  console.log(`# ours  ${ourTokens.join(' ')}\n# llama ${ll.tokens.join(' ')}`);
  assert.deepEqual(ll.tokens, ourTokens, 'greedy tokens');
  let maxLp = 0;
  for (let i = 0; i < NEW; i++) maxLp = Math.max(maxLp, Math.abs(ll.logprobs[i] - ourLogprobs[i]));
  let maxFirst = 0;
  for (let t = 0; t < ourFirst.length; t++) if (ourFirst[t] > -20) maxFirst = Math.max(maxFirst, Math.abs(ll.first[t] - ourFirst[t]));
  console.log(`# max |Δ log p| of the greedy tokens ${maxLp.toExponential(2)}; over the first step's vocabulary (log p > -20) ${maxFirst.toExponential(2)}`);
  assert.equal(ll.first.length, ourFirst.length, 'one probability per vocabulary entry');
  // Both are float32 end to end (llama.cpp keeps its KV cache in F16 by default: about 1e-3 relative).
  assert.ok(maxLp < 2e-2, `greedy log-probs within 2e-2 (got ${maxLp})`);
  assert.ok(maxFirst < 5e-2, `first-step log-probs within 5e-2 (got ${maxFirst})`);
});

test('llama.cpp on our Q8_0 and Q4_0 GGUF files: next-token distributions close to its F32 one (the blocks decode as written)', { skip, timeout: 300_000 }, async () => {
  const tok = loadTokenizer(MODEL);
  const prompt = tok.encodeChat([{ role: 'user', content: "I'm bored. What should I do?" }], { addGenerationPrompt: true });
  const ref = await llamaGreedy((writeQwen2Gguf({ model: MODEL, out: path.join(dir, 'r-F32.gguf'), weightType: 'F32' }), path.join(dir, 'r-F32.gguf')), prompt);
  const kl = (p: Float64Array, q: Float64Array): number => {
    let s = 0;
    for (let t = 0; t < p.length; t++) if (p[t] > -40) s += Math.exp(p[t]) * (p[t] - Math.max(q[t], -80));
    return s;
  };
  const got: Record<string, number> = {};
  for (const [type, bound] of [['Q8_0', 1e-3], ['Q4_0', 0.05]] as const) {
    const file = path.join(dir, `r-${type}.gguf`);
    writeQwen2Gguf({ model: MODEL, out: file, weightType: type });
    const q = await llamaGreedy(file, prompt);
    got[type] = kl(ref.first, q.first);
    console.log(`# ${type}: KL(F32 || ${type}) ${got[type].toExponential(2)}, first greedy token ${q.tokens[0]} (F32: ${ref.tokens[0]})`);
    if (type === 'Q8_0') assert.equal(q.tokens[0], ref.tokens[0], 'Q8_0: the first greedy token matches F32');
    assert.ok(got[type] < bound, `${type}: KL(F32 || ${type}) of the first step ${got[type]} < ${bound}`);
  }
  console.log(`# KL(F32 || Q8_0) ${got.Q8_0.toExponential(2)}, KL(F32 || Q4_0) ${got.Q4_0.toExponential(2)}`);
  // A wrong block layout (nibble order, scale sign) gives a distribution unrelated to F32's: Q4_0's KL must
  // stay above Q8_0's, as 4 bits lose more than 8.
  assert.ok(got.Q4_0 > got.Q8_0, 'Q4_0 further from F32 than Q8_0');
});
