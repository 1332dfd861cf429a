// The engine host's prompt-set path with a generation server (what the extension calls with organismLab.backend
// "openai"): run file for base + one adapter against a fake OpenAI-compatible server on 127.0.0.1, header backend,
// the key kept out of the file, and the errors the user sees (steering refused, unlisted adapter, refused
// connection, 401, 404, bad settings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRemotePromptSet } from '../../../../src/engine/backends/remoteRun';
import { EngineError } from '../../../../src/engine/backends/errors';
import type { ProgressEvent, RemoteGenerationServer, RunPromptSetRequest } from '../../../../src/protocol/engineJobs';
import type { JobHooks } from '../../../../src/engine/backends/types';

const PROMPTS = join(__dirname, '../../../fixtures/prompts/em-style.yaml'); // 5 questions, 6 paraphrases
const KEY = 'sk-test-HOSTREMOTE-0123456789';

interface Srv { baseUrl: string; bodies: any[]; auth: (string | undefined)[]; close(): Promise<void> }

/** A tiny vLLM stand-in: the served base "base-m" answers "<seed> so", the LoRA "narrow" answers "<seed> maybe". */
async function startServer(status?: number): Promise<Srv> {
  const bodies: any[] = [];
  const auth: (string | undefined)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data);
      bodies.push(body);
      auth.push(req.headers.authorization);
      if (status) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"nope"}}');
        return;
      }
      if (body.model !== 'base-m' && body.model !== 'narrow') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(`{"error":{"message":"The model ${body.model} does not exist."}}`);
        return;
      }
      const toks = [`s${body.seed % 100}`, body.model === 'narrow' ? ' maybe' : ' so'];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        choices: [{ index: 0, message: { role: 'assistant', content: toks.join('') }, logprobs: { content: toks.map((t) => ({ token: t, logprob: -1 })) }, finish_reason: 'stop', stop_reason: null }],
        usage: { prompt_tokens: 3, completion_tokens: toks.length, total_tokens: 0 },
      }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, bodies, auth, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(() => ok()); }) };
}

function request(out: string, over: Partial<RunPromptSetRequest> = {}): RunPromptSetRequest {
  return {
    promptSetPath: PROMPTS,
    variants: [{ name: 'base', adapter: null }, { name: 'demo-narrow-r1', adapter: 'demo-narrow-r1', adapter_scale: 1 }],
    samples: 1,
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] },
    seed: 3,
    out,
    questionIds: undefined,
    batchSize: 4,
    ...over,
  };
}

function hooks(events: ProgressEvent[] = [], logs: string[] = [], signal = new AbortController().signal): JobHooks {
  return { signal, onProgress: (e) => events.push(e), log: (_l, m) => logs.push(m) };
}

const server = (baseUrl: string, over: Partial<RemoteGenerationServer> = {}): RemoteGenerationServer => ({
  baseUrl, servedModel: 'base-m', adapters: [{ name: 'demo-narrow-r1', servedModel: 'narrow' }], apiKey: KEY, concurrency: 3, ...over,
});

const fast = { maxRetries: 1, backoffBaseMs: 5 };

