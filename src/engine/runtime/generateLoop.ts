/**
 * The batched decoding loop, written against a small step interface (`StepBackend`) so that the
 * scheduling logic does not depend on how the session and its KV cache are stored.
 *
 * Policy (correct for every row variant and every attention kind the graph supports):
 *  - Rows are taken from the queue in request order, at most maxBatchSize at a time.
 *  - Newcomers get their own prefill: prompts LEFT-padded to the longest newcomer, attention mask 0
 *    on padding, position ids = mask.cumsum - 1 with padding positions set to 1 (HF generate's
 *    rule), only the last position's logits. Their first token comes from that prefill.
 *  - Decode steps feed one token per active row; the mask covers every cache column plus the new
 *    one; the position id is the number of real tokens already in the row's cache.
 *  - A row that finishes (EOS, stop string, max_new_tokens) leaves the batch at once: its KV rows
 *    are dropped before the next step, so it never costs another forward. Cache columns that have
 *    become padding for every remaining row are trimmed.
 *  - Refill: when at least a quarter of the slots are free (or the batch is empty) and rows are
 *    waiting, the waiting rows are prefilled separately and their cache is merged into the running
 *    one by left-padding the shorter of the two to the same number of columns (mask 0 there).
 *    Cached keys already carry their rotary positions, and every row's real tokens stay contiguous
 *    at the right end of the cache, so column distance = position distance (sliding windows stay
 *    right) and the merged batch computes exactly what each row would compute alone.
 *  - Open calls (hooks.more): when the queue is drained and a slot is free, the caller is asked for more
 *    rows; they join through the same refill (their own prefill, then a cache merge), so a row that joins a
 *    running batch computes what it would compute alone. The call ends when the queue is drained, no row is
 *    active and `more` has nothing. The batch never holds more than maxBatchSize rows; the cache never holds
 *    more columns than the longest (prompt + max new tokens) among its active rows (every row's tokens are
 *    right-aligned and the all-padding columns on the left are trimmed as rows leave).
 *  - Per-row parameters: a row's `sampling` (temperature, top-p/k, min-p, stop strings, max new tokens)
 *    replaces the call's for that row alone; token choice and stop checks are per row anyway.
 *  - Cancellation is checked between forwards; every unfinished row ends with 'cancelled'.
 *  - Random draws: row r at decode step t (t = index of the token in its completion) uses
 *    uniformAt(seed_r, t), independent of batch composition, joining time and scheduling.
 */
import type {
  GenerationHooks,
  GenerationParams,
  GenerationRequestRow,
  GenerationResultRow,
  RowVariant,
} from './generationTypes';
import { uniformAt } from './rng';
import { chooseToken, validateSamplingParams, type SamplingParams } from './sampling';
import { checkStop } from './generateStop';

/** Rows per batch when params.maxBatchSize is not given. */
export const DEFAULT_MAX_BATCH = 32;
/** Padded prompt tokens per prefill forward (a single longer prompt still goes alone). */
export const PREFILL_TOKENS = 4096;

export interface StepForwardArgs<C> {
  batch: number;
  /** New tokens per row in this call (prompt length for a prefill, 1 for a decode step). */
  seqLen: number;
  /** [batch * seqLen] row-major. */
  inputIds: number[];
  /** [batch * (pastLength + seqLen)] row-major, 1 = real token. */
  attentionMask: number[];
  /** [batch * seqLen] row-major. */
  positionIds: number[];
  past: C | null;
  pastLength: number;
  rows: RowVariant[];
  /** Set on prefills: the rows and columns the cache will grow to (every slot of the batch, prompt + max new tokens), so it can be allocated once. */
  reserve?: { rows: number; columns: number };
}

export interface StepBackend<C> {
  /** Runs the model; returns the logits of each row's LAST position, [batch * vocab], and the grown cache. */
  forward(args: StepForwardArgs<C>): Promise<{ lastLogits: Float32Array; vocab: number; present: C }>;
  /** The cache restricted to these batch rows, in this order. */
  keepRows(cache: C, rows: number[]): C;
  /** Rows of `a` then rows of `b`, each left-padded with `padA` / `padB` zero columns. */
  concatLeftPadded(a: C, padA: number, b: C, padB: number): C;
  /** Drops the first `n` sequence columns. */
  dropLeadingColumns(cache: C, n: number): C;
  /** Optional: log(sum(exp(row))) of each row of a [batch, vocab] block, computed faster than in JavaScript. */
  logSumExpRows?(logits: Float32Array, batch: number, vocab: number): Promise<Float32Array>;
}

/** A row's parameters: its own where given, else the call's. */
interface RowSettings {
  sampling: SamplingParams;
  stop: string[];
  maxNew: number;
}

interface Queued {
  req: GenerationRequestRow;
  /** Index among the call's request rows; null for a row that joined (reported through onRowDone only). */
  order: number | null;
  s: RowSettings;
}

interface Active extends Queued {
  /** Leading cache columns that are padding for this row. */
  pad: number;
  /** Real tokens of this row already in the cache. */
  inCache: number;
  tokens: number[];
  logprobs: number[];
  result?: GenerationResultRow;
}

