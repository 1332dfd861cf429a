/**
 * Which questions of a prompt set are new or changed against an earlier version of the same file (e.g. its
 * text at the git merge-base with main): what a reviewer of a prompt-set change needs marked. A question is
 * "changed" when anything that reaches the model or the judge differs: its paraphrases or messages, system
 * prompt, samples per paraphrase, judge or judge prompts. Pure: both versions come in as text.
 */
import { parsePromptSet, promptMessages } from './promptSet';
import type { PromptQuestion, PromptSet } from './types';

export type QuestionChangeKind = 'added' | 'changed';

export interface QuestionChange {
  id: string;
  kind: QuestionChangeKind;
  /** 1-based line range of the question in the new text. */
  line: number;
  endLine: number;
  /** For changed questions: what differs, in words (e.g. "paraphrase 1", "system prompt"). */
  what: string[];
}

export interface PromptSetChanges {
  changes: QuestionChange[];
  /** Ids present in the earlier version only. */
  removed: string[];
}

function differences(a: PromptQuestion, b: PromptQuestion): string[] {
  const what: string[] = [];
  const n = Math.max(a.paraphrases.length, b.paraphrases.length);
  for (let i = 0; i < n; i++) {
    if (i >= a.paraphrases.length || i >= b.paraphrases.length) {
      what.push(`paraphrase ${i + 1} ${i >= a.paraphrases.length ? 'added' : 'removed'}`);
      continue;
    }
    if (JSON.stringify(promptMessages(a, i)) !== JSON.stringify(promptMessages(b, i))) what.push(`paraphrase ${i + 1}`);
  }
  if ((a.system ?? null) !== (b.system ?? null)) what.push('system prompt');
  if (a.samplesPerParaphrase !== b.samplesPerParaphrase) what.push('samples per paraphrase');
  if ((a.judge ?? null) !== (b.judge ?? null)) what.push('judge');
  if (JSON.stringify(a.judgePrompts) !== JSON.stringify(b.judgePrompts)) what.push('judge prompts');
  return [...new Set(what)];
}

function endLineOf(q: PromptQuestion): number {
  return q.range.endColumn === 1 && q.range.endLine > q.range.line ? q.range.endLine - 1 : q.range.endLine;
}

/** Compare the new version of a prompt set with the earlier one (null = the file did not exist then). */
export function promptSetChanges(path: string, newText: string, oldText: string | null): PromptSetChanges {
  const now: PromptSet = parsePromptSet(path, newText);
  let before: PromptSet | null = null;
  if (oldText !== null) {
    try {
      before = parsePromptSet(path, oldText);
    } catch {
      before = null; // an earlier version that does not parse: every question counts as new
    }
  }
  const old = new Map((before?.questions ?? []).map((q) => [q.id, q]));
  const changes: QuestionChange[] = [];
  for (const q of now.questions) {
    const prev = old.get(q.id);
    if (!prev) {
      changes.push({ id: q.id, kind: 'added', line: q.range.line, endLine: endLineOf(q), what: [] });
      continue;
    }
    const what = differences(prev, q);
    if (what.length) changes.push({ id: q.id, kind: 'changed', line: q.range.line, endLine: endLineOf(q), what });
  }
  const ids = new Set(now.questions.map((q) => q.id));
  return { changes, removed: [...old.keys()].filter((id) => !ids.has(id)) };
}
