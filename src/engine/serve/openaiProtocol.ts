/**
 * The OpenAI-compatible wire format of `organism-lab serve` (vLLM's conventions): request validation into
 * engine jobs, error bodies, token strings, and the response / stream-chunk shapes. No I/O here.
 *
 * Errors are OpenAI-style: HTTP 4xx with {"error": {"message", "type", "param", "code"}}.
 */
import type { ChatMessage } from '../runs/schema';
import type { TextTokenizer } from '../text/tokenizer';
import type { ChoiceResult, SamplingKnobs, TopLogprob } from './requestBatcher';

export class ServeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ServeError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | number | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code ?? this.status } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ServeError => new ServeError(400, message, 'invalid_request_error', param, code);

/** Limits the server enforces on a request. */
export interface RequestLimits {
  /** Most choices per request (n; for /v1/completions n × prompts). */
  maxN: number;
  /** Most top log-probabilities per token. */
  maxTopLogprobs: number;
  /** Most stop strings. */
  maxStop: number;
}

export const DEFAULT_LIMITS: RequestLimits = { maxN: 16, maxTopLogprobs: 20, maxStop: 8 };

/** What both endpoints share after validation. */
export interface ParsedCommon {
  model: string;
  n: number;
  seed: number | null;
  sampling: SamplingKnobs;
  /** null: the rest of the context (chat) or 16 (completions), decided once the prompt length is known. */
  maxTokens: number | null;
  stream: boolean;
  includeUsage: boolean;
  /** Chat: logprobs=true; completions: logprobs given (an integer). */
  logprobs: boolean;
  topLogprobs: number;
  /** vLLM's prompt_logprobs: alternatives per prompt token (0: the prompt token's own log-probability only); null = not asked. */
  promptLogprobs: number | null;
}

export interface ParsedChat extends ParsedCommon {
  kind: 'chat';
  messages: ChatMessage[];
  /** vLLM: append the assistant header (default true). */
  addGenerationPrompt: boolean;
  /** vLLM: leave the final (assistant) message open, to be continued (default false). */
  continueFinalMessage: boolean;
}

export interface ParsedCompletion extends ParsedCommon {
  kind: 'completion';
  /** Text prompts or token-id prompts. */
  prompts: (string | number[])[];
  /** Return the prompt before the completion (its tokens' log-probabilities too, when logprobs is given); max_tokens 0 then scores the prompt without generating. */
  echo: boolean;
}

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(body: Json, name: string, fallback: number, check: (n: number) => boolean, what: string): number {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw badRequest(`'${name}' must be ${what}; got ${JSON.stringify(v)}.`, name);
  return v;
}

const int = (n: number): boolean => Number.isInteger(n);

/** Fields we refuse rather than silently ignore (they would change what the model does). */
const UNSUPPORTED: [string, (v: unknown) => boolean][] = [
  ['tools', (v) => Array.isArray(v) && v.length > 0],
  ['functions', (v) => Array.isArray(v) && v.length > 0],
  ['logit_bias', (v) => isObj(v) && Object.keys(v).length > 0],
  ['frequency_penalty', (v) => typeof v === 'number' && v !== 0],
  ['presence_penalty', (v) => typeof v === 'number' && v !== 0],
  ['repetition_penalty', (v) => typeof v === 'number' && v !== 1],
  ['best_of', (v) => typeof v === 'number' && v > 1],
  ['suffix', (v) => typeof v === 'string' && v.length > 0],
  ['response_format', (v) => isObj(v) && v.type !== 'text'],
  ['guided_json', (v) => v !== undefined && v !== null],
  ['guided_regex', (v) => v !== undefined && v !== null],
  ['guided_choice', (v) => v !== undefined && v !== null],
];

