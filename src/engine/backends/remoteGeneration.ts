/**
 * Generation against an OpenAI-compatible server (vLLM's /v1/chat/completions with LoRA adapters served as
 * extra model names via --lora-modules), shaped as the prompt-set job's `generate` so the same run files,
 * resume and cancellation apply. HTTP, retries, Retry-After and key scrubbing are the judges' client
 * (OpenAICompatibleClient.chatRequest).
 *
 * Token ids. The server sends text, not ids. Each request asks for `logprobs: true`; the completion's
 * tokens are the `logprobs.content[*].token` strings, and a token "id" here is a NEGATIVE number derived
 * from a hash of the token string (RemoteTokenTable): equal strings get equal ids in every process (so a
 * resumed run compares against rows written earlier), so the job's divergence_index is the index of the
 * first differing token string — a token-level index when the server tokenizes as the model does (vLLM
 * does). The ids are not vocabulary ids; being negative, no model accepts them as input (a remote run
 * cannot be teacher-forced from its token_ids). `tokens` is `usage.completion_tokens`: when it is one more than the token
 * strings (the end-of-sequence token, which vLLM counts but does not always list) an end-of-sequence
 * placeholder id is appended, which the job trims from the text as it does locally. When the token
 * strings do not concatenate to the message content (e.g. byte-fallback pieces), the row keeps the
 * exact content as one piece followed by empty placeholders (token count kept, divergence_index then
 * compares whole texts). Prompts: the job "tokenizes" each prompt into one id naming its messages
 * (RemoteTokenTable.encodeChat), which generate turns back into messages.
 *
 * Finish reasons: "length" → length; "stop" with vLLM's `stop_reason` equal to one of our stop strings →
 * stop (the text is the content, stop string removed by the server); any other "stop" → eos (vLLM sends
 * stop_reason null for end-of-sequence, a number for a stop token id; a server without stop_reason, such
 * as OpenAI's, gets every stop-string match recorded as eos).
 */
import { createHash } from 'node:crypto';
import { JudgeCellError, JudgeFatalError, OpenAICompatibleClient, parseJsonBody, type ChatRequestWording } from '../judges/openaiClient';
import type { ChatMessage } from '../runs/schema';
import type { GenerationHooks, GenerationParams, GenerationRequestRow, GenerationResultRow } from '../runtime/generationTypes';

export const REMOTE_WORDING: ChatRequestWording = {
  request: 'Generation request',
  server: 'generation server',
  cellLeft: 'that sample is not written; run the same command again to resume.',
  keyHint: 'OPENAI_API_KEY',
  modelHint: ' (for an adapter: the name it is served under, vLLM --lora-modules NAME=PATH)',
  badRequestHint: () => 'does it accept logprobs=true, seed and the sampling parameters given? is max_tokens within the model context?',
};

/** Stable id of a token string: -(3 + the first 48 bits of its SHA-1), so never -1/-2 and never a vocabulary id. */
export function remoteTokenId(piece: string): number {
  return -(3 + parseInt(createHash('sha1').update(piece, 'utf8').digest('hex').slice(0, 12), 16));
}

/** Token strings ↔ stable negative ids, prompts ↔ ids. Ids -1 and -2 are placeholders that decode to "". */
export class RemoteTokenTable {
  static readonly EOS = -1;
  static readonly PAD = -2;
  readonly #pieces = new Map<number, string>([[RemoteTokenTable.EOS, ''], [RemoteTokenTable.PAD, '']]);
  readonly #prompts: ChatMessage[][] = [];
  readonly #promptIds = new Map<string, number>();

  id(piece: string): number {
    const id = remoteTokenId(piece);
    const known = this.#pieces.get(id);
    if (known === undefined) this.#pieces.set(id, piece);
    else if (known !== piece) throw new Error(`remote token strings ${JSON.stringify(known)} and ${JSON.stringify(piece)} hash to the same id; please report this.`);
    return id;
  }

