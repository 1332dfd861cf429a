/**
 * The serve batcher: requests that arrive within a few milliseconds of each other (and while a batch is
 * running) are run as ONE call of the batched generation API (engine/runtime/generate.ts), whatever model
 * name each asks for: a base row has adapter null, an adapter row names its adapter, and the per-row LoRA
 * scale lets them share every read of the base weights.
 *
 * One generate call has one set of sampling parameters (temperature, top_p, top_k, min_p, stop strings), so a
 * batch holds the oldest waiting request and every waiting request with the same parameters; max_tokens may
 * differ (see below). Batches run one at a time, in arrival order of their oldest request.
 *
 * Per-row control through the logits. The generation loop runs every row to an end-of-sequence token, a stop
 * string or the call's max_new_tokens. The batcher wraps the runner's forward pass and, after the model has
 * computed a row's logits, may replace them by "only the end-of-sequence token", which makes the loop end that
 * row at once and drop it from the batch:
 *   - a row whose request has its own, smaller max_tokens, once it has that many tokens (the forced token is
 *     dropped and the row reported with finish reason 'length');
 *   - a row whose client disconnected (cancellation per request; the whole call is aborted when every
 *     request of the batch is gone).
 * The same wrapper reads each row's top log-probabilities from the raw logits when a request asks for them.
 *
 * Seeds: the row of choice 0 uses the request's seed as its random stream (rng.uniformAt(seed, step)), exactly
 * as a local run uses a cell seed, so a seeded request gives the local sample token for token. Choice i > 0
 * uses choiceSeed(seed, i).
 */
import { createHash, randomInt } from 'node:crypto';
import { totalmem } from 'node:os';
import { generate, type GenerationRunner } from '../runtime/generate';
import { sequenceLogprobs, type ScoredRow, type SequenceLogprobs } from '../analysis/sequenceLogprobs';
import type { GenerationParams, GenerationRequestRow, GenerationResultRow, RowVariant } from '../runtime/generationTypes';
import type { TextTokenizer } from '../text/tokenizer';

export interface SamplingKnobs {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  stop: string[];
}

export interface TopLogprob {
  id: number;
  logprob: number;
}

export interface ChoiceResult {
  /** Completion token ids (the end-of-sequence token included when finishReason = 'eos'). */
  tokenIds: number[];
  /** log softmax(raw logits)[token] per token. */
  logprobs: number[];
  /** Per token, the `topLogprobs` most likely tokens (only when asked). */
  top: TopLogprob[][];
  finishReason: 'eos' | 'stop' | 'length';
  /** The matched stop string when finishReason = 'stop'. */
  stopReason: string | null;
  /** Decoded completion: without the end-of-sequence token, cut before the stop string. */
  text: string;
}

export interface CompletionJob {
  promptIds: number[];
  adapter: string | null;
  /** One seed per choice (see choiceSeeds). */
  seeds: number[];
  sampling: SamplingKnobs;
  maxTokens: number;
  /** Top log-probabilities to collect per token (0 = none). */
  topLogprobs: number;
  /** Streaming with logprobs: onToken gets each token's log-probability. */
  wantLogprobs?: boolean;
  signal?: AbortSignal;
  /** Streaming: each kept token of a choice as it is chosen (top only when topLogprobs > 0). */
  onToken?: (choice: number, tokenId: number, step: number, logprob: number | null, top: TopLogprob[] | null) => void;
  onChoiceDone?: (choice: number, result: ChoiceResult) => void;
}

export class JobCancelledError extends Error {
  override name = 'AbortError';
  constructor() {
    super('the request was cancelled (the client went away)');
  }
}

/** The seed of choice `index` of a request seeded with `seed`: the seed itself for choice 0. */
export function choiceSeed(seed: number, index: number): number {
  if (index === 0) return seed;
  return createHash('sha256').update(`organism-lab/serve/choice/v1|${seed}|${index}`).digest().readUInt32BE(0);
}

/** Seeds for n choices; a request without a seed gets a random one (reported back in nothing: unseeded is unseeded). */
export function choiceSeeds(seed: number | null, n: number): number[] {
  const s = seed ?? randomInt(0, 2 ** 32);
  return Array.from({ length: n }, (_, i) => choiceSeed(s, i));
}

function logSumExpOf(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** The k largest log-probabilities of a logits row, largest first. */
export function topLogprobsOf(logits: Float32Array, k: number): TopLogprob[] {
  const lse = logSumExpOf(logits);
  // Partial selection: keep a small sorted list of the best k.
  const ids: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (ids.length === k && v <= vals[k - 1]) continue;
    let j = ids.length === k ? k - 1 : ids.length;
    if (ids.length < k) {
      ids.push(i);
      vals.push(v);
    }
    while (j > 0 && vals[j - 1] < v) {
      ids[j] = ids[j - 1];
      vals[j] = vals[j - 1];
      j--;
    }
    ids[j] = i;
    vals[j] = v;
  }
  return ids.map((id, j) => ({ id, logprob: vals[j] - lse }));
}

