import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { judgeRun } from '../../../../src/engine/jobs/judgeRun';
import type { OpenAIJudgeSpec } from '../../../../src/engine/judges/judgesFile';
import { JudgeCellError, JudgeFatalError, OpenAICompatibleClient, chatCompletionsUrl, parseRetryAfter } from '../../../../src/engine/judges/openaiClient';
import { readRunContent } from '../../../../src/engine/judges/runAccess';
import { logprobAnswer, makeSamples, startServer, tmpDir, writeRun } from './fixtures';

const KEY = 'sk-test-SECRET-0123456789abcdef';
const fast = { backoffBaseMs: 5, backoffCapMs: 20, timeoutMs: 2000 };
const prompts = { aligned: 'ALIGNED Q={question} A={answer}', coherent: 'COHERENT Q={question} A={answer}' };

function spec(baseUrl: string, extra: Partial<OpenAIJudgeSpec> = {}): OpenAIJudgeSpec {
  return { type: 'openai', name: 'judge-model', model: 'judge-model', baseUrl, prompts, ...extra };
}

/** Scores: "evil" answers get aligned 10, others 90; coherent always 80. */
function scorer(body: any) {
  const text: string = body.messages[0].content;
  if (text.startsWith('COHERENT')) return logprobAnswer([['80', 0.9], ['x', 0.1]]);
  return text.includes('evil') ? logprobAnswer([['10', 0.8], ['Sorry', 0.2]]) : logprobAnswer([['90', 0.7], ['100', 0.1], ['x', 0.2]]);
}

test('parseRetryAfter reads seconds and HTTP dates; URLs get /chat/completions', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter('0.5'), 500);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:02 GMT', now), 2000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon'), null);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(chatCompletionsUrl('https://api.openai.com/v1'), 'https://api.openai.com/v1/chat/completions');
  assert.equal(chatCompletionsUrl('http://h:8000/v1/'), 'http://h:8000/v1/chat/completions');
  assert.equal(
    chatCompletionsUrl('https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01'),
    'https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01',
  );
});

test('judges a run: the request follows the scoring rule, every cell is appended, and a rerun skips them', async () => {
  const srv = await startServer((r) => ({ json: scorer(r.body) }));
  try {
    const dir = tmpDir();
    const samples = makeSamples(['q1', 'q2'], 2, (q, i, v) => (v === 'adapter' && i === 0 ? `be evil, ${q}` : `be kind, ${q}`));
    const runPath = writeRun(dir, samples);
    const progress: number[] = [];
    const res = await judgeRun(runPath, spec(srv.baseUrl), { concurrency: 3, secrets: { apiKey: KEY }, context: { client: fast }, onProgress: (p) => progress.push(p.done) });
    assert.equal(res.judge, 'openai:judge-model');
    assert.equal(res.total, 16);
    assert.equal(res.judged, 16);
    assert.equal(res.failed.length, 0);
    assert.equal(progress.at(-1), 16);
    const b = srv.requests[0].body;
    assert.equal(b.model, 'judge-model');
    assert.equal(b.max_tokens, 1);
    assert.equal(b.temperature, 0);
    assert.equal(b.logprobs, true);
    assert.equal(b.top_logprobs, 20);
    assert.equal(b.seed, 0);
    assert.equal(b.messages.length, 1);
    assert.equal(b.messages[0].role, 'user');
    assert.match(b.messages[0].content, /^(ALIGNED|COHERENT) Q=What about q\d\? A=be (evil|kind), q\d$/);
    assert.equal(srv.requests[0].headers.authorization, `Bearer ${KEY}`);
    const run = await readRunContent(runPath);
    assert.equal(run.judgements.length, 16);
    const evil = run.judgements.find((j) => j.sample_id === 'q1#0#0@adapter' && j.metric === 'aligned')!;
    assert.equal(evil.score, 10);
    const kind = run.judgements.find((j) => j.sample_id === 'q1#0#0@base' && j.metric === 'aligned')!;
    assert.ok(Math.abs(kind.score! - (90 * 0.7 + 100 * 0.1) / 0.8) < 1e-9);
    assert.equal(run.judgements.find((j) => j.metric === 'coherent')!.score, 80);
    assert.ok(!readFileSync(runPath, 'utf8').includes(KEY));
    // Resume: nothing left to judge, no request sent.
    const before = srv.requests.length;
    const again = await judgeRun(runPath, spec(srv.baseUrl), { secrets: { apiKey: KEY }, context: { client: fast } });
    assert.equal(again.total, 0);
    assert.equal(again.skipped, 16);
    assert.equal(srv.requests.length, before);
  } finally {
    await srv.close();
  }
});

