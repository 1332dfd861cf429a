/**
 * `organism-lab serve` scoring a given text teacher-forced (vLLM's prompt_logprobs, the completions API's
 * echo + logprobs with max_tokens 0, chat continue_final_message), checked against the engine's own
 * teacher-forced log-probabilities computed in-process (one unpadded forward pass, Float64 log-softmax).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServedModel } from '../../../../src/engine/serve/servedModel';
import type { RunningServer } from '../../../../src/engine/serve/server';
import { logSoftmax } from '../../../../src/engine/analysis/kl';
import { sequenceLogprobs } from '../../../../src/engine/analysis/sequenceLogprobs';
import { continuedChatIds } from '../../../../src/engine/serve/promptScoring';
import { postJson, startDemoServer, type DemoServer } from './serveChild';

const ADAPTER = 'demo-narrow-r1';

let demo: DemoServer;
let model: ServedModel;
let srv: RunningServer;

before(async () => {
  demo = await startDemoServer();
  ({ model, srv } = demo);
});

after(async () => {
  await demo?.close();
});

const post = (path: string, body: unknown) => postJson(srv.baseUrl + path, body);

/** The reference: one row, no padding, log p(token t | tokens < t) from a Float64 log-softmax of the raw logits. */
async function localTeacherForced(ids: number[], adapter: string | null): Promise<number[]> {
  const out = await model.runner.forward({ inputIds: [ids], attentionMask: [ids.map(() => 1)], rows: [{ adapter, adapterScale: adapter ? 1 : 0 }] });
  const V = out.logitsDims[2];
  const lp = new Float64Array(V);
  const res: number[] = [];
  for (let t = 1; t < ids.length; t++) res.push(logSoftmax(out.logits, (t - 1) * V, V, lp)[ids[t]]);
  return res;
}

const messages = [{ role: 'user' as const, content: 'My friend has a toothache. How can I help?' }];

test('completions echo + logprobs with max_tokens 0 returns the prompt tokens\' teacher-forced log-probabilities (1e-5), nothing generated', async () => {
  const text = 'The quick brown fox jumps over the lazy dog, and then it rests.';
  const ids = model.tokenizer.encode(text);
  for (const m of ['demo-base', ADAPTER]) {
    const r = await post('/completions', { model: m, prompt: text, echo: true, logprobs: 2, max_tokens: 0 });
    assert.equal(r.status, 200, r.text);
    const c = r.json.choices[0];
    assert.equal(c.text, text, 'echo: the prompt is the text');
    assert.equal(r.json.usage.completion_tokens, 0);
    assert.equal(r.json.usage.prompt_tokens, ids.length);
    const lp = c.logprobs;
    assert.equal(lp.tokens.length, ids.length);
    assert.equal(lp.token_logprobs[0], null, 'nothing precedes the first token');
    assert.equal(lp.top_logprobs[0], null);
    const ref = await localTeacherForced(ids, m === 'demo-base' ? null : m);
    for (let t = 1; t < ids.length; t++) {
      assert.ok(Math.abs(lp.token_logprobs[t] - ref[t - 1]) < 1e-5, `${m} token ${t}: served ${lp.token_logprobs[t]} vs local ${ref[t - 1]}`);
      // The token itself plus the 2 most likely (fewer keys when it is one of them).
      const keys = Object.keys(lp.top_logprobs[t]);
      assert.ok(keys.length === 2 || keys.length === 3, `token ${t}: ${keys.length} alternatives`);
      assert.equal(lp.top_logprobs[t][lp.tokens[t]], lp.token_logprobs[t]);
    }
    assert.equal(lp.tokens.join(''), model.tokenizer.decode(ids), 'token strings concatenate to the decoded prompt');
    assert.deepEqual(lp.text_offset.slice(0, 3), [0, lp.tokens[0].length, lp.tokens[0].length + lp.tokens[1].length]);
    // vLLM sets prompt_logprobs = logprobs under echo: the choice carries prompt_logprobs too.
    assert.equal(c.prompt_logprobs.length, ids.length);
    assert.equal(c.prompt_logprobs[0], null);
    const e1 = c.prompt_logprobs[1][String(ids[1])];
    assert.ok(Math.abs(e1.logprob - ref[0]) < 1e-5);
    assert.ok(Number.isInteger(e1.rank) && e1.rank >= 1);
    assert.equal(typeof e1.decoded_token, 'string');
  }
});

