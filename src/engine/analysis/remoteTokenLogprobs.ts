/**
 * What a generation server's API allows of the mechanism views for a remote run (header backend `openai`):
 * no activations, but the per-token log-probability of a sample's completion tokens under the base model's
 * served name and under the adapter's (vLLM serves LoRA adapters as model names), and their difference.
 *
 * How: one chat-completions request per model with the sample's prompt messages followed by its completion as
 * an open assistant message (vLLM's `continue_final_message`, `add_generation_prompt: false`) and
 * `prompt_logprobs: 0`, which returns, for every token of that text, its teacher-forced log-probability
 * (`{token_id: {logprob, rank, decoded_token}}`, nothing sampled that matters: max_tokens 1, temperature 0). The
 * completion's tokens are the last ones, found by their text: the shortest run of trailing `decoded_token`s that
 * spells the completion. Servers without `prompt_logprobs` (the OpenAI API) are told apart with a clear error.
 *
 * This is the log-probability difference of the sampled token, log p_adapter(x_t | x_<t) − log p_base(x_t | x_<t),
 * not a KL divergence (which needs both full next-token distributions, i.e. the local backend).
 * HTTP, retries and key handling are the shared OpenAI-compatible client (judges/openaiClient.ts).
 */
import { JudgeFatalError, OpenAICompatibleClient, type ChatRequestWording } from '../judges/openaiClient';
import { remoteTokenId } from '../backends/remoteGeneration';
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `not JSON: ${JSON.stringify(text.slice(0, 80))}`;
  }
  const pl = (json as { prompt_logprobs?: unknown })?.prompt_logprobs;
  if (pl === undefined || pl === null) {
    // Not malformed: the server ignores the parameter. Retrying cannot help.
    throw new JudgeFatalError('the server answered without prompt_logprobs: it does not return the log-probabilities of a given text (vLLM and organism-lab serve do; the OpenAI API does not), so this view is unavailable for this run.');
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
}

async function scoreText(client: OpenAICompatibleClient, model: string, messages: ChatMessage[], completion: string, o: RemoteScoringOptions): Promise<{ text: string; logprob: number }[]> {
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
  const [base, adapter] = await Promise.all([
    scoreText(client, models.baseModel, sample.messages, sample.completion, o),
    scoreText(client, adapterModel, sample.messages, sample.completion, o),
  ]);
  const where = `${runLabel}, sample ${sampleId}`;
  if (base.length !== adapter.length || base.some((b, i) => b.text !== adapter[i].text)) {
    throw new Error(`${where}: the server tokenized the text differently for ${models.baseModel} and ${adapterModel} (${base.length} vs ${adapter.length} tokens); the two cannot be compared token by token.`);
  }
  const k = completionTokenCount(base.map((b) => b.text), sample.completion);
  if (k === null) throw new Error(`${where}: the completion's tokens could not be found at the end of the server's prompt_logprobs (their decoded text does not spell the completion; the chat template may rewrite it).`);
  const start = base.length - k;
  if (k > 0 && start < 1) throw new Error(`${where}: the server's prompt_logprobs hold no prompt before the completion.`);
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
