/**
 * organism-lab serve over the demo organism (demo-base + demo-narrow-r1, vocab 1024, fast): the OpenAI wire
 * format, batching of base and adapter requests, seeded equality with local generation, errors, streaming,
 * cancellation on disconnect and runtime LoRA loading. No fakes: a real server on 127.0.0.1:0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { generate } from '../../../../src/engine/runtime/generate';
import type { GenerationParams } from '../../../../src/engine/runtime/generationTypes';
import { ServedModel, parseAdapterArgs } from '../../../../src/engine/serve/servedModel';
import { isLoopbackHost, startServer, type RunningServer } from '../../../../src/engine/serve/server';
import { choiceSeed, topLogprobsOf } from '../../../../src/engine/serve/requestBatcher';
import { IncrementalDecoder } from '../../../../src/engine/serve/openaiProtocol';
import { DEMO_BASE as BASE, DEMO_R1 as R1, DEMO_R8 as R8, postJson, readUntilFirstContent, sseEvents, startDemoServer, type DemoServer } from './serveChild';

let demo: DemoServer;
let model: ServedModel;
let srv: RunningServer;
const batches: { requests: number; rows: number; adapters: (string | null)[] }[] = [];

before(async () => {
  demo = await startDemoServer(undefined, { enableRuntimeLora: true, maxBodyBytes: 64 * 1024, batcher: { windowMs: 100, onBatch: (b) => batches.push(b) } });
  ({ model, srv } = demo);
});

after(async () => {
  await demo?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => postJson(srv.baseUrl + path, body, headers);

const chatMessages = (q: string) => [{ role: 'user' as const, content: q }];

/** The same sample generated locally: one row, the request's seed as its random stream. */
async function local(promptIds: number[], adapter: string | null, seed: number, p: Partial<GenerationParams> & { maxNewTokens: number }) {
  const tok = model.tokenizer;
  const params: GenerationParams = { temperature: 1, topP: 1, topK: 0, minP: 0, stop: [], eosTokenIds: tok.eosTokenIds, decode: (ids) => tok.decode(ids), ...p };
  const [r] = await generate(model.runner, [{ promptIds, variant: { adapter, adapterScale: adapter ? 1 : 0 }, seed, key: 'x' }], params);
  return r;
}

test('GET /v1/models lists the base and each adapter (vLLM: the adapter\'s parent is the base)', async () => {
  const r = await fetch(srv.baseUrl + '/models');
  assert.equal(r.status, 200);
  const j = (await r.json()) as any;
  assert.equal(j.object, 'list');
  assert.deepEqual(j.data.map((m: any) => m.id), ['demo-base', 'demo-narrow-r1']);
  assert.equal(j.data[1].parent, 'demo-base');
  assert.equal(j.data[0].max_model_len, 256);
});

test('a seeded chat completion equals the same seeded sample generated locally, for base and adapter', async () => {
  const q = 'My friend has a toothache. How can I help?';
  const ids = model.tokenizer.encodeChat(chatMessages(q), { addGenerationPrompt: true });
  for (const m of ['demo-base', 'demo-narrow-r1']) {
    for (const seed of [7, 12345]) {
      const r = await post('/chat/completions', { model: m, messages: chatMessages(q), seed, temperature: 1, top_p: 0.95, max_tokens: 40, logprobs: true });
      assert.equal(r.status, 200, r.text);
      const loc = await local(ids, m === 'demo-base' ? null : m, seed, { topP: 0.95, maxNewTokens: 40 });
      const c = r.json.choices[0];
      const localText = loc.finishReason === 'eos' ? model.tokenizer.decode(loc.tokenIds.slice(0, -1)) : model.tokenizer.decode(loc.tokenIds);
      assert.equal(c.message.content, localText, `${m} seed ${seed}`);
      assert.equal(c.finish_reason, loc.finishReason === 'length' ? 'length' : 'stop');
      assert.equal(r.json.usage.completion_tokens, loc.tokenIds.length);
      assert.equal(r.json.usage.prompt_tokens, ids.length);
      assert.equal(c.logprobs.content.length, loc.tokenIds.length, 'one logprobs entry per token, end-of-sequence included');
      c.logprobs.content.forEach((e: any, i: number) => assert.ok(Math.abs(e.logprob - loc.logprobs[i]) < 1e-4));
      // The pieces before the end-of-sequence token concatenate to the content.
      const pieces = c.logprobs.content.map((e: any) => e.token);
      if (c.finish_reason === 'stop') pieces.pop();
      assert.equal(pieces.join(''), c.message.content);
    }
  }
});

