/**
 * SAE model diffing on a run: each sample of the compared variant is teacher-forced through the reference
 * variant (usually the base) and its own variant on IDENTICAL tokens; the residual stream at the SAE's hook is
 * encoded by the SAE (saeKernel, in onnxruntime) for both rows. Per run: the features whose mean activation
 * over response tokens rises or falls most with the variant, with how many samples carry them and how well
 * their per-sample activation separates misaligned from aligned samples (AUC, from judge or human labels).
 * Per sample: for each token, the features whose activation changed most. Per feature: its top-activating
 * tokens across the run.
 */
import { auc, deriveLabels, type LabelSource } from '../analysis/directions';
import { sampleSequence, referenceVariant, variantRow, type AnalysisModel } from '../jobs/analyzeRun';
import type { RowVariant } from '../runtime/generationTypes';
import type { RunContents } from '../runs/parse';
import type { SampleRow } from '../runs/schema';
import type { SaeSpec } from './saeFolder';
import { SaeKernel } from './saeKernel';
import type { SaeFeatureRow, SaeRunDiff, SaeSampleDiff, SaeTokenDiff, SaeTopToken } from '../../protocol/sae';

export type { SaeFeatureRow, SaeRunDiff, SaeSampleDiff, SaeTokenDiff, SaeTopToken };

