/**
 * Teacher-forced per-token log-probabilities: each row's token sequence is run through the model in one
 * forward pass (no sampling), and for every position t ≥ 1 the log-probability of token t given tokens
 * 0..t-1 is read from the full log-softmax (Float64) of position t-1's logits, with its rank (1 = the most
 * likely token) and, when asked, the k most likely tokens there. Position 0 has nothing before it (null).
 *
 * This is what `organism-lab serve` answers for vLLM's `prompt_logprobs` and the completions API's
 * `echo` + `logprobs`, and what the local side of the remote log-prob strip is compared against.
 */
import type { ModelRunner } from '../runtime/modelRunner';
import type { RowVariant } from '../runtime/generationTypes';
import { firstNonFinite, NonFiniteOutputError } from '../limits/finiteOutput';
import { logSoftmax } from './kl';

export interface ScoredRow {
  tokenIds: number[];
  variant: RowVariant;
}

export interface TokenAlternative {
  id: number;
  logprob: number;
}

export interface PositionLogprob {
  /** log p(token t | tokens < t). */
  logprob: number;
  /** 1 + the number of vocabulary tokens strictly more likely at this position. */
  rank: number;
  /** The `topK` most likely tokens at this position, most likely first ([] when topK = 0). */
  top: TokenAlternative[];
}

/** Per row: one entry per token, null for the first. */
export type SequenceLogprobs = (PositionLogprob | null)[];

/** Values one forward call may return (B × S × V logits); larger batches are split. */
const MAX_LOGIT_VALUES = 64 * 1024 * 1024;

function topOf(lp: Float64Array, k: number): TokenAlternative[] {
  if (k <= 0) return [];
  const ids: number[] = [];
  for (let i = 0; i < lp.length; i++) {
    if (ids.length === k && lp[i] <= lp[ids[k - 1]]) continue;
    let j = ids.length === k ? k - 1 : ids.length;
    if (ids.length < k) ids.push(i);
    while (j > 0 && lp[ids[j - 1]] < lp[i]) {
      ids[j] = ids[j - 1];
      j--;
    }
    ids[j] = i;
  }
  return ids.map((id) => ({ id, logprob: lp[id] }));
}

/** Teacher-forced log-probabilities of every token of every row (rows of any variants, one left-padded batch). */
export async function sequenceLogprobs(runner: Pick<ModelRunner, 'forward' | 'spec'>, rows: ScoredRow[], topK = 0): Promise<SequenceLogprobs[]> {
  if (rows.length === 0) return [];
  const V0 = runner.spec.vocabSize;
  const S = Math.max(...rows.map((r) => r.tokenIds.length));
  if (rows.length > 1 && rows.length * S * V0 > MAX_LOGIT_VALUES) {
    const half = Math.ceil(rows.length / 2);
    return [...(await sequenceLogprobs(runner, rows.slice(0, half), topK)), ...(await sequenceLogprobs(runner, rows.slice(half), topK))];
  }
  rows.forEach((r, i) => {
    if (r.tokenIds.length === 0) throw new Error(`scored row ${i}: no tokens`);
    const bad = r.tokenIds.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= V0);
    if (bad >= 0) throw new Error(`scored row ${i}: token id ${r.tokenIds[bad]} at position ${bad} is outside the vocabulary 0..${V0 - 1}`);
  });
  const inputIds = rows.map((r) => [...new Array<number>(S - r.tokenIds.length).fill(0), ...r.tokenIds]);
  const mask = rows.map((r) => [...new Array<number>(S - r.tokenIds.length).fill(0), ...new Array<number>(r.tokenIds.length).fill(1)]);
  const out = await runner.forward({ inputIds, attentionMask: mask, rows: rows.map((r) => r.variant) });
  const V = out.logitsDims[2];
  const bad = firstNonFinite(out.logits, [rows.length, S, V], (b, t) => mask[b][t] === 1);
  if (bad) throw new NonFiniteOutputError(`scored row ${bad.b}: the model produced ${Number.isNaN(bad.value) ? 'NaN' : bad.value} in the logits at token ${bad.t - (S - rows[bad.b].tokenIds.length)}; no log-probabilities were computed from it.`);
  const lp = new Float64Array(V);
  return rows.map((r, b) => {
    const n = r.tokenIds.length;
    const off = S - n;
    const res: SequenceLogprobs = [null];
    for (let t = 1; t < n; t++) {
      logSoftmax(out.logits, (b * S + off + t - 1) * V, V, lp);
      const x = lp[r.tokenIds[t]];
      let rank = 1;
      for (let i = 0; i < V; i++) if (lp[i] > x) rank++;
      res.push({ logprob: x, rank, top: topOf(lp, topK) });
    }
    return res;
  });
}
