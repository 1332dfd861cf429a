/**
 * Served throughput of `organism-lab serve` against the in-process engine:
 *
 *   node --import tsx src/bench/serveBench.ts [--model DIR] [--adapter NAME=DIR] [--clients 1,8,32]
 *        [--requests-per-client K] [--max-tokens N] [--threads N] [--window-ms MS]
 *
 * For each client count C: C clients on loopback each send K chat requests one after another (half for the
 * base model, half for the adapter, each seeded), and the generated tokens per second are measured; then the
 * same C × K rows (same prompts, adapters and seeds, so the same tokens) are generated in-process by one
 * generate() call with maxBatchSize C. The ratio served / in-process is the cost of HTTP, JSON, batching
 * windows and batch-at-a-time scheduling. Defaults: the demo organism (examples/organisms).
 */
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
  serveBench({
    model: modelDir,
    adapters,
    clients: arg(argv, '--clients', '1,8,32').split(',').map(Number),
    perClient: Number(arg(argv, '--requests-per-client', '4')),
    maxTokens: Number(arg(argv, '--max-tokens', '32')),
    threads: threadsArg ? Number(threadsArg) : undefined,
    windowMs: Number(arg(argv, '--window-ms', '5')),
    log: (s) => process.stdout.write(`${s}\n`),
  }).then(
    (rows) => process.stdout.write(`${JSON.stringify(rows)}\n`),
    (e) => {
      process.stderr.write(`serve bench: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
