/**
 * The serve batcher: continuous batching of requests over ONE open call of the batched generation loop
 * (engine/runtime/generateLoop.ts, hooks.more), whatever model name each asks for: a base row has adapter
 * null, an adapter row names its adapter, and the per-row LoRA scale lets them share every read of the base
 * weights.
 *
 * Calls. Requests that arrive within a few milliseconds of each other start a call together (the batch
 * window). While the call runs, a request that arrives joins it at the loop's next refill point (its rows
 * get their own prefill and their KV cache is merged into the running batch) instead of waiting for the
 * running rows to finish. The call ends when no row is active and nothing is waiting to join; the next
 * request starts a new call. `continuous: false` keeps the former batch-at-a-time scheduling (a request
 * arriving while a call runs waits for it to end), for comparison (src/bench/serveBench.ts).
 *
 * Sampling parameters are per row (temperature, top_p, top_k, min_p, stop strings, max_tokens: the loop's
 * RowSampling), so requests with different parameters share a call; nothing waits because of them.
 *
 * Who joins, and bounds. A call is sized when it starts, from the KV-cache budget: rows per forward
 * B = min(maxBatchSize, budget / (columns × bytes per column)), columns being the longest prompt + max_tokens
 * among its first requests, and the call's column cap C = budget / (B × bytes per column) ≥ columns. The
 * loop never holds more than B rows, and its cache never more columns than the longest prompt + max_tokens of
 * its active rows, so a request joins only if its prompt + max_tokens ≤ C: the cache stays within the budget.
 * Waiting requests join in arrival order; the first one that does not fit stops the joining (later ones wait
 * too), so the running call drains and that request starts the next call: nobody is overtaken for ever.
 * Requests cancelled while waiting, for an adapter that is not loaded, or that cannot fit the budget even
 * alone, are refused without reaching the model. `exclusive()` (model swaps, prompt scoring) closes the
 * running call to newcomers and waits for it to drain.
 *
 * Cancellation per request: when a client disconnects, the batcher replaces its rows' logits by "only the
 * end-of-sequence token" after the model computed them, which makes the loop end those rows at once; the
 * whole call is aborted when every request in it is gone. The same forward wrapper reads each row's top
 * log-probabilities from the raw logits when a request asks for them.
 *
 * Seeds: the row of choice 0 uses the request's seed as its random stream (rng.uniformAt(seed, step)), exactly
 * as a local run uses a cell seed, so a seeded request gives the local sample token for token, whether it
 * starts a call or joins a running one. Choice i > 0 uses choiceSeed(seed, i).
 */
import { createHash, randomInt } from 'node:crypto';
import { totalmem } from 'node:os';
import { generate, type GenerationRunner } from '../runtime/generate';
import { validateSamplingParams } from '../runtime/sampling';
import { sequenceLogprobs, type ScoredRow, type SequenceLogprobs } from '../analysis/sequenceLogprobs';
import type { GenerationParams, GenerationRequestRow, GenerationResultRow, RowSampling, RowVariant } from '../runtime/generationTypes';
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
  /** The row's variant object: how the forward wrapper finds the row. */
  variant: RowVariant;
  choice: number;
  key: string;
  generated: number;
  top: TopLogprob[][];
  /** The row's logits were replaced by an end-of-sequence token because its client went away. */
  cancelled: boolean;
  /** Streaming with logprobs: the row's last logits (valid until the next forward) and their log-sum-exp. */
  last: { row: Float32Array; lse: number } | null;
}

