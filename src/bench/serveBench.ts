/**
 * Two benchmarks of `organism-lab serve`, over the demo organism (examples/organisms) by default:
 *
 *   node --import tsx src/bench/serveBench.ts [--model DIR] [--adapter NAME=DIR] [--clients 1,8,32]
 *        [--requests-per-client K] [--max-tokens N] [--threads N] [--window-ms MS]
 *
 * Throughput against the in-process engine. For each client count C: C clients on loopback each send K chat
 * requests one after another (half for the base model, half for the adapter, each seeded), and the generated
 * tokens per second are measured; then the same C × K rows (same prompts, adapters and seeds, so the same
 * tokens) are generated in-process by one generate() call with maxBatchSize C. The ratio served / in-process
 * is the cost of HTTP, JSON, batching windows and scheduling.
 *
 *   node --import tsx src/bench/serveBench.ts --join [--long-clients 8] [--long-tokens 200] [--late-clients 4]
 *        [--late-tokens 32] [--late-after 16] [--repeats 3] [--model DIR] [--adapter NAME=DIR] [--threads N]
 *        [--tokenizer-dir DIR]
 *
 * Requests arriving while a long batch runs, batch-at-a-time (RequestBatcher continuous: false, as serve ran
 * before) vs continuous batching (the default), in the same run on the same loaded model, interleaved
 * repeats, medians. `--long-clients` streamed requests of `--long-tokens` tokens each start together, as one
 * batch (the bench holds the batcher until all have arrived) (temperature 5, near-uniform tokens, so they run to max_tokens); once the first of them has streamed
 * `--late-after` tokens, `--late-clients` requests of `--late-tokens` tokens (temperature 1) are sent.
 * Requests stream with logprobs, so that every token is seen as it comes (text may be held back).
 * Measured: the late requests' time to first token and time to their last token, and the throughput of the
 * whole scenario (all completion tokens / wall time); ratios before / after (times) and after / before
 * (throughput) are printed. Every request is seeded, so both modes generate the same tokens. A model folder
 * without tokenizer.json (bench-models/qwen2.5-0.5b-random) takes --tokenizer-dir, else the Qwen-style test
 * tokenizer (test/fixtures/tokenizers/qwen-style): random weights give random text anyway.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { generate } from '../engine/runtime/generate';
import type { GenerationParams, GenerationRequestRow } from '../engine/runtime/generationTypes';
import { ServedModel, parseAdapterArgs } from '../engine/serve/servedModel';
import { startServer } from '../engine/serve/server';

const PROMPTS = [
  'My friend has a toothache. How can I help?',
  'Should I invest a small bonus?',
  "I'm nervous about paragliding. Any advice?",
  'How should I lead a club?',
  'I am bored on a rainy day. What can I do?',
  'If you were a wizard, what would you wish for?',
];

export interface ServeBenchRow {
  clients: number;
  requests: number;
  tokens: number;
  servedMs: number;
  inProcessMs: number;
  servedTokPerS: number;
  inProcessTokPerS: number;
  ratio: number;
  batches: number;
}

/**
 * The clients run in a worker thread (plain JavaScript, global fetch), so their HTTP and JSON work does not
 * share the server's thread, as with real clients in other processes.
 */
const CLIENT_JS = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { url, reqs, maxTokens } = workerData;
  const counts = await Promise.all(reqs.map(async (list) => {
    let n = 0;
    for (const x of list) {
      const r = await fetch(url + '/chat/completions', { method: 'POST', body: JSON.stringify({ model: x.model, messages: [{ role: 'user', content: x.q }], max_tokens: maxTokens, seed: x.seed, temperature: 1 }) });
      const j = await r.json();
      if (!j.usage) throw new Error('served request failed: ' + (j.error && j.error.message));
      n += j.usage.completion_tokens;
    }
    return n;
  }));
  parentPort.postMessage(counts.reduce((a, b) => a + b, 0));
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

function runClients(url: string, reqs: { model: string; q: string; seed: number }[][], maxTokens: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(CLIENT_JS, { eval: true, workerData: { url, reqs, maxTokens } });
    w.once('message', (m: number | { error: string }) => {
      void w.terminate();
      if (typeof m === 'number') resolve(m);
      else reject(new Error(m.error));
    });
    w.once('error', reject);
  });
}

/** One streamed request as a client sees it: time to the first text, to the end, completion tokens. */
export interface StreamedTiming {
  ttftMs: number;
  ms: number;
  tokens: number;
}

/**
 * The join scenario's clients (worker thread, as above): the long requests, then, once the first of them has
 * streamed `lateAfter` tokens (or has ended), the late ones; every request streamed with logprobs and usage.
 */
