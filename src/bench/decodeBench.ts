/**
 * Timed prefill and decode runs over a ModelRunner, and the weight-byte count that bounds a decode
 * step by memory bandwidth.
 */
import type { ModelRunner } from '../engine/runtime/modelRunner';
import type { ModelSpec } from '../engine/checkpoint/modelSpec';
import { LINEAR_MODULES, linearShape } from '../engine/checkpoint/modelSpec';
import { generate, type GenerationRunner } from '../engine/runtime/generate';
import type { GenerationParams, RowVariant } from '../engine/runtime/generationTypes';

/** Float32 bytes of every weight a decode step reads once (the embedding table counts once when tied: it is the LM head). */
export function decodeWeightBytes(spec: ModelSpec): number {
  const H = spec.hiddenSize;
  let params = 0;
  for (const m of LINEAR_MODULES) {
    const [out, inn] = linearShape(spec, m);
    params += out * inn;
  }
  if (spec.qkvBias) params += (spec.numHeads + 2 * spec.numKvHeads) * spec.headDim;
  const norms = (spec.sandwichNorms ? 4 : 2) * H + (spec.qkNorm ? 2 * spec.headDim : 0);
  params = (params + norms) * spec.numLayers;
  params += spec.vocabSize * H + H; // LM head (= embeddings when tied) and the final norm
  return params * 4;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function randomPrompt(len: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: len }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

/** Prefill throughput: one forward over batch × len prompt tokens (last logits only). Seconds per run. */
export async function timePrefill(runner: ModelRunner, batch: number, len: number, repeats: number): Promise<number[]> {
  const V = runner.spec.vocabSize;
  const inputIds = Array.from({ length: batch }, (_, b) => randomPrompt(len, V, 100 + b));
  const attentionMask = inputIds.map((r) => r.map(() => 1));
  const rows: RowVariant[] = inputIds.map(() => ({ adapter: null, adapterScale: 0 }));
  const out: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await runner.forward({ inputIds, attentionMask, rows, lastLogitsOnly: true });
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

export interface DecodeRun {
  /** Aggregate generated tokens per second over the decode steps (prefill excluded). */
  tokensPerSecond: number;
  /** Seconds per decode step. */
  stepSeconds: number;
  /** Share of the decode time spent inside runner.forward (the rest: sampling, cache bookkeeping). */
  forwardShare: number;
  /** Process CPU time over the decode phase / (wall time x cores): below 1 when the host's other work takes cores away (or threads wait). */
  cpuShare: number;
}

/**
 * Greedy generation of `newTokens` tokens for `variants.length` rows in one batch; the decode phase
 * is timed from the end of the prefill (the last first-token) to the end.
 */
export async function timeDecode(runner: ModelRunner, variants: RowVariant[], promptLen: number, newTokens: number, cores = 2): Promise<DecodeRun> {
  const B = variants.length;
  let forwardMs = 0;
  let forwards = 0;
  let decodeStart = 0;
  let firstTokens = 0;
  let cpu0 = process.cpuUsage();
  const timed: GenerationRunner = {
    spec: runner.spec,
    forward: async (req) => {
      const t0 = performance.now();
      const r = await runner.forward(req);
      if (decodeStart > 0) {
        forwardMs += performance.now() - t0;
        forwards++;
      }
      return r;
    },
  };
  const params: GenerationParams = { temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: newTokens, eosTokenIds: [], stop: [], maxBatchSize: B };
  // Paired rows (same prompt for row i and its variant twin) so mixed batches compare like with like.
  const rows = variants.map((variant, i) => ({ key: `r${i}`, promptIds: randomPrompt(promptLen, runner.spec.vocabSize, 1 + (i % Math.max(1, B / 2))), variant, seed: i }));
  await generate(timed, rows, params, {
    onToken: (_k, _t, step) => {
      if (step === 0 && ++firstTokens === B) {
        decodeStart = performance.now();
        cpu0 = process.cpuUsage();
      }
    },
  });
  const seconds = (performance.now() - decodeStart) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const steps = newTokens - 1;
  return {
    tokensPerSecond: (B * steps) / seconds,
    stepSeconds: seconds / steps,
    forwardShare: forwardMs / 1000 / seconds,
    cpuShare: (cpu.user + cpu.system) / 1e6 / (seconds * cores),
  };
}