interface PendingJob {
  job: CompletionJob;
  results: (ChoiceResult | undefined)[];
  resolve: (r: ChoiceResult[]) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  /** Choices finished so far (cancelled ones included). */
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

/** What onBatch is told: a call that starts (joined false) or requests that join the running call. */
export interface BatchInfo {
  requests: number;
  rows: number;
  adapters: (string | null)[];
  /** Rows per forward of the call. */
  maxBatchSize: number;
  /** True when these requests joined a running call. */
  joined: boolean;
}

export interface RequestBatcherOptions {
  /** How long the first request of a call waits for others (default 5 ms). */
  windowMs?: number;
  /** Rows per forward batch (default 32). */
  maxBatchSize?: number;
  /**
   * Bytes the KV cache of one call may take (default: a quarter of the machine's memory). A call with a long
   * max_tokens runs fewer rows at a time instead of exhausting memory (see the module header); a request
   * whose single row does not fit is refused.
   */
  kvBudgetBytes?: number;
  /** Continuous batching: requests join the running call (default true); false runs one call at a time. */
  continuous?: boolean;
  /** Told about each call and each group of requests that joins one — logs and tests. */
  onBatch?: (info: BatchInfo) => void;
}

/** A request too large for the KV-cache budget even alone. */
export class KvBudgetError extends Error {
  override name = 'KvBudgetError';
}

/** Bytes of KV cache per row and column (float32 keys and values of every layer). */
export function kvBytesPerToken(spec: { numLayers: number; numKvHeads: number; headDim: number }): number {
  return spec.numLayers * 2 * spec.numKvHeads * spec.headDim * 4;
}

/** The generation loop's view of a request: its sampling parameters as per-row overrides. */
function rowSampling(job: CompletionJob): RowSampling {
  const s = job.sampling;
  return { temperature: s.temperature, topP: s.topP, topK: s.topK, minP: s.minP, stop: s.stop, maxNewTokens: job.maxTokens };
}

export class RequestBatcher {
  readonly #model: () => BatcherModel;
  readonly #o: Required<Omit<RequestBatcherOptions, 'onBatch'>> & Pick<RequestBatcherOptions, 'onBatch'>;
  #pending: PendingJob[] = [];
  #running: Promise<void> | null = null;
  #paused = 0;
  #idleWaiters: (() => void)[] = [];
  #batches = 0;
  #joined = 0;
  /** Requests the last call ran (its first ones and those that joined). */
  #lastRequests = 0;

  /** `model` is read at the start of every call (the server may reload it between calls). */
  constructor(model: () => BatcherModel, o: RequestBatcherOptions = {}) {
    this.#model = model;
    this.#o = { windowMs: o.windowMs ?? 5, maxBatchSize: o.maxBatchSize ?? 32, kvBudgetBytes: o.kvBudgetBytes ?? Math.floor(totalmem() / 4), continuous: o.continuous ?? true, onBatch: o.onBatch };
  }

  /** Rows ended early because their client went away, and the tokens they had generated by then. */
  readonly cancelled = { rows: 0, tokens: 0 };

  /** Generation calls started so far. */
  get batches(): number {
    return this.#batches;
  }

  /** Requests that joined a running call so far. */
  get joined(): number {
    return this.#joined;
  }

  /** Requests waiting to start a call or to join the running one. */
  get waiting(): number {
    return this.#pending.length;
  }

  get busy(): boolean {
    return this.#running !== null || this.#pending.length > 0;
  }

  submit(job: CompletionJob): Promise<ChoiceResult[]> {
    return new Promise((resolve, reject) => {
      if (job.signal?.aborted) return reject(new JobCancelledError());
      // A bad row must not reach a running call (it would fail every request in it).
      if (job.promptIds.length === 0) return reject(new Error('the prompt is empty: it needs at least one token'));
      if (!Number.isInteger(job.maxTokens) || job.maxTokens < 1) return reject(new Error(`max_tokens = ${job.maxTokens} is invalid here: generation needs a positive integer`));
      try {
        validateSamplingParams(job.sampling);
      } catch (e) {
        return reject(e);
      }
      this.#pending.push({ job, results: new Array(job.seeds.length), resolve, reject, settled: false, done: 0 });
      this.#kick();
    });
  }