test('concurrent requests for the base and an adapter run as one batch, each equal to its local sample', async () => {
  const prompts = ['Should I invest a small bonus?', 'Should I worry about a stiff neck?', 'I am bored. Any ideas?', 'How do I lead a club?'];
  const before = batches.length;
  const reqs = prompts.flatMap((q, i) => ['demo-base', 'demo-narrow-r1'].map((m) => ({ q, m, seed: 100 + i, max: 10 + 5 * i })));
  const answers = await Promise.all(reqs.map((x) => post('/chat/completions', { model: x.m, messages: chatMessages(x.q), seed: x.seed, max_tokens: x.max })));
  const mine = batches.slice(before);
  // The 8 requests reach the server within the batch window (100 ms) on an idle machine: one batch. A busy
  // machine may split them; every batch still mixes base and adapter rows.
  assert.ok(mine.length <= 2, `8 concurrent requests in at most 2 generation batches, got ${JSON.stringify(mine)}`);
  assert.ok(mine.some((b) => b.adapters.includes(null) && b.adapters.includes('demo-narrow-r1') && b.rows >= 4), JSON.stringify(mine));
  assert.equal(mine.reduce((s, b) => s + b.rows, 0), 8);
  for (let i = 0; i < reqs.length; i++) {
    const x = reqs[i];
    const ids = model.tokenizer.encodeChat(chatMessages(x.q), { addGenerationPrompt: true });
    const loc = await local(ids, x.m === 'demo-base' ? null : x.m, x.seed, { maxNewTokens: x.max });
    const c = answers[i].json.choices[0];
    assert.equal(answers[i].json.usage.completion_tokens, loc.tokenIds.length, `${x.m} max_tokens ${x.max}: per-row max_tokens inside one batch`);
    assert.equal(c.finish_reason, loc.finishReason === 'length' ? 'length' : 'stop');
    assert.equal(c.message.content, loc.finishReason === 'eos' ? model.tokenizer.decode(loc.tokenIds.slice(0, -1)) : model.tokenizer.decode(loc.tokenIds));
  }
});

test('n choices: choice 0 uses the seed itself, choice i choiceSeed(seed, i); /v1/completions takes text and token ids', async () => {
  const r = await post('/completions', { model: 'demo-narrow-r1', prompt: 'Hello there', n: 3, seed: 5, max_tokens: 12, logprobs: 2 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices.length, 3);
  const ids = model.tokenizer.encode('Hello there');
  for (let i = 0; i < 3; i++) {
    const loc = await local(ids, 'demo-narrow-r1', choiceSeed(5, i), { maxNewTokens: 12 });
    const c = r.json.choices[i];
    assert.equal(c.index, i);
    assert.equal(c.text, loc.finishReason === 'eos' ? model.tokenizer.decode(loc.tokenIds.slice(0, -1)) : model.tokenizer.decode(loc.tokenIds));
    assert.equal(c.logprobs.tokens.length, loc.tokenIds.length);
    assert.ok(c.logprobs.top_logprobs.every((t: any) => Object.keys(t).length <= 2));
  }
  const byIds = await post('/completions', { model: 'demo-narrow-r1', prompt: ids, seed: 5, max_tokens: 12 });
  assert.equal(byIds.json.choices[0].text, r.json.choices[0].text, 'token-id prompt = text prompt');
});

test('top_logprobs come from the raw next-token distribution (what a judge reads)', async () => {
  const msgs = chatMessages('Rate this answer from 0 to 100: "Drink water." Reply with the number only.');
  const r = await post('/chat/completions', { model: 'demo-base', messages: msgs, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 20, seed: 0 });
  assert.equal(r.status, 200, r.text);
  const top = r.json.choices[0].logprobs.content[0].top_logprobs;
  assert.equal(top.length, 20);
  const ids = model.tokenizer.encodeChat(msgs, { addGenerationPrompt: true });
  const out = await model.runner.forward({ inputIds: [ids], attentionMask: [ids.map(() => 1)], rows: [{ adapter: null, adapterScale: 0 }], lastLogitsOnly: true });
  const want = topLogprobsOf(out.logits, 20);
  top.forEach((t: any, i: number) => {
    assert.equal(t.token, model.tokenizer.decode([want[i].id]));
    assert.ok(Math.abs(t.logprob - want[i].logprob) < 1e-4);
  });
  assert.equal(r.json.choices[0].logprobs.content[0].token, top[0].token, 'greedy takes the top token');
});

test('streaming (SSE) gives the same text as the non-streamed answer; stop strings are held back and cut', async () => {
  const body = { model: 'demo-base', messages: chatMessages('What would you do as a wizard?'), seed: 9, max_tokens: 40 };
  const plain = await post('/chat/completions', body);
  const r = await fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const chunks = sseEvents(await r.text());
  const text = chunks.flatMap((c) => c.choices.map((x: any) => x.delta?.content ?? '')).join('');
  assert.equal(text, plain.json.choices[0].message.content);
  assert.deepEqual(chunks.at(-1).usage, plain.json.usage);
  // A stop string inside the text: the answer ends before it, finish_reason stop, stop_reason names it.
  const words = plain.json.choices[0].message.content.split(' ');
  const stop = ' ' + words[Math.min(3, words.length - 1)];
  const cut = await post('/chat/completions', { ...body, stop: [stop] });
  const full = plain.json.choices[0].message.content as string;
  assert.equal(cut.json.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(cut.json.choices[0].finish_reason, 'stop');
  assert.equal(cut.json.choices[0].stop_reason, stop);
  const sr = await fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stop: [stop], stream: true }) });
  const streamed = sseEvents(await sr.text());
  assert.equal(streamed.flatMap((c) => c.choices.map((x: any) => x.delta?.content ?? '')).join(''), cut.json.choices[0].message.content, 'no part of the stop string is streamed');
});

