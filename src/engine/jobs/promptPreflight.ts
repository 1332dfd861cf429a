/**
 * Checks of the prompt-set job that must happen before anything is allocated or written (issue 11):
 *  - every prompt (system prompt, paraphrase, JSONL conversation) is tokenized once, and one that leaves
 *    no position to generate in within the context budget (default: the model's max_position_embeddings)
 *    is refused with the file, line, question id, paraphrase and token count; a prompt too long to fit even
 *    at the longest conceivable token is refused before it is tokenized; prompts whose completion may run
 *    past the budget (prompt + max_new_tokens) are warned about once, as transformers does;
 * and one after generation: a sample computed from NaN/Inf logits is never written as a normal sample.
 */
import type { PromptQuestion } from '../prompts/types';
import { questionConditions, selectConditions } from '../prompts/conditions';
import { loadPromptSetOrThrow, promptMessages } from '../prompts/promptSet';
import { loadModelSpec } from '../checkpoint/modelSpec';
import { loadTokenizer } from '../text/tokenizer';
import type { GenerationResultRow } from '../runtime/generationTypes';
import type { ChatMessage, ConditionSpec } from '../runs/schema';
import type { TextTokenizer } from '../text/tokenizer';
import { LimitError, MAX_CHARS_PER_TOKEN, count } from '../limits/limits';

export { MAX_CHARS_PER_TOKEN };

export interface PreflightOptions {
  promptSetPath: string;
  questions: PromptQuestion[];
  /** The run's prompt conditions: every question's prompt under each of its conditions is checked. */
  conditions?: ConditionSpec[];
  tokenizer: TextTokenizer;
  allowPlainChat?: boolean;
  maxNewTokens: number;
  /** The model's max_position_embeddings (unknown for a remote server). */
  maxPositions?: number;
  /** Positions (prompt + completion) allowed per sample; default maxPositions. */
  contextBudget?: number | null;
  /** Source of maxPositions, for messages (e.g. the config.json path). */
  modelSource?: string;
  /** Told once when some prompt + max_new_tokens exceeds the budget (generation may then run past it). */
  warn?: (message: string) => void;
}

export type PromptCache = Map<string, { messages: ChatMessage[]; ids: number[] }>;

/** Key of a (question, paraphrase, condition) in the prompt cache. */
export const promptKey = (questionId: string, paraphraseIndex: number, condition?: string): string => `${questionId}#${paraphraseIndex}${condition ? `~${condition}` : ''}`;

/**
 * Tokenizes every prompt of the questions (identical conversations once) and refuses the set when any
 * prompt does not fit the context budget. Returns the prompts by promptKey.
 */