function common(body: Json, kind: 'chat' | 'completion', limits: RequestLimits): ParsedCommon {
  const model = body.model;
  if (typeof model !== 'string' || !model) throw badRequest("'model' is required: the served name of the base model or of an adapter (GET /v1/models lists them).", 'model');
  for (const [name, refused] of UNSUPPORTED) {
    if (refused(body[name])) throw badRequest(`'${name}' is not supported by organism-lab serve.`, name, 'unsupported_parameter');
  }
  const n = num(body, 'n', 1, (x) => int(x) && x >= 1, 'a positive integer');
  if (n > limits.maxN) throw badRequest(`'n' is ${n}; this server allows at most ${limits.maxN} choices per request.`, 'n');
  let seed: number | null = null;
  if (body.seed !== undefined && body.seed !== null) {
    if (typeof body.seed !== 'number' || !Number.isSafeInteger(body.seed)) throw badRequest(`'seed' must be an integer; got ${JSON.stringify(body.seed)}.`, 'seed');
    seed = body.seed;
  }
  const temperature = num(body, 'temperature', 1, (x) => x >= 0 && x <= 100, 'a number >= 0');
  const topP = num(body, 'top_p', 1, (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  // vLLM: top_k -1 (or 0) = off.
  const topKRaw = num(body, 'top_k', 0, (x) => int(x) && x >= -1, 'an integer >= -1 (-1 or 0: off)');
  const topK = topKRaw < 0 ? 0 : topKRaw;
  const minP = num(body, 'min_p', 0, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  let stop: string[] = [];
  if (typeof body.stop === 'string') stop = [body.stop];
  else if (Array.isArray(body.stop)) {
    if (!body.stop.every((s) => typeof s === 'string')) throw badRequest("'stop' must be a string or a list of strings.", 'stop');
    stop = (body.stop as string[]).filter((s) => s.length > 0);
  } else if (body.stop !== undefined && body.stop !== null) throw badRequest("'stop' must be a string or a list of strings.", 'stop');
  if (stop.length > limits.maxStop) throw badRequest(`'stop' has ${stop.length} strings; at most ${limits.maxStop}.`, 'stop');
  const mtName = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const mt = body[mtName];
  let maxTokens: number | null = null;
  if (mt !== undefined && mt !== null) {
    const zeroOk = kind === 'completion' && body.echo === true;
    if (typeof mt !== 'number' || !int(mt) || mt < (zeroOk ? 0 : 1)) {
      throw badRequest(`'${mtName}' must be a positive integer${kind === 'completion' ? " (0 only with 'echo': true, to score the prompt without generating)" : ''}; got ${JSON.stringify(mt)}.`, mtName);
    }
    maxTokens = mt;
  }
  const stream = body.stream === true;
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badRequest("'stream' must be true or false.", 'stream');
  const so = body.stream_options;
  const includeUsage = stream && isObj(so) && so.include_usage === true;
  let logprobs = false;
  let topLogprobs = 0;
  if (kind === 'chat') {
    if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== 'boolean') throw badRequest("'logprobs' must be true or false on chat completions (use top_logprobs for alternatives).", 'logprobs');
    logprobs = body.logprobs === true;
    topLogprobs = num(body, 'top_logprobs', 0, (x) => int(x) && x >= 0, 'a non-negative integer');
    if (topLogprobs > 0 && !logprobs) throw badRequest("'top_logprobs' needs 'logprobs': true.", 'top_logprobs');
  } else {
    const lp = num(body, 'logprobs', -1, (x) => int(x) && x >= 0, 'a non-negative integer (the number of alternatives per token)');
    logprobs = lp >= 0;
    topLogprobs = Math.max(0, lp);
  }
  if (topLogprobs > limits.maxTopLogprobs) throw badRequest(`${kind === 'chat' ? "'top_logprobs'" : "'logprobs'"} is ${topLogprobs}; at most ${limits.maxTopLogprobs}.`, kind === 'chat' ? 'top_logprobs' : 'logprobs');
  let promptLogprobs: number | null = null;
  if (body.prompt_logprobs !== undefined && body.prompt_logprobs !== null) {
    const pl = body.prompt_logprobs;
    if (typeof pl !== 'number' || !int(pl) || pl < 0) throw badRequest(`'prompt_logprobs' must be a non-negative integer (alternatives per prompt token; -1, the whole vocabulary, is not supported); got ${JSON.stringify(pl)}.`, 'prompt_logprobs');
    if (pl > limits.maxTopLogprobs) throw badRequest(`'prompt_logprobs' is ${pl}; at most ${limits.maxTopLogprobs}.`, 'prompt_logprobs');
    if (stream) throw badRequest("'prompt_logprobs' are not available when 'stream' is true.", 'prompt_logprobs');
    promptLogprobs = pl;
  }
  return { model, n, seed, sampling: { temperature, topP, topK, minP, stop }, maxTokens, stream, includeUsage, logprobs, topLogprobs, promptLogprobs };
}

function messageContent(v: unknown, i: number): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    let s = '';
    for (const part of v) {
      if (!isObj(part) || part.type !== 'text' || typeof part.text !== 'string') throw badRequest(`messages[${i}].content: only text parts ({"type": "text", "text": ...}) are supported.`, 'messages');
      s += part.text;
    }
    return s;
  }
  throw badRequest(`messages[${i}].content must be a string or a list of text parts.`, 'messages');
}