  /**
   * Runs `fn` with no call in flight: the running call takes no newcomers and `fn` runs once it has drained;
   * waiting requests stay queued and start after `fn`. Used to swap the model (runtime LoRA loading).
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
   * between generation calls on the model of the moment. A row naming an adapter that is not loaded is refused.
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
          await this.#runCall();
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
   * the batch is full). Also run between calls, so that the clients answered by the last call, which send
   * their next request at once, join the waiting ones instead of forming a half-size batch of their own.
   */
  async #gather(): Promise<void> {
    const expect = Math.min(this.#o.maxBatchSize, this.#lastRequests);
    let seen = -1;
    for (let i = 0; i < 8 && (this.#pending.length !== seen || this.#pending.length < expect) && this.#pending.length < this.#o.maxBatchSize; i++) {
      seen = this.#pending.length;
      await new Promise((r) => setTimeout(r, this.#o.windowMs));
    }
  }

  /** Settles a job once (the first outcome wins). */
  #settle(p: PendingJob, outcome: { ok: ChoiceResult[] } | { err: unknown }): void {
    if (p.settled) return;
    p.settled = true;
    if ('ok' in outcome) p.resolve(outcome.ok);
    else p.reject(outcome.err);
  }

  /**
   * One generation call: the waiting requests start it; in continuous mode later ones join it while it runs
   * (see the module header for who may join). Failures reject the requests of this call only.
   */
  async #runCall(): Promise<void> {
    let model: BatcherModel;
    try {
      model = this.#model();
    } catch (e) {
      for (const p of this.#pending.splice(0)) this.#settle(p, { err: e });
      return;
    }
    const { runner, tokenizer } = model;
    const perToken = kvBytesPerToken(runner.spec);
    const budget = this.#o.kvBudgetBytes;
    const columnsOf = (p: PendingJob): number => p.job.promptIds.length + p.job.maxTokens;
    /** Refuses a request that can never run here (cancelled, unknown adapter, over the budget alone); true if refused. */
    const refuse = (p: PendingJob): boolean => {
      if (p.job.signal?.aborted) {
        this.#settle(p, { err: new JobCancelledError() });
        return true;
      }
      if (p.job.adapter !== null && !model.adapterNames.has(p.job.adapter)) {
        this.#settle(p, { err: new UnknownAdapterError(p.job.adapter) });
        return true;
      }
      const need = columnsOf(p) * perToken;
      if (need > budget) {
        this.#settle(p, { err: new KvBudgetError(`The prompt (${p.job.promptIds.length} tokens) plus max_tokens (${p.job.maxTokens}) needs ${(need / 2 ** 20).toFixed(0)} MiB of KV cache for one row, above this server's budget of ${(budget / 2 ** 20).toFixed(0)} MiB; lower max_tokens.`) });
        return true;
      }
      return false;
    };
    const first = this.#pending.splice(0).filter((p) => !refuse(p));
    if (first.length === 0) return;
    this.#batches++;
    // Rows per forward as the KV budget allows for the first requests, and the column cap joiners must meet.
    const columns = Math.max(...first.map(columnsOf));
    const maxBatchSize = Math.max(1, Math.min(this.#o.maxBatchSize, Math.floor(budget / (columns * perToken))));
    const columnCap = Math.max(columns, Math.floor(budget / (maxBatchSize * perToken)));
    const eosIds = tokenizer.eosTokenIds;
    const forceId = eosIds.length ? eosIds[0] : null;
    const decode = (ids: number[]): string => tokenizer.decode(ids);
    /** Rows of the call that have not finished, by variant object (what the forward sees) and by key. */
    const states = new Map<RowVariant, RowState>();
    const byKey = new Map<string, RowState>();
    /** Requests of the call that are not settled. */
    const live = new Set<PendingJob>();
    const ctrl = new AbortController();
    const onAbort = (): void => {
      for (const p of live) if (!p.job.signal?.aborted) return;
      ctrl.abort();
    };
    let nextJob = 0;
    const rowsOf = (jobs: PendingJob[], joined: boolean): GenerationRequestRow[] => {
      const rows: GenerationRequestRow[] = [];
      for (const p of jobs) {
        const j = nextJob++;
        live.add(p);
        p.job.signal?.addEventListener('abort', onAbort);
        p.job.seeds.forEach((seed, choice) => {
          const variant: RowVariant = { adapter: p.job.adapter, adapterScale: p.job.adapter === null ? 0 : 1 };
          const key = `${j}/${choice}`;
          const st: RowState = { job: p, variant, choice, key, generated: 0, top: [], cancelled: false, last: null };
          states.set(variant, st);
          byKey.set(key, st);
          rows.push({ promptIds: p.job.promptIds, variant, seed, key, sampling: rowSampling(p.job) });
        });
      }
      this.#lastRequests += jobs.length;
      this.#o.onBatch?.({ requests: jobs.length, rows: rows.length, adapters: [...new Set(jobs.map((p) => p.job.adapter))], maxBatchSize, joined });
      return rows;
    };
    this.#lastRequests = 0;
    const rows = rowsOf(first, false);
    /** Continuous batching: the waiting requests that may join, in arrival order (see the module header). */
    const more = (): GenerationRequestRow[] => {
      if (this.#paused > 0 || ctrl.signal.aborted) return [];
      const join: PendingJob[] = [];
      while (this.#pending.length > 0) {
        const p = this.#pending[0];
        if (refuse(p)) {
          this.#pending.shift();
          continue;
        }
        if (columnsOf(p) > columnCap) break;
        join.push(p);
        this.#pending.shift();
      }
      if (join.length === 0) return [];
      this.#joined += join.length;
      return rowsOf(join, true);
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const wrapped: GenerationRunner = {
      spec: runner.spec,
      async forward(req) {
        const out = await runner.forward(req);
        const V = out.logitsDims[2];
        req.rows.forEach((rv, b) => {
          const st = states.get(rv);
          if (!st || st.cancelled) return;
          const row = out.logits.subarray(b * V, (b + 1) * V);
          if (st.job.job.signal?.aborted && forceId !== null) {
            st.cancelled = true;
            self.cancelled.rows++;
            self.cancelled.tokens += st.generated;
            row.fill(-Infinity);
            row[forceId] = 0;
            return;
          }
          if (st.job.job.topLogprobs > 0) st.top.push(topLogprobsOf(row, st.job.job.topLogprobs));
          if (st.job.job.onToken && st.job.job.wantLogprobs) st.last = { row, lse: logSumExpOf(row) };
        });
        return out;
      },
    };
    const release = (p: PendingJob): void => {
      live.delete(p);
      p.job.signal?.removeEventListener('abort', onAbort);
    };
    const finishRow = (r: GenerationResultRow): void => {
      const st = byKey.get(r.key);
      if (!st) return;
      byKey.delete(r.key);
      states.delete(st.variant);
      const p = st.job;
      p.done++;
      const gone = r.finishReason === 'cancelled' || st.cancelled || !!p.job.signal?.aborted;
      if (!gone && !p.settled) {
        const fr = r.finishReason as ChoiceResult['finishReason'];
        const text = r.text ?? decode(fr === 'eos' ? r.tokenIds.slice(0, -1) : r.tokenIds);
        const res: ChoiceResult = { tokenIds: r.tokenIds, logprobs: r.logprobs, top: st.top, finishReason: fr, stopReason: fr === 'stop' ? matchedStop(decode(r.tokenIds), text, p.job.sampling.stop) : null, text };
        p.results[st.choice] = res;
        try {
          p.job.onChoiceDone?.(st.choice, res);
        } catch {
          // A streaming writer that failed (client gone) must not stop the call.
        }
      }
      if (p.done === p.results.length) {
        release(p);
        // (`every` would skip the holes of the results array: count the results instead.)
        if (p.results.filter((x) => x !== undefined).length === p.results.length) this.#settle(p, { ok: p.results as ChoiceResult[] });
        else this.#settle(p, { err: new JobCancelledError() });
      }
    };
    const params: GenerationParams = {
      temperature: first[0].job.sampling.temperature,
      topP: first[0].job.sampling.topP,
      topK: first[0].job.sampling.topK,
      minP: first[0].job.sampling.minP,
      stop: first[0].job.sampling.stop,
      maxNewTokens: Math.max(...first.map((p) => p.job.maxTokens)),
      eosTokenIds: eosIds,
      decode,
      maxBatchSize,
    };
    try {
      await generate(wrapped, rows, params, {
        signal: ctrl.signal,
        more: this.#o.continuous ? more : undefined,
        onToken: (key, tokenId, step) => {
          const st = byKey.get(key);
          if (!st) return;
          st.generated = step + 1;
          if (st.cancelled || !st.job.job.onToken || st.job.settled) return;
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
      for (const p of live) this.#settle(p, { err: e });
    } finally {
      for (const p of [...live]) {
        release(p);
        this.#settle(p, { err: new JobCancelledError() });
      }
    }
  }

  /** Resolves when no call is running and none is waiting. */
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
