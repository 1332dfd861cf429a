/**
 * How a decode step's cost grows with the context already in the KV cache: timed decode steps of a
 * ModelRunner at given context lengths, the contexts of one batch size interleaved repeat after
 * repeat (the host is shared and its load drifts, so only interleaved runs compare fairly).
 *
 * The cache of a measurement is synthetic (seeded random keys and values of `context` columns, every
 * column real): a step's cost depends on the cache's size, not on its values. Each measurement first
 * runs one untimed step (it moves the cache into a storage with spare columns, as a prefill's first
 * step does), then `steps` timed ones, so a measurement at context C covers contexts C+1..C+steps.
 */
import type { ModelRunner } from '../engine/runtime/modelRunner';
import { KvCache } from '../engine/runtime/kvCache';
import type { RowVariant } from '../engine/runtime/generationTypes';
import { median } from './decodeBench';

export interface ContextScalingResult {
  batch: number;
  /** context -> median seconds per decode step over every timed step of every repeat */
  stepSeconds: Map<number, number>;
  /** context -> all timed steps (seconds) */
  samples: Map<number, number[]>;
}

function randomCache(runner: ModelRunner, batch: number, context: number, seed: number): KvCache {
  const { numLayers, numKvHeads, headDim } = runner.spec;
  const n = batch * numKvHeads * context * headDim;
  let s = seed >>> 0 || 1;
  const fill = (): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = (s / 4294967296 - 0.5) * 4;
    }
    return a;
  };
  return KvCache.fromArrays(batch, context, numKvHeads, headDim, Array.from({ length: numLayers }, fill), Array.from({ length: numLayers }, fill));
}

/** Seconds of each of `steps` timed decode steps (after one untimed one) from a `context`-column cache. */
export async function timeStepsAtContext(runner: ModelRunner, batch: number, context: number, steps: number, seed = 1): Promise<number[]> {
  const row: RowVariant = { adapter: null, adapterScale: 0 };
  const rows = Array.from({ length: batch }, () => row);
  let cache = randomCache(runner, batch, context, seed);
  let P = context;
  const out: number[] = [];
  for (let k = 0; k <= steps; k++) {
    const t0 = performance.now();
    const r = await runner.forward({
      inputIds: Array.from({ length: batch }, (_, b) => [(7 + b + k) % runner.spec.vocabSize]),
      attentionMask: Array.from({ length: batch }, () => new Array<number>(P + 1).fill(1)),
      positionIds: Array.from({ length: batch }, () => [P]),
      past: cache,
      rows,
      lastLogitsOnly: true,
      cacheReserve: { columns: context + steps + 1 },
    });
    cache = r.present;
    P++;
    if (k > 0) out.push((performance.now() - t0) / 1000);
  }
  return out;
}

/** Median step time at each context for one batch size, the contexts interleaved `repeats` times. */
export async function contextScaling(runner: ModelRunner, batch: number, contexts: number[], steps: number, repeats: number): Promise<ContextScalingResult> {
  const samples = new Map<number, number[]>(contexts.map((c) => [c, []]));
  for (let r = 0; r < repeats; r++) {
    for (const c of contexts) samples.get(c)!.push(...(await timeStepsAtContext(runner, batch, c, steps, 1 + r)));
  }
  return { batch, samples, stepSeconds: new Map([...samples].map(([c, xs]) => [c, median(xs)])) };
}