export interface SaeDiffOptions {
  variant?: string;
  reference?: string | null;
  top?: number;
  labels?: LabelSource;
  /** Per-sample activation vectors kept for the AUC (samples × d_sae floats) at most this many bytes (default 256 MiB). */
  aucBudgetBytes?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

function defaultVariant(run: RunContents, name?: string): string {
  const v = name ?? run.header.variants.find((x) => x.adapter && !x.steer && !x.ablate)?.name;
  if (!v) throw new Error('no adapter variant in this run; pass --variant to choose the variant to diff against the reference');
  if (!run.header.variants.some((x) => x.name === v)) throw new Error(`no variant "${v}" in this run (variants: ${run.header.variants.map((x) => x.name).join(', ')})`);
  return v;
}

/** One teacher-forced forward of [reference, variant] rows on a sample's tokens; the hidden states at the SAE's hook. */
async function hookStates(model: AnalysisModel, spec: SaeSpec, tokenIds: number[], refRow: RowVariant, varRow: RowVariant): Promise<{ ref: Float32Array; var: Float32Array }> {
  const S = tokenIds.length;
  const mask = new Array(S).fill(1);
  const out = await model.runner.forward({ inputIds: [tokenIds, tokenIds], attentionMask: [mask, mask], rows: [refRow, varRow], outputHiddenStates: true });
  const h = out.hiddenStates![spec.hiddenStateIndex];
  const H = spec.dIn;
  return { ref: h.slice(0, S * H), var: h.slice(S * H, 2 * S * H) };
}

function checkFinite(x: Float32Array, sampleId: string): void {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new Error(`sample ${sampleId}: the model's activations at the SAE's hook are not finite (NaN/Inf); check the model and adapter weights`);
}

export async function saeRunDiff(model: AnalysisModel, run: RunContents, runPath: string, spec: SaeSpec, kernel: SaeKernel, opts: SaeDiffOptions = {}): Promise<SaeRunDiff> {
  const started = Date.now();
  const ref = referenceVariant(run, opts.reference);
  const vName = defaultVariant(run, opts.variant);
  const refRow = variantRow(model, run, ref.name);
  const varRow = variantRow(model, run, vName);
  const samples = run.samples.filter((s) => s.variant === vName);
  const D = spec.dSae;
  const sumRef = new Float64Array(D);
  const sumVar = new Float64Array(D);
  const carryRef = new Float64Array(D);
  const carryVar = new Float64Array(D);
  const { labels, judge } = deriveLabels(samples, run.judgements, run.labels, opts.labels ?? { source: 'both' });
  const budget = opts.aucBudgetBytes ?? 256 * 1024 ** 2;
  const keepPerSample = labels.size > 0 && labels.size * D * 4 <= budget;
  const perSample = new Map<string, Float32Array>();
  const skipped: SaeRunDiff['skipped'] = [];
  let tokens = 0;
  let done = 0;
  for (const s of samples) {
    if (opts.signal?.aborted) throw new Error('cancelled');
    let seq: { tokenIds: number[]; responseStart: number };
    try {
      seq = sampleSequence(model.tokenizer, s);
    } catch (e) {
      skipped.push({ sampleId: s.id, reason: (e as Error).message });
      continue;
    }
    const n = seq.tokenIds.length - seq.responseStart;
    if (n <= 0) {
      skipped.push({ sampleId: s.id, reason: 'empty completion' });
      continue;
    }
    const hs = await hookStates(model, spec, seq.tokenIds, refRow, varRow);
    const H = spec.dIn;
    const xRef = hs.ref.slice(seq.responseStart * H);
    const xVar = hs.var.slice(seq.responseStart * H);
    checkFinite(xRef, s.id);
    checkFinite(xVar, s.id);
    const blk = await kernel.diff(xRef, xVar, n, 1);
    for (let f = 0; f < D; f++) {
      sumRef[f] += blk.sumRef[f];
      sumVar[f] += blk.sumVar[f];
      if (blk.activeRef[f] > 0) carryRef[f]++;
      if (blk.activeVar[f] > 0) carryVar[f]++;
    }
    if (keepPerSample && labels.has(s.id)) {
      const m = new Float32Array(D);
      for (let f = 0; f < D; f++) m[f] = blk.sumVar[f] / n;
      perSample.set(s.id, m);
    }
    tokens += n;
    done++;
    opts.onProgress?.(done, samples.length);
  }
  const top = Math.max(1, opts.top ?? 20);
  const rows = (order: number[]): SaeFeatureRow[] =>
    order.map((f) => {
      const meanRef = tokens ? sumRef[f] / tokens : 0;
      const meanVar = tokens ? sumVar[f] / tokens : 0;
      let a: number | null = null;
      if (keepPerSample) {
        const pos: number[] = [];
        const neg: number[] = [];
        for (const [id, v] of perSample) (labels.get(id) === 'misaligned' ? pos : neg).push(v[f]);
        const x = auc(pos, neg);
        a = Number.isFinite(x) ? x : null;
      }
      return { feature: f, meanRef, meanVar, delta: meanVar - meanRef, samplesRef: carryRef[f], samplesVar: carryVar[f], aucMisaligned: a };
    });
  const idx = [...Array(D).keys()];
  const delta = (f: number) => sumVar[f] - sumRef[f];
  const rising = idx.filter((f) => delta(f) > 0).sort((a, b) => delta(b) - delta(a)).slice(0, top);
  const falling = idx.filter((f) => delta(f) < 0).sort((a, b) => delta(a) - delta(b)).slice(0, top);
  const counts = { misaligned: 0, aligned: 0 };
  for (const l of labels.values()) counts[l === 'misaligned' ? 'misaligned' : 'aligned']++;
  return {
    runPath,
    sae: { dir: spec.dir, architecture: spec.architecture, dSae: D, hookName: spec.hookName, hookMapping: spec.hookMapping, warnings: [...spec.warnings, ...(labels.size && !keepPerSample ? [`AUC skipped: ${labels.size} labelled samples × ${D} features exceed the ${Math.round(budget / 1024 ** 2)} MiB budget`] : [])] },
    reference: ref.name,
    variant: vName,
    samples: done,
    responseTokens: tokens,
    labels: { ...counts, judge },
    rising: rows(rising),
    falling: rows(falling),
    skipped,
    elapsedMs: Date.now() - started,
  };
}

/** Per token of one sample: the k features whose activation changed most between reference and variant. */
export async function saeSampleDiff(model: AnalysisModel, run: RunContents, spec: SaeSpec, kernel: SaeKernel, sampleId: string, opts: { reference?: string | null; k?: number } = {}): Promise<SaeSampleDiff> {
  const s: SampleRow | undefined = run.samples.find((x) => x.id === sampleId);
  if (!s) throw new Error(`no sample "${sampleId}" in this run`);
  const ref = referenceVariant(run, opts.reference);
  const seq = sampleSequence(model.tokenizer, s);
  const hs = await hookStates(model, spec, seq.tokenIds, variantRow(model, run, ref.name), variantRow(model, run, s.variant));
  checkFinite(hs.ref, s.id);
  checkFinite(hs.var, s.id);
  const n = seq.tokenIds.length;
  const blk = await kernel.diff(hs.ref, hs.var, n, opts.k ?? 5);
  const tokens: SaeTokenDiff[] = [];
  for (let t = 0; t < n; t++) {
    const features: SaeTokenDiff['features'] = [];
    for (let j = 0; j < blk.k; j++) {
      const r = blk.topRef[t * blk.k + j];
      const v = blk.topVar[t * blk.k + j];
      if (r !== v) features.push({ feature: Number(blk.topIds[t * blk.k + j]), ref: r, var: v });
    }
    tokens.push({ token: seq.tokenIds[t], text: model.tokenizer.decode([seq.tokenIds[t]]), response: t >= seq.responseStart, features });
  }
  return { sampleId, reference: ref.name, variant: s.variant, tokens };
}

/** The feature's top-activating response tokens across the run's samples of one variant (its own rows). */
export async function saeTopTokens(model: AnalysisModel, run: RunContents, spec: SaeSpec, kernel: SaeKernel, feature: number, opts: { variant?: string; top?: number } = {}): Promise<SaeTopToken[]> {
  if (!Number.isInteger(feature) || feature < 0 || feature >= spec.dSae) throw new Error(`feature ${feature} is outside 0..${spec.dSae - 1}`);
  const vName = defaultVariant(run, opts.variant);
  const row = variantRow(model, run, vName);
  const best: SaeTopToken[] = [];
  const top = Math.max(1, opts.top ?? 20);
  for (const s of run.samples.filter((x) => x.variant === vName)) {
    let seq: { tokenIds: number[]; responseStart: number };
    try {
      seq = sampleSequence(model.tokenizer, s);
    } catch {
      continue;
    }
    const n = seq.tokenIds.length - seq.responseStart;
    if (n <= 0) continue;
    const out = await model.runner.forward({ inputIds: [seq.tokenIds], attentionMask: [new Array(seq.tokenIds.length).fill(1)], rows: [row], outputHiddenStates: true });
    const h = out.hiddenStates![spec.hiddenStateIndex].slice(seq.responseStart * spec.dIn, seq.tokenIds.length * spec.dIn);
    const acts = await kernel.encode(h, n);
    for (let t = 0; t < n; t++) {
      const a = acts[t * spec.dSae + feature];
      if (!(a > 0)) continue;
      if (best.length < top || a > best[best.length - 1].activation) {
        const pos = seq.responseStart + t;
        const ctx = model.tokenizer.decode(seq.tokenIds.slice(Math.max(seq.responseStart, pos - 6), pos + 3));
        best.push({ sampleId: s.id, position: pos, token: model.tokenizer.decode([seq.tokenIds[pos]]), context: ctx, activation: a });
        best.sort((x, y) => y.activation - x.activation);
        if (best.length > top) best.pop();
      }
    }
  }
  return best;
}
