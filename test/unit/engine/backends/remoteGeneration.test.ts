// The remote (OpenAI-compatible / vLLM) backend against a fake server on 127.0.0.1 that speaks the schema:
// run files, finish-reason mapping, token counts, divergence, retries (429 + Retry-After, 500), cancel + resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteTokenTable, parseCompletion, remoteTokenId, toResultRow, type ParsedCompletion } from '../../../../src/engine/backends/remoteGeneration';
import { checkRemoteVariants, remoteJobModel } from '../../../../src/engine/jobs/remoteJobModel';
import { runPromptSet, type RunPromptSetOptions } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { runCommand } from '../../../../src/cli/run';
import type { GenerationParams } from '../../../../src/engine/runtime/generationTypes';

const PROMPTS = join(__dirname, '../../../fixtures/prompts/em-style.yaml'); // 5 questions, 6 paraphrases
const KEY = 'sk-test-REMOTE-0123456789abcdef';
const MAX = 5;

type Reply = { status?: number; headers?: Record<string, string>; body?: string; json?: unknown; delayMs?: number } | null;
interface Srv { baseUrl: string; requests: { body: any; auth: string | undefined }[]; close(): Promise<void> }

async function startServer(handler: (body: any, n: number) => Reply): Promise<Srv> {
  const requests: Srv['requests'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data);
      requests.push({ body, auth: req.headers.authorization });
      const r = handler(body, requests.length) ?? { json: vllmAnswer(body) };
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body ?? JSON.stringify(r.json));
      };
      if (r.delayMs) setTimeout(send, r.delayMs);
      else send();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

/**
 * What the fake vLLM generates: tokens depend on the model (adapter differs at token 2) and the seed;
 * seed % 3 picks the ending: 0 → stop string "END" matched, 1 → end of sequence (counted in usage,
 * not listed), 2 → max_tokens reached.
 */
function vllmAnswer(body: any) {
  if (body.model !== 'base-m' && body.model !== 'lora-x') return null;
  const all = [`s${body.seed % 10}`, ' I', ' think', body.model === 'lora-x' ? ' maybe' : ' so', '!', '?', '.'];
  const kind = body.seed % 3;
  const toks = kind === 2 ? all.slice(0, body.max_tokens) : all.slice(0, 4);
  return {
    id: 'x', object: 'chat.completion', model: body.model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: toks.join('') },
      logprobs: { content: toks.map((t, i) => ({ token: t, logprob: -0.5 - i, bytes: [...Buffer.from(t)], top_logprobs: [] })) },
      finish_reason: kind === 2 ? 'length' : 'stop',
      stop_reason: kind === 0 ? 'END' : null,
    }],
    usage: { prompt_tokens: 10, completion_tokens: kind === 1 ? 5 : toks.length, total_tokens: 0 },
  };
}

function expected(seed: number, adapter: boolean) {
  const all = [`s${seed % 10}`, ' I', ' think', adapter ? ' maybe' : ' so', '!'];
  const kind = seed % 3;
  if (kind === 0) return { finish: 'stop', completion: all.slice(0, 4).join(''), tokens: 4 };
  if (kind === 1) return { finish: 'eos', completion: all.slice(0, 4).join(''), tokens: 5 };
  return { finish: 'length', completion: all.slice(0, MAX).join(''), tokens: MAX };
}

const readRows = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

function opts(out: string, over: Partial<RunPromptSetOptions> = {}): RunPromptSetOptions {
  return {
    promptSetPath: PROMPTS, variants: parseVariants('base,lora-x', ['lora-x']), samples: 1, seed: 5, out,
    sampling: { temperature: 0.7, top_p: 0.9, top_k: 0, min_p: 0, max_new_tokens: MAX, stop: ['END'] }, ...over,
  };
}

const fast = { backoffBaseMs: 5, maxRetries: 3 };