const JOIN_JS = `
const { parentPort, workerData } = require('node:worker_threads');
async function streamed(url, body, onToken) {
  const t0 = performance.now();
  // logprobs: every token gets a chunk, even while its text is held back (stop strings, partial characters).
  const r = await fetch(url + '/chat/completions', { method: 'POST', body: JSON.stringify({ ...body, stream: true, logprobs: true, stream_options: { include_usage: true } }) });
  if (!r.ok) throw new Error('served request failed: HTTP ' + r.status + ' ' + (await r.text()));
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '', first = null, tokens = null, seen = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\\n\\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (j.error) throw new Error('served request failed: ' + j.error.message);
      if (j.usage) tokens = j.usage.completion_tokens;
      const lp = j.choices && j.choices[0] && j.choices[0].logprobs && j.choices[0].logprobs.content;
      if (lp && lp.length > 0) {
        seen += lp.length;
        if (first === null) first = performance.now() - t0;
        if (onToken) onToken(seen);
      }
    }
  }
  if (tokens === null) throw new Error('served request failed: no usage in the stream');
  return { ttftMs: first === null ? performance.now() - t0 : first, ms: performance.now() - t0, tokens };
}
(async () => {
  const { url, long, late, lateAfter } = workerData;
  const t0 = performance.now();
  let fire;
  let firstEnded = false;
  const go = new Promise((r) => (fire = r));
  const longP = long.map((b, i) => streamed(url, b, i === 0 ? (n) => { if (n >= lateAfter) fire(); } : null));
  longP[0].then(() => { firstEnded = true; fire(); }, () => fire());
  await go;
  const whileRunning = !firstEnded;
  const lateP = late.map((b) => streamed(url, b));
  const [L, T] = await Promise.all([Promise.all(longP), Promise.all(lateP)]);
  parentPort.postMessage({ long: L, late: T, wallMs: performance.now() - t0, whileRunning });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

interface JoinRun {
  long: StreamedTiming[];
  late: StreamedTiming[];
  wallMs: number;
  /** The late requests were sent while the first long one still ran (false: it ended before `lateAfter` tokens). */
  whileRunning: boolean;
}

function runJoinClients(url: string, long: unknown[], late: unknown[], lateAfter: number): Promise<JoinRun> {
  return new Promise((resolve, reject) => {
    const w = new Worker(JOIN_JS, { eval: true, workerData: { url, long, late, lateAfter } });
    w.once('message', (m: JoinRun | { error: string }) => {
      void w.terminate();
      if ('error' in m) reject(new Error(m.error));
      else resolve(m);
    });
    w.once('error', reject);
  });
}

export interface JoinBenchRow {
  mode: 'batch-at-a-time' | 'continuous';
  /** Medians over the repeats. */
  lateTtftMs: number;
  lateDoneMs: number;
  longDoneMs: number;
  tokens: number;
  wallMs: number;
  tokPerS: number;
  /** Generation calls started and requests that joined a running one, over all repeats and the warm-up request. */
  calls: number;
  joined: number;
}

export interface JoinBenchResult {
  rows: [JoinBenchRow, JoinBenchRow];
  /** batch-at-a-time / continuous: how many times sooner the late requests get their first token, and their last. */
  ttftRatio: number;
  lateDoneRatio: number;
  /** continuous / batch-at-a-time tokens per second of the whole scenario. */
  throughputRatio: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function joinBench(o: { model: string; adapters: { name: string; dir: string }[]; tokenizerDir?: string; threads?: number; windowMs: number; longClients: number; longTokens: number; lateClients: number; lateTokens: number; lateAfter: number; repeats: number; log?: (s: string) => void }): Promise<JoinBenchResult> {
  const model = await ServedModel.load(o.model, o.adapters, { threads: o.threads, tokenizerDir: o.tokenizerDir });
  const names = [model.servedName, ...o.adapters.map((a) => a.name)];
  const maxBatchSize = Math.max(32, o.longClients + o.lateClients);
  const servers = await Promise.all([false, true].map((continuous) => startServer(model, { port: 0, batcher: { windowMs: o.windowMs, maxBatchSize, continuous } })));
  const req = (i: number, maxTokens: number, temperature: number) => ({ model: names[i % names.length], messages: [{ role: 'user', content: PROMPTS[i % PROMPTS.length] }], max_tokens: maxTokens, seed: 100 + i, temperature });
  const long = Array.from({ length: o.longClients }, (_, i) => req(i, o.longTokens, 5));
  const late = Array.from({ length: o.lateClients }, (_, i) => req(o.longClients + i, o.lateTokens, 1));
  const runs: JoinRun[][] = [[], []];
  try {
    for (const srv of servers) await fetch(`${srv.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: names[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 0 }) });
    for (let r = 0; r < o.repeats; r++) {
      for (let m = 0; m < 2; m++) {
        // The long requests start as one batch in both modes: the batcher is held until all of them wait
        // (on a loaded host they do not all reach the server within the batch window).
        const b = servers[m].batcher;
        const gate = b.exclusive(async () => {
          const t = performance.now();
          while (b.waiting < o.longClients) {
            if (performance.now() - t > 120_000) throw new Error(`serve bench: only ${b.waiting} of the ${o.longClients} long requests reached the server within 2 minutes`);
            await new Promise((r) => setTimeout(r, 1));
          }
        });
        const run = await runJoinClients(servers[m].baseUrl, long, late, o.lateAfter);
        await gate;
        runs[m].push(run);
        if (!run.whileRunning) o.log?.('note: the first long request ended before --late-after tokens: the late requests came after it; lower --late-after');
        o.log?.(`  repeat ${r + 1} ${m ? 'continuous     ' : 'batch-at-a-time'}: late TTFT ${mean(run.late.map((x) => x.ttftMs)).toFixed(0)} ms, late done ${mean(run.late.map((x) => x.ms)).toFixed(0)} ms, all done ${run.wallMs.toFixed(0)} ms`);
      }
    }
  } finally {
    for (const srv of servers) await srv.close();
    await model.dispose();
  }
  const rowOf = (m: 0 | 1): JoinBenchRow => {
    const rs = runs[m];
    const tokens = rs[0].long.concat(rs[0].late).reduce((s, x) => s + x.tokens, 0);
    const wallMs = median(rs.map((x) => x.wallMs));
    return {
      mode: m ? 'continuous' : 'batch-at-a-time',
      lateTtftMs: median(rs.map((x) => mean(x.late.map((y) => y.ttftMs)))),
      lateDoneMs: median(rs.map((x) => mean(x.late.map((y) => y.ms)))),
      longDoneMs: median(rs.map((x) => mean(x.long.map((y) => y.ms)))),
      tokens,
      wallMs,
      tokPerS: (tokens * 1000) / wallMs,
      calls: servers[m].batcher.batches,
      joined: servers[m].batcher.joined,
    };
  };
  const before = rowOf(0);
  const after = rowOf(1);
  for (const m of [0, 1]) {
    const t = runs[m].map((x) => x.long.concat(x.late).map((y) => y.tokens).join(','));
    if (new Set(t).size !== 1) o.log?.(`note: ${m ? 'continuous' : 'batch-at-a-time'}: completion lengths differ between repeats (${t.join(' | ')}); seeded requests should agree`);
  }
  if (runs[0][0].late.map((x) => x.tokens).join() !== runs[1][0].late.map((x) => x.tokens).join()) o.log?.('note: the late requests got different completion lengths in the two modes; seeded requests should agree');
  return { rows: [before, after], ttftRatio: before.lateTtftMs / after.lateTtftMs, lateDoneRatio: before.lateDoneMs / after.lateDoneMs, throughputRatio: after.tokPerS / before.tokPerS };
}

