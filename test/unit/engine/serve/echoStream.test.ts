/**
 * `POST /v1/completions` with `echo` and `stream` against a real `organism-lab serve` child, streamed the way
 * vLLM's serving_completion.py does: each choice's first chunk carries the echoed prompt (its text, and with
 * logprobs its tokens' log-probabilities, the first null) followed by the first generated token; the rest are
 * the generated deltas; with max_tokens 0 that first chunk is the whole choice (finish_reason "length").
 * Checked against the same request without stream (same seed: the same text and numbers).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../../../src/engine/text/tokenizer';
import { DEMO_BASE, postJson, sseEvents, spawnServe, type ServeChild } from './serveChild';

let serve: ServeChild;

before(async () => {
  serve = await spawnServe();
});

after(async () => {
  await serve?.kill();
});

/** A chat prompt rendered as text (the demo organism answers it at some length). */
const PROMPT = loadTokenizer(DEMO_BASE).renderChat([{ role: 'user', content: 'My friend has a toothache. How can I help?' }], { addGenerationPrompt: true });

/** The chunks of a streamed completions request, grouped by choice index (in arrival order), and the usage chunk. */
async function streamed(body: Record<string, unknown>): Promise<{ byChoice: Map<number, any[]>; usage: any; order: number[] }> {
  const r = await postJson(`${serve.url}/completions`, { ...body, stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200, r.text);
  const byChoice = new Map<number, any[]>();
  const order: number[] = [];
  let usage: any = null;
  for (const ev of sseEvents(r.text)) {
    assert.equal(ev.object, 'text_completion');
    if (ev.usage) {
      assert.deepEqual(ev.choices, []);
      usage = ev.usage;
      continue;
    }
    assert.equal(ev.choices.length, 1, 'one choice per chunk');
    const c = ev.choices[0];
    order.push(c.index);
    byChoice.set(c.index, [...(byChoice.get(c.index) ?? []), c]);
  }
  return { byChoice, usage, order };
}

test('echo + logprobs streamed: the prompt and its log-probabilities come first, then the generated tokens; equal to the answer without stream', async () => {
  const body = { model: 'narrow', prompt: PROMPT, echo: true, logprobs: 1, max_tokens: 10, n: 2, seed: 4 };
  const plain = await postJson(`${serve.url}/completions`, body);
  assert.equal(plain.status, 200, plain.text);
  const promptLen: number = plain.json.usage.prompt_tokens;
  const { byChoice, usage } = await streamed(body);
  assert.deepEqual([...byChoice.keys()].sort(), [0, 1]);
  for (const [index, chunks] of byChoice) {
    const want = plain.json.choices[index];
    const first = chunks[0];
    assert.ok(first.text.startsWith(PROMPT), `choice ${index}: the first chunk starts with the echoed prompt`);
    assert.ok(chunks.length > 2, `choice ${index}: generated several tokens`);
    assert.equal(first.finish_reason, null);
    // The prompt's entries and the first generated token's, the first prompt token without a log-probability.
    assert.equal(first.logprobs.tokens.length, promptLen + 1, `choice ${index}: the prompt tokens and the first generated token`);
    assert.equal(first.logprobs.token_logprobs[0], null);
    assert.equal(first.logprobs.top_logprobs[0], null);
    assert.ok(chunks.slice(1).every((c) => !c.text.includes(PROMPT)), 'the prompt is echoed once');
    const last = chunks[chunks.length - 1];
    assert.equal(last.finish_reason, want.finish_reason);
    assert.equal(chunks.map((c) => c.text).join(''), want.text, `choice ${index}: the streamed text is the echoed prompt + the completion`);
    const lp = chunks.filter((c) => c.logprobs).map((c) => c.logprobs);
    const tokens = lp.flatMap((x) => x.tokens);
    const offsets = lp.flatMap((x) => x.text_offset);
    const values = lp.flatMap((x) => x.token_logprobs);
    // The answer without stream also lists the end-of-sequence token; the stream does not send it.
    const n = tokens.length;
    assert.ok(n === want.logprobs.tokens.length || (n === want.logprobs.tokens.length - 1 && want.finish_reason === 'stop'));
    assert.deepEqual(tokens, want.logprobs.tokens.slice(0, n));
    assert.deepEqual(offsets, want.logprobs.text_offset.slice(0, n), 'text_offset counts from the start of the choice, prompt included');
    for (let t = 1; t < n; t++) assert.ok(Math.abs(values[t] - want.logprobs.token_logprobs[t]) < 1e-5, `choice ${index} token ${t}: ${values[t]} vs ${want.logprobs.token_logprobs[t]}`);
  }
  assert.deepEqual(usage, plain.json.usage);
});

test('echo with max_tokens 0 streamed: one chunk per choice holding only the prompt (text prompts and token-id prompts)', async () => {
  const ids = [300, 301, 302, 303, 304];
  const body = { model: 'demo-base', prompt: [PROMPT, ids], echo: true, max_tokens: 0 };
  const plain = await postJson(`${serve.url}/completions`, body);
  assert.equal(plain.status, 200, plain.text);
  const { byChoice, usage, order } = await streamed(body);
  assert.deepEqual(order.sort(), [0, 1], 'exactly one chunk per choice');
  for (const [index, [c]] of byChoice) {
    assert.equal(c.text, plain.json.choices[index].text, 'the prompt alone (a token-id prompt decoded)');
    assert.equal(c.finish_reason, 'length');
    assert.equal(c.logprobs, null, 'no logprobs asked');
  }
  assert.equal(byChoice.get(0)![0].text, PROMPT);
  assert.equal(usage.completion_tokens, 0);
  assert.equal(usage.prompt_tokens, plain.json.usage.prompt_tokens);
  // With logprobs: the prompt tokens' teacher-forced log-probabilities, the same numbers as without stream.
  const scored = { model: 'narrow', prompt: PROMPT, echo: true, logprobs: 2, max_tokens: 0 };
  const want = (await postJson(`${serve.url}/completions`, scored)).json.choices[0];
  const got = (await streamed(scored)).byChoice.get(0)!;
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].logprobs, want.logprobs);
  assert.equal(got[0].text, PROMPT);
});

test('echo streamed without logprobs: the first chunk is the prompt + the first generated text, no logprobs anywhere', async () => {
  const body = { model: 'narrow', prompt: PROMPT, echo: true, max_tokens: 8, seed: 9 };
  const plain = await postJson(`${serve.url}/completions`, body);
  const { byChoice } = await streamed(body);
  const chunks = byChoice.get(0)!;
  assert.ok(chunks[0].text.startsWith(PROMPT));
  assert.ok(chunks.every((c) => c.logprobs === null));
  assert.equal(chunks.map((c) => c.text).join(''), plain.json.choices[0].text);
});
