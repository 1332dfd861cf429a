/**
 * What a generation server's API allows of the mechanism views for a remote run (header backend `openai`):
 * no activations, but the per-token log-probability of a sample's completion tokens under the base model's
 * served name and under the adapter's (vLLM serves LoRA adapters as model names), and their difference.
 *
 * Two ways to get the teacher-forced log-probabilities of a given text, tried in this order:
 *  1. vLLM's `prompt_logprobs` (chat completions): the sample's prompt messages followed by its completion as an
 *     open assistant message (`continue_final_message`, `add_generation_prompt: false`) and `prompt_logprobs: 0`,
 *     which returns, for every token of that text, `{token_id: {logprob, rank, decoded_token}}` (max_tokens 1,
 *     temperature 0: nothing sampled that matters). The completion's tokens are the last ones, found by their
 *     text: the shortest run of trailing `decoded_token`s that spells the completion.
 *  2. For servers with the completions API's `echo` + `logprobs` but not `prompt_logprobs` (refused with a 4xx, or
 *     ignored): the rendered chat prompt as token ids (vLLM's `POST /tokenize` with `messages` +
 *     `add_generation_prompt`; or, when that endpoint is missing, the chat template of a local tokenizer: the run's
 *     model folder when it is one on this machine, or RemoteScoringOptions.tokenizerDir), the completion's token
 *     ids appended (tokenized the same way, no special tokens), scored with `POST /v1/completions`
 *     `{prompt: ids, echo: true, logprobs: 1, max_tokens: 1}` as lm-eval-harness scores a continuation: the
 *     echoed entries of the last tokens are the completion's; the one generated token is ignored.
 * When neither works, the error names each endpoint and what it answered.
 *
 * This is the log-probability difference of the sampled token, log p_adapter(x_t | x_<t) − log p_base(x_t | x_<t),
 * not a KL divergence (which needs both full next-token distributions, i.e. the local backend).
 * HTTP, retries and key handling are the shared OpenAI-compatible client (judges/openaiClient.ts).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { JudgeFatalError, OpenAICompatibleClient, endpointUrl, parseJsonBody, type ChatRequestWording } from '../judges/openaiClient';
import { remoteTokenId } from '../backends/remoteGeneration';
import { loadTokenizer } from '../text/tokenizer';
import type { ChatMessage, RunHeader, SampleRow } from '../runs/schema';
import type { RunContents } from '../runs/parse';
import type { RemoteSampleLogprobs, RemoteTokenLogprob } from '../../protocol/analysis';

export type { RemoteSampleLogprobs, RemoteTokenLogprob };

export const REMOTE_SCORING_WORDING: ChatRequestWording = {
  request: 'Scoring request',
  server: 'generation server',
  cellLeft: 'the log-probabilities of that sample were not computed; try again.',
  keyHint: '"Organism Lab: Set Generation Server API Key" (CLI: OPENAI_API_KEY)',
  modelHint: ' (the run header names the base model; an adapter is served under the name its header entry records)',
  badRequestHint: () => "does it support vLLM's prompt_logprobs and continue_final_message? (vLLM and organism-lab serve do; the OpenAI API does not)",
};

const ECHO_SCORING_WORDING: ChatRequestWording = {
  ...REMOTE_SCORING_WORDING,
  badRequestHint: () => 'does it accept token-id prompts with echo, logprobs and max_tokens on /v1/completions? (vLLM and organism-lab serve do)',
};

const TOKENIZE_WORDING: ChatRequestWording = {
  ...REMOTE_SCORING_WORDING,
  badRequestHint: () => "does it have vLLM's POST /tokenize (messages + add_generation_prompt, or prompt)?",
};

/** The server answered without prompt_logprobs: it ignores the parameter, so the echo fallback is tried. */
class PromptLogprobsIgnored extends JudgeFatalError {}
/** /v1/completions answered without the echoed prompt's logprobs. */
class EchoIgnored extends JudgeFatalError {}
/** Neither way works on this server: the message names each endpoint and what it answered. */
export class RemoteLogprobsUnavailableError extends JudgeFatalError {
  override name = 'RemoteLogprobsUnavailableError';
}
/** Why the echo fallback cannot work on this server (the message names the endpoint). */
class TokenizeUnavailable extends Error {}
class EchoUnavailable extends Error {}

/** The served names a remote run was generated with, from its header. */
export function remoteRunModels(header: RunHeader, runLabel: string): { baseUrl: string; baseModel: string; adapterModel: (adapter: string) => string } {
  const b = header.backend;
  if (!b || b.kind !== 'openai') throw new Error(`${runLabel}: the run was not generated through a generation server (header backend is ${b ? `"${b.kind}"` : 'absent'}); its activations can be computed locally.`);
  if (!b.base_url || !b.model) throw new Error(`${runLabel}: the header's backend lacks base_url or model; cannot tell which server and served model generated the run.`);
  return {
    baseUrl: b.base_url,
    baseModel: b.model,
    adapterModel: (adapter) => {
      const a = header.adapters.find((x) => x.name === adapter);
      if (!a) throw new Error(`${runLabel}: adapter "${adapter}" is not in the header's adapters (${header.adapters.map((x) => x.name).join(', ') || 'none'}).`);
      return a.path; // a remote run records the served LoRA name as the adapter's path
    },
  };
}