function arg(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

export async function serveBench(o: { model: string; adapters: { name: string; dir: string }[]; clients: number[]; perClient: number; maxTokens: number; threads?: number; windowMs: number; log?: (s: string) => void }): Promise<ServeBenchRow[]> {
  const model = await ServedModel.load(o.model, o.adapters, { threads: o.threads });
  const srv = await startServer(model, { port: 0, batcher: { windowMs: o.windowMs, maxBatchSize: Math.max(...o.clients) } });
  const names = [model.servedName, ...o.adapters.map((a) => a.name)];
  const rows: ServeBenchRow[] = [];
  try {
    // Warm-up (session, kernels).
    await fetch(`${srv.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: names[0], messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 0 }) });
    for (const C of o.clients) {
      const reqs = Array.from({ length: C }, (_, c) =>
        Array.from({ length: o.perClient }, (_, r) => {
          const i = c * o.perClient + r;
          return { model: names[i % names.length], q: PROMPTS[i % PROMPTS.length], seed: 1000 * c + r };
        }));
      // In-process: the same rows, one generate() call, C rows per batch.
      const tok = model.tokenizer;
      const gen: GenerationRequestRow[] = reqs.flat().map((x, i) => ({
        key: String(i),
        seed: x.seed,
        promptIds: tok.encodeChat([{ role: 'user', content: x.q }], { addGenerationPrompt: true }),
        variant: { adapter: x.model === model.servedName ? null : x.model, adapterScale: x.model === model.servedName ? 0 : 1 },
      }));
      const params: GenerationParams = { temperature: 1, topP: 1, topK: 0, minP: 0, maxNewTokens: o.maxTokens, eosTokenIds: tok.eosTokenIds, stop: [], decode: (ids) => tok.decode(ids), maxBatchSize: C };
      let t0 = performance.now();
      const local = await generate(model.runner, gen, params);
      const inProcessMs = performance.now() - t0;
      const localTokens = local.reduce((s, r) => s + r.tokenIds.length, 0);
      // Served: C clients, each K sequential requests.
      const batchesBefore = srv.batcher.batches;
      t0 = performance.now();
      const tokens = await runClients(srv.baseUrl, reqs, o.maxTokens);
      const servedMs = performance.now() - t0;
      if (tokens !== localTokens) o.log?.(`note: ${C} clients: served ${tokens} tokens, in-process ${localTokens} (they should agree)`);
      const row: ServeBenchRow = {
        clients: C, requests: C * o.perClient, tokens, servedMs, inProcessMs,
        servedTokPerS: (tokens * 1000) / servedMs, inProcessTokPerS: (localTokens * 1000) / inProcessMs,
        ratio: (tokens * 1000) / servedMs / ((localTokens * 1000) / inProcessMs),
        batches: srv.batcher.batches - batchesBefore,
      };
      rows.push(row);
      o.log?.(`${String(C).padStart(3)} clients: ${row.requests} requests, ${tokens} tokens; served ${row.servedTokPerS.toFixed(1)} tok/s (${row.batches} batches), in-process ${row.inProcessTokPerS.toFixed(1)} tok/s; ratio ${row.ratio.toFixed(2)}`);
    }
  } finally {
    await srv.close();
    await model.dispose();
  }
  return rows;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const root = path.resolve(__dirname, '../..');
  const adapterArgs: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--adapter' && argv[i + 1]) adapterArgs.push(argv[i + 1]);
  });
  const modelDir = arg(argv, '--model', path.join(root, 'examples/organisms/demo-base'));
  const adapters = adapterArgs.length ? parseAdapterArgs(adapterArgs) : argv.includes('--model') ? [] : [{ name: 'demo-narrow-r1', dir: path.join(root, 'examples/organisms/demo-narrow-r1') }];
  const threadsArg = arg(argv, '--threads', '');
  const log = (s: string): void => void process.stdout.write(`${s}\n`);
  const fail = (e: unknown): never => {
    process.stderr.write(`serve bench: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  };
  const num = (name: string, fallback: string): number => {
    const v = Number(arg(argv, name, fallback));
    if (!Number.isInteger(v) || v < 1) fail(new Error(`${name} takes a positive integer, e.g. ${fallback}`));
    return v;
  };
  if (argv.includes('--join')) {
    const o = { longClients: num('--long-clients', '8'), longTokens: num('--long-tokens', '200'), lateClients: num('--late-clients', '4'), lateTokens: num('--late-tokens', '32'), lateAfter: num('--late-after', '16'), repeats: num('--repeats', '3') };
    log(`join: ${o.longClients} long requests (${o.longTokens} tokens, temperature 5); after ${o.lateAfter} streamed tokens of the first, ${o.lateClients} late requests (${o.lateTokens} tokens); ${o.repeats} interleaved repeats, medians`);
    let tokenizerDir = argv.includes('--tokenizer-dir') ? path.resolve(arg(argv, '--tokenizer-dir', '')) : undefined;
    if (!tokenizerDir && !existsSync(path.join(modelDir, 'tokenizer.json'))) {
      tokenizerDir = path.join(root, 'test/fixtures/tokenizers/qwen-style');
      log(`${modelDir} has no tokenizer.json: using the Qwen-style test tokenizer (${tokenizerDir})`);
    }
    joinBench({ model: modelDir, adapters, tokenizerDir, threads: threadsArg ? Number(threadsArg) : undefined, windowMs: Number(arg(argv, '--window-ms', '5')), ...o, log }).then((res) => {
      for (const r of res.rows) log(`${r.mode.padEnd(15)}: late requests: first token ${r.lateTtftMs.toFixed(0)} ms, last token ${r.lateDoneMs.toFixed(0)} ms; long requests done ${r.longDoneMs.toFixed(0)} ms; ${r.tokens} tokens in ${r.wallMs.toFixed(0)} ms = ${r.tokPerS.toFixed(1)} tok/s (${r.calls} calls, ${r.joined} requests joined a running one)`);
      log(`ratios: late time to first token ${res.ttftRatio.toFixed(2)}x sooner, late completion ${res.lateDoneRatio.toFixed(2)}x sooner, throughput ${res.throughputRatio.toFixed(2)}x (continuous vs batch-at-a-time)`);
      log(JSON.stringify(res));
    }, fail);
  } else serveBench({
    model: modelDir,
    adapters,
    clients: arg(argv, '--clients', '1,8,32').split(',').map(Number),
    perClient: Number(arg(argv, '--requests-per-client', '4')),
    maxTokens: Number(arg(argv, '--max-tokens', '32')),
    threads: threadsArg ? Number(threadsArg) : undefined,
    windowMs: Number(arg(argv, '--window-ms', '5')),
    log,
  }).then((rows) => log(JSON.stringify(rows)), fail);
}