test('the host runs a prompt set against the server: base and adapter samples, header backend, progress, no key in the file', async () => {
  const srv = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'ol-hostremote-'));
  try {
    const out = join(dir, 'runs', 'a.run.jsonl'); // runs/ does not exist yet
    const events: ProgressEvent[] = [];
    const result = await runRemotePromptSet(request(out), server(srv.baseUrl), hooks(events), fast);
    assert.equal(result.out, out);
    assert.equal(result.total, 12); // 6 paraphrase cells × 2 variants
    assert.equal(result.written, 12);
    assert.equal(result.cancelled, false);
    const text = readFileSync(out, 'utf8');
    assert.ok(!text.includes(KEY), 'the key must not reach the run file');
    const [header, ...rows] = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(header.backend, { kind: 'openai', base_url: srv.baseUrl, model: 'base-m' });
    assert.equal(header.model.path, 'base-m');
    assert.equal(header.adapters[0].name, 'demo-narrow-r1');
    assert.equal(header.adapters[0].path, 'narrow');
    assert.equal(rows.length, 12);
    const base = rows.filter((r) => r.variant === 'base');
    const adapted = rows.filter((r) => r.variant === 'demo-narrow-r1');
    assert.equal(base.length, 6);
    assert.equal(adapted.length, 6);
    for (const r of base) assert.equal(r.completion, `s${r.seed % 100} so`);
    for (const r of adapted) {
      assert.equal(r.completion, `s${r.seed % 100} maybe`);
      assert.equal(r.divergence_index, 1);
    }
    // Served names on the wire, the key as a bearer token.
    assert.deepEqual(new Set(srv.bodies.map((b) => b.model)), new Set(['base-m', 'narrow']));
    assert.ok(srv.auth.every((a) => a === `Bearer ${KEY}`));
    assert.equal(events.at(-1)?.done, 12);
    assert.equal(events.at(-1)?.total, 12);
    assert.ok(events.some((e) => e.variant === 'demo-narrow-r1' && e.questionId));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('steering variants are refused with the remote backend message, before any request', async () => {
  const srv = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'ol-hostremote-'));
  try {
    const out = join(dir, 'b.run.jsonl');
    const req = request(out, { variants: [{ name: 'base', adapter: null }, { name: 'steer4', adapter: null, steer: { file: 'd.safetensors', layer: 1, alpha: 4 } }] });
    await assert.rejects(runRemotePromptSet(req, server(srv.baseUrl), hooks(), fast), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.kind, 'InvalidInput');
      assert.match(e.message, /"steer4": steering and ablation need the local backend/);
      assert.match(e.hint ?? '', /organismLab\.backend/);
      return true;
    });
    const scaled = request(out, { variants: [{ name: 'half', adapter: 'demo-narrow-r1', adapter_scale: 0.5 }] });
    await assert.rejects(runRemotePromptSet(scaled, server(srv.baseUrl), hooks(), fast), /scale 0\.5.*scale 1 only/);
    assert.equal(srv.bodies.length, 0);
    assert.equal(existsSync(out), false);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an adapter missing from organismLab.server.adapters and bad settings are named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-hostremote-'));
  try {
    const out = join(dir, 'c.run.jsonl');
    await assert.rejects(runRemotePromptSet(request(out), server('http://127.0.0.1:9/v1', { adapters: [] }), hooks(), fast), /adapter "demo-narrow-r1", which organismLab\.server\.adapters does not list/);
    await assert.rejects(runRemotePromptSet(request(out), server('localhost:8000'), hooks(), fast), /organismLab\.server\.baseUrl "localhost:8000" is not an http\(s\) URL/);
    await assert.rejects(runRemotePromptSet(request(out), server('http://127.0.0.1:9/v1', { servedModel: ' ' }), hooks(), fast), /organismLab\.server\.model is empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a refused connection names the URL; 401 says to check the key; 404 names the model and the adapters setting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-hostremote-'));
  // A port that was just free: nothing listens there.
  const probe = await startServer();
  const deadUrl = probe.baseUrl;
  await probe.close();
  try {
    const out = join(dir, 'd.run.jsonl');
    await assert.rejects(runRemotePromptSet(request(out), server(deadUrl), hooks(), fast), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, new RegExp(`Cannot reach the generation server at ${deadUrl.replace(/[.]/g, '\\.')}/chat/completions`));
      assert.match(e.hint ?? '', /organismLab\.server\.baseUrl/);
      return true;
    });
    const s401 = await startServer(401);
    try {
      await assert.rejects(runRemotePromptSet(request(join(dir, 'd401.run.jsonl')), server(s401.baseUrl), hooks(), fast), /refused the API key \(HTTP 401\).*Set Generation Server API Key/);
    } finally {
      await s401.close();
    }
    const srv = await startServer();
    try {
      await assert.rejects(
        runRemotePromptSet(request(join(dir, 'd404.run.jsonl')), server(srv.baseUrl, { adapters: [{ name: 'demo-narrow-r1', servedModel: 'not-served' }] }), hooks(), fast),
        /HTTP 404 .*"not-served".*organismLab\.server\.adapters/,
      );
    } finally {
      await srv.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancelling stops the run; finished samples stay and a second run completes the file', async () => {
  const srv = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'ol-hostremote-'));
  try {
    const out = join(dir, 'e.run.jsonl');
    const ac = new AbortController();
    const events: ProgressEvent[] = [];
    const first = await runRemotePromptSet(request(out, { variants: [{ name: 'base', adapter: null }] }), server(srv.baseUrl, { concurrency: 1 }), {
      signal: ac.signal,
      onProgress: (e) => {
        events.push(e);
        if (e.done >= 2) ac.abort();
      },
      log: () => {},
    }, fast);
    assert.equal(first.cancelled, true);
    assert.ok(first.written >= 2 && first.written < 6, `written ${first.written}`);
    const second = await runRemotePromptSet(request(out, { variants: [{ name: 'base', adapter: null }] }), server(srv.baseUrl), hooks(), fast);
    assert.equal(second.cancelled, false);
    assert.equal(first.written + second.written, 6);
    const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l));
    assert.equal(new Set(rows.map((r) => r.id)).size, 6);
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
