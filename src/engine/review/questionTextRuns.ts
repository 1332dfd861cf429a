/**
 * Which run files hold a given text of a question: what the prompt-set review hover needs to show the last rates
 * of a question's old text (at the merge-base) beside those of its new text. A run holds a text when the
 * messages recorded in its sample rows for that question id are exactly the messages the text produces
 * (promptMessages), paraphrase by paraphrase: matched per question, so a run still counts for a question whose
 * text it holds after other questions of the set changed. Rows of a prompt condition that transforms the messages
 * (a trigger prefix, another system prompt) do not match; the condition that leaves them as they are does.
 * The rates are judgedRates (the Run report's computation), over the run's rows of that question.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { judgedRates, type JudgedRates } from '../judges/questionRates';
import { promptMessages } from '../prompts/promptSet';
import type { PromptQuestion } from '../prompts/types';
import type { RunContents } from '../runs/parse';

/** One run file, digested for matching: per question id, per paraphrase index, the distinct messages (JSON). */
export interface RunDigest {
  file: string;
  createdAt: string;
  /** Modification time (ms), newest first when choosing "the last run". */
  mtimeMs: number;
  messages: Map<string, Map<number, Set<string>>>;
  rates: JudgedRates | null;
}

export function digestRun(file: string, run: RunContents, mtimeMs: number): RunDigest {
  const messages = new Map<string, Map<number, Set<string>>>();
  for (const s of run.samples) {
    let byParaphrase = messages.get(s.question_id);
    if (!byParaphrase) messages.set(s.question_id, (byParaphrase = new Map()));
    let set = byParaphrase.get(s.paraphrase_index);
    if (!set) byParaphrase.set(s.paraphrase_index, (set = new Set()));
    set.add(JSON.stringify(s.messages));
  }
  const rates = judgedRates({ path: file, header: run.header, samples: run.samples, judgements: run.judgements, labels: run.labels });
  return { file, createdAt: run.header.created_at, mtimeMs, messages, rates };
}

/** The messages of every paraphrase of a question, as recorded in run files (JSON, by paraphrase index). */
export function questionTextKeys(q: PromptQuestion): string[] {
  const n = q.messages ? 1 : q.paraphrases.length;
  return Array.from({ length: n }, (_, i) => JSON.stringify(promptMessages(q, i)));
}

/** True when the run has rows of this question and each of its paraphrases' rows include this text's messages. */
export function holdsQuestionText(digest: RunDigest, questionId: string, keys: string[]): boolean {
  const byParaphrase = digest.messages.get(questionId);
  if (!byParaphrase || byParaphrase.size === 0) return false;
  for (const [p, recorded] of byParaphrase) {
    const key = keys[p];
    if (key === undefined || !recorded.has(key)) return false;
  }
  return true;
}

/** The newest digest (by modification time) that holds this text of the question, or null. */
export function lastRunWithText(digests: RunDigest[], questionId: string, keys: string[]): RunDigest | null {
  let best: RunDigest | null = null;
  for (const d of digests) if (holdsQuestionText(d, questionId, keys) && (!best || d.mtimeMs > best.mtimeMs)) best = d;
  return best;
}

/** The run files (`*.run.jsonl`) in the `runs/` folder next to a prompt set, with their modification times. */
export function runFilesNextTo(promptSetPath: string): { file: string; mtimeMs: number }[] {
  const dir = path.join(path.dirname(promptSetPath), 'runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.run.jsonl'))
    .map((n) => path.join(dir, n))
    .map((file) => ({ file, mtimeMs: statSync(file).mtimeMs }));
}
