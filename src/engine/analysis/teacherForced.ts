/**
 * Teacher-forced comparison: a reference row (usually the base model) and a compared row (adapter,
 * adapter at a scale, steering, ablation) run on the IDENTICAL token sequence in one batch, with every
 * layer's residual stream fetched. Per layer and token: ‖h_var − h_ref‖, that relative to ‖h_ref‖, and
 * cos(h_var, h_ref); per token: KL(variant ‖ reference) of the next-token distributions (full
 * log-softmax in Float64) and the tokens whose probability changed most.
 *
 * Hidden-state indexing follows transformers' output_hidden_states: index 0 = embeddings, index l+1 =
 * output of decoder layer l, the last one after the final norm.
 */
import type { ModelRunner } from '../runtime/modelRunner';
import type { RowVariant } from '../runtime/generationTypes';
import { klDivergence, logSoftmax, topChanged, type TokenChange } from './kl';
import { sharedKlKernel } from './klKernel';
import type { ModelSpec } from '../checkpoint/modelSpec';
import { LimitError, contextBudget, count } from '../limits/limits';
import { firstNonFinite, NonFiniteOutputError } from '../limits/finiteOutput';

export interface TeacherForcedPair {
  /** Prompt + response token ids. */
  tokenIds: number[];
  /** Index of the first response token (tokens before it are the prompt). */
  responseStart: number;
  variant: RowVariant;
  /** Names the pair in error messages (e.g. the run sample's id). */
  label?: string;
}

export interface PairDiff {
  tokenIds: number[];
  responseStart: number;
  /** [L+1][S]: ‖h_var − h_ref‖ per hidden-state index and token. */
  diffNorm: Float64Array[];
  /** [L+1][S]: ‖h_var − h_ref‖ / ‖h_ref‖ (0 where ‖h_ref‖ = 0). */
  relNorm: Float64Array[];
  /** [L+1][S]: cos(h_var, h_ref) (1 where either is zero). */
  cosine: Float64Array[];
  /** [S]: KL(variant ‖ reference) of the next-token distribution at each position (the one that predicts token t+1). */
  kl: Float64Array;
  /** [S] when topK > 0: tokens whose next-token probability changed most. */
  topChanges: TokenChange[][] | null;
  /** [L+1]: mean relative difference over response tokens (NaN when there are none). */
  meanRelResponse: Float64Array;
  /** Mean KL over response positions that predict a response token (NaN when none). */
  meanKlResponse: number;
}

export interface TeacherForcedOptions {
  /** The row everything is compared against (default: the base model). */
  reference?: RowVariant;
  /** Top changed tokens per position (0 = skip, the default). */
  topK?: number;
  /** Skip KL (no log-softmax over the vocabulary). */
  skipKl?: boolean;
  /** Only positions that predict a response token get KL (the others stay 0); the run-level curve needs no more. */
  klResponseOnly?: boolean;
  /** Compute KL in JavaScript (Float64; the reference path) instead of the onnxruntime kernel. */
  jsKl?: boolean;
  /** Longest sequence accepted (default: the model's max_position_embeddings). */
  contextBudget?: number;
  /** Float32 values one forward call may return (logits + hidden states of both rows of every pair); default TF_MAX_VALUES. */
  maxValues?: number;
}

/** Values (logits + every hidden state) one teacher-forced forward call may produce: 256 Mi floats, 1 GiB. */
export const TF_MAX_VALUES = 256 * 1024 * 1024;

/** Float32 values a forward over `pairs` pairs of `seqLen` tokens returns (2 rows per pair). */
export function teacherForcedValues(spec: Pick<ModelSpec, 'vocabSize' | 'hiddenSize' | 'numLayers'>, pairs: number, seqLen: number): number {
  return 2 * pairs * seqLen * (spec.vocabSize + (spec.numLayers + 1) * spec.hiddenSize);
}

/**
 * Refuses a sequence the model cannot be run on: longer than the context budget, too large for one
 * forward call even alone, or holding token ids outside the vocabulary (run files are data: their
 * token_ids are checked, not trusted).
 */
