/**
 * `organism-lab serve`: an OpenAI-compatible HTTP server (node:http) over the local engine, following vLLM's
 * conventions:
 *   GET  /v1/models                 the base model and each adapter (an adapter's parent is the base)
 *   POST /v1/chat/completions       messages → completion (chat template applied here)
 *   POST /v1/completions            prompt text or token ids → completion
 *   POST /v1/load_lora_adapter      {lora_name, lora_path}; only with enableRuntimeLora (404 otherwise, as vLLM)
 *   POST /v1/unload_lora_adapter    {lora_name}
 *   POST /tokenize                  {prompt} or {messages, add_generation_prompt, continue_final_message} → {count, max_model_len, tokens, token_strs}
 *   GET  /health                    200 once the model is loaded
 * Both completion endpoints take model, n, seed, temperature, top_p, top_k, min_p, max_tokens
 * (max_completion_tokens), stop, logprobs/top_logprobs and stream (server-sent events, stream_options.include_usage).
 * Scoring a given text teacher-forced, without sampling (./promptScoring): vLLM's prompt_logprobs on both endpoints,
 * echo (+ logprobs, max_tokens 0 allowed; streamed too, the prompt first) on /v1/completions, add_generation_prompt /
 * continue_final_message on chat.
 *
 * Concurrent requests are batched (./requestBatcher): one generation batch holds base and adapter rows.
 * Safety: binds to loopback unless given an API key; every /v1 route and /tokenize check `Authorization: Bearer KEY` when a
 * key is set; bodies are bounded (413); malformed or impossible requests get 4xx OpenAI-style error bodies;
 * no request can crash the server (handler errors become 500 bodies); a client that disconnects cancels its
 * rows (they leave the batch at the next step).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_LIMITS, IncrementalDecoder, ServeError, badRequest, chatLogprobEntry, chatLogprobs, completionLogprobs, concatLegacyLogprobs, legacyLogprobs, openaiFinish,
  parseChatRequest, parseCompletionRequest, parseTokenizeRequest, tokenString, type LegacyLogprobs, type ParsedChat, type ParsedCompletion, type RequestLimits,
} from './openaiProtocol';
import { JobCancelledError, KvBudgetError, RequestBatcher, UnknownAdapterError, choiceSeeds, type ChoiceResult, type CompletionJob, type RequestBatcherOptions } from './requestBatcher';
import type { ServedModel } from './servedModel';
import { continuedChatIds, echoedPromptLogprobs, promptLogprobsJson } from './promptScoring';
import type { SequenceLogprobs } from '../analysis/sequenceLogprobs';
import type { ChatMessage } from '../runs/schema';

export interface ServeOptions {
  /** Default 127.0.0.1. A non-loopback host needs apiKey. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  apiKey?: string;
  enableRuntimeLora?: boolean;
  /** Largest request body (default 4 MiB). */
  maxBodyBytes?: number;
  limits?: Partial<RequestLimits>;
  /** Longest prompt + completion served (vLLM --max-model-len; default and maximum: the model's max_position_embeddings). */
  maxModelLen?: number;
  batcher?: RequestBatcherOptions;
  log?: (line: string) => void;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8000/v1 */
  baseUrl: string;
  port: number;
  host: string;
  batcher: RequestBatcher;
  server: Server;
  close(): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

const STARTED = Math.floor(Date.now() / 1000);

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, e: ServeError): void {
  sendJson(res, e.status, e.body());
}