/** An optional true/false field. */
function flag(body: Json, name: string, fallback: boolean): boolean {
  const v = body[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw badRequest(`'${name}' must be true or false.`, name);
  return v;
}

/** vLLM's chat prompt flags: add_generation_prompt (default true unless continuing) and continue_final_message. */
function chatPromptFlags(body: Json): { addGenerationPrompt: boolean; continueFinalMessage: boolean } {
  const continueFinalMessage = flag(body, 'continue_final_message', false);
  const addGenerationPrompt = flag(body, 'add_generation_prompt', !continueFinalMessage);
  if (continueFinalMessage && addGenerationPrompt) throw badRequest("Cannot set both 'continue_final_message' and 'add_generation_prompt' to true.", 'continue_final_message');
  return { addGenerationPrompt, continueFinalMessage };
}

/** 'messages': a non-empty list of {role, content} (text only); the final one the assistant's when it is to be continued. */
function parseMessages(body: Json, continueFinalMessage: boolean): ChatMessage[] {
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw badRequest("'messages' is required: a non-empty list of {role, content}.", 'messages', 'missing_messages');
  const messages: ChatMessage[] = msgs.map((m, i) => {
    if (!isObj(m)) throw badRequest(`messages[${i}] must be an object {role, content}.`, 'messages');
    if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant' && m.role !== 'developer') {
      throw badRequest(`messages[${i}].role ${JSON.stringify(m.role)} is not supported (system, developer, user, assistant).`, 'messages');
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content: messageContent(m.content, i) };
  });
  if (continueFinalMessage && messages[messages.length - 1].role !== 'assistant') {
    throw badRequest("'continue_final_message' needs the last message to be the assistant's (the text to continue).", 'messages');
  }
  return messages;
}

export function parseChatRequest(body: unknown, limits: RequestLimits = DEFAULT_LIMITS): ParsedChat {
  if (!isObj(body)) throw badRequest('The request body must be a JSON object.');
  const c = common(body, 'chat', limits);
  if (body.echo === true) throw badRequest("'echo' is not supported on chat completions by organism-lab serve (use 'prompt_logprobs', or /v1/completions with 'echo').", 'echo', 'unsupported_parameter');
  const flags = chatPromptFlags(body);
  return { ...c, kind: 'chat', messages: parseMessages(body, flags.continueFinalMessage), ...flags };
}

/**
 * vLLM's `POST /tokenize`: {model?, prompt, add_special_tokens (default true)} or {model?, messages,
 * add_generation_prompt, continue_final_message, add_special_tokens (default false)}, both with return_token_strs.
 */