type PromptLogprob = Record<string, { logprob?: unknown; decoded_token?: unknown }> | null;

/** The `prompt_logprobs` of a chat answer: per token, its text and log-probability (null for the first token). */
export function parsePromptLogprobs(text: string): { text: string; logprob: number }[] | string {
  const body = parseJsonBody(text);
  if (typeof body === 'string') return body;
  const json = body.json;
  const pl = (json as { prompt_logprobs?: unknown })?.prompt_logprobs;
  if (pl === undefined || pl === null) {
    // Not malformed: the server ignores the parameter. Retrying cannot help.
    throw new PromptLogprobsIgnored('the server answered without prompt_logprobs (it ignores the parameter)');
  }
  if (!Array.isArray(pl)) return 'prompt_logprobs is not a list';
  const out: { text: string; logprob: number }[] = [];
  for (let i = 0; i < pl.length; i++) {
    const e = pl[i] as PromptLogprob;
    if (e === null) {
      if (i > 0) return `prompt_logprobs[${i}] is null`;
      out.push({ text: '', logprob: NaN });
      continue;
    }
    const vals = typeof e === 'object' ? Object.values(e) : [];
    // prompt_logprobs: 0 → the prompt token alone.
    if (vals.length !== 1) return `prompt_logprobs[${i}] holds ${vals.length} entries (asked for the prompt token alone)`;
    const v = vals[0];
    if (typeof v?.logprob !== 'number' || typeof v.decoded_token !== 'string') return `prompt_logprobs[${i}] lacks logprob/decoded_token`;
    out.push({ text: v.decoded_token, logprob: v.logprob });
  }
  return out;
}

/** How many trailing tokens spell `completion` (the shortest such run), or null. */
export function completionTokenCount(pieces: readonly string[], completion: string): number | null {
  if (completion === '') return 0;
  let s = '';
  for (let k = 1; k <= pieces.length; k++) {
    s = pieces[pieces.length - k] + s;
    if (s === completion) return k;
    if (s.length > completion.length || !completion.endsWith(s)) return null;
  }
  return null;
}

export interface RemoteScoringOptions {
  apiKey?: string;
  signal?: AbortSignal;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  maxRetries?: number;
  backoffBaseMs?: number;
  timeoutMs?: number;
  wording?: ChatRequestWording;
  /**
   * A folder with the served model's tokenizer (tokenizer.json and its chat template), for servers without
   * `prompt_logprobs` nor `POST /tokenize`; default: the run's model path when it is such a folder here.
   */
  tokenizerDir?: string;
}

/** One token of the scored text: its text and teacher-forced log-probability (NaN for the first token). */
export type ScoredToken = { text: string; logprob: number };

/** Both models' scores of the same tokens; the completion's are those from `start` on. */
interface ScoredPair {
  base: ScoredToken[];
  adapter: ScoredToken[];
  start: number;
}

interface ScoringContext {
  client: OpenAICompatibleClient;
  baseModel: string;
  adapterModel: string;
  messages: ChatMessage[];
  completion: string;
  where: string;
  o: RemoteScoringOptions;
}

async function scoreWithPromptLogprobs(client: OpenAICompatibleClient, model: string, messages: ChatMessage[], completion: string, o: RemoteScoringOptions): Promise<ScoredToken[]> {
  const payload = {
    model,
    messages: [...messages, { role: 'assistant', content: completion }],
    continue_final_message: true,
    add_generation_prompt: false,
    prompt_logprobs: 0,
    max_tokens: 1,
    temperature: 0,
  };
  const { value } = await client.chatRequest(payload, parsePromptLogprobs, o.signal, o.wording ?? REMOTE_SCORING_WORDING);
  return value;
}

/** Way 1: prompt_logprobs of the chat with the completion as its open final message. */
async function viaPromptLogprobs(c: ScoringContext): Promise<ScoredPair> {
  const [base, adapter] = await Promise.all([
    scoreWithPromptLogprobs(c.client, c.baseModel, c.messages, c.completion, c.o),
    scoreWithPromptLogprobs(c.client, c.adapterModel, c.messages, c.completion, c.o),
  ]);
  const k = completionTokenCount(base.map((b) => b.text), c.completion);
  if (k === null) throw new Error(`${c.where}: the completion's tokens could not be found at the end of the server's prompt_logprobs (their decoded text does not spell the completion; the chat template may rewrite it).`);
  return { base, adapter, start: base.length - k };
}