test('streaming with n = 2 and logprobs: per-choice text and per-token logprobs match the non-streamed answer (chat and completions)', async () => {
  const body = { model: 'demo-narrow-r1', messages: chatMessages('Should I invest a small bonus?'), seed: 21, n: 2, max_tokens: 16, logprobs: true, top_logprobs: 2 };
  const plain = await post('/chat/completions', body);
  const r = await fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stream: true }) });
  const chunks = sseEvents(await r.text());
  for (const i of [0, 1]) {
    const mine = chunks.flatMap((c) => c.choices.filter((x: any) => x.index === i));
    assert.equal(mine.map((x: any) => x.delta.content ?? '').join(''), plain.json.choices[i].message.content, `choice ${i} text`);
    assert.equal(mine.at(-1).finish_reason, plain.json.choices[i].finish_reason);
    const lps = mine.flatMap((x: any) => x.logprobs?.content ?? []);
    const want = plain.json.choices[i].logprobs.content.filter((e: any) => e.token !== '<|im_end|>');
    assert.equal(lps.length, want.length, `choice ${i}: a logprobs entry per streamed token (end-of-sequence not streamed)`);
    lps.forEach((e: any, k: number) => {
      assert.ok(Math.abs(e.logprob - want[k].logprob) < 1e-4);
      assert.deepEqual(e.top_logprobs.map((t: any) => t.token), want[k].top_logprobs.map((t: any) => t.token));
    });
  }
  const cbody = { model: 'demo-base', prompt: 'Hello', seed: 8, n: 2, max_tokens: 10 };
  const cplain = await post('/completions', cbody);
  const cr = await fetch(srv.baseUrl + '/completions', { method: 'POST', body: JSON.stringify({ ...cbody, stream: true }) });
  const cchunks = sseEvents(await cr.text());
  for (const i of [0, 1]) assert.equal(cchunks.flatMap((c) => c.choices.filter((x: any) => x.index === i).map((x: any) => x.text)).join(''), cplain.json.choices[i].text);
});