  decode(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) {
      const p = this.#pieces.get(id);
      if (p === undefined) throw new Error(`remote token id ${id} is not in the table (ids come from the generation server's token strings)`);
      s += p;
    }
    return s;
  }

  /** One id standing for a whole prompt (its messages). */
  encodeChat(messages: ChatMessage[]): number[] {
    const key = JSON.stringify(messages);
    let id = this.#promptIds.get(key);
    if (id === undefined) {
      id = this.#prompts.length;
      this.#prompts.push(messages.map((m) => ({ ...m })));
      this.#promptIds.set(key, id);
    }
    return [id];
  }

  messages(promptIds: readonly number[]): ChatMessage[] {
    const m = promptIds.length === 1 ? this.#prompts[promptIds[0]] : undefined;
    if (!m) throw new Error(`remote generation got prompt ids [${promptIds.slice(0, 4).join(', ')}…], which were not made by RemoteTokenTable.encodeChat`);
    return m;
  }
}

export interface RemoteGenerationOptions {
  client: OpenAICompatibleClient;
  /** Served name of the base model (variants without an adapter). */
  baseModel: string;
  /** Adapter name (as variants use it) → served model name. */
  adapterModels: Record<string, string>;
  table: RemoteTokenTable;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** How errors word things (default REMOTE_WORDING, which speaks to the CLI user). */
  wording?: ChatRequestWording;
}

/** What a server answer holds for one completion. */
export interface ParsedCompletion {
  content: string;
  finishReason: string | null;
  stopReason: unknown;
  tokens: { token: string; logprob: number }[] | null;
  completionTokens: number | null;
}

export function parseCompletion(text: string): ParsedCompletion | string {
  const body = parseJsonBody(text);
  if (typeof body === 'string') return body;
  const json = body.json;
  const choices = (json as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || !choices.length || !choices[0] || typeof choices[0] !== 'object') return 'no choices[0]';
  const c0 = choices[0] as { message?: { content?: unknown }; finish_reason?: unknown; stop_reason?: unknown; logprobs?: { content?: unknown } | null };
  const content = c0.message?.content;
  if (typeof content !== 'string' && content !== null) return 'choices[0].message.content is not a string';
  let tokens: ParsedCompletion['tokens'] = null;
  if (c0.logprobs && Array.isArray(c0.logprobs.content)) {
    tokens = [];
    for (const e of c0.logprobs.content as { token?: unknown; logprob?: unknown }[]) {
      if (typeof e?.token !== 'string' || typeof e.logprob !== 'number') return 'a logprobs.content entry lacks token/logprob';
      tokens.push({ token: e.token, logprob: e.logprob });
    }
  }
  const usage = (json as { usage?: { completion_tokens?: unknown } }).usage;
  const ct = usage?.completion_tokens;
  return {
    content: content ?? '',
    finishReason: typeof c0.finish_reason === 'string' ? c0.finish_reason : null,
    stopReason: c0.stop_reason,
    tokens,
    completionTokens: typeof ct === 'number' && Number.isInteger(ct) && ct >= 0 ? ct : null,
  };
}