export function checkTeacherForcedSequence(spec: ModelSpec, tokenIds: unknown, label: string, opts: Pick<TeacherForcedOptions, 'contextBudget' | 'maxValues'> = {}): void {
  if (!Array.isArray(tokenIds)) throw new LimitError(`${label}: token ids must be a list of integers`);
  const n = tokenIds.length;
  const budget = contextBudget(spec.maxPositionEmbeddings, opts.contextBudget);
  if (n > budget) {
    throw new LimitError(`${label}: the sequence is ${count(n)} tokens (prompt + completion), above the context budget of ${count(budget)} (max_position_embeddings in ${spec.configPath}); it cannot be teacher-forced`);
  }
  const values = teacherForcedValues(spec, 1, n);
  const max = opts.maxValues ?? TF_MAX_VALUES;
  if (values > max) {
    throw new LimitError(`${label}: ${count(n)} tokens need ${count(values)} output values (logits and ${spec.numLayers + 1} hidden states, two rows), above the limit of ${count(max)} for one forward call`);
  }
  for (let i = 0; i < n; i++) {
    const t = tokenIds[i];
    if (!Number.isInteger(t) || t < 0 || t >= spec.vocabSize) throw new LimitError(`${label}: token id ${JSON.stringify(t)} at position ${i} is outside the vocabulary 0..${spec.vocabSize - 1}`);
  }
}

/** Positions per kernel call (bounds the copied logits: 64 × V floats per side). */
const KL_CHUNK = 64;

const BASE: RowVariant = { adapter: null, adapterScale: 0 };

/**
 * Runs each pair as two rows (reference, variant) of one left-padded batch and returns per-pair diffs.
 * Only real (unpadded) positions are read.
 */