/** Reads the body up to `limit` bytes; a larger one is a 413 (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new ServeError(413, `The request body is ${declared} bytes; this server accepts at most ${limit}.`, 'invalid_request_error', null, 'request_too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new ServeError(413, `The request body is over ${limit} bytes, the most this server accepts.`, 'invalid_request_error', null, 'request_too_large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const buf = await readBody(req, limit);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new ServeError(400, `We could not parse the JSON body of your request (${(e as Error).message}).`, 'invalid_request_error', null, 'invalid_json');
  }
}

function keyMatches(given: string, key: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(key).digest();
  return timingSafeEqual(a, b);
}

interface Prepared {
  adapter: string | null;
  promptIds: number[];
  maxTokens: number;
}

export async function startServer(model: ServedModel, o: ServeOptions = {}): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !o.apiKey) {
    throw new Error(`refusing to listen on ${host} without an API key: anyone who can reach it could use the model. Give --api-key-env VAR (the key in that environment variable), or bind to 127.0.0.1.`);
  }
  const limits: RequestLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const maxBody = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const log = o.log ?? (() => undefined);
  const batcher = new RequestBatcher(() => model.batcherModel(), o.batcher);
  const tok = () => model.tokenizer;
  const eos = () => new Set(model.tokenizer.eosTokenIds);

  const resolveModel = (name: string): string | null => {
    const a = model.resolveModel(name);
    if (a === undefined) {
      const served = [model.servedName, ...model.adapters.map((x) => x.name)];
      throw new ServeError(404, `The model \`${name}\` does not exist. Served models: ${served.join(', ')}.`, 'invalid_request_error', 'model', 'model_not_found');
    }
    return a;
  };

  /** Prompt length + max_tokens against the context; the default max_tokens. */
  const contextLength = (): number => Math.min(o.maxModelLen ?? model.maxPositions, model.maxPositions);
  if (o.maxModelLen !== undefined && !(Number.isInteger(o.maxModelLen) && o.maxModelLen >= 2)) throw new Error(`maxModelLen must be an integer >= 2, got ${o.maxModelLen}`);
  const prepare = (adapter: string | null, promptIds: number[], maxTokens: number | null, fallback: 'rest' | number): Prepared => {
    const ctx = contextLength();
    if (promptIds.length === 0) throw badRequest('The prompt is empty (no tokens).', 'prompt');
    const vocab = model.runner.spec.vocabSize;
    const bad = promptIds.find((t) => t >= vocab);
    if (bad !== undefined) throw badRequest(`Token id ${bad} is outside the vocabulary (0..${vocab - 1}).`, 'prompt');
    if (maxTokens === 0) {
      if (promptIds.length > ctx) throw new ServeError(400, `This model's maximum context length is ${ctx} tokens. However, your prompt has ${promptIds.length} tokens. Please shorten the prompt.`, 'invalid_request_error', 'prompt', 'context_length_exceeded');
      return { adapter, promptIds, maxTokens: 0 };
    }
    if (promptIds.length >= ctx) {
      throw new ServeError(400, `This model's maximum context length is ${ctx} tokens. However, your prompt has ${promptIds.length} tokens, leaving no room for a completion. Please shorten the prompt.`, 'invalid_request_error', 'messages', 'context_length_exceeded');
    }
    const mt = maxTokens ?? (fallback === 'rest' ? ctx - promptIds.length : Math.min(fallback, ctx - promptIds.length));
    if (promptIds.length + mt > ctx) {
      throw new ServeError(400, `This model's maximum context length is ${ctx} tokens. However, you requested ${promptIds.length + mt} tokens (${promptIds.length} in the messages, ${mt} in the completion). Please reduce the length of the messages or completion.`, 'invalid_request_error', 'max_tokens', 'context_length_exceeded');
    }
    return { adapter, promptIds, maxTokens: mt };
  };

  const jobFor = (p: ParsedChat | ParsedCompletion, prep: Prepared, seeds: number[], signal: AbortSignal): CompletionJob => ({
    promptIds: prep.promptIds,
    adapter: prep.adapter,
    seeds,
    sampling: p.sampling,
    maxTokens: prep.maxTokens,
    topLogprobs: p.topLogprobs,
    signal,
  });

  const usage = (promptTokens: number, results: ChoiceResult[]) => {
    const completion = results.reduce((s, r) => s + r.tokenIds.length, 0);
    return { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion };
  };

  /** Teacher-forced log-probabilities of prompts under the requested model (between generation batches). */
  const scorePrompts = (adapter: string | null, prompts: number[][], k: number): Promise<SequenceLogprobs[]> =>
    batcher.score(prompts.map((tokenIds) => ({ tokenIds, variant: { adapter, adapterScale: adapter === null ? 0 : 1 } })), k);
  const scorePrompt = async (adapter: string | null, ids: number[], k: number): Promise<SequenceLogprobs> => (await scorePrompts(adapter, [ids], k))[0];

  /** SSE writer that never throws (a client gone mid-stream just stops the writes). */
  const sse = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    return {
      send(obj: unknown) {
        if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(obj)}\n\n`);
      },
      done() {
        if (!res.writableEnded && !res.destroyed) res.end('data: [DONE]\n\n');
      },
    };
  };

  /** Text release for streaming: hold back what could still become a stop string. */
  const streamState = (stop: string[]) => {
    const hold = Math.max(0, ...stop.map((s) => s.length - 1));
    const dec = new IncrementalDecoder((x) => tok().decode(x));
    let sent = 0;
    return {
      push(id: number): { piece: string; delta: string } {
        const piece = dec.push(id);
        // The token that completes a stop string arrives before generation sees the match: release nothing then.
        if (stop.some((x) => dec.text.includes(x, Math.max(0, sent - x.length)))) return { piece, delta: '' };
        const safe = dec.text.length - hold;
        let delta = '';
        if (safe > sent) {
          delta = dec.text.slice(sent, safe);
          sent = safe;
        }
        return { piece, delta };
      },
      rest(final: string): string {
        const r = final.length > sent ? final.slice(sent) : '';
        sent = final.length;
        return r;
      },
    };
  };

  /** A chat's prompt token ids as the model sees them (the chat template applied; the final message left open when continued). */
  const chatIds = (messages: ChatMessage[], o: { addGenerationPrompt: boolean; continueFinalMessage: boolean; addSpecialTokens?: boolean }): number[] => {
    try {
      if (o.continueFinalMessage) return continuedChatIds(tok(), messages);
      if (o.addSpecialTokens) return tok().encode(tok().renderChat(messages, { addGenerationPrompt: o.addGenerationPrompt }), { addSpecialTokens: true });
      return tok().encodeChat(messages, { addGenerationPrompt: o.addGenerationPrompt });
    } catch (e) {
      if (e instanceof ServeError) throw e;
      throw badRequest(`The messages could not be rendered with the model's chat template: ${(e as Error).message}`, 'messages');
    }
  };

  /** vLLM's POST /tokenize: a text prompt or a chat (its template applied) as token ids. */
  async function tokenize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const p = parseTokenizeRequest(await readJson(req, maxBody));
    if (p.model !== null) resolveModel(p.model);
    const ids = p.kind === 'chat' ? chatIds(p.messages, p) : tok().encode(p.prompt, { addSpecialTokens: p.addSpecialTokens });
    sendJson(res, 200, { count: ids.length, max_model_len: contextLength(), tokens: ids, token_strs: p.returnTokenStrs ? ids.map((t) => tok().idToToken(t) ?? '') : null });
  }

  async function chat(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const p = parseChatRequest(await readJson(req, maxBody), limits);
    const adapter = resolveModel(p.model);
    const ids = chatIds(p.messages, p);
    const prep = prepare(adapter, ids, p.maxTokens, 'rest');
    const promptScores = p.promptLogprobs !== null ? await scorePrompt(adapter, ids, p.promptLogprobs) : null;
    const seeds = choiceSeeds(p.seed, p.n);
    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const job = jobFor(p, prep, seeds, signal);
    if (!p.stream) {
      const results = await batcher.submit(job);
      sendJson(res, 200, {
        id, object: 'chat.completion', created, model: p.model,
        choices: results.map((r, index) => ({
          index,
          message: { role: 'assistant', content: r.text },
          logprobs: p.logprobs ? chatLogprobs(r, tok()) : null,
          ...openaiFinish(r),
        })),
        usage: usage(ids.length, results),
        ...(promptScores ? { prompt_logprobs: promptLogprobsJson(ids, promptScores, tok()) } : {}),
      });
      return;
    }
    const out = sse(res);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => out.send({ id, object: 'chat.completion.chunk', created, model: p.model, choices, ...extra });
    const states = seeds.map(() => streamState(p.sampling.stop));
    seeds.forEach((_, index) => chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    const eosSet = eos();
    job.wantLogprobs = p.logprobs;
    job.onToken = (index, tokenId, _step, logprob, top) => {
      if (eosSet.has(tokenId)) return;
      const { piece, delta } = states[index].push(tokenId);
      const lp = p.logprobs && logprob !== null ? { content: [chatLogprobEntry(piece, logprob, top, tok())] } : null;
      if (delta || lp) chunk([{ index, delta: { content: delta }, logprobs: lp, finish_reason: null }]);
    };
    job.onChoiceDone = (index, r) => {
      chunk([{ index, delta: { content: states[index].rest(r.text) }, logprobs: null, ...openaiFinish(r) }]);
    };
    try {
      const results = await batcher.submit(job);
      if (p.includeUsage) chunk([], { usage: usage(ids.length, results) });
    } catch (e) {
      if (e instanceof JobCancelledError || signal.aborted) return;
      out.send(toServeError(e, log).body());
    }
    out.done();
  }

  async function completions(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const p = parseCompletionRequest(await readJson(req, maxBody), limits);
    const adapter = resolveModel(p.model);
    const preps = p.prompts.map((pr) => prepare(adapter, typeof pr === 'string' ? tok().encode(pr) : pr, p.maxTokens, 16));
    const seeds = choiceSeeds(p.seed, p.n * preps.length);
    const id = `cmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = preps.reduce((s, x) => s + x.promptIds.length, 0);
    const jobs = preps.map((prep, j) => jobFor(p, prep, seeds.slice(j * p.n, (j + 1) * p.n), signal));
    // vLLM: echo with logprobs scores the prompt as prompt_logprobs = logprobs would (before any answer is sent,
    // so a failure is still a plain error body).
    const promptK = p.promptLogprobs ?? (p.echo && p.logprobs ? p.topLogprobs : null);
    const scores: (SequenceLogprobs | null)[] = promptK === null ? preps.map(() => null) : await scorePrompts(adapter, preps.map((x) => x.promptIds), promptK);
    /** The echoed prompt: its text (a token-id prompt decoded) and, with logprobs, its tokens' entries. */
    const echoed = (j: number): { text: string; logprobs: LegacyLogprobs | null } => {
      const pr = p.prompts[j];
      const ids = preps[j].promptIds;
      return { text: typeof pr === 'string' ? pr : tok().decode(ids), logprobs: p.logprobs ? echoedPromptLogprobs(ids, scores[j]!, tok()) : null };
    };
    // max_tokens 0 (echo only): nothing is generated; each choice is the prompt alone.
    const promptOnly = (j: CompletionJob): ChoiceResult[] => j.seeds.map(() => ({ tokenIds: [], logprobs: [], top: [], finishReason: 'length', stopReason: null, text: '' }));
    if (!p.stream) {
      const all = await Promise.all(jobs.map((j) => (j.maxTokens === 0 ? Promise.resolve(promptOnly(j)) : batcher.submit(j))));
      const choices: unknown[] = [];
      all.forEach((rs, j) => {
        const ids = preps[j].promptIds;
        const echo = p.echo ? echoed(j) : null;
        for (const r of rs) {
          let logprobs: unknown = null;
          if (p.logprobs) {
            const gen = completionLogprobs(r, tok());
            logprobs = echo ? concatLegacyLogprobs(echo.logprobs!, gen) : gen;
          }
          choices.push({
            index: choices.length,
            text: echo ? echo.text + r.text : r.text,
            logprobs,
            ...openaiFinish(r),
            ...(scores[j] ? { prompt_logprobs: promptLogprobsJson(ids, scores[j]!, tok()) } : {}),
          });
        }
      });
      sendJson(res, 200, { id, object: 'text_completion', created, model: p.model, choices, usage: usage(promptTokens, all.flat()) });
      return;
    }
    const out = sse(res);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => out.send({ id, object: 'text_completion', created, model: p.model, choices, ...extra });
    const eosSet = eos();
    // vLLM's stream: with echo, a choice's first chunk carries the prompt (text, and with logprobs the prompt
    // tokens' entries) followed by the first generated token; with max_tokens 0 that chunk is the whole choice.
    // text_offset counts from the start of the choice's text, echoed prompt included (as in the answer without stream).
    jobs.forEach((job, j) => {
      const states = job.seeds.map(() => streamState(p.sampling.stop));
      const echo = p.echo ? echoed(j) : null;
      const pendingEcho = job.seeds.map(() => echo !== null);
      const offsets = job.seeds.map(() => (echo?.logprobs ? echo.logprobs.tokens.reduce((s, t) => s + t.length, 0) : 0));
      /** Prepends the echo to a choice's first chunk. */
      const withEcho = (c: number, text: string, lp: LegacyLogprobs | null): { text: string; logprobs: LegacyLogprobs | null } => {
        if (!pendingEcho[c]) return { text, logprobs: lp };
        pendingEcho[c] = false;
        return { text: echo!.text + text, logprobs: echo!.logprobs && lp ? concatLegacyLogprobs(echo!.logprobs, lp) : echo!.logprobs ?? lp };
      };
      job.wantLogprobs = p.logprobs;
      job.onToken = (c, tokenId, _step, logprob, top) => {
        if (eosSet.has(tokenId)) return;
        const { piece, delta } = states[c].push(tokenId);
        const lp = p.logprobs && logprob !== null
          ? legacyLogprobs([piece], [logprob], [top ? Object.fromEntries(top.map((t) => [tokenString(t.id, tok()), t.logprob])) : null], offsets[c])
          : null;
        offsets[c] += piece.length;
        const first = pendingEcho[c];
        const e = withEcho(c, delta, lp);
        if (first || e.text || e.logprobs) chunk([{ index: j * p.n + c, text: e.text, logprobs: e.logprobs, finish_reason: null }]);
      };
      job.onChoiceDone = (c, r) => {
        const e = withEcho(c, states[c].rest(r.text), null);
        chunk([{ index: j * p.n + c, text: e.text, logprobs: e.logprobs, ...openaiFinish(r) }]);
      };
    });
    try {
      const all = await Promise.all(jobs.map((j) => {
        if (j.maxTokens !== 0) return batcher.submit(j);
        const rs = promptOnly(j);
        rs.forEach((r, c) => j.onChoiceDone!(c, r));
        return rs;
      }));
      if (p.includeUsage) chunk([], { usage: usage(promptTokens, all.flat()) });
    } catch (e) {
      if (e instanceof JobCancelledError || signal.aborted) return;
      out.send(toServeError(e, log).body());
    }
    out.done();
  }

  function listModels(res: ServerResponse): void {
    const ctx = contextLength();
    const base = { id: model.servedName, object: 'model', created: STARTED, owned_by: 'organism-lab', root: model.modelDir, parent: null, max_model_len: ctx, permission: [] };
    const adapters = model.adapters.map((a) => ({ id: a.name, object: 'model', created: STARTED, owned_by: 'organism-lab', root: a.dir, parent: model.servedName, max_model_len: ctx, permission: [] }));
    sendJson(res, 200, { object: 'list', data: [base, ...adapters] });
  }

  const runtimeLoraOff = () =>
    new ServeError(404, 'Loading LoRA adapters at run time is off on this server; start it with --enable-runtime-lora (vLLM: VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).', 'not_found_error', null, 'runtime_lora_disabled');

  async function loadLora(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!o.enableRuntimeLora || !model.canReload) throw runtimeLoraOff();
    const body = await readJson(req, maxBody);
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    if (typeof b.lora_name !== 'string' || !b.lora_name) throw badRequest("'lora_name' is required.", 'lora_name');
    if (typeof b.lora_path !== 'string' || !b.lora_path) throw badRequest("'lora_path' is required: an adapter folder on the server.", 'lora_path');
    const name = b.lora_name;
    const dir = b.lora_path;
    if (model.resolveModel(name) !== undefined) throw badRequest(`The lora adapter '${name}' has already been loaded.`, 'lora_name');
    try {
      model.checkAdapterDir(dir);
    } catch (e) {
      throw badRequest((e as Error).message, 'lora_path');
    }
    await batcher.exclusive(async () => {
      if (model.resolveModel(name) !== undefined) throw badRequest(`The lora adapter '${name}' has already been loaded.`, 'lora_name');
      try {
        await model.addAdapter(name, dir);
      } catch (e) {
        throw badRequest(`Loading the lora adapter '${name}' failed: ${(e as Error).message}`, 'lora_path');
      }
    });
    log(`loaded LoRA adapter ${name} from ${dir}`);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Success: LoRA adapter '${name}' added successfully.`);
  }

  async function unloadLora(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!o.enableRuntimeLora || !model.canReload) throw runtimeLoraOff();
    const body = await readJson(req, maxBody);
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    if (typeof b.lora_name !== 'string' || !b.lora_name) throw badRequest("'lora_name' is required.", 'lora_name');
    const name = b.lora_name;
    const known = () => model.adapters.some((a) => a.name === name);
    if (!known()) throw new ServeError(404, `The lora adapter '${name}' cannot be found.`, 'not_found_error', 'lora_name', 'lora_not_found');
    await batcher.exclusive(async () => {
      if (!known()) throw new ServeError(404, `The lora adapter '${name}' cannot be found.`, 'not_found_error', 'lora_name', 'lora_not_found');
      await model.removeAdapter(name);
    });
    log(`unloaded LoRA adapter ${name}`);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Success: LoRA adapter '${name}' removed successfully.`);
  }

  const routes: Record<string, Record<string, (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void> | void>> = {
    '/v1/models': { GET: (_q, r) => listModels(r) },
    '/v1/chat/completions': { POST: chat },
    '/v1/completions': { POST: completions },
    '/v1/load_lora_adapter': { POST: loadLora },
    '/v1/unload_lora_adapter': { POST: unloadLora },
    '/tokenize': { POST: tokenize },
    '/health': { GET: (_q, r) => void r.writeHead(200).end() },
  };

  const server = createServer((req, res) => {
    const ctrl = new AbortController();
    // Socket errors (a client resetting the connection) must never become uncaught 'error' events.
    req.on('error', () => ctrl.abort());
    res.on('error', () => ctrl.abort());
    // The client went away before we answered: cancel its rows.
    res.on('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });
    const handle = async (): Promise<void> => {
      const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
      const route = routes[path];
      if (!route) throw new ServeError(404, `No route ${req.method} ${path}. Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /tokenize.`, 'not_found_error', null, 'not_found');
      const fn = route[req.method ?? ''];
      if (!fn) throw new ServeError(405, `${req.method} is not allowed on ${path} (use ${Object.keys(route).join(', ')}).`, 'invalid_request_error', null, 'method_not_allowed');
      if (o.apiKey && (path.startsWith('/v1/') || path === '/tokenize')) {
        const auth = req.headers.authorization ?? '';
        const m = /^Bearer\s+(.+)$/i.exec(auth);
        if (!m || !keyMatches(m[1].trim(), o.apiKey)) throw new ServeError(401, 'Missing or wrong API key: send Authorization: Bearer <key>.', 'authentication_error', null, 'invalid_api_key');
      }
      await fn(req, res, ctrl.signal);
    };
    handle().catch((e) => {
      if (ctrl.signal.aborted && (e instanceof JobCancelledError || (e as Error)?.name === 'AbortError')) {
        if (!res.writableEnded) res.destroy();
        return;
      }
      const se = toServeError(e, log);
      sendError(res, se);
      // A body we refused to read: close the connection rather than read the rest.
      if (se.status === 413) req.destroy();
    });
  });
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  // A request must arrive whole within a minute (a slow sender cannot hold a connection); the answer may take
  // as long as generation takes (requestTimeout covers receiving the request only).
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const baseUrl = `http://${urlHost}:${addr.port}/v1`;
  log(`serving ${model.servedName}${model.adapters.length ? ` and adapters ${model.adapters.map((a) => a.name).join(', ')}` : ''} at ${baseUrl}`);
  return {
    baseUrl,
    port: addr.port,
    host,
    batcher,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function toServeError(e: unknown, log: (line: string) => void): ServeError {
  if (e instanceof ServeError) return e;
  if (e instanceof UnknownAdapterError) return new ServeError(404, e.message, 'invalid_request_error', 'model', 'model_not_found');
  if (e instanceof KvBudgetError) return new ServeError(400, e.message, 'invalid_request_error', 'max_tokens', 'context_length_exceeded');
  const msg = (e as Error)?.message ?? String(e);
  // Generation's own argument checks (sampling parameters) are the client's to fix.
  if (/^(generate|sampling|rng):/.test(msg)) return badRequest(msg);
  log(`internal error: ${(e as Error)?.stack ?? msg}`);
  return new ServeError(500, `Internal server error: ${msg}`, 'internal_server_error', null, 'internal_error');
}