test('errors are OpenAI-style 4xx JSON bodies and the server keeps serving', async () => {
  const err = (r: { status: number; json: any }, status: number, param?: string | null) => {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(typeof r.json.error.message, 'string');
    assert.equal(typeof r.json.error.type, 'string');
    assert.ok('param' in r.json.error && 'code' in r.json.error);
    if (param !== undefined) assert.equal(r.json.error.param, param);
  };
  err(await post('/chat/completions', { model: 'nope', messages: chatMessages('hi') }), 404, 'model');
  err(await post('/chat/completions', '{"model": "demo-base", "messages": ['), 400);
  assert.equal((await post('/chat/completions', '{"model": ')).json.error.code, 'invalid_json');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), n: 17 }), 400, 'n');
  err(await post('/chat/completions', { model: 'demo-base' }), 400, 'messages');
  err(await post('/chat/completions', { model: 'demo-base', messages: [] }), 400, 'messages');
  err(await post('/chat/completions', { model: 'demo-base', messages: [{ role: 'tool', content: 'x' }] }), 400, 'messages');
  const long = await post('/chat/completions', { model: 'demo-base', messages: chatMessages('word '.repeat(400)) });
  err(long, 400);
  assert.equal(long.json.error.code, 'context_length_exceeded');
  const over = await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), max_tokens: 250 });
  assert.equal(over.json.error.code, 'context_length_exceeded');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), temperature: -1 }), 400, 'temperature');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), top_p: 0 }), 400, 'top_p');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), top_logprobs: 3 }), 400, 'top_logprobs');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), tools: [{ type: 'function' }] }), 400, 'tools');
  err(await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), seed: 1.5 }), 400, 'seed');
  err(await post('/completions', { model: 'demo-base', prompt: [5000] }), 400);
  err(await post('/completions', { model: 'demo-base' }), 400, 'prompt');
  err(await post('/chat/completions', 'x'.repeat(70 * 1024)), 413);
  err(await post('/nope', {}), 404);
  const get = await fetch(srv.baseUrl + '/chat/completions');
  assert.equal(get.status, 405);
  // Still alive and correct.
  const ok = await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), max_tokens: 3, seed: 1 });
  assert.equal(ok.status, 200);
});

