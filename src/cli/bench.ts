/**
 * `npm run bench`: throughput of the local engine on a random-weight Qwen2.5-0.5B-shape checkpoint
 * (BF16 on disk, float32 in the session), against the machine's read bandwidth measured in the same run.
 *
 * Options: --model DIR (default bench-models/qwen2.5-0.5b-random, made by
 *          scripts/make-random-checkpoint.mjs if missing),
 *          --threads N (default 2), --new-tokens N (default 32), --prompt-len N (default 16),
 *          --repeats N (default 3), --batches 1,8,32, --quick (one repeat, fewer tokens),
 *          --profile 1,32 (also: per-operator time of decode steps at these batch sizes, from
 *          onnxruntime's profiler, with the adapter graph and half the rows adapted),
 *          --context-scaling (only this: decode step time with 64 vs 600 tokens of context already in the
 *          KV cache, at --batches 1,32 by default, and the ratio; --contexts 64,600 and --steps N (default 8)
 *          change what is timed; target: a step at 600 costs at most 1.3x a step at 64),
 *          --weights f32,int8,int4 (the precisions compared at the end: decode tokens/s per batch, interleaved,
 *          ratios to f32, and each one's peak RSS from a child process), --no-weights, --weights-only,
 *          --cache-folder DIR (quantized weights in DIR/weights, as `run --cache-folder`; default the engine's),
 *          --llama-cpp (only this: our f32/int8/int4 beside llama.cpp F32/Q8_0/Q4_0 on the same checkpoint, written
 *          to GGUF in --gguf-dir DIR (default bench-models/gguf; tokenizer from the model folder, else
 *          --tokenizer-dir, else the Qwen-style test fixture), decode tokens/s at --batches (1,8,32) and
 *          --contexts (64,600) over --steps (8) steps, --repeats interleaved, ratios, targets and peak RSS;
 *          needs node-llama-cpp: `npm install --prefix .tools/llama-cpp -E node-llama-cpp@3.21.1`, or
 *          ORGANISM_LAB_NODE_LLAMA_CPP=<its folder>; --spin-threads lets our idle pool threads spin before
 *          sleeping, as llama.cpp's do, instead of the engine's default of sleeping at once; also for --weights),
 *          --editor-path (only this: the demo prompt set on the demo organism through the CLI's in-process path and
 *          through a forked engine host's RPC as the extension drives it, samples/s of each and the ratio;
 *          --samples N per paraphrase (default 2), --max-new-tokens N (default 48), --batch-size N (default 8)).
 */
import os from 'node:os';
import path from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { measureReadBandwidth } from '../bench/bandwidth';
import { execFileSync } from 'node:child_process';
import { writeRandomLoraAdapter } from '../bench/randomAdapter';
import { summarizeProfiles, withProfiling } from '../bench/profile';
import { decodeWeightBytes, median, timeDecode, timePrefill, type DecodeRun } from '../bench/decodeBench';
import { contextScaling } from '../bench/contextScaling';
import { formatWeightsRatios, rssProbeMain, weightsBench } from '../bench/weightsBench';
import { formatSideBySide, sideBySide, sideRssProbeMain, type ComparedPrecision } from '../bench/llamaSideBySide';
import { NODE_LLAMA_CPP_VERSION } from '../bench/llamaCpp';
import { editorPathBench, formatEditorPath } from '../bench/editorPath';
import { parseWeightsChoice, type WeightPrecision } from '../engine/quant/weightPrecision';
import { ModelRunner } from '../engine/runtime/modelRunner';
import { loadModelSpec } from '../engine/checkpoint/modelSpec';
import type { RowVariant } from '../engine/runtime/generationTypes';

