/**
 * Scoring a given text teacher-forced, without sampling, in `organism-lab serve` (vLLM's conventions):
 *   - `prompt_logprobs: k` (chat and completions): per prompt token, null for the first, else a map
 *     token id → {logprob, rank, decoded_token} holding the prompt token itself and the k most likely tokens
 *     (vLLM's `prompt_logprobs`, on the chat response and on each completions choice);
 *   - `echo: true` + `logprobs: k` (completions API): the prompt's tokens listed before the completion's in
 *     `logprobs` (first token null), and with `max_tokens: 0` the prompt alone, nothing generated;
 *   - `continue_final_message: true` (chat): the final assistant message left open, so a completion can be
 *     scored as the continuation of its prompt (the chat template rendered, then cut right after the final
 *     message's text, as transformers' apply_chat_template does).
 * The numbers come from engine/analysis/sequenceLogprobs.ts (one forward pass over the whole sequence).
 */
import type { ChatMessage } from '../runs/schema';
import type { SequenceLogprobs } from '../analysis/sequenceLogprobs';
import type { TextTokenizer } from '../text/tokenizer';
import { IncrementalDecoder, badRequest, legacyLogprobs, tokenString, type LegacyLogprobs } from './openaiProtocol';

/** The most negative log-probability written (OpenAI's stand-in for -inf, which JSON cannot hold). */
const FLOOR = -9999;
const clamp = (x: number): number => Math.max(x, FLOOR);

/** Token ids of a chat whose final (assistant) message is left open to be continued. */
export function continuedChatIds(tok: TextTokenizer, messages: ChatMessage[]): number[] {
  const rendered = tok.renderChat(messages, { addGenerationPrompt: false });
  const final = messages[messages.length - 1].content;
  const core = final.trim();
  const at = core ? rendered.lastIndexOf(core) : -1;
  if (core && at < 0) throw badRequest("'continue_final_message': the final message does not appear in the chat after applying the chat template.", 'messages');
  let cut: number;
  if (!core) {
    // An empty final message is continued from where its text would start: the generation prompt.
    return tok.encodeChat(messages.slice(0, -1), { addGenerationPrompt: true });
  } else if (rendered.slice(at, at + final.trimStart().length) === final.trimStart()) cut = at + final.trimStart().length;
  else cut = at + core.length;
  return tok.encode(rendered.slice(0, cut), { addSpecialTokens: !tok.hasChatTemplate });
}

/**
 * The prompt tokens' text pieces as vLLM detokenizes them (incrementally: a piece is what the token adds to the
 * text so far, '' while it ends inside a multi-byte character), so the pieces concatenate to the decoded prompt.
 */
export function promptPieces(ids: number[], tok: TextTokenizer): string[] {
  const dec = new IncrementalDecoder((x) => tok.decode(x));
  return ids.map((id) => dec.push(id));
}

/** vLLM's `prompt_logprobs` list for a prompt: null, then {id: {logprob, rank, decoded_token}} per token. */
export function promptLogprobsJson(ids: number[], scored: SequenceLogprobs, tok: TextTokenizer): (Record<string, { logprob: number; rank: number; decoded_token: string }> | null)[] {
  const pieces = promptPieces(ids, tok);
  return ids.map((id, t) => {
    const s = scored[t];
    if (!s) return null;
    const entry: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
    entry[String(id)] = { logprob: clamp(s.logprob), rank: s.rank, decoded_token: pieces[t] };
    s.top.forEach((a, j) => {
      if (!(String(a.id) in entry)) entry[String(a.id)] = { logprob: clamp(a.logprob), rank: j + 1, decoded_token: tokenString(a.id, tok) };
    });
    return entry;
  });
}

/** The echoed prompt's entries of the completions API's `logprobs` (the first token has no log-probability). */
export function echoedPromptLogprobs(ids: number[], scored: SequenceLogprobs, tok: TextTokenizer): LegacyLogprobs {
  const tokens = promptPieces(ids, tok);
  return legacyLogprobs(
    tokens,
    scored.map((s) => (s ? clamp(s.logprob) : null)),
    scored.map((s, t) => {
      if (!s) return null;
      const top: Record<string, number> = { [tokens[t]]: clamp(s.logprob) };
      for (const a of s.top) {
        const k = tokenString(a.id, tok);
        if (!(k in top)) top[k] = clamp(a.logprob);
      }
      return top;
    }),
  );
}