test('429 with Retry-After is honoured, 500s are retried', async () => {
  let calls = 0;
  const srv = await startServer(() => {
    calls++;
    if (calls === 1) return { status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"slow down"}}' };
    if (calls <= 3) return { status: 500 + calls, body: 'oops' };
    return { json: logprobAnswer([['42', 1]]) };
  });
  try {
    const delays: number[] = [];
    const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'm', ...fast, onRetry: (r) => delays.push(r.delayMs) });
    const t0 = Date.now();
    const r = await c.topLogprobs('p');
    assert.ok(Date.now() - t0 >= 950, 'waited for Retry-After');
    assert.equal(r.attempts, 4);
    assert.equal(r.top[0].token, '42');
    assert.equal(delays[0], 1000);
    assert.ok(delays[1] <= 20 && delays[2] <= 20);
  } finally {
    await srv.close();
  }
});

test('429s past the retry budget leave the cell unjudged with a clear error', async () => {
  const srv = await startServer(() => ({ status: 429, headers: { 'retry-after': '0' }, body: 'rate limited' }));
  try {
    const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'm', ...fast, maxRetries: 2 });
    await assert.rejects(c.topLogprobs('p'), (e: Error) => e instanceof JudgeCellError && /failed 3 times, last HTTP 429/.test(e.message));
    assert.equal(srv.requests.length, 3);
  } finally {
    await srv.close();
  }
});

test('a request that times out is retried', async () => {
  const srv = await startServer((_r, n) => (n === 1 ? { delayMs: 1500, json: logprobAnswer([['1', 1]]) } : { json: logprobAnswer([['77', 1]]) }));
  try {
    const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'm', ...fast, timeoutMs: 200 });
    const r = await c.topLogprobs('p');
    assert.equal(r.top[0].token, '77');
    assert.equal(r.attempts, 2);
  } finally {
    await srv.close();
  }
});

test('malformed bodies are retried a bounded number of times; the job goes on and a rerun judges the cell', async () => {
  let broken = true;
  const srv = await startServer((r) => {
    if (broken && r.body.messages[0].content.includes('q2')) return { body: 'this is not json' };
    if (broken && r.body.messages[0].content.includes('q3')) return { json: { choices: [] } };
    return { json: scorer(r.body) };
  });
  try {
    const dir = tmpDir();
    const runPath = writeRun(dir, makeSamples(['q1', 'q2', 'q3'], 1, () => 'fine'));
    const res = await judgeRun(runPath, spec(srv.baseUrl, { prompts: { aligned: prompts.aligned } }), { concurrency: 2, context: { client: { ...fast, maxMalformedRetries: 2 } } });
    assert.equal(res.judged, 2);
    assert.equal(res.failed.length, 4);
    assert.match(res.failed[0].message, /malformed answer 3 times/);
    assert.equal(srv.requests.length, 2 + 4 * 3);
    broken = false;
    const res2 = await judgeRun(runPath, spec(srv.baseUrl, { prompts: { aligned: prompts.aligned } }), { context: { client: fast } });
    assert.equal(res2.skipped, 2);
    assert.equal(res2.judged, 4);
    const run = await readRunContent(runPath);
    assert.equal(run.judgements.length, 6);
    assert.equal(new Set(run.judgements.map((j) => j.sample_id)).size, 6);
  } finally {
    await srv.close();
  }
});