interface RowState {
  job: PendingJob;
  choice: number;
  key: string;
  generated: number;
  top: TopLogprob[][];
  /** Why the row's logits were replaced by an end-of-sequence token. */
  forced: 'length' | 'cancelled' | null;
  /** Streaming with logprobs: the row's last logits (valid until the next forward) and their log-sum-exp. */
  last: { row: Float32Array; lse: number } | null;
}

interface PendingJob {
  job: CompletionJob;
  results: (ChoiceResult | undefined)[];
  resolve: (r: ChoiceResult[]) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  /** Choices finished so far. */
  done: number;
}

export interface BatcherModel {
  runner: GenerationRunner;
  tokenizer: TextTokenizer;
  /** Adapters the runner holds (a request for another is refused with UnknownAdapterError). */
  adapterNames: ReadonlySet<string>;
}

/** A request named an adapter that is not loaded (any more: it may have been unloaded while it waited). */
export class UnknownAdapterError extends Error {
  override name = 'UnknownAdapterError';
  constructor(readonly adapter: string) {
    super(`The model \`${adapter}\` does not exist (it is not loaded, or was unloaded while the request waited).`);
  }
}

export interface RequestBatcherOptions {
  /** How long the first request of a batch waits for others (default 5 ms). */
  windowMs?: number;
  /** Rows per forward batch (default 32). */
  maxBatchSize?: number;
  /**
   * Bytes the KV cache of one batch may take (default: a quarter of the machine's memory). Generation
   * reserves rows × (longest prompt + max_tokens) columns up front, so a batch with a long max_tokens runs
   * fewer rows at a time instead of exhausting memory; a request whose single row does not fit is refused.
   */
  kvBudgetBytes?: number;
  /** Told about each batch (rows, distinct adapters, rows per forward) — logs and tests. */
  onBatch?: (info: { requests: number; rows: number; adapters: (string | null)[]; maxBatchSize: number }) => void;
}

/** A request too large for the KV-cache budget even alone. */
export class KvBudgetError extends Error {
  override name = 'KvBudgetError';
}

/** Bytes of KV cache per row and column (float32 keys and values of every layer). */
export function kvBytesPerToken(spec: { numLayers: number; numKvHeads: number; headDim: number }): number {
  return spec.numLayers * 2 * spec.numKvHeads * spec.headDim * 4;
}

function knobKey(s: SamplingKnobs): string {
  return JSON.stringify([s.temperature, s.topP, s.topK, s.minP, s.stop]);
}

export class RequestBatcher {
  readonly #model: () => BatcherModel;
  readonly #o: Required<Omit<RequestBatcherOptions, 'onBatch'>> & Pick<RequestBatcherOptions, 'onBatch'>;
  #pending: PendingJob[] = [];
  #running: Promise<void> | null = null;
  #paused = 0;
  #idleWaiters: (() => void)[] = [];
  #batches = 0;

  /** `model` is read at the start of every batch (the server may reload it between batches). */
  constructor(model: () => BatcherModel, o: RequestBatcherOptions = {}) {
    this.#model = model;
    this.#o = { windowMs: o.windowMs ?? 5, maxBatchSize: o.maxBatchSize ?? 32, kvBudgetBytes: o.kvBudgetBytes ?? Math.floor(totalmem() / 4), onBatch: o.onBatch };
  }

  /** Rows ended early because their client went away, and the tokens they had generated by then. */
  readonly cancelled = { rows: 0, tokens: 0 };

  /** Generation batches run so far. */
  get batches(): number {
    return this.#batches;
  }

  get busy(): boolean {
    return this.#running !== null || this.#pending.length > 0;
  }

  submit(job: CompletionJob): Promise<ChoiceResult[]> {
    return new Promise((resolve, reject) => {
      if (job.signal?.aborted) return reject(new JobCancelledError());
      this.#pending.push({ job, results: new Array(job.seeds.length), resolve, reject, settled: false, done: 0 });
      this.#kick();
    });
  }

  /**
   * Runs `fn` with no batch in flight (waits for the running one; waiting requests stay queued and start
   * after `fn`). Used to swap the model (runtime LoRA loading).
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#paused++;
    try {
      while (this.#running) await this.#running;
      return await fn();
    } finally {
      this.#paused--;
      this.#kick();
    }
  }

  /**
   * Teacher-forced log-probabilities of whole token sequences (prompt scoring: prompt_logprobs, echo), run
   * between generation batches on the model of the moment. A row naming an adapter that is not loaded is refused.
   */
  score(rows: ScoredRow[], topK: number): Promise<SequenceLogprobs[]> {
    return this.exclusive(async () => {
      const m = this.#model();
      for (const r of rows) if (r.variant.adapter !== null && !m.adapterNames.has(r.variant.adapter)) throw new UnknownAdapterError(r.variant.adapter);
      return sequenceLogprobs(m.runner, rows, topK);
    });
  }

