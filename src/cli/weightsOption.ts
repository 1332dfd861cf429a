/**
 * `--weights auto|f32|int8|int4`, `--cache-folder DIR`, `--max-memory-mb N` and `--spin-threads`, shared by
 * every subcommand that loads a model: parsing, help lines, and the ModelRunner options they become (the
 * preflight's decision and the first-load quantization's progress printed on stderr).
 */
import path from 'node:path';
import type { ModelRunnerOptions } from '../engine/runtime/modelRunner';
import type { QuantProgress } from '../engine/quant/quantCache';
import { parseWeightsChoice, type WeightsChoice } from '../engine/quant/weightPrecision';
export { runWeights } from '../engine/quant/weightPrecision';
import { UsageError } from './cliErrors';

export const WEIGHTS_OPTIONS = {
  weights: { type: 'string' },
  'cache-folder': { type: 'string' },
  'max-memory-mb': { type: 'string' },
  'spin-threads': { type: 'boolean' },
} as const;

export const WEIGHTS_HELP = `  --weights W                 weight precision: auto (default: f32 when the session fits the memory budget,
                              else int8, else int4; says which and why), f32 (exact), int8, int4 (block-wise
                              quantized once into the cache folder, then reused), f16 (float16 weights, for
                              --execution-provider cuda; on CPU onnxruntime computes in float32 on them)
  --cache-folder DIR          cache root; quantized weights go to DIR/weights (default ~/.cache/organism-lab)
  --max-memory-mb N           memory budget for the preflight (default: what the machine or container has)
  --spin-threads              idle onnxruntime threads spin before sleeping: faster batch-1 decoding on a
                              machine with cores to spare, slower when other work competes for them
`;

export interface WeightsValues {
  weights?: string;
  'cache-folder'?: string;
  'max-memory-mb'?: string;
  'spin-threads'?: boolean;
}

/** A progress printer for the first-load quantization: one updating line on a terminal, a line every 10% otherwise. */
export function quantProgressPrinter(err: NodeJS.WritableStream, prefix: string, tty = !!(err as { isTTY?: boolean }).isTTY): (p: QuantProgress) => void {
  let lastPct = -1;
  let lastT = 0;
  const t0 = Date.now();
  return (p) => {
    if (p.total < 64 * 1024 * 1024) return; // small checkpoints quantize in a blink
    const pct = Math.floor((100 * p.done) / p.total);
    const finished = p.done >= p.total;
    const now = Date.now();
    if (tty) {
      if (!finished && now - lastT < 200) return;
      lastT = now;
      err.write(`\r${prefix}: quantizing ${pct}% (${(p.done / 1e9).toFixed(2)}/${(p.total / 1e9).toFixed(2)} GB read, ${((now - t0) / 1000).toFixed(0)} s)\x1b[K${finished ? '\n' : ''}`);
    } else if (Math.floor(pct / 10) !== Math.floor(lastPct / 10) || finished) {
      err.write(`${prefix}: quantizing ${pct}% (${(p.done / 1e9).toFixed(2)}/${(p.total / 1e9).toFixed(2)} GB read)\n`);
    }
    lastPct = pct;
  };
}

/**
 * The ModelRunner options of the flags. `fallback`: the precision when --weights is absent (default auto;
 * e.g. a run file's recorded precision for activations/direction).
 */
export function weightsRunnerOptions(
  v: WeightsValues,
  err: NodeJS.WritableStream,
  prefix: string,
  opts: { fallback?: WeightsChoice; batch?: number; maxLength?: number; signal?: AbortSignal } = {},
): Pick<ModelRunnerOptions, 'weights' | 'cacheFolder' | 'memory' | 'onWeightsDecision' | 'onQuantProgress' | 'signal' | 'threadSpinning'> {
  let weights: WeightsChoice;
  try {
    weights = v.weights === undefined ? (opts.fallback ?? 'auto') : parseWeightsChoice(v.weights);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let maxMemoryMB: number | undefined;
  if (v['max-memory-mb'] !== undefined) {
    maxMemoryMB = Number(v['max-memory-mb']);
    if (!Number.isFinite(maxMemoryMB) || maxMemoryMB <= 0 || v['max-memory-mb'].trim() === '') throw new UsageError(`--max-memory-mb expects a positive number of MiB, got "${v['max-memory-mb']}"`);
  }
  const shape: { batch?: number; maxLength?: number } = {};
  if (opts.batch !== undefined) shape.batch = opts.batch;
  if (opts.maxLength !== undefined) shape.maxLength = opts.maxLength;
  return {
    weights,
    threadSpinning: v['spin-threads'] === true,
    cacheFolder: v['cache-folder'] ? path.join(path.resolve(v['cache-folder']), 'weights') : undefined,
    memory: { maxMemoryMB, shape },
    onWeightsDecision: (reason) => err.write(`${prefix}: ${reason}\n`),
    onQuantProgress: quantProgressPrinter(err, prefix),
    signal: opts.signal,
  };
}

