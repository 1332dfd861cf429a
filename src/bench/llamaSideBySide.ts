/**
 * `npm run bench -- --llama-cpp`: our engine's f32 / int8 / int4 sessions beside llama.cpp's F32 / Q8_0 /
 * Q4_0 on the same checkpoint (GGUF files written from its safetensors by ./gguf), decode tokens/s at each
 * batch size and context, every configuration measured in turn, repeat after repeat, in one process (the host
 * is shared and its load drifts: only interleaved runs compare fairly); and each side's peak RSS from a child
 * process that loads one precision and decodes at the largest batch and context.
 *
 * A decode measurement at context C times `steps` greedy steps of B rows whose KV cache already holds C
 * tokens. Ours: ./contextScaling (a synthetic cache of C columns, no prefill). llama.cpp: B parallel sequences
 * of one context, the C-token prompt evaluated once and its state copied into every sequence (./llamaCpp).
 * Both run `threads` threads; llama.cpp keeps its KV cache in F16 (its default), ours in float32.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ModelRunner } from '../engine/runtime/modelRunner';
import { loadModelSpec } from '../engine/checkpoint/modelSpec';
import type { WeightPrecision } from '../engine/quant/weightPrecision';
import { contextScaling } from './contextScaling';
import { median } from './decodeBench';
import { writeQwen2Gguf } from './gguf/qwen2Gguf';
import type { GgmlTypeName } from './gguf/ggufWriter';
import { LlamaBatchDecoder, llamaWarmUp, loadLlama, type Llama, type LlamaModel } from './llamaCpp';
import { peakRssOfThisProcess } from './weightsBench';

export type ComparedPrecision = 'f32' | 'int8' | 'int4';
export const LLAMA_TYPE: Record<ComparedPrecision, GgmlTypeName> = { f32: 'F32', int8: 'Q8_0', int4: 'Q4_0' };

export interface SideBySideOptions {
  model: string;
  threads: number;
  batches: number[];
  contexts: number[];
  steps: number;
  repeats: number;
  precisions: ComparedPrecision[];
  /** Folder for the GGUF files (made when missing or older than the checkpoint). */
  ggufDir: string;
  /** Folder with tokenizer.json for the GGUF files (the model's own when it has one). */
  tokenizerDir: string;
  /** Quantized-weights cache of our engine (default the engine's). */
  cacheFolder?: string;
  /** This bench's entry script (for the peak-RSS child processes). */
  benchScript: string;
  /** Our sessions' pool threads spin before sleeping (llama.cpp's threads spin by default). */
  threadSpinning?: boolean;
}

export interface SideBySideResult {
  /** `${side}:${precision}:${context}:${batch}` → median tokens/s; side 'ours' | 'llama' */
  tokensPerSecond: Map<string, number>;
  peakRss: Map<string, number | null>;
}

const key = (side: 'ours' | 'llama', p: ComparedPrecision, c: number, b: number): string => `${side}:${p}:${c}:${b}`;
const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;

