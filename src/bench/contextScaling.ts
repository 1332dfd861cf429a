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
import v8 from 'node:v8';
import vm from 'node:vm';
import type { ModelRunner } from '../engine/runtime/modelRunner';
import { KvCache } from '../engine/runtime/kvCache';
import type { RowVariant } from '../engine/runtime/generationTypes';
import { median } from './decodeBench';

export interface ContextScalingResult {
  batch: number;
  /** context -> median wall seconds per decode step */
  stepSeconds: Map<number, number>;
  /** context -> median process CPU seconds (every thread) per decode step: what a step costs, less sensitive to the host's other load */
  cpuSeconds: Map<number, number>;
  /** context -> every timed step: [wall, cpu] seconds */
  samples: Map<number, [number, number][]>;
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

/**
 * A full garbage collection, run before each timed step: every step leaves the same garbage (the
 * logits it fetched, [batch, vocab] float32, and the mask arrays), and a collection landing inside
 * some steps and not others would add noise that has nothing to do with the context.
 */
let collect: (() => void) | null = null;
function collectGarbage(): void {
  if (!collect) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  collect();
}

interface Stepper {
  /** Runs one decode step; returns [wall, cpu] seconds. */
  step(): Promise<[number, number]>;
}

/** A decode loop from a synthetic `context`-column cache, one step per call. */
function stepperAt(runner: ModelRunner, batch: number, context: number, reserveColumns: number, seed: number): Stepper {
  const row: RowVariant = { adapter: null, adapterScale: 0 };
  const rows = Array.from({ length: batch }, () => row);
  let cache = randomCache(runner, batch, context, seed);
  let P = context;
  return {
    async step() {
      const mask = Array.from({ length: batch }, () => new Array<number>(P + 1).fill(1));
      collectGarbage();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await runner.forward({
        inputIds: Array.from({ length: batch }, (_, b) => [(7 + b + P) % runner.spec.vocabSize]),
        attentionMask: mask,
        positionIds: Array.from({ length: batch }, () => [P]),
        past: cache,
        rows,
        lastLogitsOnly: true,
        cacheReserve: { columns: reserveColumns },
      });
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      cache = r.present;
      P++;
      return [wall, (cpu.user + cpu.system) / 1e6];
    },
  };
}

/**
 * Median step time at each context for one batch size. Each repeat starts a decode loop per context
 * (one untimed step each), then times `steps` rounds of one step per context, alternating the order
 * from round to round, so every context sees the same host load.
 */
export async function contextScaling(runner: ModelRunner, batch: number, contexts: number[], steps: number, repeats: number): Promise<ContextScalingResult> {
  const samples = new Map<number, [number, number][]>(contexts.map((c) => [c, []]));
  for (let r = 0; r < repeats; r++) {
    const loops = contexts.map((c) => ({ c, s: stepperAt(runner, batch, c, c + steps + 1, 1 + r) }));
    for (const l of loops) await l.s.step();
    for (let k = 0; k < steps; k++) {
      for (const l of k % 2 === 0 ? loops : [...loops].reverse()) samples.get(l.c)!.push(await l.s.step());
    }
  }
  const med = (i: 0 | 1) => new Map([...samples].map(([c, xs]) => [c, median(xs.map((x) => x[i]))]));
  return { batch, samples, stepSeconds: med(0), cpuSeconds: med(1) };
}