  #kick(): void {
    if (this.#running || this.#paused > 0 || this.#pending.length === 0) return;
    this.#running = (async () => {
      try {
        while (this.#pending.length > 0 && this.#paused === 0) {
          await this.#gather();
          if (this.#pending.length === 0 || this.#paused > 0) break;
          const key = knobKey(this.#pending[0].job.sampling);
          const group = this.#pending.filter((p) => knobKey(p.job.sampling) === key);
          this.#pending = this.#pending.filter((p) => knobKey(p.job.sampling) !== key);
          try {
            await this.#runBatch(group);
          } catch (e) {
            // Whatever failed, the requests of this batch get the error and the batcher goes on.
            for (const p of group) {
              if (!p.settled) {
                p.settled = true;
                p.reject(e);
              }
            }
          }
        }
      } finally {
        this.#running = null;
        for (const w of this.#idleWaiters.splice(0)) w();
        if (this.#pending.length > 0 && this.#paused === 0) this.#kick();
      }
    })();
  }

  /**
   * The batch window: wait windowMs, and again while requests keep arriving (at most 8 windows, and not once
   * the batch is full). Also run between batches, so that the clients answered by the last batch, which send
   * their next request at once, join the waiting ones instead of forming a half-size batch of their own.
   */
  async #gather(): Promise<void> {
    // Clients answered by the last batch usually send again at once: wait for as many (within the 8 windows).
    const expect = Math.min(this.#o.maxBatchSize, this.#lastRequests);
    let seen = -1;
    for (let i = 0; i < 8 && (this.#pending.length !== seen || this.#pending.length < expect) && this.#pending.length < this.#o.maxBatchSize; i++) {
      seen = this.#pending.length;
      await new Promise((r) => setTimeout(r, this.#o.windowMs));
    }
  }

  /** Requests in the last batch. */
  #lastRequests = 0;

  async #runBatch(group: PendingJob[]): Promise<void> {
    // Requests cancelled while waiting never reach the model.
    let live = group.filter((p) => {
      if (!p.job.signal?.aborted) return true;
      p.settled = true;
      p.reject(new JobCancelledError());
      return false;
    });
    if (live.length === 0) return;
    this.#batches++;
    this.#lastRequests = live.length;
    let model: BatcherModel;
    try {
      model = this.#model();
    } catch (e) {
      for (const p of live) p.reject(e);
      return;
    }
    const { runner, tokenizer } = model;
    const perToken = kvBytesPerToken(runner.spec);
    const budget = this.#o.kvBudgetBytes;
    live = live.filter((p) => {
      if (p.job.adapter !== null && !model.adapterNames.has(p.job.adapter)) {
        p.settled = true;
        p.reject(new UnknownAdapterError(p.job.adapter));
        return false;
      }
      const need = (p.job.promptIds.length + p.job.maxTokens) * perToken;
      if (need > budget) {
        p.settled = true;
        p.reject(new KvBudgetError(`The prompt (${p.job.promptIds.length} tokens) plus max_tokens (${p.job.maxTokens}) needs ${(need / 2 ** 20).toFixed(0)} MiB of KV cache for one row, above this server's budget of ${(budget / 2 ** 20).toFixed(0)} MiB; lower max_tokens.`));
        return false;
      }
      return true;
    });
    if (live.length === 0) return;
    // Rows per forward batch: as many as the KV-cache reservation allows.
    const columns = Math.max(...live.map((p) => p.job.promptIds.length)) + Math.max(...live.map((p) => p.job.maxTokens));
    const maxBatchSize = Math.max(1, Math.min(this.#o.maxBatchSize, Math.floor(budget / (columns * perToken))));
    const eosIds = tokenizer.eosTokenIds;
    const forceId = eosIds.length ? eosIds[0] : null;
    const states = new Map<RowVariant, RowState>();
    const byKey = new Map<string, RowState>();
    const rows: GenerationRequestRow[] = [];
    live.forEach((p, j) => {
      p.job.seeds.forEach((seed, choice) => {
        const variant: RowVariant = { adapter: p.job.adapter, adapterScale: p.job.adapter === null ? 0 : 1 };
        const key = `${j}/${choice}`;
        const st: RowState = { job: p, choice, key, generated: 0, top: [], forced: null, last: null };
        states.set(variant, st);
        byKey.set(key, st);
        rows.push({ promptIds: p.job.promptIds, variant, seed, key });
      });
    });
    this.#o.onBatch?.({ requests: live.length, rows: rows.length, adapters: [...new Set(live.map((p) => p.job.adapter))], maxBatchSize });
    const maxNew = Math.max(...live.map((p) => p.job.maxTokens));
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const wrapped: GenerationRunner = {
      spec: runner.spec,
      async forward(req) {
        const out = await runner.forward(req);
        const V = out.logitsDims[2];
        req.rows.forEach((rv, b) => {
          const st = states.get(rv);
          if (!st || st.forced) return;
          const row = out.logits.subarray(b * V, (b + 1) * V);
          const cancelled = !!st.job.job.signal?.aborted;
          const overLength = st.generated >= st.job.job.maxTokens;
          if ((cancelled || overLength) && forceId !== null) {
            st.forced = cancelled ? 'cancelled' : 'length';
            if (cancelled) {
              self.cancelled.rows++;
              self.cancelled.tokens += st.generated;
            }
            row.fill(-Infinity);
            row[forceId] = 0;
            return;
          }
          if (st.job.job.topLogprobs > 0 && !overLength) st.top.push(topLogprobsOf(row, st.job.job.topLogprobs));
          if (st.job.job.onToken && st.job.job.wantLogprobs) st.last = { row, lse: logSumExpOf(row) };
        });
        return out;
      },
    };
    const ctrl = new AbortController();
    const onAbort = (): void => {
      if (live.every((p) => p.job.signal?.aborted)) ctrl.abort();
    };
    for (const p of live) p.job.signal?.addEventListener('abort', onAbort);
    const decode = (ids: number[]): string => tokenizer.decode(ids);
    const params: GenerationParams = {
      temperature: live[0].job.sampling.temperature,
      topP: live[0].job.sampling.topP,
      topK: live[0].job.sampling.topK,
      minP: live[0].job.sampling.minP,
      stop: live[0].job.sampling.stop,
      maxNewTokens: maxNew,
      eosTokenIds: eosIds,
      decode,
      maxBatchSize,
    };
    const finishRow = (r: GenerationResultRow): void => {
      const st = byKey.get(r.key);
      if (!st) return;
      const p = st.job;
      if (p.settled) return;
      if (r.finishReason === 'cancelled' || st.forced === 'cancelled' || p.job.signal?.aborted) return;
      let res: ChoiceResult;
      const max = p.job.maxTokens;
      if (st.forced === 'length' || r.tokenIds.length > max) {
        const ids = r.tokenIds.slice(0, max);
        res = { tokenIds: ids, logprobs: r.logprobs.slice(0, max), top: st.top.slice(0, max), finishReason: 'length', stopReason: null, text: decode(ids) };
      } else {
        const fr = r.finishReason as ChoiceResult['finishReason'];
        const text = r.text ?? decode(fr === 'eos' ? r.tokenIds.slice(0, -1) : r.tokenIds);
        res = { tokenIds: r.tokenIds, logprobs: r.logprobs, top: st.top, finishReason: fr, stopReason: fr === 'stop' ? matchedStop(decode(r.tokenIds), text, p.job.sampling.stop) : null, text };
      }
      p.results[st.choice] = res;
      try {
        p.job.onChoiceDone?.(st.choice, res);
      } catch {
        // A streaming writer that failed (client gone) must not stop the batch.
      }
      p.done++;
      if (p.done === p.results.length) {
        p.settled = true;
        p.resolve(p.results as ChoiceResult[]);
      }
    };
    try {
      await generate(wrapped, rows, params, {
        signal: ctrl.signal,
        onToken: (key, tokenId, step) => {
          const st = byKey.get(key);
          if (!st) return;
          st.generated = step + 1;
          if (st.forced || !st.job.job.onToken || st.job.settled || step >= st.job.job.maxTokens) return;
          try {
            const lp = st.last ? st.last.row[tokenId] - st.last.lse : null;
            st.job.job.onToken(st.choice, tokenId, step, lp, st.top[step] ?? null);
          } catch {
            // as above
          }
        },
        onRowDone: finishRow,
      });
    } catch (e) {
      for (const p of live) {
        if (!p.settled) {
          p.settled = true;
          p.reject(e);
        }
      }
    } finally {
      for (const p of live) p.job.signal?.removeEventListener('abort', onAbort);
    }
    for (const p of live) {
      if (!p.settled) {
        p.settled = true;
        p.reject(new JobCancelledError());
      }
    }
  }

  /** Resolves when no batch is running and none is waiting. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise<void>((r) => this.#idleWaiters.push(() => r())).then(() => this.idle());
  }
}

/** Which stop string ended the text: the one that occurs where `cut` ends. */
function matchedStop(full: string, cut: string, stop: string[]): string | null {
  for (const s of stop) if (s && full.startsWith(cut + s)) return s;
  for (const s of stop) if (s && full.slice(cut.length).includes(s)) return s;
  return stop.find((s) => s.length > 0) ?? null;
}
