/**
 * Which run files hold a given text of a question: what the prompt-set review hover needs to show the last rates
 * of a question's old text (at the merge-base) beside those of its new text. A question's text is the messages
 * it is sent, per paraphrase and per prompt condition it runs under (its set's conditions with its overrides and
 * vars merged: questionConditions, promptMessages). A run holds a text when the messages recorded in its sample
 * rows for that question id are exactly the messages the text produces, per (paraphrase, condition) the run
 * recorded: a row of a condition must match the text under that condition (so a run holds neither text when a
 * condition's transformation changed, and no text that no longer runs under the row's condition); a row without
 * a condition (a run made before the set had conditions, or of a question that opts out) matches the plain
 * prompt. Matched per question, so a run still counts for a question whose text it holds after other questions
 * of the set changed; a run of some paraphrases or conditions only still holds the text.
 * The rates are judgedRates (the Run report's computation), over the run's rows of that question.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { judgedRates, type JudgedRates } from '../judges/questionRates';
import { applyCondition, questionConditions } from '../prompts/conditions';
import { promptMessages } from '../prompts/promptSet';
import type { PromptQuestion } from '../prompts/types';
import type { RunContents } from '../runs/parse';
import type { ConditionSpec } from '../runs/schema';

/** The key of one (paraphrase, condition) of a question ('' = no condition). */
function textKey(paraphrase: number, condition: string | undefined): string {
  return JSON.stringify([paraphrase, condition ?? '']);
}

/** One run file, digested for matching: per question id, per (paraphrase, condition) key, the distinct messages (JSON). */
export interface RunDigest {
  file: string;
  createdAt: string;
  /** Modification time (ms), newest first when choosing "the last run". */
  mtimeMs: number;
  messages: Map<string, Map<string, Set<string>>>;
  rates: JudgedRates | null;
}

export function digestRun(file: string, run: RunContents, mtimeMs: number): RunDigest {
  const messages = new Map<string, Map<string, Set<string>>>();
  for (const s of run.samples) {
    let byKey = messages.get(s.question_id);
    if (!byKey) messages.set(s.question_id, (byKey = new Map()));
    const key = textKey(s.paraphrase_index, s.condition);
    let set = byKey.get(key);
    if (!set) byKey.set(key, (set = new Set()));
    set.add(JSON.stringify(s.messages));
  }
  const rates = judgedRates({ path: file, header: run.header, samples: run.samples, judgements: run.judgements, labels: run.labels });
  return { file, createdAt: run.header.created_at, mtimeMs, messages, rates };
}

/** A question's text: the messages (JSON) per (paraphrase, condition) key. */
export type QuestionTextKeys = Map<string, string>;

/**
 * The messages of every paraphrase of a question as run files record them: without a condition, and under each
 * condition it runs under (`declared`: its prompt set's conditions). A condition whose template cannot be filled
 * (an error the prompt set's diagnostics name) has no key: no run holds that text under it.
 */
export function questionTextKeys(q: PromptQuestion, declared?: ConditionSpec[]): QuestionTextKeys {
  const keys: QuestionTextKeys = new Map();
  const conditions = questionConditions(q, declared) ?? [];
  const n = q.messages ? 1 : q.paraphrases.length;
  for (let i = 0; i < n; i++) {
    const plain = promptMessages(q, i);
    keys.set(textKey(i, undefined), JSON.stringify(plain));
    for (const c of conditions) {
      try {
        keys.set(textKey(i, c.name), JSON.stringify(applyCondition(plain, c, q.vars)));
      } catch {
        // a placeholder without a value
      }
    }
  }
  return keys;
}

/** Whether two texts of a question send the same messages everywhere (same keys, same messages). */
export function sameQuestionText(a: QuestionTextKeys, b: QuestionTextKeys): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** True when the run has rows of this question and the rows of each (paraphrase, condition) include this text's messages. */
export function holdsQuestionText(digest: RunDigest, questionId: string, keys: QuestionTextKeys): boolean {
  const byKey = digest.messages.get(questionId);
  if (!byKey || byKey.size === 0) return false;
  for (const [k, recorded] of byKey) {
    const key = keys.get(k);
    if (key === undefined || !recorded.has(key)) return false;
  }
  return true;
}

/** The newest digest (by modification time) that holds this text of the question, or null. */
export function lastRunWithText(digests: RunDigest[], questionId: string, keys: QuestionTextKeys): RunDigest | null {
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