export function checkGenerationParams(params: GenerationParams): void {
  if (!Number.isInteger(params.maxNewTokens) || params.maxNewTokens < 1) {
    throw new Error(`generate: maxNewTokens = ${params.maxNewTokens} is invalid; use a positive integer`);
  }
  if (params.maxBatchSize !== undefined && (!Number.isInteger(params.maxBatchSize) || params.maxBatchSize < 1)) {
    throw new Error(`generate: maxBatchSize = ${params.maxBatchSize} is invalid; use a positive integer or leave it out`);
  }
  if (params.stop.length > 0 && !params.decode) {
    throw new Error('generate: stop strings were given but no decode function; pass params.decode (the tokenizer) or drop params.stop');
  }
  validateSamplingParams(samplingOf(params));
}

function samplingOf(p: Pick<GenerationParams, 'temperature' | 'topK' | 'topP' | 'minP'>): SamplingParams {
  return { temperature: p.temperature, topK: p.topK, topP: p.topP, minP: p.minP };
}

function settingsOf(r: GenerationRequestRow, params: GenerationParams): RowSettings {
  const o = r.sampling ?? {};
  return {
    sampling: samplingOf({ temperature: o.temperature ?? params.temperature, topK: o.topK ?? params.topK, topP: o.topP ?? params.topP, minP: o.minP ?? params.minP }),
    stop: o.stop ?? params.stop,
    maxNew: o.maxNewTokens ?? params.maxNewTokens,
  };
}

/**
 * Throws a clear error for a row the call cannot run (empty prompt, non-integer seed, bad per-row
 * parameters). `params` must already have passed checkGenerationParams.
 */
