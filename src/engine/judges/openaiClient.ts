/**
 * A minimal client for `/v1/chat/completions` (OpenAI, Azure OpenAI, vLLM, Ollama, …) that asks for
 * ONE token with its top-20 log-probabilities, as the emergent-misalignment judges do.
 *
 * Failure handling:
 *  - 429 and 5xx: retried with exponential backoff and full jitter, honouring `Retry-After`
 *    (seconds or an HTTP date), up to `maxRetries`; then a JudgeCellError (that cell stays unjudged).
 *  - timeouts and network errors: retried the same way; a server that cannot be reached at all after
 *    the retries is a JudgeFatalError (every other cell would fail the same way).
 *  - 400, 401, 403, 404: JudgeFatalError at once, saying what to check (key, model, base URL).
 *  - malformed bodies (not JSON, no `choices`): retried `maxMalformedRetries` times, then a JudgeCellError.
 *  - `signal` aborts the request and any backoff wait (AbortError).
 * The API key is sent only in a request header. It never appears in an error message: server text
 * quoted in errors is scrubbed of the key and of anything that looks like one.
 */
import type { TokenLogprob } from './scoring';

export class JudgeFatalError extends Error {
  override name = 'JudgeFatalError';
  /** The HTTP status of a request the server refused (400, 404, …); absent for other causes. */
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export class JudgeCellError extends Error {
  override name = 'JudgeCellError';
}

export interface ChatLogprobResult {
  /** Top log-probabilities of the first generated token ([] when the model generated nothing). */
  top: TokenLogprob[];
  /** The first generated token's text (or the message content). */
  content: string | null;
  attempts: number;
}

export interface OpenAIClientOptions {
  baseUrl?: string; // default https://api.openai.com/v1
  model: string;
  apiKey?: string; // optional: local servers (vLLM, Ollama) often need none
  apiKeyHeader?: 'authorization' | 'api-key';
  timeoutMs?: number; // per request; default 60 s
  maxRetries?: number; // for 429/5xx/timeouts/network; default 6
  maxMalformedRetries?: number; // default 2
  backoffBaseMs?: number; // default 1000
  backoffCapMs?: number; // default 60 s
  maxRetryAfterMs?: number; // longest Retry-After honoured; default 5 min
  topLogprobs?: number; // default 20
  seed?: number; // default 0
  fetch?: typeof fetch;
  random?: () => number;
  /** Called before each retry wait (for logs/progress; never given the key). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/** Parse a Retry-After header: delta-seconds or an HTTP date. Returns milliseconds, or null. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return null;
  return Math.max(0, t - now);
}

/** A 2xx answer's body as JSON, or what is wrong with it (for the parse functions given to request()). */
export function parseJsonBody(text: string): { json: unknown } | string {
  try {
    return { json: JSON.parse(text) };
  } catch {
    return `not JSON: ${JSON.stringify(text.slice(0, 80))}`;
  }
}

/** Build the chat-completions URL: `…/chat/completions` is appended unless the base already ends with it. */
export function chatCompletionsUrl(baseUrl: string): string {
  const u = new URL(baseUrl);
  if (!/\/chat\/completions\/?$/.test(u.pathname)) u.pathname = u.pathname.replace(/\/+$/, '') + '/chat/completions';
  return u.toString();
}

/** Another endpoint of the same server: `path` under the API root (e.g. "completions" → …/v1/completions), or, starting with "/", beside it (e.g. "/tokenize" → http://host:port/tokenize for a base URL http://host:port/v1, as vLLM serves it). */
export function endpointUrl(baseUrl: string, path: string): string {
  const u = new URL(baseUrl);
  const root = u.pathname.replace(/\/+$/, '').replace(/\/chat\/completions$/, '');
  u.pathname = path.startsWith('/') ? root.replace(/\/v1$/, '') + path : `${root}/${path}`;
  return u.toString();
}

/** How chatRequest's errors word things for its caller (judges by default). */
export interface ChatRequestWording {
  /** e.g. "Judge request" */
  request: string;
  /** e.g. "judge server" */
  server: string;
  /** What happens to the cell after retries are spent. */
  cellLeft: string;
  /** Where the key comes from. */
  keyHint: string;
  /** Appended after the model name in the 404 message. */
  modelHint: string;
  badRequestHint: (topLogprobs: number) => string;
}

export const JUDGE_WORDING: ChatRequestWording = {
  request: 'Judge request',
  server: 'judge server',
  cellLeft: 'the sample stays unjudged; run the judge again to resume.',
  keyHint: 'OPENAI_API_KEY for the CLI, "Organism Lab: Set Judge API Key" in VS Code',
  modelHint: '',
  badRequestHint: (k) => `does it support logprobs with top_logprobs=${k}?`,
};

function abortError(): Error {
  const e = new Error('The request was cancelled.');
  e.name = 'AbortError';
  return e;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class OpenAICompatibleClient {
  readonly url: string;
  readonly model: string;
  readonly #key: string | undefined;
  readonly #o: Required<Omit<OpenAIClientOptions, 'apiKey' | 'onRetry' | 'baseUrl' | 'model'>> & Pick<OpenAIClientOptions, 'onRetry'>;

  constructor(o: OpenAIClientOptions) {
    const base = o.baseUrl ?? 'https://api.openai.com/v1';
    try {
      this.url = chatCompletionsUrl(base);
    } catch {
      throw new JudgeFatalError(`The judge base URL ${JSON.stringify(base)} is not a valid URL; use e.g. https://api.openai.com/v1 or http://localhost:8000/v1.`);
    }
    if (!o.model) throw new JudgeFatalError('The judge needs a model name (e.g. gpt-4o-2024-08-06).');
    this.model = o.model;
    this.#key = o.apiKey || undefined;
    this.#o = {
      apiKeyHeader: o.apiKeyHeader ?? 'authorization',
      timeoutMs: o.timeoutMs ?? 60_000,
      maxRetries: o.maxRetries ?? 6,
      maxMalformedRetries: o.maxMalformedRetries ?? 2,
      backoffBaseMs: o.backoffBaseMs ?? 1000,
      backoffCapMs: o.backoffCapMs ?? 60_000,
      maxRetryAfterMs: o.maxRetryAfterMs ?? 300_000,
      topLogprobs: o.topLogprobs ?? 20,
      seed: o.seed ?? 0,
      fetch: o.fetch ?? fetch,
      random: o.random ?? Math.random,
      onRetry: o.onRetry,
    };
  }

  /** Remove the key (and anything shaped like a key) from text quoted in errors. */
  scrub(text: string): string {
    let t = text;
    if (this.#key) t = t.split(this.#key).join('[redacted]');
    return t.replace(/\b(sk|pk|key)-[A-Za-z0-9_*\-]{6,}/g, '[redacted]').replace(/Bearer\s+\S+/gi, 'Bearer [redacted]');
  }

  #headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.#key) {
      if (this.#o.apiKeyHeader === 'api-key') h['api-key'] = this.#key;
      else h.authorization = `Bearer ${this.#key}`;
    }
    return h;
  }

  #backoff(attempt: number, retryAfterMs: number | null): number {
    if (retryAfterMs !== null) return Math.min(retryAfterMs, this.#o.maxRetryAfterMs);
    const ceiling = Math.min(this.#o.backoffCapMs, this.#o.backoffBaseMs * 2 ** attempt);
    // Full jitter, but never less than a quarter of the ceiling so retries do not hammer the server.
    return Math.round(ceiling * (0.25 + 0.75 * this.#o.random()));
  }

  /** One user message; returns the first token's top log-probabilities. */
  async topLogprobs(prompt: string, signal?: AbortSignal): Promise<ChatLogprobResult> {
    const { value, attempts } = await this.chatRequest(
      {
        messages: [{ role: 'user', content: prompt }],
        max_tokens: 1,
        temperature: 0,
        logprobs: true,
        top_logprobs: this.#o.topLogprobs,
        seed: this.#o.seed,
      },
      (text) => this.#parse(text),
      signal,
    );
    return { ...value, attempts };
  }

  /**
   * POST one chat-completions request with the retry policy above (shared by the judges and the remote
   * generation backend). `payload.model` defaults to the client's model (a request may name another, e.g. a
   * LoRA adapter's served name). `parse` gets the body text of a 2xx answer and returns the value or a string
   * saying what is malformed (retried); it may throw to fail at once.
   */
  async chatRequest<T>(payload: Record<string, unknown>, parse: (text: string) => T | string, signal?: AbortSignal, wording: ChatRequestWording = JUDGE_WORDING): Promise<{ value: T; attempts: number }> {
    return this.request(this.url, payload, parse, signal, wording);
  }

  /** chatRequest to another endpoint of the same server (`url`, e.g. from endpointUrl): the same retries, key handling and errors. */
  async request<T>(url: string, payload: Record<string, unknown>, parse: (text: string) => T | string, signal?: AbortSignal, wording: ChatRequestWording = JUDGE_WORDING): Promise<{ value: T; attempts: number }> {
    const model = typeof payload.model === 'string' && payload.model ? payload.model : this.model;
    const body = JSON.stringify({ ...payload, model });
    let transient = 0;
    let malformed = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw abortError();
      const timeout = AbortSignal.timeout(this.#o.timeoutMs);
      const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let res: Response;
      let text: string;
      try {
        // Never follow a redirect: the key would go to wherever the server points (fetch keeps custom headers
        // such as Azure's api-key across origins). A redirect is an error naming where it pointed.
        res = await this.#o.fetch(url, { method: 'POST', headers: this.#headers(), body, signal: both, redirect: 'manual' });
        text = await res.text();
      } catch (e) {
        if (signal?.aborted) throw abortError();
        const timedOut = timeout.aborted;
        const reason = timedOut ? `no answer within ${this.#o.timeoutMs} ms` : `network error: ${this.scrub(String((e as Error)?.cause ?? (e as Error)?.message ?? e))}`;
        if (transient >= this.#o.maxRetries) {
          if (timedOut) throw new JudgeCellError(`${wording.request} to ${url} timed out ${transient + 1} times (${reason}); ${wording.cellLeft}`);
          throw new JudgeFatalError(`Cannot reach the ${wording.server} at ${url} (${reason}) after ${transient + 1} tries. Check base_url and that the server is running.`);
        }
        const delayMs = this.#backoff(transient, null);
        transient++;
        this.#o.onRetry?.({ attempt, delayMs, reason });
        await sleep(delayMs, signal);
        continue;
      }
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get('location') ?? '(no Location header)';
        throw new JudgeFatalError(`The ${wording.server} at ${url} answered HTTP ${res.status}, a redirect to ${this.scrub(to)}; redirects are not followed, so the API key is only ever sent to the address you configured. Set the base URL to the final address if you trust it.`);
      }
      if (res.status === 429 || res.status >= 500) {
        const reason = `HTTP ${res.status}${res.status === 429 ? ' (rate limited)' : ''}: ${this.scrub(text.slice(0, 200))}`;
        if (transient >= this.#o.maxRetries) {
          throw new JudgeCellError(`${wording.request} to ${url} failed ${transient + 1} times, last ${reason}. ${wording.cellLeft}`);
        }
        const delayMs = this.#backoff(transient, parseRetryAfter(res.headers.get('retry-after')));
        transient++;
        this.#o.onRetry?.({ attempt, delayMs, reason });
        await sleep(delayMs, signal);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        throw new JudgeFatalError(
          `The ${wording.server} refused the API key (HTTP ${res.status}) at ${url}. Check the key (${wording.keyHint}) and that it may use model ${model}. Server said: ${this.scrub(text.slice(0, 300))}`,
          res.status,
        );
      }
      if (res.status === 404) {
        throw new JudgeFatalError(
          `HTTP 404 from ${url}: check the base URL (it should end in /v1 for OpenAI-compatible servers) and the model name "${model}"${wording.modelHint}. Server said: ${this.scrub(text.slice(0, 300))}`,
          404,
        );
      }
      if (res.status >= 400) {
        throw new JudgeFatalError(
          `HTTP ${res.status} from ${url} for model "${model}": the server rejected the request (${wording.badRequestHint(this.#o.topLogprobs)}). Server said: ${this.scrub(text.slice(0, 300))}`,
          res.status,
        );
      }
      const parsed = parse(text);
      if (typeof parsed === 'string') {
        if (malformed >= this.#o.maxMalformedRetries) {
          throw new JudgeCellError(`The ${wording.server} at ${url} sent a malformed answer ${malformed + 1} times (${parsed}); ${wording.cellLeft}`);
        }
        malformed++;
        this.#o.onRetry?.({ attempt, delayMs: 0, reason: `malformed answer: ${parsed}` });
        continue;
      }
      return { value: parsed, attempts: attempt };
    }
  }

  /** The parsed answer, or a string describing what is malformed. */
  #parse(text: string): Omit<ChatLogprobResult, 'attempts'> | string {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return `not JSON: ${JSON.stringify(this.scrub(text.slice(0, 80)))}`;
    }
    const choice = (json as { choices?: unknown })?.choices;
    if (!Array.isArray(choice) || !choice.length || typeof choice[0] !== 'object' || !choice[0]) return 'no choices[0]';
    const c0 = choice[0] as { logprobs?: unknown; message?: { content?: unknown } };
    const content = typeof c0.message?.content === 'string' ? c0.message.content : null;
    const lp = c0.logprobs as { content?: unknown } | null | undefined;
    if (lp === null || lp === undefined) {
      if (content) {
        throw new JudgeFatalError(
          `The judge server at ${this.url} returned no logprobs for model "${this.model}". This judge needs logprobs=true and top_logprobs; use a server and model that support them.`,
        );
      }
      return { top: [], content };
    }
    if (!Array.isArray(lp.content)) return 'logprobs.content is not a list';
    if (!lp.content.length) return { top: [], content };
    const first = lp.content[0] as { token?: unknown; top_logprobs?: unknown };
    if (!Array.isArray(first?.top_logprobs)) return 'logprobs.content[0].top_logprobs is not a list';
    const top: TokenLogprob[] = [];
    for (const e of first.top_logprobs as { token?: unknown; logprob?: unknown }[]) {
      if (typeof e?.token !== 'string' || typeof e.logprob !== 'number') return 'a top_logprobs entry lacks token/logprob';
      top.push({ token: e.token, logprob: e.logprob });
    }
    return { top, content: typeof first.token === 'string' ? first.token : content };
  }
}