/** A prompt_logprobs refusal or silence that the echo fallback may get past (not an unknown model, a key or a network failure). */
function promptLogprobsUnsupported(e: unknown): boolean {
  return e instanceof PromptLogprobsIgnored || (e instanceof JudgeFatalError && (e.status === 400 || e.status === 422));
}

/** `POST /tokenize`'s token ids. */
export function parseTokenizeAnswer(text: string): number[] | string {
  const body = parseJsonBody(text);
  if (typeof body === 'string') return body;
  const json = body.json;
  const tokens = (json as { tokens?: unknown })?.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && t >= 0)) return 'no "tokens" list of token ids';
  return tokens as number[];
}

/** The echoed prompt's per-token text and log-probability (`logprobs` of choices[0]), the first `n` entries. */
export function parseEchoedLogprobs(text: string, n: number): ScoredToken[] | string {
  const body = parseJsonBody(text);
  if (typeof body === 'string') return body;
  const json = body.json;
  const choices = (json as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || !choices.length || typeof choices[0] !== 'object' || !choices[0]) return 'no choices[0]';
  const lp = (choices[0] as { logprobs?: unknown }).logprobs as { tokens?: unknown; token_logprobs?: unknown } | null | undefined;
  if (lp === null || lp === undefined) throw new EchoIgnored('it answered without logprobs');
  if (!Array.isArray(lp.tokens) || !Array.isArray(lp.token_logprobs)) return 'logprobs lacks tokens/token_logprobs lists';
  if (lp.token_logprobs.length < n) throw new EchoIgnored(`it answered with ${lp.token_logprobs.length} logprobs entries for a ${n}-token prompt (it does not echo the prompt's)`);
  const out: ScoredToken[] = [];
  for (let i = 0; i < n; i++) {
    const t = lp.tokens[i];
    const v = lp.token_logprobs[i];
    if (typeof t !== 'string') return `logprobs.tokens[${i}] is not a string`;
    if (v === null && i === 0) out.push({ text: t, logprob: NaN });
    else if (typeof v === 'number') out.push({ text: t, logprob: v });
    else return `logprobs.token_logprobs[${i}] is not a number`;
  }
  return out;
}

/** The sample's prompt and completion as token ids: the server's /tokenize, else a local tokenizer's chat template. */
async function promptAndCompletionIds(c: ScoringContext, runModelPath: string): Promise<{ prompt: number[]; completion: number[]; how: string }> {
  const url = endpointUrl(c.client.url, '/tokenize');
  try {
    const tokenize = (payload: Record<string, unknown>) => c.client.request(url, { model: c.baseModel, ...payload }, parseTokenizeAnswer, c.o.signal, TOKENIZE_WORDING).then((r) => r.value);
    const [prompt, completion] = await Promise.all([
      tokenize({ messages: c.messages, add_generation_prompt: true }),
      tokenize({ prompt: c.completion, add_special_tokens: false }),
    ]);
    return { prompt, completion, how: `POST ${url}` };
  } catch (e) {
    // Only a missing or refusing endpoint falls back; an unreachable server or a refused key does not.
    if (!(e instanceof JudgeFatalError && e.status !== undefined && e.status !== 401 && e.status !== 403)) throw e;
    // vLLM serves a model started from a folder under the folder's absolute path: the tokenizer may be right here.
    const dir = c.o.tokenizerDir ?? (isAbsolute(runModelPath) && existsSync(join(runModelPath, 'tokenizer.json')) ? runModelPath : null);
    if (!dir) {
      throw new TokenizeUnavailable(`POST ${url} failed (${e.message}) and no local tokenizer is at hand (the run's model "${runModelPath}" is not the absolute path of a folder with tokenizer.json on this machine)`);
    }
    const tok = loadTokenizer(dir);
    return { prompt: tok.encodeChat(c.messages, { addGenerationPrompt: true }), completion: c.completion ? tok.encode(c.completion, { addSpecialTokens: false }) : [], how: `the chat template of ${dir}` };
  }
}

/** Way 2 (lm-eval-harness style): prompt ids + completion ids, echoed with logprobs by /v1/completions. */
async function viaEcho(c: ScoringContext, runModelPath: string): Promise<ScoredPair> {
  const ids = await promptAndCompletionIds(c, runModelPath);
  const full = [...ids.prompt, ...ids.completion];
  const url = endpointUrl(c.client.url, 'completions');
  const score = (model: string) =>
    c.client
      .request(url, { model, prompt: full, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 }, (text) => parseEchoedLogprobs(text, full.length), c.o.signal, ECHO_SCORING_WORDING)
      .then((r) => r.value);
  try {
    const [base, adapter] = await Promise.all([score(c.baseModel), score(c.adapterModel)]);
    return { base, adapter, start: ids.prompt.length };
  } catch (e) {
    // Refused (the model names were accepted by the chat endpoint: a 404 here is the endpoint missing) or ignored.
    if (e instanceof EchoIgnored || (e instanceof JudgeFatalError && e.status !== undefined && e.status !== 401 && e.status !== 403)) throw new EchoUnavailable(`POST ${url} with echo + logprobs (token ids from ${ids.how}) failed: ${e.message}`);
    throw e;
  }
}