export function preflightPrompts(o: PreflightOptions): PromptCache {
  const budget = o.contextBudget ?? o.maxPositions;
  if (budget !== undefined && (!Number.isInteger(budget) || budget < 1)) throw new LimitError(`the context budget must be a positive integer, got ${budget}`);
  let longest = 0;
  const out: PromptCache = new Map();
  const byText = new Map<string, number[]>();
  const over: string[] = [];
  let overCount = 0;
  const where = (q: PromptQuestion, p: number, c?: ConditionSpec) => `${o.promptSetPath}:${q.range.line}: question "${q.id}"${q.messages ? '' : ` paraphrase ${p}`}${c ? ` under condition "${c.name}"` : ''}`;
  const fix = (o.maxPositions !== undefined && budget !== undefined && budget < o.maxPositions)
    ? 'shorten the prompt or raise the context budget (--context-budget)'
    : `shorten the prompt${o.modelSource ? ` (the model was made for ${count(o.maxPositions ?? 0)} positions: max_position_embeddings in ${o.modelSource})` : ''}`;
  for (const q of o.questions) {
    const n = q.messages ? 1 : q.paraphrases.length;
    for (let p = 0; p < n; p++) for (const c of questionConditions(q, o.conditions) ?? [undefined]) {
      const messages = promptMessages(q, p, c);
      const chars = messages.reduce((a, m) => a + m.content.length, 0);
      if (budget !== undefined && chars > budget * MAX_CHARS_PER_TOKEN) {
        overCount++;
        if (over.length < 5) over.push(`${where(q, p, c)}: the prompt has ${count(chars)} characters, which cannot fit in the context budget of ${count(budget)} tokens`);
        continue;
      }
      const key = JSON.stringify(messages);
      let ids = byText.get(key);
      if (!ids) {
        ids = o.tokenizer.encodeChat(messages, { addGenerationPrompt: true, allowPlainFallback: o.allowPlainChat });
        byText.set(key, ids);
      }
      if (budget !== undefined && ids.length >= budget) {
        overCount++;
        if (over.length < 5) over.push(`${where(q, p, c)}: the prompt is ${count(ids.length)} tokens, which leaves no position to generate in within the context budget of ${count(budget)}`);
        continue;
      }
      if (ids.length > longest) longest = ids.length;
      out.set(promptKey(q.id, p, c?.name), { messages, ids });
    }
  }
  if (overCount) {
    throw new LimitError(`${overCount} prompt${overCount > 1 ? 's do' : ' does'} not fit the context budget; nothing was run:\n  ${over.join('\n  ')}${overCount > over.length ? `\n  … and ${overCount - over.length} more` : ''}\nWhat to do: ${fix}.`);
  }
  if (budget !== undefined && longest + o.maxNewTokens > budget) {
    o.warn?.(`the longest prompt is ${count(longest)} tokens; with max_new_tokens ${count(o.maxNewTokens)} a completion may run past the context budget of ${count(budget)} positions${o.modelSource ? ` (max_position_embeddings in ${o.modelSource})` : ''}, where the model was not trained; lower --max-new-tokens to stay inside it`);
  }
  return out;
}

export class NonFiniteLogitsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteLogitsError';
  }
}

/**
 * Index of the first completion token whose log-probability is not finite (NaN/±Inf: the logits it was
 * chosen from held NaN or +Inf), or -1. A finite logprob always exists for a token chosen from finite logits.
 */
export function firstNonFiniteStep(r: Pick<GenerationResultRow, 'logprobs'>): number {
  const lp = r.logprobs ?? [];
  for (let i = 0; i < lp.length; i++) if (!Number.isFinite(lp[i])) return i;
  return -1;
}

/** Throws NonFiniteLogitsError when a generated row was computed from NaN/Inf logits. */
export function assertFiniteRow(r: GenerationResultRow, what: string, modelDir: string): void {
  const t = firstNonFiniteStep(r);
  if (t < 0) return;
  throw new NonFiniteLogitsError(
    `the model produced NaN/Inf logits for ${what} at completion token ${t}; that sample was not written (samples written before it are kept). ` +
      `Check the weights (organism-lab inspect ${modelDir}) and the variant's adapter scale or steering strength.`,
  );
}

/**
 * The preflight for a local model folder, before the model is loaded (the CLI's `run`): config.json's
 * max_position_embeddings and the folder's tokenizer are cheap to read; the weights are not touched.
 */
export function preflightPromptSetForModel(o: {
  promptSetPath: string;
  modelDir: string;
  tokenizerDir?: string;
  chatTemplateName?: string;
  questionIds?: string[];
  /** The --conditions selection (default: every declared condition). */
  conditions?: string[];
  maxNewTokens: number;
  contextBudget?: number | null;
  allowPlainChat?: boolean;
}): void {
  const spec = loadModelSpec(o.modelDir);
  const tokenizer = loadTokenizer(o.tokenizerDir ?? o.modelDir, { chatTemplateName: o.chatTemplateName });
  const set = loadPromptSetOrThrow(o.promptSetPath);
  const questions = o.questionIds?.length ? set.questions.filter((q) => o.questionIds!.includes(q.id)) : set.questions;
  preflightPrompts({
    promptSetPath: o.promptSetPath, questions, conditions: selectConditions(set.conditions, o.conditions, o.promptSetPath), tokenizer, allowPlainChat: o.allowPlainChat, maxNewTokens: o.maxNewTokens,
    maxPositions: spec.maxPositionEmbeddings, contextBudget: o.contextBudget, modelSource: spec.configPath,
  });
}
