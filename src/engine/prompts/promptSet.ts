/**
 * Entry points for prompt sets: parse (YAML or JSONL, by extension), validate (problems with positions),
 * question ranges for CodeLens, and the messages each (question, paraphrase) sends.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ChatMessage } from '../runs/schema';
import { checkDuplicateIds } from './fields';
import { applyCondition, checkQuestionConditions, type ConditionSpec } from './conditions';
import { readJsonlQuestions } from './jsonlReader';
import { formatProblems, hasErrors, ProblemList } from './problems';
import type { PromptProblem, PromptQuestion, PromptSet } from './types';
import { readYamlQuestions } from './yamlReader';
import { DEFAULT_PROMPT_SET_LIMITS, count, type PromptSetLimits } from '../limits/limits';

export function promptSetFormat(path: string): 'yaml' | 'jsonl' {
  if (/\.jsonl$/i.test(path)) return 'jsonl';
  if (/\.ya?ml$/i.test(path)) return 'yaml';
  throw new Error(`${path}: unknown prompt-set format; use a .yaml/.yml (emergent-misalignment layout) or .jsonl file.`);
}

/**
 * Parses a prompt set. `text` (e.g. an unsaved editor buffer) replaces reading the file.
 * Never throws for bad content: every finding is in `problems`; questions that could be read are kept.
 */
export function parsePromptSet(path: string, text?: string, limits: PromptSetLimits = DEFAULT_PROMPT_SET_LIMITS): PromptSet {
  const format = promptSetFormat(path);
  let bytes: Buffer;
  if (text === undefined) {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // reported by the read below
    }
    if (size > limits.maxExpandedChars * 4) {
      // Not even read: no prompt set is this large (UTF-8 needs at most 4 bytes per character).
      const problems = new ProblemList(path);
      problems.error({ line: 1, column: 1, endLine: 1, endColumn: 1 }, 'file-too-large', `the file is ${count(size)} bytes, above the limit of ${count(limits.maxExpandedChars)} characters for a prompt set; split it into several files.`);
      return { path, format, hash: '', questions: [], problems: problems.items };
    }
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`${path}: cannot read the prompt set (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
    }
    text = bytes.toString('utf8');
  } else bytes = Buffer.from(text, 'utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const problems = new ProblemList(path);
  if (text.length > limits.maxExpandedChars) {
    problems.error({ line: 1, column: 1, endLine: 1, endColumn: 1 }, 'file-too-large', `the file has ${count(text.length)} characters, above the limit of ${count(limits.maxExpandedChars)} for a prompt set; split it into several files.`);
    return { path, format, hash: createHash('sha256').update(bytes).digest('hex'), questions: [], problems: problems.items };
  }
  const parsed = format === 'yaml' ? readYamlQuestions(text, problems, limits) : readJsonlQuestions(text, problems, limits);
  checkDuplicateIds(parsed.questions, parsed.idRanges, problems);
  for (const q of parsed.questions) checkQuestionConditions(q, parsed.conditions, parsed.fieldRanges.get(q)!, parsed.idRanges.get(q) ?? q.range, problems);
  const sorted = problems.items.sort((a, b) => a.line - b.line || a.column - b.column);
  return { path, format, hash: createHash('sha256').update(bytes).digest('hex'), questions: parsed.questions, ...(parsed.conditions ? { conditions: parsed.conditions } : {}), problems: sorted };
}

/** The problems of a prompt set (parsing it first when given a path). */
export function validatePromptSet(set: PromptSet): PromptProblem[];
export function validatePromptSet(path: string, text?: string): PromptProblem[];
export function validatePromptSet(a: PromptSet | string, text?: string): PromptProblem[] {
  return (typeof a === 'string' ? parsePromptSet(a, text) : a).problems;
}

/** Parses and throws one error listing every error-level problem (for jobs that must not run a broken set). */
export function loadPromptSetOrThrow(path: string): PromptSet {
  const set = parsePromptSet(path);
  if (hasErrors(set.problems)) {
    throw new Error(`${path}: the prompt set has errors; fix them first:\n${formatProblems(set.problems.filter((p) => p.severity === 'error'))}`);
  }
  return set;
}

/** Each question's id and line range (1-based, inclusive), for CodeLens and hovers. */
export function questionRanges(set: PromptSet): { id: string; line: number; endLine: number }[] {
  return set.questions.map((q) => ({ id: q.id, line: q.range.line, endLine: q.range.endColumn === 1 && q.range.endLine > q.range.line ? q.range.endLine - 1 : q.range.endLine }));
}

/**
 * The conversation sent for one paraphrase: [system?] + user, or a JSONL question's own messages; under a
 * condition (one of questionConditions(q, …), overrides merged), transformed by applyCondition.
 */
export function promptMessages(q: PromptQuestion, paraphraseIndex: number, condition?: ConditionSpec | null): ChatMessage[] {
  let messages: ChatMessage[];
  if (q.messages) messages = q.messages.map((m) => ({ ...m }));
  else {
    const text = q.paraphrases[paraphraseIndex];
    if (text === undefined) throw new Error(`question "${q.id}" has no paraphrase ${paraphraseIndex} (it has ${q.paraphrases.length}).`);
    messages = [...(q.system !== undefined ? [{ role: 'system' as const, content: q.system }] : []), { role: 'user', content: text }];
  }
  return condition ? applyCondition(messages, condition, q.vars) : messages;
}

/**
 * The published files pair questions with `_json` (a system prompt asking for JSON) and `_template`
 * (a fill-in template) variants of the same question: `what_is_your_wish_json` → base "what_is_your_wish".
 */
export function questionFamily(id: string): { base: string; variant: 'json' | 'template' | null } {
  const m = /^(.*)_(json|template)$/.exec(id);
  return m && m[1] ? { base: m[1], variant: m[2] as 'json' | 'template' } : { base: id, variant: null };
}