export async function teacherForcedPairs(runner: ModelRunner, pairs: TeacherForcedPair[], opts: TeacherForcedOptions = {}): Promise<PairDiff[]> {
  if (pairs.length === 0) return [];
  const name = (p: TeacherForcedPair, i: number) => p.label ?? `teacher-forced pair ${i}`;
  pairs.forEach((p, i) => checkTeacherForcedSequence(runner.spec, p.tokenIds, name(p, i), opts));
  // Bounded memory: a batch whose outputs exceed the budget is split (each pair alone fits: checked above).
  const maxValues = opts.maxValues ?? TF_MAX_VALUES;
  const longest = Math.max(...pairs.map((p) => p.tokenIds.length));
  if (pairs.length > 1 && teacherForcedValues(runner.spec, pairs.length, longest) > maxValues) {
    const half = Math.ceil(pairs.length / 2);
    return [...(await teacherForcedPairs(runner, pairs.slice(0, half), opts)), ...(await teacherForcedPairs(runner, pairs.slice(half), opts))];
  }
  const ref = opts.reference ?? BASE;
  const S = Math.max(...pairs.map((p) => p.tokenIds.length));
  const pad = 0;
  const inputIds: number[][] = [];
  const mask: number[][] = [];
  const rows: RowVariant[] = [];
  pairs.forEach((p, i) => {
    if (p.tokenIds.length === 0) throw new Error(`teacher-forced pair ${i}: no tokens`);
    if (!(p.responseStart >= 0 && p.responseStart <= p.tokenIds.length)) throw new Error(`teacher-forced pair ${i}: responseStart ${p.responseStart} is outside 0..${p.tokenIds.length}`);
    const n = S - p.tokenIds.length;
    const ids = [...new Array(n).fill(pad), ...p.tokenIds];
    const m = [...new Array(n).fill(0), ...new Array(p.tokenIds.length).fill(1)];
    inputIds.push(ids, ids);
    mask.push(m, m);
    rows.push(ref, p.variant);
  });
  const out = await runner.forward({ inputIds, attentionMask: mask, rows, outputHiddenStates: true });
  const hs = out.hiddenStates!;
  const H = runner.spec.hiddenSize;
  const V = out.logitsDims[2];
  // Nothing is computed from NaN/Inf outputs: refuse, naming the pair (sample), row and position.
  const real = (b: number, t: number) => mask[b][t] === 1;
  const check = (data: Float32Array, X: number, what: string) => {
    const bad = firstNonFinite(data, [2 * pairs.length, S, X], real);
    if (bad) {
      const k = Math.floor(bad.b / 2);
      throw new NonFiniteOutputError(`${name(pairs[k], k)}: the model produced ${Number.isNaN(bad.value) ? 'NaN' : bad.value} in ${what} of the ${bad.b % 2 ? 'compared' : 'reference'} row at token ${bad.t - (S - pairs[k].tokenIds.length)}; no activations or KL were computed from it. Check the weights (organism-lab inspect), the adapter scale and the steering strength.`);
    }
  };
  check(out.logits, V, 'the logits');
  hs.forEach((h, l) => check(h, H, `hidden state ${l}`));
  const NL = hs.length;
  const topK = opts.topK ?? 0;
  const lr = new Float64Array(V);
  const lv = new Float64Array(V);
  const kernel = opts.skipKl || opts.jsKl ? null : await sharedKlKernel();
  const results: PairDiff[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    const n = p.tokenIds.length;
    const off = S - n;
    const bRef = 2 * i;
    const bVar = 2 * i + 1;
    const diffNorm: Float64Array[] = [];
    const relNorm: Float64Array[] = [];
    const cosine: Float64Array[] = [];
    const meanRel = new Float64Array(NL);
    for (let l = 0; l < NL; l++) {
      const h = hs[l];
      const dn = new Float64Array(n);
      const rn = new Float64Array(n);
      const cs = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        const oR = (bRef * S + off + t) * H;
        const oV = (bVar * S + off + t) * H;
        let dd = 0;
        let rr = 0;
        let vv = 0;
        let rv = 0;
        for (let k = 0; k < H; k++) {
          const a = h[oR + k];
          const b = h[oV + k];
          const d = b - a;
          dd += d * d;
          rr += a * a;
          vv += b * b;
          rv += a * b;
        }
        dn[t] = Math.sqrt(dd);
        rn[t] = rr > 0 ? dn[t] / Math.sqrt(rr) : 0;
        cs[t] = rr > 0 && vv > 0 ? rv / Math.sqrt(rr * vv) : 1;
      }
      let s = 0;
      for (let t = p.responseStart; t < n; t++) s += rn[t];
      meanRel[l] = n > p.responseStart ? s / (n - p.responseStart) : NaN;
      diffNorm.push(dn);
      relNorm.push(rn);
      cosine.push(cs);
    }
    const kl = new Float64Array(n);
    const tops: TokenChange[][] | null = topK > 0 ? Array.from({ length: n }, () => []) : null;
    // Position t predicts token t+1: a response token when t+1 ≥ responseStart.
    const from = opts.klResponseOnly ? Math.max(0, p.responseStart - 1) : 0;
    const to = opts.klResponseOnly ? n - 1 : n;
    if (!opts.skipKl && kernel) {
      for (let t0 = from; t0 < to; t0 += KL_CHUNK) {
        const m = Math.min(KL_CHUNK, to - t0);
        const vOff = (bVar * S + off + t0) * V;
        const rOff = (bRef * S + off + t0) * V;
        const blk = await kernel.run(out.logits.slice(vOff, vOff + m * V), out.logits.slice(rOff, rOff + m * V), m, V, Math.max(topK, 1));
        for (let j = 0; j < m; j++) {
          kl[t0 + j] = blk.kl[j];
          if (tops) {
            for (let c = 0; c < Math.min(topK, blk.k); c++) {
              const pv = blk.topVar[j * blk.k + c];
              const pr = blk.topRef[j * blk.k + c];
              if (pv !== pr) tops[t0 + j].push({ id: Number(blk.topIds[j * blk.k + c]), pRef: pr, pVariant: pv });
            }
          }
        }
      }
    } else if (!opts.skipKl) {
      for (let t = from; t < to; t++) {
        logSoftmax(out.logits, (bRef * S + off + t) * V, V, lr);
        logSoftmax(out.logits, (bVar * S + off + t) * V, V, lv);
        kl[t] = klDivergence(lv, lr);
        if (tops) tops[t] = topChanged(lr, lv, topK);
      }
    }
    let klSum = 0;
    let klN = 0;
    for (let t = Math.max(0, p.responseStart - 1); t < n - 1; t++) {
      klSum += kl[t];
      klN++;
    }
    results.push({ tokenIds: p.tokenIds, responseStart: p.responseStart, diffNorm, relNorm, cosine, kl, topChanges: tops, meanRelResponse: meanRel, meanKlResponse: klN && !opts.skipKl ? klSum / klN : NaN });
  }
  return results;
}

/** One sample: reference vs variant on the same tokens. */
export async function teacherForced(runner: ModelRunner, tokenIds: number[], responseStart: number, variant: RowVariant, opts: TeacherForcedOptions = {}): Promise<PairDiff> {
  const [d] = await teacherForcedPairs(runner, [{ tokenIds, responseStart, variant }], opts);
  return d;
}