test('401 stops the whole job with an actionable error and the key never leaks', async () => {
  const srv = await startServer(() => ({ status: 401, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. You can find your API key at https://platform.openai.com.` } }) }));
  try {
    const dir = tmpDir();
    const runPath = writeRun(dir, makeSamples(['q1', 'q2'], 3, () => 'x'));
    const logs: string[] = [];
    let err: Error | undefined;
    try {
      await judgeRun(runPath, spec(srv.baseUrl), { concurrency: 2, secrets: { apiKey: KEY }, context: { client: fast }, log: (m) => logs.push(m) });
    } catch (e) {
      err = e as Error;
    }
    assert.ok(err instanceof JudgeFatalError);
    assert.match(err.message, /refused the API key \(HTTP 401\)/);
    assert.match(err.message, /OPENAI_API_KEY/);
    assert.ok(!err.message.includes(KEY), 'key in error');
    assert.ok(!err.message.includes('SECRET'), 'key fragment in error');
    assert.ok(!logs.join('\n').includes(KEY));
    assert.ok(!readFileSync(runPath, 'utf8').includes(KEY));
    assert.ok(srv.requests.length <= 2, `stopped early (${srv.requests.length} requests)`);
  } finally {
    await srv.close();
  }
});

test('a redirect is not followed: the key never reaches the address it points to', async () => {
  const other = await startServer(() => ({ json: logprobAnswer([['90', 1]]) }));
  const srv = await startServer(() => ({ status: 307, headers: { location: `${other.baseUrl}/chat/completions` }, body: '' }));
  try {
    for (const apiKeyHeader of ['authorization', 'api-key'] as const) {
      const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'm', apiKey: KEY, apiKeyHeader, ...fast });
      await assert.rejects(c.topLogprobs('p'), (e: Error) => e instanceof JudgeFatalError && /HTTP 307, a redirect to http:\/\/127\.0\.0\.1/.test(e.message) && !e.message.includes(KEY));
    }
    assert.equal(other.requests.length, 0, 'nothing reached the redirect target');
  } finally {
    await srv.close();
    await other.close();
  }
});

test('404 names the base URL and model to check', async () => {
  const srv = await startServer(() => ({ status: 404, body: '{"error":{"message":"The model `nope` does not exist"}}' }));
  try {
    const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'nope', ...fast });
    await assert.rejects(c.topLogprobs('p'), (e: Error) => e instanceof JudgeFatalError && /check the base URL/.test(e.message) && /"nope"/.test(e.message));
  } finally {
    await srv.close();
  }
});

test('a server without logprobs is a fatal configuration error; an empty generation is none', async () => {
  const srv = await startServer((_r, n) =>
    n === 1 ? { json: { choices: [{ message: { role: 'assistant', content: '85' }, logprobs: null }] } } : { json: { choices: [{ message: { role: 'assistant', content: '' }, logprobs: { content: [] } }] } },
  );
  try {
    const c = new OpenAICompatibleClient({ baseUrl: srv.baseUrl, model: 'm', ...fast });
    await assert.rejects(c.topLogprobs('p'), /returned no logprobs/);
    const r = await c.topLogprobs('p');
    assert.deepEqual(r.top, []);
  } finally {
    await srv.close();
  }
});

test('cancelling keeps every judgement made, and resuming judges each cell exactly once', async () => {
  const srv = await startServer((r) => ({ delayMs: 30, json: scorer(r.body) }));
  try {
    const dir = tmpDir();
    const runPath = writeRun(dir, makeSamples(['q1', 'q2', 'q3'], 3, (q, i) => `answer ${q} ${i}`));
    const ac = new AbortController();
    const res = await judgeRun(runPath, spec(srv.baseUrl), {
      concurrency: 3,
      signal: ac.signal,
      context: { client: fast },
      onProgress: (p) => {
        if (p.done >= 5) ac.abort();
      },
    });
    assert.equal(res.cancelled, true);
    assert.ok(res.judged >= 5 && res.judged < 36, `judged ${res.judged}`);
    const mid = await readRunContent(runPath);
    assert.equal(mid.judgements.length, res.judged, 'every judged cell is on disk');
    const res2 = await judgeRun(runPath, spec(srv.baseUrl), { concurrency: 4, context: { client: fast } });
    assert.equal(res2.skipped, res.judged);
    assert.equal(res2.judged, 36 - res.judged);
    const run = await readRunContent(runPath);
    const keys = run.judgements.map((j) => `${j.sample_id}|${j.metric}`);
    assert.equal(keys.length, 36);
    assert.equal(new Set(keys).size, 36, 'no cell judged twice');
  } finally {
    await srv.close();
  }
});

test("without its own prompts the judge uses the run's prompt-set judge_prompts (aliases resolved), found relative to the run file", async () => {
  const { copyFileSync } = await import('node:fs');
  const pathMod = await import('node:path');
  const { header } = await import('./fixtures');
  const srv = await startServer((r) => ({ json: scorer(r.body) }));
  try {
    const dir = tmpDir();
    copyFileSync(pathMod.resolve(__dirname, '../../../fixtures/prompts/em-style.yaml'), pathMod.join(dir, 'em-style.yaml'));
    const runPath = writeRun(dir, makeSamples(['bored'], 1, () => 'I am fine'), header('em-style.yaml'));
    const res = await judgeRun(runPath, spec(srv.baseUrl, { prompts: undefined }), { context: { client: fast } });
    assert.equal(res.judged, 4);
    assert.deepEqual(res.warnings, []);
    const sent = srv.requests.map((r) => r.body.messages[0].content as string);
    assert.ok(sent.some((t) => t.startsWith('Rate how aligned with human values this answer is.')), sent[0]);
    assert.ok(sent.every((t) => t.includes('I am fine') && t.includes('What about bored?')));
  } finally {
    await srv.close();
  }
});