/** Scores one sample of a remote run under base and adapter (two requests, concurrently). */
export async function remoteSampleLogprobs(run: RunContents, runLabel: string, sampleId: string, o: RemoteScoringOptions & { variant?: string } = {}): Promise<RemoteSampleLogprobs> {
  const models = remoteRunModels(run.header, runLabel);
  const sample: SampleRow | undefined = run.samples.find((s) => s.id === sampleId);
  if (!sample) throw new Error(`${runLabel}: no sample "${sampleId}".`);
  const variants = run.header.variants;
  const own = variants.find((v) => v.name === sample.variant);
  const adapterVariant = own?.adapter ? own : o.variant ? variants.find((v) => v.name === o.variant) : variants.find((v) => v.adapter);
  if (!adapterVariant?.adapter) {
    throw new Error(`${runLabel}: ${o.variant ? `variant "${o.variant}" has no adapter` : 'the run has no adapter variant'}; the log-probability difference compares an adapter with the base model.`);
  }
  const adapterModel = models.adapterModel(adapterVariant.adapter);
  const client = new OpenAICompatibleClient({
    baseUrl: models.baseUrl,
    model: models.baseModel,
    apiKey: o.apiKey || undefined,
    fetch: o.fetch,
    maxRetries: o.maxRetries,
    backoffBaseMs: o.backoffBaseMs,
    timeoutMs: o.timeoutMs ?? 120_000,
  });
  const where = `${runLabel}, sample ${sampleId}`;
  const ctx: ScoringContext = { client, baseModel: models.baseModel, adapterModel, messages: sample.messages, completion: sample.completion, where, o };
  let scored: ScoredPair;
  try {
    scored = await viaPromptLogprobs(ctx);
  } catch (e) {
    if (!promptLogprobsUnsupported(e)) throw e;
    const first = `POST ${client.url} with prompt_logprobs: ${(e as Error).message}`;
    try {
      scored = await viaEcho(ctx, run.header.model.path);
    } catch (e2) {
      if (!(e2 instanceof TokenizeUnavailable || e2 instanceof EchoUnavailable)) throw e2;
      throw new RemoteLogprobsUnavailableError(
        `${where}: the server at ${models.baseUrl} does not return the log-probabilities of a given text, so this view is unavailable for this run. ${first}. Fallback: ${e2.message}. ` +
          "vLLM and organism-lab serve support both ways; a server needs vLLM's prompt_logprobs, or /v1/completions with echo + logprobs and token-id prompts (plus POST /tokenize or the model's tokenizer folder on this machine). The OpenAI API has neither.",
      );
    }
  }
  const { base, adapter, start } = scored;
  if (base.length !== adapter.length || base.some((b, i) => b.text !== adapter[i].text)) {
    throw new Error(`${where}: the server tokenized the text differently for ${models.baseModel} and ${adapterModel} (${base.length} vs ${adapter.length} tokens); the two cannot be compared token by token.`);
  }
  const k = base.length - start;
  if (k > 0 && start < 1) throw new Error(`${where}: the server's log-probabilities hold no prompt before the completion.`);
  const tokens: RemoteTokenLogprob[] = [];
  for (let i = start; i < base.length; i++) tokens.push({ text: base[i].text, base: base[i].logprob, adapter: adapter[i].logprob, diff: adapter[i].logprob - base[i].logprob });
  const totalDiff = tokens.reduce((s, t) => s + t.diff, 0);
  // The run's token ids are hashes of the token strings the server sent when generating (negative; -1/-2 placeholders).
  const recorded = (sample.token_ids ?? []).filter((id) => id < -2);
  let sameAsSampled: RemoteSampleLogprobs['sameAsSampled'] = null;
  if (recorded.length) {
    let same = 0;
    for (let i = 0; i < Math.min(recorded.length, tokens.length); i++) if (remoteTokenId(tokens[i].text) === recorded[i]) same++;
    sameAsSampled = { same, recorded: recorded.length };
  }
  return {
    sampleId,
    variant: sample.variant,
    adapterVariant: adapterVariant.name,
    baseModel: models.baseModel,
    adapterModel,
    baseUrl: models.baseUrl,
    tokens,
    meanDiff: tokens.length ? totalDiff / tokens.length : null,
    totalDiff,
    sameAsSampled,
  };
}
