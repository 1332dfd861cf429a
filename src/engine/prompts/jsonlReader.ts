/**
 * JSONL prompt sets: one question per line, `{"id", "messages": [{role, content}, …]}` or `{"id", "prompt"}`,
 * with optional `system`, `samples`, `type`, `judge`, `judge_prompts`, `conditions`, `condition_overrides`,
 * `vars`. At most one line `{"type": "conditions", "conditions": [...]}`, anywhere, declares the prompt
 * conditions (conditions.ts). Blank lines are skipped.
 */
import type { ChatMessage } from '../runs/schema';
import { checkJudgePrompts, describe, KNOWN_JSONL_FIELDS, optionalString, positiveInt, unknownFields, type RangeOf, type ReaderResult } from './fields';
import { readConditionList, readQuestionConditionFields } from './conditions';
import type { ProblemList } from './problems';
import type { PromptQuestion, SourceRange } from './types';
import { DEFAULT_PROMPT_SET_LIMITS, count, type PromptSetLimits } from '../limits/limits';

const ROLES = ['system', 'user', 'assistant'];

export function readJsonlQuestions(text: string, problems: ProblemList, limits: PromptSetLimits = DEFAULT_PROMPT_SET_LIMITS): ReaderResult {
  const questions: PromptQuestion[] = [];
  const idRanges = new Map<PromptQuestion, SourceRange>();
  const fieldRanges = new Map<PromptQuestion, RangeOf>();
  let conditions: ReaderResult['conditions'];
  let conditionsLine = 0;
  const lines = text.split('\n');
  lines.forEach((rawLine, i) => {
    const line = rawLine.replace(/\r$/, '');
    const lineNo = i + 1;
    if (line.trim() === '') return;
    const whole: SourceRange = { line: lineNo, column: 1, endLine: lineNo, endColumn: line.length + 1 };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const col = m ? Number(m[1]) + 1 : 1;
      problems.error({ line: lineNo, column: col, endLine: lineNo, endColumn: line.length + 1 }, 'jsonl-syntax', `line ${lineNo} is not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      problems.error(whole, 'not-a-mapping', `line ${lineNo} must be a JSON object {"id": …, "prompt": …} or {"id": …, "messages": […]}, got ${describe(value)}.`);
      return;
    }
    const obj = value as Record<string, unknown>;
    // Field positions: the first occurrence of the quoted key on the line (good enough for diagnostics); a
    // sub-field (a list item or mapping key) is searched after its field's key.
    const find = (needle: string, from = 0): SourceRange | null => {
      const k = line.indexOf(needle, from);
      return k < 0 ? null : { line: lineNo, column: k + 1, endLine: lineNo, endColumn: k + 1 + needle.length };
    };
    const at: RangeOf = (field, sub) => {
      const key = find(JSON.stringify(field));
      if (!key) return whole;
      const v = obj[field];
      if (sub === undefined) return key;
      const item = typeof sub === 'number' ? (Array.isArray(v) ? v[sub] : undefined) : sub;
      return (item !== undefined && find(JSON.stringify(item), key.endColumn - 1)) || key;
    };
    if (obj.type === 'conditions' && obj.id === undefined) {
      if (conditionsLine) {
        problems.error(at('type'), 'duplicate-conditions', `line ${lineNo} declares conditions again (line ${conditionsLine} already did); keep one {"type": "conditions", …} line.`);
        return;
      }
      conditionsLine = lineNo;
      for (const k of Object.keys(obj)) {
        if (k !== 'type' && k !== 'conditions') problems.warning(at(k), 'unknown-field', `unknown field "${k}" on the conditions line: not used by this tool. Known fields: type, conditions.`);
      }
      const list = Array.isArray(obj.conditions) ? obj.conditions : [];
      // Each entry's name, found in order after the previous entry's (the n-th "a" for the n-th entry named "a").
      const key = find('"conditions"');
      const names: (SourceRange | null)[] = [];
      let from = key ? key.endColumn - 1 : 0;
      for (const c of list) {
        const n = c && typeof c === 'object' && typeof (c as { name?: unknown }).name === 'string' ? find(JSON.stringify((c as { name: string }).name), from) : null;
        names.push(n);
        if (n) from = n.endColumn - 1;
      }
      const condAt = (i: number, field?: string): SourceRange => {
        const name = names[i];
        if (field === undefined || field === 'name' || !name) return name ?? key ?? whole;
        return find(JSON.stringify(field), name.endColumn - 1) ?? name;
      };
      const list2 = readConditionList(obj.conditions, at('conditions'), condAt, problems);
      if (list2.length) conditions = list2;
      return;
    }
    let id: string;
    if (typeof obj.id === 'string' && obj.id.trim() !== '') id = obj.id;
    else if (typeof obj.id === 'number') id = String(obj.id);
    else {
      problems.error(obj.id === undefined ? whole : at('id'), 'missing-id', `line ${lineNo} has no "id" (a non-empty string).`);
      return;
    }
    let system = optionalString(obj, 'system', at, problems);
    if (system !== undefined && system.length > limits.maxTextChars) {
      problems.error(at('system'), 'text-too-long', `"system" on line ${lineNo} has ${count(system.length)} characters, above the limit of ${count(limits.maxTextChars)}; shorten it.`);
      system = undefined;
    }
    let paraphrases: string[] = [];
    let messages: ChatMessage[] | undefined;
    if (obj.messages !== undefined && obj.prompt !== undefined) {
      problems.error(at('prompt'), 'bad-type', `line ${lineNo} has both "messages" and "prompt": keep one.`);
    } else if (obj.messages !== undefined) {
      messages = readMessages(obj.messages, system, at, problems, lineNo, limits);
      const lastUser = messages ? [...messages].reverse().find((m) => m.role === 'user') : undefined;
      if (messages && lastUser) paraphrases = [lastUser.content];
      else messages = undefined;
    } else if (obj.prompt !== undefined) {
      if (typeof obj.prompt !== 'string') problems.error(at('prompt'), 'bad-type', `"prompt" must be a string, got ${describe(obj.prompt)}.`);
      else if (obj.prompt.trim() === '') problems.error(at('prompt'), 'empty-paraphrase', `"prompt" of "${id}" is empty.`);
      else if (obj.prompt.length > limits.maxTextChars) problems.error(at('prompt'), 'text-too-long', `"prompt" of "${id}" (line ${lineNo}) has ${count(obj.prompt.length)} characters, above the limit of ${count(limits.maxTextChars)}; shorten it.`);
      else paraphrases = [obj.prompt];
    } else {
      problems.error(whole, 'empty-paraphrases', `line ${lineNo} ("${id}") has neither "prompt" nor "messages".`);
    }
    const q: PromptQuestion = {
      id,
      paraphrases,
      samplesPerParaphrase: positiveInt(obj, 'samples', at, problems),
      judgePrompts: checkJudgePrompts(obj.judge_prompts, at, problems),
      extra: unknownFields(obj, KNOWN_JSONL_FIELDS, at, problems),
      range: whole,
    };
    if (messages) q.messages = messages;
    if (system !== undefined && !messages) q.system = system;
    const type = optionalString(obj, 'type', at, problems);
    if (type !== undefined) q.type = type;
    const judge = optionalString(obj, 'judge', at, problems);
    if (judge !== undefined) q.judge = judge;
    Object.assign(q, readQuestionConditionFields(obj, id, at, problems));
    questions.push(q);
    fieldRanges.set(q, at);
    const idKey = line.indexOf('"id"');
    idRanges.set(q, idKey < 0 ? whole : at('id'));
  });
  if (questions.length === 0 && !problems.items.some((p) => p.severity === 'error')) {
    problems.error({ line: 1, column: 1, endLine: 1, endColumn: 1 }, 'empty-set', 'the prompt set has no questions: add one JSON object per line.');
  }
  return { questions, idRanges, fieldRanges, ...(conditions ? { conditions } : {}) };
}

function readMessages(raw: unknown, system: string | undefined, at: RangeOf, problems: ProblemList, lineNo: number, limits: PromptSetLimits): ChatMessage[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.error(at('messages'), Array.isArray(raw) ? 'empty-paraphrases' : 'bad-type', `"messages" on line ${lineNo} must be a non-empty list of {"role", "content"}.`);
    return undefined;
  }
  if (raw.length > limits.maxMessages) {
    problems.error(at('messages'), 'too-many-messages', `"messages" on line ${lineNo} has ${count(raw.length)} messages, above the limit of ${count(limits.maxMessages)}; shorten the conversation.`);
    return undefined;
  }
  const out: ChatMessage[] = [];
  for (const [k, m] of raw.entries()) {
    const role = (m as { role?: unknown })?.role;
    const content = (m as { content?: unknown })?.content;
    if (typeof role !== 'string' || !ROLES.includes(role) || typeof content !== 'string') {
      problems.error(at('messages'), 'bad-type', `messages[${k}] on line ${lineNo} must be {"role": "system"|"user"|"assistant", "content": string}.`);
      return undefined;
    }
    if (content.length > limits.maxTextChars) {
      problems.error(at('messages'), 'text-too-long', `messages[${k}] on line ${lineNo} has ${count(content.length)} characters, above the limit of ${count(limits.maxTextChars)}; shorten it.`);
      return undefined;
    }
    out.push({ role: role as ChatMessage['role'], content });
  }
  if (out[out.length - 1].role !== 'user') {
    problems.error(at('messages'), 'bad-type', `the last message on line ${lineNo} must be from the user (the model answers it); assistant prefills are not supported.`);
    return undefined;
  }
  if (system !== undefined) {
    if (out[0].role === 'system') {
      problems.error(at('system'), 'bad-type', `line ${lineNo} has a "system" field and a system message: keep one.`);
      return undefined;
    }
    out.unshift({ role: 'system', content: system });
  }
  return out;
}