test('a prompt set runs against the server: same run-file rows, finish reasons mapped, usage token counts, divergence', async () => {
  const srv = await startServer(() => null);
  const dir = mkdtempSync(join(tmpdir(), 'ol-remote-'));
  try {
    const model = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'base-m', adapters: [{ name: 'lora-x', servedModel: 'lora-x' }], apiKey: KEY, concurrency: 3, ...fast });
    const out = join(dir, 'a.run.jsonl');
    const sum = await runPromptSet(model, opts(out));
    assert.equal(sum.total, 12);
    assert.equal(sum.written, 12);
    const text = readFileSync(out, 'utf8');
    assert.ok(!text.includes(KEY) && !text.includes('REMOTE'), 'the key must not reach the run file');
    const [header, ...rows] = readRows(out);
    assert.deepEqual(header.backend, { kind: 'openai', base_url: srv.baseUrl, model: 'base-m' });
    assert.equal(header.model.path, 'base-m', 'a served model name is recorded as is, not as a local path');
    assert.equal(header.adapters[0].path, 'lora-x');
    assert.equal(rows.length, 12);
    assert.equal(new Set(rows.map((r) => r.id)).size, 12);
    for (const r of rows) {
      const e = expected(r.seed, r.variant === 'lora-x');
      assert.equal(r.finish_reason, e.finish, r.id);
      assert.equal(r.completion, e.completion, r.id);
      assert.equal(r.tokens, e.tokens, r.id);
      if (r.variant === 'lora-x') assert.equal(r.divergence_index, 3, r.id);
      else assert.equal(r.divergence_index, undefined);
    }
    // Requests: served names, sampling, seed shared by a cell's rows, n=1, stop, logprobs; key in the header only.
    assert.equal(srv.requests.length, 12);
    for (const { body, auth } of srv.requests) {
      assert.equal(auth, `Bearer ${KEY}`);
      assert.ok(body.model === 'base-m' || body.model === 'lora-x');
      assert.equal(body.temperature, 0.7);
      assert.equal(body.top_p, 0.9);
      assert.equal(body.max_tokens, MAX);
      assert.equal(body.n, 1);
      assert.deepEqual(body.stop, ['END']);
      assert.equal(body.logprobs, true);
      assert.equal(body.top_k, undefined, 'top_k 0 (off) is not sent');
      assert.equal(body.messages.at(-1).role, 'user');
    }
    const seeds = (m: string) => srv.requests.filter((r) => r.body.model === m).map((r) => r.body.seed).sort();
    assert.deepEqual(seeds('base-m'), seeds('lora-x'));
    assert.deepEqual(new Set(rows.map((r) => r.seed)), new Set(seeds('base-m')));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('429 with Retry-After and a 500 are retried; every row is written once', async () => {
  const t429: number[] = [];
  const srv = await startServer((_b, n) => {
    if (n === 1) { t429.push(Date.now()); return { status: 429, headers: { 'retry-after': '0.3' }, body: '{"error":{"message":"slow down"}}' }; }
    if (n === 2) { t429.push(Date.now()); return null; }
    if (n === 4) return { status: 500, body: 'internal error' };
    return null;
  });
  const dir = mkdtempSync(join(tmpdir(), 'ol-remote-'));
  try {
    const retries: string[] = [];
    const model = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'base-m', adapters: [{ name: 'lora-x', servedModel: 'lora-x' }], concurrency: 1, ...fast, onRetry: (i) => retries.push(i.reason) });
    const out = join(dir, 'b.run.jsonl');
    const sum = await runPromptSet(model, opts(out));
    assert.equal(sum.written, 12);
    assert.equal(srv.requests.length, 14);
    assert.ok(t429[1] - t429[0] >= 280, `Retry-After 0.3 s honoured (waited ${t429[1] - t429[0]} ms)`);
    assert.equal(retries.length, 2);
    assert.match(retries[0], /HTTP 429 \(rate limited\)/);
    assert.match(retries[1], /HTTP 500/);
    const rows = readRows(out).slice(1);
    assert.equal(new Set(rows.map((r) => r.id)).size, 12);
    assert.equal(srv.requests[0].auth, undefined, 'no key, no authorization header');
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled run resumes with no duplicate rows and only the missing requests', async () => {
  // Adapter answers are slow, so the cancel catches cells whose base row is written and whose adapter row is not.
  const srv = await startServer((b) => ({ json: vllmAnswer(b), delayMs: b.model === 'lora-x' ? 80 : 5 }));
  const dir = mkdtempSync(join(tmpdir(), 'ol-remote-'));
  try {
    const out = join(dir, 'c.run.jsonl');
    const make = () => remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'base-m', adapters: [{ name: 'lora-x', servedModel: 'lora-x' }], concurrency: 2, ...fast });
    const ac = new AbortController();
    const first = await runPromptSet(make(), opts(out), { signal: ac.signal, onProgress: (e) => e.done >= 4 && ac.abort() });
    assert.equal(first.cancelled, true);
    const kept = readRows(out).slice(1);
    assert.ok(kept.length >= 4 && kept.length < 12, `${kept.length} rows after cancel`);
    await new Promise((ok) => setTimeout(ok, 150)); // requests aborted in flight may still reach the server
    const before = srv.requests.length;
    const second = await runPromptSet(make(), opts(out));
    assert.equal(second.alreadyDone, kept.length);
    assert.equal(second.written, 12 - kept.length);
    assert.equal(srv.requests.length - before, 12 - kept.length, 'only missing rows are requested');
    const rows = readRows(out).slice(1);
    assert.equal(rows.length, 12);
    assert.equal(new Set(rows.map((r) => r.id)).size, 12, 'no duplicates');
    for (const r of rows) assert.equal(r.completion, expected(r.seed, r.variant === 'lora-x').completion);
    // Rows of the second run compare against reference rows the first run wrote (ids are stable across processes).
    const keptIds = new Set(kept.map((r) => r.id));
    const fresh = rows.slice(kept.length).filter((r) => r.variant === 'lora-x');
    assert.ok(fresh.some((r) => keptIds.has(r.id.replace(/@lora-x$/, '@base'))), 'some adapter row resumes against a base row of the first run');
    for (const r of fresh) assert.equal(r.divergence_index, 3, r.id);
    assert.ok(rows.every((r) => r.token_ids.every((t: number) => t < 0)), 'remote token ids are negative (never vocabulary ids)');
    // Resuming against another served model is refused like other weights.
    const other = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'other-m', adapters: [{ name: 'lora-x', servedModel: 'lora-x' }] });
    await assert.rejects(runPromptSet(other, opts(out)), /different settings[\s\S]*model hash/);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown served model stops the run with a clear error; failed rows after retries are left for a rerun', async () => {
  const srv = await startServer((b) => (b.model === 'lora-x' ? { status: 503, body: 'overloaded' } : vllmAnswer(b) ? null : { status: 404, body: `{"error":{"message":"The model \`${b.model}\` does not exist."}}` }));
  const dir = mkdtempSync(join(tmpdir(), 'ol-remote-'));
  try {
    const bad = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'nope', apiKey: KEY, ...fast });
    await assert.rejects(runPromptSet(bad, opts(join(dir, 'd.run.jsonl'), { variants: parseVariants('base', []) })), (e: Error) => /HTTP 404/.test(e.message) && /"nope"/.test(e.message) && /lora-modules/.test(e.message) && !e.message.includes(KEY));
    const flaky = remoteJobModel({ baseUrl: srv.baseUrl, servedModel: 'base-m', adapters: [{ name: 'lora-x', servedModel: 'lora-x' }], backoffBaseMs: 1, maxRetries: 1 });
    const out = join(dir, 'e.run.jsonl');
    await assert.rejects(runPromptSet(flaky, opts(out)), /6 of 12 samples failed[\s\S]*run the same command again/);
    const rows = readRows(out).slice(1);
    assert.equal(rows.length, 6);
    assert.ok(rows.every((r) => r.variant === 'base'));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toResultRow: listed end-of-sequence text, byte pieces that do not add up, unknown finish reasons', () => {
  const table = new RemoteTokenTable();
  const params = { stop: ['END'] } as unknown as GenerationParams;
  const p = (o: Partial<ParsedCompletion>): ParsedCompletion => ({ content: 'ab', finishReason: 'stop', stopReason: null, tokens: null, completionTokens: null, ...o });
  // EOS listed with its text: placeholder id, trimmed by decode.
  const eos = toResultRow('k', p({ tokens: [{ token: 'a', logprob: -1 }, { token: 'b', logprob: -2 }, { token: '<|im_end|>', logprob: -0.1 }], completionTokens: 3 }), params, table);
  assert.equal(eos.finishReason, 'eos');
  assert.equal(eos.tokenIds.length, 3);
  assert.equal(eos.tokenIds[2], RemoteTokenTable.EOS);
  assert.equal(table.decode(eos.tokenIds), 'ab');
  // Pieces that do not concatenate to the content: exact content, count from usage.
  const odd = toResultRow('k', p({ content: 'é!', finishReason: 'length', tokens: [{ token: '\ufffd', logprob: -1 }, { token: '\ufffd', logprob: -1 }, { token: '!', logprob: -1 }], completionTokens: 3 }), params, table);
  assert.equal(odd.tokenIds.length, 3);
  assert.equal(table.decode(odd.tokenIds), 'é!');
  // A stop token id (vLLM stop_reason as a number) is an end of sequence; our stop string is "stop" with its text.
  assert.equal(toResultRow('k', p({ stopReason: 151645 }), params, table).finishReason, 'eos');
  const st = toResultRow('k', p({ stopReason: 'END', tokens: [{ token: 'ab', logprob: -1 }] }), params, table);
  assert.equal(st.finishReason, 'stop');
  assert.equal(st.text, 'ab');
  assert.throws(() => toResultRow('k', p({ finishReason: 'content_filter' }), params, table), /finish_reason "content_filter"/);
  assert.equal(typeof parseCompletion('not json'), 'string');
  assert.equal(parseCompletion('{"choices":[]}'), 'no choices[0]');
  assert.throws(() => table.messages([1, 2]), /not made by RemoteTokenTable.encodeChat/);
  assert.equal(remoteTokenId(' so'), new RemoteTokenTable().id(' so'), 'ids do not depend on the table');
  assert.notEqual(remoteTokenId(' so'), remoteTokenId(' So'));
});