/** The GGUF file of `type` for the checkpoint, written when missing or older than model.safetensors. */
export function ensureGguf(o: Pick<SideBySideOptions, 'model' | 'ggufDir' | 'tokenizerDir'>, type: GgmlTypeName, log: (s: string) => void): string {
  mkdirSync(o.ggufDir, { recursive: true });
  const file = path.join(o.ggufDir, `${path.basename(path.resolve(o.model))}-${type}.gguf`);
  const st = path.join(o.model, existsSync(path.join(o.model, 'model.safetensors')) ? 'model.safetensors' : 'model.safetensors.index.json');
  if (existsSync(file) && statSync(file).mtimeMs >= statSync(st).mtimeMs) return file;
  const t0 = performance.now();
  const bytes = writeQwen2Gguf({ model: o.model, out: file, weightType: type, tokenizerDir: o.tokenizerDir });
  log(`  wrote ${file} (${gb(bytes)}, ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return file;
}

export async function sideBySide(o: SideBySideOptions, log: (s: string) => void): Promise<SideBySideResult> {
  const spec = loadModelSpec(o.model);
  const maxB = Math.max(...o.batches);
  const maxC = Math.max(...o.contexts);
  log(`llama.cpp side by side: GGUF files in ${o.ggufDir} (tokenizer from ${o.tokenizerDir})`);
  const files = new Map(o.precisions.map((p) => [p, ensureGguf(o, LLAMA_TYPE[p], log)]));
  const ours = new Map<ComparedPrecision, ModelRunner>();
  const llamaModels = new Map<ComparedPrecision, LlamaModel>();
  let llama: Llama | null = null;
  const tps = new Map<string, number>();
  try {
    for (const p of o.precisions) ours.set(p, await ModelRunner.load(o.model, { threads: o.threads, threadSpinning: o.threadSpinning, weights: p, cacheFolder: o.cacheFolder, memory: { shape: { batch: maxB, maxLength: maxC + o.steps + 2 } } }));
    llama = await loadLlama(o.threads);
    // useMmap false: the weights in process memory, as ours; a mapped file's pages are dropped and read again
    // from disk when other work on the host fills the page cache.
    for (const p of o.precisions) {
      llamaModels.set(p, await llama.loadModel({ modelPath: files.get(p)!, gpuLayers: 0, useMmap: false }));
      const w = await llamaWarmUp(llamaModels.get(p)!, { threads: o.threads, vocab: spec.vocabSize });
      log(`  llama.cpp ${LLAMA_TYPE[p]} warmed up: ${w.tokensPerSecond.toFixed(1)} tokens/s at batch 1 after ${w.seconds.toFixed(0)} s`);
    }
    for (const B of o.batches) {
      const decoders = new Map<ComparedPrecision, LlamaBatchDecoder>();
      try {
        for (const p of o.precisions) decoders.set(p, await LlamaBatchDecoder.create(llamaModels.get(p)!, { batch: B, maxContext: maxC, steps: o.steps, threads: o.threads, vocab: spec.vocabSize, stateFile: path.join(o.ggufDir, `.state-${process.pid}-${p}.bin`) }));
        for (const C of o.contexts) {
          for (const p of o.precisions) {
            await decoders.get(p)!.prepare(C);
            await decoders.get(p)!.decode(); // warm-up at this batch and context, both sides
            await contextScaling(ours.get(p)!, B, [C], 1, 1);
          }
          const runs = new Map<string, number[]>();
          const add = (k: string, v: number): void => void (runs.get(k) ?? runs.set(k, []).get(k)!).push(v);
          for (let r = 0; r < o.repeats; r++) {
            for (const p of o.precisions) {
              const cs = await contextScaling(ours.get(p)!, B, [C], o.steps, 1);
              add(key('ours', p, C, B), B / cs.stepSeconds.get(C)!);
              add(key('llama', p, C, B), (await decoders.get(p)!.decode()).tokensPerSecond);
            }
          }
          for (const [k, v] of runs) tps.set(k, median(v));
          log(`  context ${String(C).padStart(3)}, batch ${String(B).padStart(2)}: ${o.precisions.map((p) => `${p} ${tps.get(key('ours', p, C, B))!.toFixed(1)} vs ${LLAMA_TYPE[p]} ${tps.get(key('llama', p, C, B))!.toFixed(1)}`).join(', ')} tokens/s`);
        }
      } finally {
        for (const d of decoders.values()) await d.dispose();
      }
    }
  } finally {
    for (const m of llamaModels.values()) await m.dispose();
    await llama?.dispose();
    for (const r of ours.values()) await r.dispose();
  }
  const peakRss = new Map<string, number | null>();
  for (const p of o.precisions) {
    for (const side of ['ours', 'llama'] as const) {
      const rss = probe(o, side, p, maxB, maxC);
      peakRss.set(`${side}:${p}`, rss);
    }
    log(`  peak RSS (a process that loads it and decodes ${o.steps} steps at batch ${maxB}, context ${maxC}): ours ${p} ${fmt(peakRss.get(`ours:${p}`))}, llama.cpp ${LLAMA_TYPE[p]} ${fmt(peakRss.get(`llama:${p}`))}`);
  }
  return { tokensPerSecond: tps, peakRss };
}

const fmt = (x: number | null | undefined): string => (x ? gb(x) : 'probe failed');

/** Ratios ours / llama.cpp and the targets: int8 >= Q8_0 and int4 >= Q4_0 at batch 1, >= 1.5x at batch 32. */
export function formatSideBySide(res: SideBySideResult, o: Pick<SideBySideOptions, 'batches' | 'contexts' | 'precisions'>): string[] {
  const lines: string[] = ['ours / llama.cpp decode throughput (same run):'];
  for (const C of o.contexts) {
    for (const p of o.precisions) {
      const cells = o.batches.map((B) => `batch ${B} ${(res.tokensPerSecond.get(key('ours', p, C, B))! / res.tokensPerSecond.get(key('llama', p, C, B))!).toFixed(2)}x`);
      lines.push(`  context ${C}: ${p} / ${LLAMA_TYPE[p]}: ${cells.join(', ')}`);
    }
  }
  lines.push('targets (ours / llama.cpp, each context):');
  for (const C of o.contexts) {
    for (const p of ['int8', 'int4'] as const) {
      if (!o.precisions.includes(p)) continue;
      for (const [B, need] of [[1, 1], [32, 1.5]] as const) {
        const a = res.tokensPerSecond.get(key('ours', p, C, B));
        const b = res.tokensPerSecond.get(key('llama', p, C, B));
        if (a === undefined || b === undefined) continue;
        lines.push(`  context ${C}, batch ${B}: ${p} >= ${need}x ${LLAMA_TYPE[p]}: ${(a / b).toFixed(2)}x ${a >= need * b ? 'MET' : 'MISSED'}`);
      }
    }
  }
  return lines;
}

function probe(o: SideBySideOptions, side: 'ours' | 'llama', p: ComparedPrecision, batch: number, context: number): number | null {
  const args = [...process.execArgv, o.benchScript, '--side-rss-probe', side, '--precision', p, '--model', o.model, '--gguf-dir', o.ggufDir, '--tokenizer-dir', o.tokenizerDir, '--threads', String(o.threads), ...(o.threadSpinning ? ['--spin-threads'] : []), '--batch', String(batch), '--context', String(context), '--steps', String(o.steps), ...(o.cacheFolder ? ['--quant-cache', o.cacheFolder] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  try {
    return (JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '') as { peakRss: number }).peakRss;
  } catch {
    return null;
  }
}

/** The child side of the peak-RSS probe: load one side at one precision, decode, print {"peakRss": bytes}. */
export async function sideRssProbeMain(argv: string[]): Promise<void> {
  const get = (k: string): string => {
    const i = argv.indexOf(k);
    if (i < 0 || argv[i + 1] === undefined) throw new Error(`side rss probe: ${k} missing`);
    return argv[i + 1];
  };
  const side = get('--side-rss-probe');
  const p = get('--precision') as ComparedPrecision;
  const [threads, batch, context, steps] = ['--threads', '--batch', '--context', '--steps'].map((k) => Number(get(k)));
  const model = get('--model');
  if (side === 'ours') {
    const r = await ModelRunner.load(model, { threads, threadSpinning: argv.includes('--spin-threads'), weights: p as WeightPrecision, cacheFolder: argv.includes('--quant-cache') ? get('--quant-cache') : undefined, memory: { shape: { batch, maxLength: context + steps + 2 } } });
    await contextScaling(r, batch, [context], steps, 1);
    await r.dispose();
  } else {
    const file = ensureGguf({ model, ggufDir: get('--gguf-dir'), tokenizerDir: get('--tokenizer-dir') }, LLAMA_TYPE[p], () => undefined);
    const llama = await loadLlama(threads);
    const m = await llama.loadModel({ modelPath: file, gpuLayers: 0, useMmap: false });
    const d = await LlamaBatchDecoder.create(m, { batch, maxContext: context, steps, threads, vocab: loadModelSpec(model).vocabSize, stateFile: path.join(get('--gguf-dir'), `.state-${process.pid}.bin`) });
    await d.prepare(context);
    await d.decode();
    await d.dispose();
    await m.dispose();
    await llama.dispose();
  }
  console.log(JSON.stringify({ side, precision: p, peakRss: peakRssOfThisProcess() }));
}