export type ParsedTokenize = { model: string | null; addSpecialTokens: boolean; returnTokenStrs: boolean } & (
  | { kind: 'prompt'; prompt: string }
  | { kind: 'chat'; messages: ChatMessage[]; addGenerationPrompt: boolean; continueFinalMessage: boolean }
);

export function parseTokenizeRequest(body: unknown): ParsedTokenize {
  if (!isObj(body)) throw badRequest('The request body must be a JSON object.');
  if (body.model !== undefined && body.model !== null && (typeof body.model !== 'string' || !body.model)) throw badRequest("'model' must be a served model's name (GET /v1/models lists them).", 'model');
  const model = typeof body.model === 'string' ? body.model : null;
  const returnTokenStrs = flag(body, 'return_token_strs', false);
  if (body.messages !== undefined && body.messages !== null) {
    if (body.prompt !== undefined && body.prompt !== null) throw badRequest("Give either 'prompt' (text) or 'messages' (a chat), not both.", 'prompt');
    const flags = chatPromptFlags(body);
    const addSpecialTokens = flag(body, 'add_special_tokens', false);
    if (addSpecialTokens && flags.continueFinalMessage) throw badRequest("'add_special_tokens' with 'continue_final_message' is not supported by organism-lab serve.", 'add_special_tokens', 'unsupported_parameter');
    return { kind: 'chat', model, addSpecialTokens, returnTokenStrs, messages: parseMessages(body, flags.continueFinalMessage), ...flags };
  }
  if (typeof body.prompt !== 'string') throw badRequest("'prompt' (a string) or 'messages' (a chat) is required.", 'prompt', 'missing_prompt');
  return { kind: 'prompt', model, addSpecialTokens: flag(body, 'add_special_tokens', true), returnTokenStrs, prompt: body.prompt };
}

export function parseCompletionRequest(body: unknown, limits: RequestLimits = DEFAULT_LIMITS): ParsedCompletion {
  if (!isObj(body)) throw badRequest('The request body must be a JSON object.');
  const c = common(body, 'completion', limits);
  const p = body.prompt;
  let prompts: (string | number[])[];
  const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0);
  if (typeof p === 'string') prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' || isIds(x))) prompts = p as (string | number[])[];
  else throw badRequest("'prompt' is required: a string, a list of strings, a list of token ids or a list of such lists.", 'prompt', 'missing_prompt');
  if (prompts.length * c.n > limits.maxN) throw badRequest(`${prompts.length} prompts × n = ${c.n} is ${prompts.length * c.n} choices; this server allows at most ${limits.maxN} per request.`, 'n');
  if (body.echo !== undefined && body.echo !== null && typeof body.echo !== 'boolean') throw badRequest("'echo' must be true or false.", 'echo');
  const echo = body.echo === true;
  return { ...c, kind: 'completion', prompts, echo };
}

/**
 * Text pieces of a completion, one per token, that concatenate to the decoded text (the incremental
 * detokenization of vLLM/TGI: each piece is decode(window + token) minus decode(window), released only
 * when it does not end inside a multi-byte character).
 */
export class IncrementalDecoder {
  readonly #ids: number[] = [];
  #prefix = 0;
  #read = 0;
  #text = '';
  constructor(private readonly decode: (ids: number[]) => string) {}

  get text(): string {
    return this.#text;
  }