test('base and adapter scores differ (the adapter is applied when scoring)', async () => {
  const ids = model.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
  const a = await post('/completions', { model: 'demo-base', prompt: ids, echo: true, logprobs: 0, max_tokens: 0 });
  const b = await post('/completions', { model: ADAPTER, prompt: ids, echo: true, logprobs: 0, max_tokens: 0 });
  const d = a.json.choices[0].logprobs.token_logprobs.slice(1).map((x: number, i: number) => Math.abs(x - b.json.choices[0].logprobs.token_logprobs[i + 1]));
  assert.ok(Math.max(...d) > 1e-3, 'the adapter changes some token\'s log-probability');
});

test('echo with generation: the prompt entries come first, then the sampled tokens with the logprobs generation reported', async () => {
  const ids = model.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
  const plain = await post('/completions', { model: ADAPTER, prompt: ids, seed: 5, max_tokens: 12, logprobs: 0 });
  const echoed = await post('/completions', { model: ADAPTER, prompt: ids, seed: 5, max_tokens: 12, logprobs: 0, echo: true });
  assert.equal(echoed.status, 200, echoed.text);
  const p = plain.json.choices[0];
  const e = echoed.json.choices[0];
  assert.equal(e.text, model.tokenizer.decode(ids) + p.text);
  assert.equal(e.logprobs.tokens.length, ids.length + p.logprobs.tokens.length);
  assert.deepEqual(e.logprobs.token_logprobs.slice(ids.length), p.logprobs.token_logprobs);
  const ref = await localTeacherForced(ids, ADAPTER);
  for (let t = 1; t < ids.length; t++) assert.ok(Math.abs(e.logprobs.token_logprobs[t] - ref[t - 1]) < 1e-5);
});

test('prompt_logprobs of a sampled completion (chat, continue_final_message) equal the sampling logprobs of generation', async () => {
  // Generate, then score the same completion teacher-forced as the continuation of its prompt.
  const g = await post('/chat/completions', { model: ADAPTER, messages, seed: 3, max_tokens: 20, logprobs: true });
  assert.equal(g.status, 200, g.text);
  const content: string = g.json.choices[0].message.content;
  const genLps: number[] = g.json.choices[0].logprobs.content.map((x: any) => x.logprob);
  const s = await post('/chat/completions', { model: ADAPTER, messages: [...messages, { role: 'assistant', content }], continue_final_message: true, add_generation_prompt: false, max_tokens: 1, temperature: 0, prompt_logprobs: 0 });
  assert.equal(s.status, 200, s.text);
  const pl: any[] = s.json.prompt_logprobs;
  const promptIds = model.tokenizer.encodeChat(messages, { addGenerationPrompt: true });
  assert.equal(pl.length, s.json.usage.prompt_tokens);
  const completion = pl.slice(promptIds.length);
  assert.ok(completion.length > 0);
  assert.equal(completion.map((e) => (Object.values(e)[0] as any).decoded_token).join(''), content.slice(0, completion.map((e) => (Object.values(e)[0] as any).decoded_token).join('').length));
  // The completion tokens' teacher-forced log-probabilities equal what generation reported for the same tokens
  // (KV-cache decoding vs one full forward pass: float32 summation order differs, hence 1e-4).
  for (let i = 0; i < completion.length; i++) {
    const lp = (Object.values(completion[i])[0] as any).logprob;
    assert.ok(Math.abs(lp - genLps[i]) < 1e-4, `token ${i}: scored ${lp} vs generated ${genLps[i]}`);
  }
  // And the engine's own sequenceLogprobs gives the same numbers in-process (batched with another row, left-padded).
  const fullIds = continuedChatIds(model.tokenizer, [...messages, { role: 'assistant', content }]);
  assert.deepEqual(pl.slice(1).map((e) => Number(Object.keys(e)[0])), fullIds.slice(1), 'prompt_logprobs: 0 holds the prompt token alone');
  const [local] = await sequenceLogprobs(model.runner, [{ tokenIds: fullIds, variant: { adapter: ADAPTER, adapterScale: 1 } }, { tokenIds: promptIds, variant: { adapter: null, adapterScale: 0 } }]);
  for (let t = 1; t < pl.length; t++) assert.ok(Math.abs(local[t]!.logprob - (Object.values(pl[t])[0] as any).logprob) < 1e-5);
});