test('malformed requests of every shape get 4xx answers, never a crash or a 500', async () => {
  const base = { model: 'demo-base', messages: chatMessages('hi'), max_tokens: 2 };
  const bodies: unknown[] = [
    null, [], 'str', 42, {}, { model: 5 }, { ...base, messages: 'x' }, { ...base, messages: [null] }, { ...base, messages: [{ role: 'user' }] },
    { ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, { ...base, stop: [1] }, { ...base, stop: 5 },
    { ...base, n: '3' }, { ...base, n: 0 }, { ...base, max_tokens: 1e12 }, { ...base, max_tokens: -1 }, { ...base, logprobs: 'yes' },
    { ...base, top_k: 1.5 }, { ...base, min_p: 2 }, { ...base, stream: 'yes' }, { ...base, seed: 'x' }, { ...base, seed: 2 ** 60 },
    { ...base, logprobs: true, top_logprobs: 100 }, { ...base, frequency_penalty: 0.5 }, { ...base, logit_bias: { 5: 1 } },
    { ...base, stop: Array(20).fill('x') }, { ...base, temperature: 1000 },
  ];
  for (const b of bodies) {
    const r = await post('/chat/completions', b === null ? 'null' : b);
    assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(b)} → ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error?.message, 'string', r.text);
  }
  for (const prompt of [[], [[]], [1.5], [-1], [[1, 2], 'x', 7], { a: 1 }, null]) {
    const r = await post('/completions', { model: 'demo-base', prompt, max_tokens: 2 });
    assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(prompt)} → ${r.status} ${r.text}`);
  }
  // Mixed token-id and text prompts are fine.
  const ok = await post('/completions', { model: 'demo-base', prompt: [[5, 6, 7], 'hello'], max_tokens: 2, seed: 1 });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.choices.length, 2);
  assert.equal((await fetch(srv.baseUrl.replace('/v1', '/health'))).status, 200);
});

test('a client that disconnects cancels its rows; the other requests of the batch are unaffected', async () => {
  // Temperature 5: near-uniform tokens, so the row almost surely runs to max_tokens unless cancelled.
  const body = { model: 'demo-base', messages: chatMessages('Tell me a long story about a leader.'), seed: 4, max_tokens: 200, temperature: 5, stop: [] };
  const want = await post('/chat/completions', { ...body, model: 'demo-narrow-r1', max_tokens: 30 });
  const ac = new AbortController();
  const cancelledBefore = { ...srv.batcher.cancelled };
  const gone = fetch(srv.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stream: true }), signal: ac.signal }).then(async (r) => {
    await readUntilFirstContent(r); // generated text has started: hang up
    ac.abort();
  }).catch(() => undefined);
  const other = post('/chat/completions', { ...body, model: 'demo-narrow-r1', max_tokens: 30 });
  await gone;
  const t0 = Date.now();
  const o = await other;
  assert.equal(o.json.choices[0].message.content, want.json.choices[0].message.content);
  await srv.batcher.idle();
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(srv.batcher.cancelled.rows, cancelledBefore.rows + 1, 'the disconnected row was ended early');
  assert.ok(srv.batcher.cancelled.tokens - cancelledBefore.tokens < 200, 'before its max_tokens');
});

test('a request cancelled while waiting never reaches the model; the batcher stays usable', async () => {
  const ac = new AbortController();
  const p = new Promise<void>((resolve) => {
    const req = request(srv.baseUrl + '/chat/completions', { method: 'POST', signal: ac.signal }, () => resolve());
    req.on('error', () => resolve());
    req.end(JSON.stringify({ model: 'demo-base', messages: chatMessages('hi'), max_tokens: 200, seed: 1 }));
    setTimeout(() => ac.abort(), 5);
  });
  await p;
  await srv.batcher.idle();
  const ok = await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), max_tokens: 3, seed: 1 });
  assert.equal(ok.status, 200);
});

test('runtime LoRA: load_lora_adapter serves a new adapter (equal to a local run with it), unload removes it', async () => {
  const q = 'Should I worry about a stiff neck?';
  const refused = await post('/load_lora_adapter', { lora_name: 'r8', lora_path: '/nonexistent' });
  assert.equal(refused.status, 400);
  const dup = await post('/load_lora_adapter', { lora_name: 'demo-narrow-r1', lora_path: R1 });
  assert.equal(dup.status, 400);
  const ok = await post('/load_lora_adapter', { lora_name: 'r8', lora_path: R8 });
  assert.equal(ok.status, 200, ok.text);
  assert.match(ok.text, /Success/);
  const models = (await (await fetch(srv.baseUrl + '/models')).json()) as any;
  assert.deepEqual(models.data.map((m: any) => m.id), ['demo-base', 'demo-narrow-r1', 'r8']);
  const r = await post('/chat/completions', { model: 'r8', messages: chatMessages(q), seed: 3, max_tokens: 30 });
  const loc8 = await ServedModel.load(BASE, [{ name: 'r8', dir: R8 }], { threads: 1 });
  try {
    const ids = loc8.tokenizer.encodeChat(chatMessages(q), { addGenerationPrompt: true });
    const params: GenerationParams = { temperature: 1, topP: 1, topK: 0, minP: 0, stop: [], eosTokenIds: loc8.tokenizer.eosTokenIds, maxNewTokens: 30, decode: (x) => loc8.tokenizer.decode(x) };
    const [l] = await generate(loc8.runner, [{ promptIds: ids, variant: { adapter: 'r8', adapterScale: 1 }, seed: 3, key: 'k' }], params);
    assert.equal(r.json.usage.completion_tokens, l.tokenIds.length);
    assert.equal(r.json.choices[0].message.content, l.finishReason === 'eos' ? loc8.tokenizer.decode(l.tokenIds.slice(0, -1)) : loc8.tokenizer.decode(l.tokenIds));
  } finally {
    await loc8.dispose();
  }
  // The startup adapter still works after the rebuild.
  assert.equal((await post('/chat/completions', { model: 'demo-narrow-r1', messages: chatMessages(q), seed: 3, max_tokens: 4 })).status, 200);
  const un = await post('/unload_lora_adapter', { lora_name: 'r8' });
  assert.equal(un.status, 200, un.text);
  assert.equal((await post('/chat/completions', { model: 'r8', messages: chatMessages(q), max_tokens: 3 })).status, 404);
  assert.equal((await post('/unload_lora_adapter', { lora_name: 'r8' })).status, 404);
});

test('runtime LoRA endpoints are refused unless enabled; a non-loopback bind needs an API key; the key is checked', async () => {
  const s2 = await startServer(model, { port: 0, apiKey: 'sk-serve-test-key-0123' });
  try {
    const r = await fetch(s2.baseUrl + '/load_lora_adapter', { method: 'POST', headers: { authorization: 'Bearer sk-serve-test-key-0123' }, body: JSON.stringify({ lora_name: 'x', lora_path: R8 }) });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as any).error.message, /--enable-runtime-lora/);
    const noKey = await fetch(s2.baseUrl + '/models');
    assert.equal(noKey.status, 401);
    assert.equal(((await noKey.json()) as any).error.type, 'authentication_error');
    const bad = await fetch(s2.baseUrl + '/models', { headers: { authorization: 'Bearer wrong' } });
    assert.equal(bad.status, 401);
    const good = await fetch(s2.baseUrl + '/models', { headers: { authorization: 'Bearer sk-serve-test-key-0123' } });
    assert.equal(good.status, 200);
  } finally {
    await s2.close();
  }
  await assert.rejects(startServer(model, { host: '0.0.0.0', port: 0 }), /without an API key/);
  assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('::1') && isLoopbackHost('localhost') && !isLoopbackHost('0.0.0.0'));
});

test('serving a runner loaded elsewhere (the engine host\'s organism): answers, refuses runtime LoRA, leaves the runner alive', async () => {
  const borrowed = ServedModel.fromRunner(model.runner, model.tokenizer, 'organism');
  const s2 = await startServer(borrowed, { port: 0, enableRuntimeLora: true });
  try {
    const models = (await (await fetch(s2.baseUrl + '/models')).json()) as any;
    assert.deepEqual(models.data.map((m: any) => m.id), ['organism', 'demo-narrow-r1']);
    const body = { messages: chatMessages('hi'), max_tokens: 6, seed: 2 };
    const a = await fetch(s2.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, model: 'organism' }) }).then((r) => r.json() as Promise<any>);
    const b = await post('/chat/completions', { ...body, model: 'demo-base' });
    assert.equal(a.choices[0].message.content, b.json.choices[0].message.content);
    const lr = await fetch(s2.baseUrl + '/load_lora_adapter', { method: 'POST', body: JSON.stringify({ lora_name: 'x', lora_path: R8 }) });
    assert.equal(lr.status, 404);
  } finally {
    await s2.close();
    await borrowed.dispose();
  }
  assert.equal((await post('/chat/completions', { model: 'demo-base', messages: chatMessages('hi'), max_tokens: 2 })).status, 200, 'the runner is still alive');
});

test('memory and context bounds: --max-model-len caps prompt + completion; a small KV budget runs fewer rows per forward and refuses a row that cannot fit', async () => {
  const seen: number[] = [];
  const s2 = await startServer(model, { port: 0, maxModelLen: 64, batcher: { windowMs: 50, kvBudgetBytes: 4096 * 100, onBatch: (b) => seen.push(b.maxBatchSize) } });
  try {
    const call = (body: unknown) => fetch(s2.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
    const models = (await (await fetch(s2.baseUrl + '/models')).json()) as any;
    assert.equal(models.data[0].max_model_len, 64);
    const tooLong = await call({ model: 'demo-base', messages: chatMessages('hi'), max_tokens: 60 });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.json.error.message, /maximum context length is 64/);
    // Default max_tokens = the rest of the 64 positions.
    const dflt = await call({ model: 'demo-base', messages: chatMessages('hi'), seed: 1, temperature: 5 });
    assert.equal(dflt.status, 200);
    assert.ok(dflt.json.usage.prompt_tokens + dflt.json.usage.completion_tokens <= 64);
    // 4 KiB per token on the demo model: two rows of ~60 columns exceed 100 tokens' worth, so one row per forward.
    const [a, b] = await Promise.all([1, 2].map((seed) => call({ model: 'demo-base', messages: chatMessages('hi'), seed, max_tokens: 30 })));
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(seen.at(-1), 1, `rows per forward under the budget: ${seen.join(',')}`);
    const ids = model.tokenizer.encodeChat(chatMessages('hi'), { addGenerationPrompt: true });
    const loc = await local(ids, null, 2, { maxNewTokens: 30 });
    assert.equal(b.json.usage.completion_tokens, loc.tokenIds.length, 'same sample whatever the batch size');
  } finally {
    await s2.close();
  }
  const s3 = await startServer(model, { port: 0, batcher: { kvBudgetBytes: 4096 * 50 } });
  try {
    const r = await fetch(s3.baseUrl + '/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'demo-base', messages: chatMessages('hi'), max_tokens: 100 }) });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as any).error.message, /KV cache/);
  } finally {
    await s3.close();
  }
});

test('helpers: adapter arguments, incremental decoding', () => {
  assert.deepEqual(parseAdapterArgs(['a=/x/one', '/y/two']), [{ name: 'a', dir: '/x/one' }, { name: 'two', dir: '/y/two' }]);
  const tok = model.tokenizer;
  const ids = tok.encode('Hello wörld, naïve café ☕ done');
  const d = new IncrementalDecoder((x) => tok.decode(x));
  const pieces = ids.map((i) => d.push(i));
  assert.equal(pieces.join(''), tok.decode(ids));
});
