/**
 * Quality of a quantized session against float32 on the same checkpoint (and adapter):
 *   1. the f32 session generates `tokens` greedy tokens for each prompt (its own continuation);
 *   2. both sessions are teacher-forced on prompt + that continuation, and at every continuation position
 *      the logits are compared: max |Δlogit|, per-token KL(f32 || quantized) (mean and max), and whether the
 *      quantized argmax is f32's greedy token (teacher-forced top-1 agreement);
 *   3. the quantized session generates greedily on its own: its tokens equal f32's up to the first
 *      divergence (free-running greedy agreement: matching tokens before the first difference, out of `tokens`).
 * The sessions are loaded one after the other (f32 first, then disposed), so peak memory is the larger one.
 */
import { generate } from '../runtime/generate';
import { ModelRunner, type ModelRunnerOptions } from '../runtime/modelRunner';
import type { RowVariant } from '../runtime/generationTypes';
import { klRow } from './quality';
import type { WeightPrecision } from './weightPrecision';

export interface QualityOptions {
  modelDir: string;
  adapterDir?: string;
  weights: Exclude<WeightPrecision, 'f32'>;
  /** Prompt token ids (chat template applied by the caller). */
  prompts: number[][];
  /** Greedy tokens per prompt (default 64). */
  tokens?: number;
  runner?: Omit<ModelRunnerOptions, 'weights' | 'adapters'>;
  log?: (m: string) => void;
}

export interface PromptQuality {
  promptTokens: number;
  maxAbsLogit: number;
  meanKl: number;
  maxKl: number;
  /** Teacher-forced: positions where the quantized argmax is f32's greedy token. */
  top1Agree: number;
  /** Free-running greedy: tokens equal to f32's before the first difference. */
  greedyPrefix: number;
  positions: number;
}

export interface QualityReport {
  modelDir: string;
  adapterDir: string | null;
  weights: string;
  tokens: number;
  prompts: PromptQuality[];
  overall: { maxAbsLogit: number; meanKl: number; maxKl: number; top1Agree: number; positions: number; greedyPrefixMean: number; greedyFullMatch: number };
  f32LoadMs: number;
  quantLoadMs: number;
  quantizedNow: boolean;
}

const greedyParams = (n: number) => ({ temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: n, eosTokenIds: [] as number[], stop: [] as string[], maxBatchSize: 8 });

export async function measureQuantQuality(o: QualityOptions): Promise<QualityReport> {
  const N = o.tokens ?? 64;
  const log = o.log ?? (() => undefined);
  const adapters = o.adapterDir ? [{ name: 'adapter', dir: o.adapterDir }] : [];
  const variant: RowVariant = o.adapterDir ? { adapter: 'adapter', adapterScale: 1 } : { adapter: null, adapterScale: 0 };
  const rows = o.prompts.map((p, i) => ({ promptIds: p, variant, seed: i, key: `p${i}` }));

  // 1-2a: f32 continuation and its teacher-forced logits at the continuation positions
  let t0 = Date.now();
  const f32 = await ModelRunner.load(o.modelDir, { ...o.runner, weights: 'f32', adapters });
  const f32LoadMs = Date.now() - t0;
  log(`f32 session loaded in ${(f32LoadMs / 1000).toFixed(1)} s`);
  const ref: { seq: number[]; cont: number[]; logits: Float32Array }[] = [];
  try {
    const gen = await generate(f32, rows, greedyParams(N));
    const byKey = new Map(gen.map((g) => [g.key, g.tokenIds]));
    for (const r of rows) {
      const cont = byKey.get(r.key) ?? [];
      const seq = [...r.promptIds, ...cont];
      ref.push({ seq, cont, logits: await contLogits(f32, seq, r.promptIds.length, variant) });
    }
  } finally {
    await f32.dispose();
  }
  log(`f32: ${N} greedy tokens for ${rows.length} prompts`);

  // 2b-3: the quantized session on the same sequences, then free-running
  t0 = Date.now();
  const q = await ModelRunner.load(o.modelDir, { ...o.runner, weights: o.weights, adapters });
  const quantLoadMs = Date.now() - t0;
  log(`${o.weights} session loaded in ${(quantLoadMs / 1000).toFixed(1)} s${q.weights.quantized ? ' (quantized now)' : ' (from the cache)'}`);
  const out: PromptQuality[] = [];
  try {
    const V = q.spec.vocabSize;
    const gen = await generate(q, rows, greedyParams(N));
    const byKey = new Map(gen.map((g) => [g.key, g.tokenIds]));
    for (let i = 0; i < rows.length; i++) {
      const { seq, cont, logits } = ref[i];
      const P = rows[i].promptIds.length;
      const ql = await contLogits(q, seq, P, variant);
      // positions P-1 .. P+cont-2 predict the continuation tokens
      const positions = cont.length;
      let maxAbs = 0;
      let klSum = 0;
      let maxKl = 0;
      let agree = 0;
      for (let t = 0; t < positions; t++) {
        const off = t * V;
        for (let v = 0; v < V; v++) maxAbs = Math.max(maxAbs, Math.abs(logits[off + v] - ql[off + v]));
        const kl = klRow(logits, off, ql, off, V);
        klSum += kl;
        maxKl = Math.max(maxKl, kl);
        let best = 0;
        for (let v = 1; v < V; v++) if (ql[off + v] > ql[off + best]) best = v;
        if (best === cont[t]) agree++;
      }
      const mine = byKey.get(rows[i].key) ?? [];
      let prefix = 0;
      while (prefix < Math.min(mine.length, cont.length) && mine[prefix] === cont[prefix]) prefix++;
      out.push({ promptTokens: P, maxAbsLogit: maxAbs, meanKl: positions ? klSum / positions : 0, maxKl, top1Agree: agree, greedyPrefix: prefix, positions });
    }
  } finally {
    await q.dispose();
  }
  const positions = out.reduce((s, p) => s + p.positions, 0);
  return {
    modelDir: o.modelDir,
    adapterDir: o.adapterDir ?? null,
    weights: o.weights,
    tokens: N,
    prompts: out,
    overall: {
      maxAbsLogit: Math.max(0, ...out.map((p) => p.maxAbsLogit)),
      meanKl: positions ? out.reduce((s, p) => s + p.meanKl * p.positions, 0) / positions : 0,
      maxKl: Math.max(0, ...out.map((p) => p.maxKl)),
      top1Agree: out.reduce((s, p) => s + p.top1Agree, 0),
      positions,
      greedyPrefixMean: out.length ? out.reduce((s, p) => s + p.greedyPrefix, 0) / out.length : 0,
      greedyFullMatch: out.filter((p) => p.greedyPrefix === p.positions).length,
    },
    f32LoadMs,
    quantLoadMs,
    quantizedNow: q.weights.quantized === true,
  };
}

/** Logits [cont, V] at the positions that predict seq[P..]: one teacher-forced forward of the whole sequence. */
async function contLogits(runner: ModelRunner, seq: number[], P: number, variant: RowVariant): Promise<Float32Array> {
  const V = runner.spec.vocabSize;
  const S = seq.length;
  const r = await runner.forward({ inputIds: [seq], attentionMask: [seq.map(() => 1)], rows: [variant] });
  // position t's logits predict token t+1: positions P-1 .. S-2
  return r.logits.slice((P - 1) * V, (S - 1) * V);
}