  push(id: number): string {
    this.#ids.push(id);
    const before = this.decode(this.#ids.slice(this.#prefix, this.#read));
    const after = this.decode(this.#ids.slice(this.#prefix));
    if (after.length > before.length && after.startsWith(before) && !after.endsWith('\uFFFD')) {
      const piece = after.slice(before.length);
      this.#prefix = this.#read;
      this.#read = this.#ids.length;
      this.#text += piece;
      return piece;
    }
    return '';
  }
}

/** Per token: its text piece (concatenating to the completion when possible) and the UTF-8 bytes. */
export function tokenPieces(ids: number[], text: string, tok: TextTokenizer): string[] {
  const dec = new IncrementalDecoder((x) => tok.decode(x));
  const pieces = ids.map((id) => dec.push(id));
  if (pieces.length && text.startsWith(dec.text)) pieces[pieces.length - 1] += text.slice(dec.text.length);
  return pieces;
}

/** A token's text on its own (top-logprob alternatives, the end-of-sequence token). */
export function tokenString(id: number, tok: TextTokenizer): string {
  return tok.decode([id]);
}

const bytesOf = (s: string): number[] => [...Buffer.from(s, 'utf8')];

export type FinishReason = 'stop' | 'length';

export function openaiFinish(r: ChoiceResult): { finish_reason: FinishReason; stop_reason: string | null } {
  return r.finishReason === 'length' ? { finish_reason: 'length', stop_reason: null } : { finish_reason: 'stop', stop_reason: r.stopReason };
}

/** Chat logprobs content entries of a finished choice (the end-of-sequence token listed with its text, as vLLM does). */
export function chatLogprobs(r: ChoiceResult, tok: TextTokenizer): { content: unknown[] } {
  const isEos = r.finishReason === 'eos';
  const body = isEos ? r.tokenIds.slice(0, -1) : r.tokenIds;
  const pieces = r.finishReason === 'stop' ? body.map((id) => tokenString(id, tok)) : tokenPieces(body, r.text, tok);
  if (isEos) pieces.push(tokenString(r.tokenIds[r.tokenIds.length - 1], tok));
  return { content: pieces.map((piece, i) => chatLogprobEntry(piece, r.logprobs[i], r.top[i], tok)) };
}

export function chatLogprobEntry(piece: string, logprob: number, top: TopLogprob[] | undefined | null, tok: TextTokenizer): unknown {
  return {
    token: piece,
    logprob,
    bytes: bytesOf(piece),
    top_logprobs: (top ?? []).map((t) => {
      const s = tokenString(t.id, tok);
      return { token: s, logprob: t.logprob, bytes: bytesOf(s) };
    }),
  };
}

/** Legacy completions logprobs ({tokens, token_logprobs, top_logprobs, text_offset}); prompt tokens echoed first have nulls where nothing precedes them. */
export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** Offsets of each token's text in the concatenated text (as the completions API reports them), the first at `start` (a stream chunk's tokens continue the text sent before). */
export function legacyLogprobs(tokens: string[], logprobs: (number | null)[], top: (Record<string, number> | null)[], start = 0): LegacyLogprobs {
  const offsets: number[] = [];
  let off = start;
  for (const p of tokens) {
    offsets.push(off);
    off += p.length;
  }
  return { tokens, token_logprobs: logprobs, top_logprobs: top, text_offset: offsets };
}

/** The echoed prompt's entries followed by the completion's (offsets continue across both). */
export function concatLegacyLogprobs(a: LegacyLogprobs, b: LegacyLogprobs): LegacyLogprobs {
  return legacyLogprobs([...a.tokens, ...b.tokens], [...a.token_logprobs, ...b.token_logprobs], [...a.top_logprobs, ...b.top_logprobs]);
}

export function completionLogprobs(r: ChoiceResult, tok: TextTokenizer): LegacyLogprobs {
  const isEos = r.finishReason === 'eos';
  const body = isEos ? r.tokenIds.slice(0, -1) : r.tokenIds;
  const pieces = r.finishReason === 'stop' ? body.map((id) => tokenString(id, tok)) : tokenPieces(body, r.text, tok);
  if (isEos) pieces.push(tokenString(r.tokenIds[r.tokenIds.length - 1], tok));
  return legacyLogprobs(
    pieces,
    pieces.map((_, i) => r.logprobs[i]),
    pieces.map((_, i) => (r.top[i] ? Object.fromEntries(r.top[i].map((t) => [tokenString(t.id, tok), t.logprob])) : null)),
  );
}