interface Options {
  model: string;
  threads: number;
  newTokens: number;
  promptLen: number;
  repeats: number;
  batches: number[];
  /** Our sessions' idle pool threads spin before sleeping (--spin-threads; llama.cpp's do by default). */
  threadSpinning: boolean;
  /** Batch sizes to profile with onnxruntime's profiler (per-operator time of decode steps). */
  profile: number[];
  /** Only the context-scaling measurement (decode step time against cached context). */
  contextScaling: boolean;
  contexts: number[];
  steps: number;
  /** Weight precisions compared (decode tokens/s at each batch, interleaved; peak RSS each); [] = skip. */
  precisions: WeightPrecision[];
  /** Only the weight-precision comparison. */
  weightsOnly: boolean;
  /** Where quantized weights are cached (the folder itself, as organismLab.cacheFolder/weights); default the engine's. */
  cacheFolder?: string;
  /** Only the editor-path (engine host RPC) vs CLI (in-process) comparison. */
  editorPath: boolean;
  samples: number;
  maxNewTokens: number;
  batchSize: number;
  /** Only the side-by-side with llama.cpp. */
  llamaCpp: boolean;
  ggufDir: string;
  tokenizerDir?: string;
}

function parseArgs(argv: string[]): Options {
  const root = process.cwd();
  const o: Options = { model: path.join(root, 'bench-models/qwen2.5-0.5b-random'), threads: 2, newTokens: 32, promptLen: 16, repeats: 3, batches: [1, 8, 32], profile: [], contextScaling: false, contexts: [64, 600], steps: 8, precisions: ['f32', 'int8', 'int4'], weightsOnly: false, editorPath: false, samples: 2, maxNewTokens: 48, batchSize: 8, llamaCpp: false, threadSpinning: false, ggufDir: path.join(root, 'bench-models/gguf') };
  let batchesGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(val());
      if (!Number.isInteger(v) || v < 1) throw new Error(`bench: ${a} needs a positive integer`);
      return v;
    };
    if (a === '--model') o.model = path.resolve(val());
    else if (a === '--threads') o.threads = int();
    else if (a === '--new-tokens') o.newTokens = Math.max(2, int());
    else if (a === '--prompt-len') o.promptLen = int();
    else if (a === '--repeats') o.repeats = int();
    else if (a === '--batches') {
      o.batches = val().split(',').map((x) => Number(x));
      batchesGiven = true;
    } else if (a === '--context-scaling') o.contextScaling = true;
    else if (a === '--contexts') o.contexts = val().split(',').map((x) => Number(x));
    else if (a === '--steps') o.steps = int();
    else if (a === '--profile') o.profile = val().split(',').map((x) => Number(x));
    else if (a === '--weights') o.precisions = val().split(',').filter(Boolean).map((x) => parseWeightsChoice(x.trim(), '--weights')).filter((x): x is WeightPrecision => x !== 'auto');
    else if (a === '--no-weights') o.precisions = [];
    else if (a === '--weights-only') o.weightsOnly = true;
    else if (a === '--llama-cpp') o.llamaCpp = true;
    else if (a === '--spin-threads') o.threadSpinning = true;
    else if (a === '--editor-path') o.editorPath = true;
    else if (a === '--samples') o.samples = int();
    else if (a === '--max-new-tokens') o.maxNewTokens = int();
    else if (a === '--batch-size') o.batchSize = int();
    else if (a === '--gguf-dir') o.ggufDir = path.resolve(val());
    else if (a === '--tokenizer-dir') o.tokenizerDir = path.resolve(val());
    else if (a === '--cache-folder') o.cacheFolder = path.join(path.resolve(val()), 'weights');
    else if (a === '--quick') {
      o.repeats = 1;
      o.newTokens = 12;
    } else throw new Error(`bench: unknown option ${a} (see the header of src/cli/bench.ts)`);
  }
  if (o.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error('bench: --batches takes positive integers, e.g. 1,8,32');
  if (o.contexts.length < 2 || o.contexts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('bench: --contexts takes two or more positive integers, e.g. 64,600');
  if (o.contextScaling && !batchesGiven) o.batches = [1, 32];
  return o;
}

const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;
const rssPeak = (): number => process.resourceUsage().maxRSS * 1024;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (s: string): void => console.log(s);
  log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (others' work skews every figure)`);
  log(`organism-lab bench: ${o.threads} threads, prompt ${o.promptLen} tokens, ${o.newTokens} new tokens, ${o.repeats} repeats (medians)`);


  if (o.editorPath) {
    await runEditorPath(o, log);
    return;
  }
  const defaultModel = o.model.endsWith(path.join('bench-models', 'qwen2.5-0.5b-random'));
  if (defaultModel) {
    if (!existsSync(path.join(o.model, 'model.safetensors')) || !existsSync(path.join(o.model, 'config.json'))) {
      const script = path.join(process.cwd(), 'scripts/make-random-checkpoint.mjs');
      if (!existsSync(script)) throw new Error(`bench: ${o.model} is missing and ${script} (which makes it) is not there; run from the repository root`);
      log(`making the random-weight checkpoint with ${script}`);
      execFileSync(process.execPath, [script, '--out', o.model], { stdio: 'inherit' });
    }
  } else if (!existsSync(path.join(o.model, 'config.json'))) {
    throw new Error(`bench: ${o.model} has no config.json; pass a Hugging Face checkpoint folder or leave --model out`);
  }
  if (o.contextScaling) {
    await runContextScaling(o, log);
    return;
  }
  if (o.llamaCpp) {
    await runLlamaSideBySide(o, log);
    return;
  }
  if (o.weightsOnly) {
    await runWeightsComparison(o, log);
    return;
  }
  const spec = loadModelSpec(o.model);
  const adapterDir = path.join(process.cwd(), 'bench-models', `${path.basename(o.model)}-lora8`);
  if (!existsSync(path.join(adapterDir, 'adapter_model.safetensors'))) {
    writeRandomLoraAdapter(adapterDir, spec, o.model, 8, 16, 7);
    log(`wrote a random rank-8 LoRA adapter on every projection to ${adapterDir}`);
  }
  const W = decodeWeightBytes(spec);

  // ---- base model
  let t0 = performance.now();
  const base = await ModelRunner.load(o.model, { threads: o.threads });
  const loadS = (performance.now() - t0) / 1000;
  log(`load (base, no adapter): ${loadS.toFixed(1)} s, peak RSS ${gb(rssPeak())}`);

  const pre = await timePrefill(base, 4, 128, o.repeats);
  log(`prefill 4 x 128 tokens: ${((4 * 128) / median(pre)).toFixed(0)} tokens/s (${(median(pre) * 1000).toFixed(0)} ms)`);

  const BASE: RowVariant = { adapter: null, adapterScale: 0 };
  const results: [string, DecodeRun][] = [];
  const line = (label: string, _B: number, runs: DecodeRun[]): DecodeRun => {
    const r: DecodeRun = {
      tokensPerSecond: median(runs.map((x) => x.tokensPerSecond)),
      stepSeconds: median(runs.map((x) => x.stepSeconds)),
      forwardShare: median(runs.map((x) => x.forwardShare)),
      cpuShare: median(runs.map((x) => x.cpuShare)),
    };
    results.push([label, r]);
    log(`${label.padEnd(42)} ${r.tokensPerSecond.toFixed(1).padStart(7)} tokens/s ${(r.stepSeconds * 1000).toFixed(1).padStart(8)} ms/step  (forward ${(100 * r.forwardShare).toFixed(0)}% of step, CPU ${(100 * r.cpuShare).toFixed(0)}% of ${o.threads} cores = ${(r.stepSeconds * r.cpuShare * o.threads * 1000).toFixed(0)} CPU-ms/step)`);
    return r;
  };

  // ---- the same model with the adapter in the graph, loaded next to the base one so that every
  // configuration of a batch size is measured in turn, repeat after repeat: the host is shared and
  // its load drifts within minutes, so only interleaved runs compare fairly.
  t0 = performance.now();
  const lora = await ModelRunner.load(o.model, { threads: o.threads, adapters: [{ name: 'lora8', dir: adapterDir }] });
  log(`load (with rank-8 adapter on every projection): ${((performance.now() - t0) / 1000).toFixed(1)} s; peak RSS with both sessions ${gb(rssPeak())}`);
  const ADAPTED: RowVariant = { adapter: 'lora8', adapterScale: 1 };
  const baseRes = new Map<number, DecodeRun>();
  const mixed = new Map<number, DecodeRun>();
  const loraBase = new Map<number, DecodeRun>();
  for (const B of o.batches) {
    const allBase = Array.from({ length: B }, () => BASE);
    const half = Array.from({ length: B }, (_, i) => (i < B / 2 ? BASE : ADAPTED));
    const configs: [string, ModelRunner, RowVariant[], Map<number, DecodeRun>][] = [[`decode batch ${B} (base model)`, base, allBase, baseRes]];
    if (B >= 2) {
      configs.push([`decode batch ${B} (adapter graph, all base)`, lora, allBase, loraBase]);
      configs.push([`decode batch ${B} (half base, half adapter)`, lora, half, mixed]);
    }
    const runs = configs.map((): DecodeRun[] => []);
    for (const [, runner, variants] of configs) await timeDecode(runner, variants, o.promptLen, 3); // warm-up at this batch size
    for (let r = 0; r < o.repeats; r++) {
      for (let c = 0; c < configs.length; c++) runs[c].push(await timeDecode(configs[c][1], configs[c][2], o.promptLen, o.newTokens, o.threads));
    }
    configs.forEach(([label, , , into], c) => into.set(B, line(label, B, runs[c])));
  }
  await base.dispose();
  await lora.dispose();
  log(`peak RSS: ${gb(rssPeak())}; load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);

  // Bandwidth last, so that its 1 GiB tensor does not count in the model's peak RSS.
  const bw = await measureReadBandwidth({ threads: o.threads });
  log(`read bandwidth (ReduceSum over ${gb(bw.bytes)} float32): median ${(bw.median / 1e9).toFixed(1)} GB/s [${bw.runs.map((r) => (r / 1e9).toFixed(1)).join(', ')}]`);
  const boundStep = W / bw.median;
  log(`weights read per decode step: ${gb(W)} float32 -> bandwidth bound ${(boundStep * 1000).toFixed(1)} ms/step (${(1 / boundStep).toFixed(1)} tokens/s per sequence)`);
  log('decode steps as a share of the bandwidth bound (bound step time / measured step time):');
  for (const [label, r] of results) log(`  ${label.padEnd(42)} ${(100 * (boundStep / r.stepSeconds)).toFixed(0).padStart(3)}%`);

  for (const B of o.profile) {
    const dir = path.join(process.cwd(), 'bench-models', `.profile-${process.pid}`);
    await withProfiling(dir, async () => {
      const r = await ModelRunner.load(o.model, { threads: o.threads, adapters: [{ name: 'lora8', dir: adapterDir }] });
      try {
        await timeDecode(r, Array.from({ length: B }, (_, i) => (i < B / 2 ? BASE : ADAPTED)), o.promptLen, o.newTokens);
      } finally {
        await r.dispose();
      }
    });
    log(`profile, batch ${B} (prefill + ${o.newTokens - 1} decode steps, adapter graph, half adapted): time per operator type`);
    for (const t of summarizeProfiles(dir).slice(0, 12)) {
      log(`  ${t.op.padEnd(28)} ${t.ms.toFixed(0).padStart(7)} ms  ${(100 * t.share).toFixed(1).padStart(5)}%  (${t.calls} calls)`);
    }
  }

  // ---- targets
  log('targets:');
  const b1 = baseRes.get(1);
  if (b1) log(`  batch-1 decode >= 80% of the bandwidth bound: ${(100 * (boundStep / b1.stepSeconds)).toFixed(0)}% ${boundStep / b1.stepSeconds >= 0.8 ? 'MET' : 'MISSED'}`);
  const b32 = baseRes.get(32);
  if (b1 && b32) log(`  batch-32 aggregate >= 10x batch 1: ${(b32.tokensPerSecond / b1.tokensPerSecond).toFixed(1)}x ${b32.tokensPerSecond >= 10 * b1.tokensPerSecond ? 'MET' : 'MISSED'}`);
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
  for (const [B, m] of mixed) {
    const ref = baseRes.get(B);
    if (!ref) continue;
    const vsBase = m.tokensPerSecond / ref.tokensPerSecond - 1;
    const lb = loraBase.get(B);
    const vsLora = lb ? ` (${pct(m.tokensPerSecond / lb.tokensPerSecond - 1)} vs all-base rows in the adapter graph)` : '';
    log(`  mixed base+adapter batch ${B} within 10% of base-only: ${pct(vsBase)} throughput vs the base model${vsLora} ${vsBase >= -0.1 ? 'MET' : 'MISSED'}`);
  }

  // ---- weight precisions (--weights LIST, --no-weights to skip, --weights-only for just this)
  await runWeightsComparison(o, log);
}

/** f32 vs int8 vs int4 on the same checkpoint: decode tokens/s per batch (interleaved) and peak RSS; ratios to f32. */
async function runWeightsComparison(o: Options, log: (s: string) => void): Promise<void> {
  if (!o.precisions.length) return;
  log(`weight precisions: ${o.precisions.join(', ')} (int8/int4: MatMulNBits, blocks of 32, accuracy_level 4), decode at batches ${o.batches.join(', ')}, ${o.repeats} interleaved repeats (medians); base model, ${o.threads} threads`);
  const res = await weightsBench({ model: o.model, threads: o.threads, promptLen: o.promptLen, newTokens: o.newTokens, repeats: o.repeats, batches: o.batches, precisions: o.precisions, cacheFolder: o.cacheFolder, threadSpinning: o.threadSpinning }, log);
  log('weight precision ratios (same run):');
  for (const l of formatWeightsRatios(res, o.batches)) log(l);
}

/** The demo prompt set through the CLI's in-process path and through the engine host's RPC. */
async function runEditorPath(o: Options, log: (s: string) => void): Promise<void> {
  const root = process.cwd();
  const fromSource = process.argv[1].endsWith('.ts');
  const hostModule = fromSource ? path.join(root, 'src/engine/host/main.ts') : path.join(path.dirname(process.argv[1]), 'engineHost.js');
  const eo = {
    model: path.join(root, 'examples/organisms/demo-base'),
    adapter: path.join(root, 'examples/organisms/demo-narrow-r1'),
    promptSet: path.join(root, 'examples/prompts/demo.yaml'),
    threads: o.threads,
    samples: o.samples,
    maxNewTokens: o.maxNewTokens,
    batchSize: o.batchSize,
    repeats: o.repeats,
    outDir: path.join(os.tmpdir(), `organism-lab-editor-path-${process.pid}`),
    hostModule,
    hostExecArgv: fromSource ? ['--import', 'tsx'] : [],
  };
  log(`editor path vs CLI: ${path.relative(root, eo.promptSet)} on demo-base + demo-narrow-r1 (variants base, demo-narrow-r1), ${o.samples} samples per paraphrase, ${o.maxNewTokens} new tokens, batch ${o.batchSize}, ${o.threads} threads, ${o.repeats} repeats alternating (host: ${path.relative(root, hostModule)})`);
  try {
    const r = await editorPathBench(eo, log);
    for (const l of formatEditorPath(r)) log(l);
  } finally {
    rmSync(eo.outDir, { recursive: true, force: true });
  }
  log(`load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

/** Our f32/int8/int4 beside llama.cpp's F32/Q8_0/Q4_0 on the same weights. */
async function runLlamaSideBySide(o: Options, log: (s: string) => void): Promise<void> {
  const precisions = o.precisions.filter((p): p is ComparedPrecision => p === 'f32' || p === 'int8' || p === 'int4');
  if (!precisions.length) throw new Error('bench: --llama-cpp compares f32, int8 and int4; --weights lists none of them');
  let tokenizerDir = o.tokenizerDir ?? o.model;
  if (!existsSync(path.join(tokenizerDir, 'tokenizer.json'))) {
    if (o.tokenizerDir) throw new Error(`bench: --tokenizer-dir ${o.tokenizerDir} has no tokenizer.json`);
    tokenizerDir = path.join(process.cwd(), 'test/fixtures/tokenizers/qwen-style');
    log(`${o.model} has no tokenizer.json: the GGUF files take the Qwen-style test tokenizer (${tokenizerDir}); the bench feeds token ids, so the vocabulary's text does not matter`);
  }
  const so = { model: o.model, threads: o.threads, batches: o.batches, contexts: o.contexts, steps: o.steps, repeats: o.repeats, precisions, ggufDir: o.ggufDir, tokenizerDir, cacheFolder: o.cacheFolder, benchScript: process.argv[1], threadSpinning: o.threadSpinning };
  log(`ours vs llama.cpp (node-llama-cpp ${NODE_LLAMA_CPP_VERSION}): decode at batches ${o.batches.join(', ')} and contexts ${o.contexts.join(', ')}, ${o.steps} steps, ${o.repeats} interleaved repeats (medians), ${o.threads} threads each; our idle threads ${o.threadSpinning ? 'spin before sleeping (--spin-threads)' : 'sleep at once (the default)'}, llama.cpp's spin`);
  const res = await sideBySide(so, log);
  for (const l of formatSideBySide(res, so)) log(l);
  log(`load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the host skews absolute figures; the ratios come from interleaved runs)`);
}

/** Decode step time against the context already cached, per batch size, contexts interleaved; ratios to the shortest. */
async function runContextScaling(o: Options, log: (s: string) => void): Promise<void> {
  const runner = await ModelRunner.load(o.model, { threads: o.threads });
  const c0 = o.contexts[0];
  const cLast = o.contexts[o.contexts.length - 1];
  log(`context scaling: decode steps with ${o.contexts.join(' / ')} tokens already cached, ${o.steps} interleaved rounds x ${o.repeats} repeats (medians); base model, ${o.threads} threads`);
  const ratios: [number, number, number][] = [];
  const ms = (x: number): string => `${(x * 1000).toFixed(1)} ms`;
  try {
    for (const B of o.batches) {
      await contextScaling(runner, B, o.contexts, 1, 1); // warm-up at this batch size
      const r = await contextScaling(runner, B, o.contexts, o.steps, o.repeats);
      const wall = (c: number): number => r.stepSeconds.get(c)!;
      const cpu = (c: number): number => r.cpuSeconds.get(c)!;
      log(`  batch ${String(B).padStart(2)}: wall ${o.contexts.map((c) => `${c}: ${ms(wall(c))}`).join(', ')} -> ratio ${(wall(cLast) / wall(c0)).toFixed(2)}x; CPU ${o.contexts.map((c) => `${c}: ${ms(cpu(c))}`).join(', ')} -> ratio ${(cpu(cLast) / cpu(c0)).toFixed(2)}x`);
      ratios.push([B, wall(cLast) / wall(c0), cpu(cLast) / cpu(c0)]);
    }
  } finally {
    await runner.dispose();
  }
  log(`targets (wall-time ratio; the CPU-time ratio is less sensitive to other load on the host; load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}):`);
  for (const [B, q, qc] of ratios) log(`  batch ${B}: a step at ${cLast} tokens of context <= 1.3x a step at ${c0}: ${q.toFixed(2)}x (CPU ${qc.toFixed(2)}x) ${q <= 1.3 ? 'MET' : 'MISSED'}`);
}

(process.argv.includes('--rss-probe') ? rssProbeMain(process.argv.slice(2)) : process.argv.includes('--side-rss-probe') ? sideRssProbeMain(process.argv.slice(2)) : main()).catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