test('variants a served model cannot run are refused up front', () => {
  assert.throws(() => checkRemoteVariants(parseVariants('base,lora-x@0.5', ['lora-x'])), /scale 0.5.*local backend/);
  assert.throws(() => checkRemoteVariants([{ name: 'steer4', steer: { file: 'd.safetensors', layer: 1, alpha: 4 } }]), /"steer4": steering and ablation need the local backend/);
  assert.throws(() => checkRemoteVariants([{ name: 'abl', ablate: { file: 'd.safetensors', layers: [1] } }]), /"abl": steering and ablation/);
  assert.doesNotThrow(() => checkRemoteVariants(parseVariants('base,lora-x', ['lora-x'])));
});

test('CLI: --backend openai writes the run file; the key comes from OPENAI_API_KEY; usage errors are clear', async () => {
  const srv = await startServer(() => null);
  const dir = mkdtempSync(join(tmpdir(), 'ol-remote-'));
  const saved = process.env.OPENAI_API_KEY;
  process.env.OPENAI_API_KEY = KEY;
  try {
    const out = join(dir, 'cli.run.jsonl');
    let stdout = '';
    const sink = (f: (s: string) => void) => ({ write: (s: string) => (f(s), true) }) as unknown as NodeJS.WritableStream;
    const code = await runCommand([PROMPTS, '--backend', 'openai', '--base-url', srv.baseUrl, '--served-model', 'base-m', '--adapter-model', 'lora-x', '--samples', '1', '--max-new-tokens', String(MAX), '--stop', 'END', '--no-progress', '--out', out], { stdout: sink((s) => (stdout += s)), stderr: sink(() => {}) });
    assert.equal(code, 0);
    assert.match(stdout, /12\/12 samples/);
    const [header, ...rows] = readRows(out);
    assert.equal(rows.length, 12);
    assert.deepEqual(header.variants.map((v: { name: string }) => v.name), ['base', 'lora-x']);
    assert.deepEqual(header.adapters.map((a: { name: string }) => a.name), ['lora-x']);
    assert.ok(!readFileSync(out, 'utf8').includes(KEY));
    assert.ok(srv.requests.every((r) => r.auth === `Bearer ${KEY}`));
    await assert.rejects(runCommand([PROMPTS, '--backend', 'openai', '--served-model', 'base-m', '--out', out]), /needs --base-url/);
    await assert.rejects(runCommand([PROMPTS, '--backend', 'openai', '--base-url', srv.baseUrl, '--served-model', 'b', '--model', dir, '--out', out]), /--model is for the local backend/);
    await assert.rejects(runCommand([PROMPTS, '--base-url', srv.baseUrl, '--model', dir, '--out', out]), /--base-url is for --backend openai/);
    await assert.rejects(runCommand([PROMPTS, '--backend', 'openai', '--base-url', srv.baseUrl, '--served-model', 'b', '--adapter-model', 'lora-x', '--variants', 'base,lora-x@0.5', '--out', out]), /scale 0\.5; a served LoRA adapter runs at scale 1 only/);
  } finally {
    if (saved === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved;
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