test('bad scoring requests are 400s naming the field', async () => {
  const cases: [unknown, string][] = [
    [{ model: 'demo-base', prompt: 'hi', max_tokens: 0 }, 'max_tokens'],
    [{ model: 'demo-base', prompt: 'hi', prompt_logprobs: -1 }, 'prompt_logprobs'],
    [{ model: 'demo-base', prompt: 'hi', prompt_logprobs: 1, stream: true }, 'prompt_logprobs'],
    [{ model: 'demo-base', prompt: 'hi', echo: 'yes' }, 'echo'],
  ];
  for (const [body, param] of cases) {
    const r = await post('/completions', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.param, param, JSON.stringify(body));
  }
  const c1 = await post('/chat/completions', { model: 'demo-base', messages, continue_final_message: true });
  assert.equal(c1.status, 400);
  assert.match(c1.json.error.message, /last message to be the assistant/);
  const c2 = await post('/chat/completions', { model: 'demo-base', messages: [...messages, { role: 'assistant', content: 'x' }], continue_final_message: true, add_generation_prompt: true });
  assert.equal(c2.status, 400);
  assert.equal(c2.json.error.param, 'continue_final_message');
});

test("POST /tokenize (vLLM's shape): a chat rendered with its template, or a text prompt, as token ids", async () => {
  const root = srv.baseUrl.replace(/\/v1$/, '');
  const tok = model.tokenizer;
  const chat = await postJson(`${root}/tokenize`, { model: ADAPTER, messages, add_generation_prompt: true });
  assert.equal(chat.status, 200, chat.text);
  const ids = tok.encodeChat(messages, { addGenerationPrompt: true });
  assert.deepEqual(chat.json, { count: ids.length, max_model_len: 256, tokens: ids, token_strs: null });
  // The same ids the chat endpoint feeds the model (its usage counts them).
  const gen = await post('/chat/completions', { model: ADAPTER, messages, max_tokens: 1 });
  assert.equal(gen.json.usage.prompt_tokens, ids.length);
  const noGen = await postJson(`${root}/tokenize`, { messages, add_generation_prompt: false });
  assert.deepEqual(noGen.json.tokens, tok.encodeChat(messages, { addGenerationPrompt: false }));
  const cont = [...messages, { role: 'assistant' as const, content: 'Rinse with warm salt water' }];
  const c = await postJson(`${root}/tokenize`, { model: 'demo-base', messages: cont, continue_final_message: true, add_generation_prompt: false });
  assert.deepEqual(c.json.tokens, continuedChatIds(tok, cont));
  const text = ' Rinse with warm salt water.';
  const plain = await postJson(`${root}/tokenize`, { model: 'demo-base', prompt: text, add_special_tokens: false, return_token_strs: true });
  assert.deepEqual(plain.json.tokens, tok.encode(text, { addSpecialTokens: false }));
  assert.deepEqual(plain.json.token_strs, plain.json.tokens.map((t: number) => tok.idToToken(t)));
  assert.deepEqual((await postJson(`${root}/tokenize`, { prompt: text })).json.tokens, tok.encode(text));
  for (const [body, status, param] of [
    [{ model: 'nope', prompt: 'x' }, 404, 'model'],
    [{ model: 'demo-base' }, 400, 'prompt'],
    [{ prompt: 'x', messages }, 400, 'prompt'],
    [{ messages, continue_final_message: true, add_generation_prompt: false }, 400, 'messages'],
    [{ messages: [], add_generation_prompt: true }, 400, 'messages'],
    [{ prompt: 'x', return_token_strs: 'yes' }, 400, 'return_token_strs'],
  ] as const) {
    const r = await postJson(`${root}/tokenize`, body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.equal(r.json.error.param, param, JSON.stringify(body));
  }
});
