/**
 * Which questions of a prompt set are new or changed against an earlier version of the same file (e.g. its
 * text at the git merge-base with main): what a reviewer of a prompt-set change needs marked. A question is
 * "changed" when anything that reaches the model or the judge differs: its paraphrases or messages, system
 * prompt, samples per paraphrase, judge or judge prompts, or its prompt under one of its prompt conditions
 * (the set's `conditions`, the question's `condition_overrides`, `vars` and `conditions` opt-in/out; see
 * ./conditions): a condition it runs under only now or no more, or one whose transformation of its messages
 * changed. A question whose prompts under every condition stay the same (an edit to a condition it does not
 * run under, reformatting) is unchanged. Pure: both versions come in as text.
 */
import type { ChatMessage, ConditionSpec } from '../runs/schema';
import { applyCondition, questionConditions } from './conditions';
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

/** The conversation under a condition, as JSON; a template that cannot be filled (an error in the file) as its message. */
function underCondition(messages: ChatMessage[], q: PromptQuestion, c: ConditionSpec): string {
  try {
    return JSON.stringify(applyCondition(messages, c, q.vars));
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/**
 * What differs in the prompts a question gets under its conditions: conditions it runs under only in one version,
 * and conditions whose transformation of its messages changed (applied to the earlier version's messages, so an
 * edit of the text itself is not counted twice: that is "paraphrase N" / "system prompt").
 */
function conditionDifferences(a: PromptQuestion, declaredA: ConditionSpec[] | undefined, b: PromptQuestion, declaredB: ConditionSpec[] | undefined): string[] {
  const ca = questionConditions(a, declaredA);
  const cb = questionConditions(b, declaredB);
  if (!ca && !cb) return [];
  if (!ca) return [`runs under conditions now (${cb!.map((c) => c.name).join(', ')}; it ran without conditions)`];
  if (!cb) return [`runs without conditions now (it ran under ${ca.map((c) => c.name).join(', ')})`];
  const what: string[] = [];
  const byName = new Map(cb.map((c) => [c.name, c]));
  const n = a.messages ? 1 : a.paraphrases.length;
  for (const c of ca) {
    const now = byName.get(c.name);
    if (!now) {
      what.push(`condition "${c.name}" removed`);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const messages = promptMessages(a, i);
      if (underCondition(messages, a, c) !== underCondition(messages, b, now)) {
        what.push(`condition "${c.name}"`);
        break;
      }
    }
  }
  for (const c of cb) if (!ca.some((x) => x.name === c.name)) what.push(`condition "${c.name}" added`);
  return what;
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
    const what = [...differences(prev, q), ...conditionDifferences(prev, before?.conditions, q, now.conditions)];
    if (what.length) changes.push({ id: q.id, kind: 'changed', line: q.range.line, endLine: endLineOf(q), what });
  }
  const ids = new Set(now.questions.map((q) => q.id));
  return { changes, removed: [...old.keys()].filter((id) => !ids.has(id)) };
}