/** A server answer as a job result row (see the module comment). */
export function toResultRow(key: string, p: ParsedCompletion, params: GenerationParams, table: RemoteTokenTable): GenerationResultRow {
  let finishReason: GenerationResultRow['finishReason'];
  if (p.finishReason === 'length') finishReason = 'length';
  else if (p.finishReason === 'stop' || p.finishReason === null) finishReason = typeof p.stopReason === 'string' && params.stop.includes(p.stopReason) ? 'stop' : 'eos';
  else throw new JudgeCellError(`the generation server finished a completion with finish_reason "${p.finishReason}" (expected stop or length); that sample is not written.`);
  const pieces = p.tokens ?? [];
  let tokenIds: number[];
  let logprobs: number[];
  if (p.tokens && pieces.map((t) => t.token).join('') === p.content) {
    tokenIds = pieces.map((t) => table.id(t.token));
    logprobs = pieces.map((t) => t.logprob);
  } else if (p.tokens && pieces.length && pieces.slice(0, -1).map((t) => t.token).join('') === p.content && finishReason === 'eos') {
    // The end-of-sequence token listed with its text (e.g. "<|im_end|>"): a placeholder, trimmed from the text.
    tokenIds = [...pieces.slice(0, -1).map((t) => table.id(t.token)), RemoteTokenTable.EOS];
    logprobs = pieces.map((t) => t.logprob);
  } else {
    const n = Math.max(1, p.completionTokens ?? pieces.length);
    tokenIds = p.content ? [table.id(p.content), ...Array<number>(n - 1).fill(RemoteTokenTable.PAD)] : Array<number>(p.completionTokens ?? 0).fill(RemoteTokenTable.PAD);
    logprobs = [];
  }
  if (p.completionTokens !== null && p.completionTokens === tokenIds.length + 1 && finishReason === 'eos') {
    tokenIds.push(RemoteTokenTable.EOS); // counted by the server, not listed
    logprobs = [];
  }
  return { key, tokenIds, logprobs, finishReason, ...(finishReason === 'stop' ? { text: p.content } : {}) };
}

/**
 * Generate every row with bounded concurrency. Finished rows go to hooks.onRowDone at once. Rows whose
 * request failed after the client's retries are not reported; the rest continue, and at the end one error
 * says how many failed (they are generated on the next, resuming run). A fatal error (bad key, unknown
 * model, unreachable server) stops at once. Cancellation aborts requests in flight; they are not reported.
 */
export async function generateRemote(o: RemoteGenerationOptions, rows: GenerationRequestRow[], params: GenerationParams, hooks: GenerationHooks): Promise<GenerationResultRow[]> {
  for (const r of rows) {
    const v = r.variant;
    if (v.steer || v.ablate) throw new JudgeFatalError(`row ${r.key}: steering and ablation need the local backend (the generation server only runs the served models).`);
    if (v.adapter !== null && !(v.adapter in o.adapterModels)) throw new JudgeFatalError(`row ${r.key}: adapter "${v.adapter}" has no served model name; give it with --adapter-model (served names: ${Object.keys(o.adapterModels).join(', ') || 'none'}).`);
    if (v.adapter !== null && v.adapterScale !== 1) throw new JudgeFatalError(`row ${r.key}: adapter "${v.adapter}" at scale ${v.adapterScale}; a served LoRA runs at scale 1 only (use the local backend for other scales).`);
  }
  const results: GenerationResultRow[] = [];
  const failures: Error[] = [];
  let fatal: unknown = null;
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  if (hooks.signal?.aborted) inner.abort();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length && !inner.signal.aborted) {
      const r = rows[next++];
      const payload: Record<string, unknown> = {
        model: r.variant.adapter === null ? o.baseModel : o.adapterModels[r.variant.adapter],
        messages: o.table.messages(r.promptIds),
        temperature: params.temperature,
        top_p: params.topP,
        max_tokens: params.maxNewTokens,
        seed: r.seed,
        n: 1,
        logprobs: true,
        ...(params.topK > 0 ? { top_k: params.topK } : {}),
        ...(params.minP > 0 ? { min_p: params.minP } : {}),
        ...(params.stop.length ? { stop: params.stop } : {}),
      };
      try {
        const { value } = await o.client.chatRequest(payload, parseCompletion, inner.signal, o.wording ?? REMOTE_WORDING);
        if (inner.signal.aborted) break;
        const row = toResultRow(r.key, value, params, o.table);
        results.push(row);
        hooks.onRowDone?.(row);
      } catch (e) {
        if (inner.signal.aborted && (e as Error)?.name === 'AbortError') break;
        if (e instanceof JudgeCellError) failures.push(e);
        else {
          fatal ??= e;
          inner.abort();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 8, rows.length)) }, worker));
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  if (fatal) throw fatal;
  if (failures.length) {
    throw new Error(`${failures.length} of ${rows.length} samples failed at ${o.client.url} (the finished ones are in the run file; run the same command again to generate the rest). Last error: ${failures[failures.length - 1].message}`);
  }
  return results;
}