export function checkRequestRow(r: GenerationRequestRow, i: number, params: GenerationParams): void {
  const where = `generate: row ${i} (key "${r.key}")`;
  if (r.promptIds.length === 0) throw new Error(`${where} has an empty prompt; every row needs at least one prompt token`);
  if (!Number.isSafeInteger(r.seed)) throw new Error(`${where} has seed ${r.seed}; seeds must be integers`);
  if (!r.sampling) return;
  const s = settingsOf(r, params);
  if (!Number.isInteger(s.maxNew) || s.maxNew < 1) throw new Error(`${where}: sampling.maxNewTokens = ${s.maxNew} is invalid; use a positive integer`);
  if (s.stop.length > 0 && !params.decode) throw new Error(`${where} has stop strings but the call has no decode function; pass params.decode (the tokenizer)`);
  try {
    validateSamplingParams(s.sampling);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

export async function runGeneration<C>(
  backend: StepBackend<C>,
  requests: GenerationRequestRow[],
  params: GenerationParams,
  hooks: GenerationHooks = {},
): Promise<GenerationResultRow[]> {
  checkGenerationParams(params);
  requests.forEach((r, i) => checkRequestRow(r, i, params));
  const eos = new Set(params.eosTokenIds);
  // An open call does not know its rows in advance: the default cap then.
  const maxBatch = params.maxBatchSize ?? (hooks.more ? DEFAULT_MAX_BATCH : Math.max(1, Math.min(requests.length, DEFAULT_MAX_BATCH)));
  const refillAt = Math.max(1, Math.floor(maxBatch / 4));
  const results: (GenerationResultRow | undefined)[] = new Array(requests.length);
  const queue: Queued[] = requests.map((req, order) => ({ req, order, s: settingsOf(req, params) }));
  let joined = 0;
  let qHead = 0;
  let active: Active[] = [];
  let cache: C | null = null;
  let cacheLen = 0;
  let fillMore = false;

  const finish = (a: Active, reason: GenerationResultRow['finishReason'], text?: string): void => {
    const row: GenerationResultRow = { key: a.req.key, tokenIds: a.tokens, logprobs: a.logprobs, finishReason: reason };
    if (text !== undefined) row.text = text;
    a.result = row;
    if (a.order !== null) results[a.order] = row;
    hooks.onRowDone?.(row);
  };

  /** Chooses the next token of each row from its logits; marks finished rows. */
  const takeTokens = async (rows: Active[], logits: Float32Array, vocab: number): Promise<void> => {
    const lse = backend.logSumExpRows ? await backend.logSumExpRows(logits, rows.length, vocab) : undefined;
    rows.forEach((a, b) => {
      const step = a.tokens.length;
      const row = logits.subarray(b * vocab, (b + 1) * vocab);
      const { tokenId, logprob } = chooseToken(row, a.s.sampling, uniformAt(a.req.seed, step), lse?.[b]);
      a.tokens.push(tokenId);
      a.logprobs.push(logprob);
      hooks.onToken?.(a.req.key, tokenId, step);
      const s = checkStop(a.tokens, eos, a.s.stop, a.s.maxNew, params.decode);
      if (s.reason) finish(a, s.reason, s.text);
    });
  };

  const prefill = async (rows: Active[]): Promise<{ cache: C; len: number }> => {
    const P = Math.max(...rows.map((a) => a.req.promptIds.length));
    const inputIds: number[] = [];
    const mask: number[] = [];
    const pos: number[] = [];
    for (const a of rows) {
      const ids = a.req.promptIds;
      const pad = P - ids.length;
      for (let j = 0; j < pad; j++) {
        inputIds.push(0);
        mask.push(0);
        pos.push(1);
      }
      for (let j = 0; j < ids.length; j++) {
        inputIds.push(ids[j]);
        mask.push(1);
        pos.push(j);
      }
      a.pad = pad;
      a.inCache = ids.length;
    }
    const out = await backend.forward({
      batch: rows.length,
      seqLen: P,
      inputIds,
      attentionMask: mask,
      positionIds: pos,
      past: null,
      pastLength: 0,
      rows: rows.map((a) => a.req.variant),
      reserve: { rows: maxBatch, columns: P + Math.max(...rows.map((a) => a.s.maxNew)) },
    });
    await takeTokens(rows, out.lastLogits, out.vocab);
    return { cache: out.present, len: P };
  };

  /** Drops finished rows from the batch and the cache, and trims all-padding columns. */
  const compact = (): void => {
    const keep: number[] = [];
    active.forEach((a, b) => {
      if (!a.result) keep.push(b);
    });
    if (keep.length === active.length) return;
    active = keep.map((b) => active[b]);
    if (active.length === 0) {
      cache = null;
      cacheLen = 0;
      return;
    }
    cache = backend.keepRows(cache as C, keep);
    const minPad = Math.min(...active.map((a) => a.pad));
    if (minPad > 0) {
      cache = backend.dropLeadingColumns(cache, minPad);
      cacheLen -= minPad;
      for (const a of active) a.pad -= minPad;
    }
  };

  const cancelAll = (): void => {
    for (const a of active) if (!a.result) finish(a, 'cancelled', params.decode ? params.decode(a.tokens) : undefined);
    active = [];
    while (qHead < queue.length) {
      finish({ ...queue[qHead++], pad: 0, inCache: 0, tokens: [], logprobs: [] }, 'cancelled');
    }
  };

  /** Open call: rows the caller adds; a bad one throws here, before it touches the batch. */
  const pullMore = (): void => {
    if (!hooks.more || qHead < queue.length || active.length >= maxBatch) return;
    const more = hooks.more();
    if (more.length === 0) return;
    // An open call may run for long: forget the rows already taken from the queue.
    queue.length = 0;
    qHead = 0;
    for (const req of more) {
      checkRequestRow(req, requests.length + joined++, params);
      queue.push({ req, order: null, s: settingsOf(req, params) });
    }
  };

  for (;;) {
    if (hooks.signal?.aborted) {
      cancelAll();
      break;
    }
    pullMore();
    if (active.length === 0 && qHead >= queue.length) break;
    const free = maxBatch - active.length;
    if (qHead < queue.length && free > 0 && (active.length === 0 || free >= refillAt || fillMore)) {
      // Newcomers in prefill groups of at most PREFILL_TOKENS padded tokens (at least one row), so a
      // batch of long prompts does not need one huge activation block.
      const take = Math.min(free, queue.length - qHead);
      const group: Active[] = [];
      let groupMax = 0;
      for (let i = 0; i < take; i++) {
        const q = queue[qHead + i];
        const len = Math.max(groupMax, q.req.promptIds.length);
        if (group.length > 0 && len * (group.length + 1) > PREFILL_TOKENS) break;
        groupMax = len;
        group.push({ ...q, pad: 0, inCache: 0, tokens: [], logprobs: [] });
      }
      qHead += group.length;
      const pre = await prefill(group);
      if (active.length === 0) {
        active = group;
        cache = pre.cache;
        cacheLen = pre.len;
      } else {
        const L = Math.max(cacheLen, pre.len);
        const padOld = L - cacheLen;
        const padNew = L - pre.len;
        cache = backend.concatLeftPadded(cache as C, padOld, pre.cache, padNew);
        for (const a of active) a.pad += padOld;
        for (const a of group) a.pad += padNew;
        active = active.concat(group);
        cacheLen = L;
      }
      // Slots still free because of the token cap: fill them before the next decode step.
      fillMore = group.length < take;
      compact();
      continue;
    }
    fillMore = false;
    // One decode step for every active row.
    const B = active.length;
    const inputIds = active.map((a) => a.tokens[a.tokens.length - 1]);
    const positionIds = active.map((a) => a.inCache);
    const mask: number[] = new Array(B * (cacheLen + 1));
    active.forEach((a, b) => {
      const base = b * (cacheLen + 1);
      for (let j = 0; j <= cacheLen; j++) mask[base + j] = j < a.pad ? 0 : 1;
    });
    const out = await backend.forward({
      batch: B,
      seqLen: 1,
      inputIds,
      attentionMask: mask,
      positionIds,
      past: cache,
      pastLength: cacheLen,
      rows: active.map((a) => a.req.variant),
    });
    cache = out.present;
    cacheLen += 1;
    for (const a of active) a.inCache += 1;
    await takeTokens(active, out.lastLogits, out.vocab);
    compact();
  }
  return results.map((r, i) => {
    if (!r) throw new Error(`generate: internal error, row ${i} (key "${requests[i].key}") has no result`);
    return r;
  });
}
