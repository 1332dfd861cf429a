/**
 * organism-lab serve --model DIR [--adapter NAME=DIR …] [--port P] [--host 127.0.0.1] [--api-key-env VAR]
 *                    [--enable-runtime-lora] [--served-model-name NAME] [--max-batch N] [--weights W] …
 * An OpenAI-compatible server (vLLM's conventions) over the local engine: see engine/serve/server.ts.
 * Runs until SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseWeightsChoice } from '../engine/quant/weightPrecision';
import type { ExecutionProvider } from '../engine/runtime/session';
import { ServedModel, parseAdapterArgs } from '../engine/serve/servedModel';
import { isLoopbackHost, startServer, type RunningServer } from '../engine/serve/server';
import { UsageError } from './cliErrors';
import { isNonNegativeInteger, isPositiveInteger, numberOption, parseCommandLine, printedHelp } from './cliCommon';

const HELP = `usage: organism-lab serve --model DIR [--adapter NAME=DIR …] [options]

An OpenAI-compatible server over the local engine (vLLM's conventions): GET /v1/models lists the base model
and each adapter; POST /v1/chat/completions and /v1/completions (n, seed, temperature, top_p, top_k, min_p,
max_tokens, stop, logprobs/top_logprobs, stream); POST /v1/load_lora_adapter and /v1/unload_lora_adapter
with --enable-runtime-lora. Concurrent requests, base and adapters alike, share one generation batch.

  --model DIR                 base model folder (config.json, *.safetensors, tokenizer)
  --adapter NAME=DIR          a PEFT LoRA adapter served as model NAME (repeatable; DIR alone: named after the folder)
  --served-model-name NAME    the base model's name in requests (default: the model folder's name)
  --host H                    address to bind (default 127.0.0.1); any other than loopback needs --api-key-env
  --port P                    port (default 8000; 0 = any free port, printed on start)
  --api-key-env VAR           require "Authorization: Bearer <key>" with the key read from environment variable VAR
  --enable-runtime-lora       allow /v1/load_lora_adapter and /v1/unload_lora_adapter (off by default, as in vLLM)
  --max-batch N               rows per forward batch (default 32)
  --batch-window-ms MS        how long a request waits for others to share its batch (default 5)
  --max-n N                   most choices per request (default 16)
  --max-model-len N           longest prompt + completion (default: the model's max_position_embeddings); also
                              bounds the default max_tokens of chat requests (the rest of the context, as vLLM)
  --kv-budget-mb N            KV-cache memory one batch may reserve (default: a quarter of the machine's memory);
                              a batch with long max_tokens runs fewer rows at a time
  --tokenizer DIR             folder with tokenizer.json/tokenizer_config.json (default: --model)
  --chat-template NAME        pick a named chat template from tokenizer_config.json
  --threads N                 onnxruntime intra-op threads
  --execution-provider EP     cpu (default) or cuda
  --weights W                 auto (default), f32, int8 or int4 (see organism-lab run --help)
  --cache-folder DIR          cache root; quantized weights go to DIR/weights (default ~/.cache/organism-lab)
  --spin-threads              idle onnxruntime threads spin before sleeping (faster batch-1 decoding on a quiet machine)
  -h, --help
`;

export interface ServeDeps {
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  until?: (server: RunningServer) => Promise<void>;
  err?: NodeJS.WritableStream;
  out?: NodeJS.WritableStream;
}

export async function main(argv: string[], deps: ServeDeps = {}): Promise<number> {
  const err = deps.err ?? process.stderr;
  const out = deps.out ?? process.stdout;
  const { values: o } = parseCommandLine({
    args: argv,
    options: {
      model: { type: 'string' }, adapter: { type: 'string', multiple: true }, 'served-model-name': { type: 'string' },
      host: { type: 'string' }, port: { type: 'string' }, 'api-key-env': { type: 'string' }, 'enable-runtime-lora': { type: 'boolean' },
      'max-batch': { type: 'string' }, 'batch-window-ms': { type: 'string' }, 'max-n': { type: 'string' }, 'max-model-len': { type: 'string' }, 'kv-budget-mb': { type: 'string' },
      tokenizer: { type: 'string' }, 'chat-template': { type: 'string' }, threads: { type: 'string' }, 'execution-provider': { type: 'string' },
      weights: { type: 'string' }, 'cache-folder': { type: 'string' }, 'spin-threads': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  }, HELP);
  if (printedHelp(o, HELP, out)) return 0;
  if (!o.model) throw new UsageError(`--model DIR is required\n${HELP}`);
  for (const [flag, dir] of [['--model', o.model], ...(o.tokenizer ? [['--tokenizer', o.tokenizer]] : [])] as [string, string][]) {
    if (!existsSync(dir)) throw new UsageError(`${flag} ${dir}: no such folder`);
  }
  const adapters = parseAdapterArgs(o.adapter ?? []);
  for (const a of adapters) if (!existsSync(a.dir)) throw new UsageError(`--adapter ${a.name}=${a.dir}: no such folder`);
  const host = o.host ?? '127.0.0.1';
  const port = numberOption(o.port, '--port', 8000, (n) => isNonNegativeInteger(n) && n <= 65535, 'a port number 0..65535');
  let apiKey: string | undefined;
  if (o['api-key-env'] !== undefined) {
    apiKey = process.env[o['api-key-env']];
    if (!apiKey) throw new UsageError(`--api-key-env ${o['api-key-env']}: that environment variable is empty or unset`);
  }
  if (!isLoopbackHost(host) && !apiKey) throw new UsageError(`--host ${host} is not loopback: give --api-key-env VAR so that only holders of the key can use the model`);
  const maxBatch = numberOption(o['max-batch'], '--max-batch', 32, isPositiveInteger, 'a positive integer');
  const windowMs = numberOption(o['batch-window-ms'], '--batch-window-ms', 5, (n) => n >= 0 && n <= 10_000, 'milliseconds 0..10000');
  const maxN = numberOption(o['max-n'], '--max-n', 16, isPositiveInteger, 'a positive integer');
  const maxModelLen = o['max-model-len'] === undefined ? undefined : numberOption(o['max-model-len'], '--max-model-len', 0, (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2');
  const kvBudgetMb = o['kv-budget-mb'] === undefined ? undefined : numberOption(o['kv-budget-mb'], '--kv-budget-mb', 0, isPositiveInteger, 'a positive integer (MiB)');
  const ep = o['execution-provider'] ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new UsageError(`--execution-provider must be cpu or cuda, got "${ep}"`);
  const threads = o.threads === undefined ? undefined : numberOption(o.threads, '--threads', 0, isNonNegativeInteger, 'an integer ≥ 0');
  let weights;
  try {
    weights = parseWeightsChoice(o.weights);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  err.write(`organism-lab serve: loading ${o.model}${adapters.length ? ` with ${adapters.map((a) => a.name).join(', ')}` : ''}\n`);
  const model = await ServedModel.load(o.model, adapters, {
    servedName: o['served-model-name'],
    tokenizerDir: o.tokenizer,
    chatTemplateName: o['chat-template'],
    executionProvider: ep as ExecutionProvider,
    threads,
    runner: { weights, threadSpinning: o['spin-threads'] === true, cacheFolder: o['cache-folder'] ? path.join(path.resolve(o['cache-folder']), 'weights') : undefined, memory: { shape: { batch: maxBatch } }, onWeightsDecision: (r) => err.write(`organism-lab serve: ${r}\n`) },
  });
  let server: RunningServer;
  try {
    server = await startServer(model, {
      host, port, apiKey, enableRuntimeLora: !!o['enable-runtime-lora'],
      limits: { maxN },
      maxModelLen,
      batcher: { maxBatchSize: maxBatch, windowMs, ...(kvBudgetMb ? { kvBudgetBytes: kvBudgetMb * 2 ** 20 } : {}) },
      log: (line) => err.write(`organism-lab serve: ${line}\n`),
    });
  } catch (e) {
    await model.dispose();
    throw e;
  }
  out.write(`${server.baseUrl}\n`);
  err.write(`organism-lab serve: models ${[model.servedName, ...model.adapters.map((a) => a.name)].join(', ')}; ${apiKey ? 'API key required' : 'no API key'}; runtime LoRA loading ${o['enable-runtime-lora'] ? 'on' : 'off'}. Ctrl-C stops.\n`);
  const until = deps.until ?? (() => new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  }));
  await until(server);
  await server.close();
  await model.dispose();
  return 0;
}
