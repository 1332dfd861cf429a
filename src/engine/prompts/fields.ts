/**
 * Field-level checks shared by the YAML and JSONL readers. Each reader supplies `at(field)`, the source
 * range of a field (or of the question when the field is absent).
 */
import type { ProblemList } from './problems';
import type { ConditionSpec } from '../runs/schema';
import type { PromptQuestion, SourceRange } from './types';

/** What a reader (YAML or JSONL) returns: the questions, where their ids and fields are, and the declared conditions. */
export interface ReaderResult {
  questions: PromptQuestion[];
  idRanges: Map<PromptQuestion, SourceRange>;
  /** Each question's field ranges, for the checks that need the whole file (conditions). */
  fieldRanges: Map<PromptQuestion, RangeOf>;
  /** Declared conditions; absent when the file declares none. */
  conditions?: ConditionSpec[];
}

export const QUESTION_CONDITION_FIELDS = ['conditions', 'condition_overrides', 'vars'];
export const KNOWN_YAML_FIELDS = ['id', 'type', 'paraphrases', 'samples_per_paraphrase', 'system', 'judge', 'judge_prompts', ...QUESTION_CONDITION_FIELDS];
export const KNOWN_JSONL_FIELDS = ['id', 'type', 'messages', 'prompt', 'system', 'samples', 'judge', 'judge_prompts', ...QUESTION_CONDITION_FIELDS];

export type RangeOf = (field: string, sub?: string | number) => SourceRange;

export function checkJudgePrompts(value: unknown, at: RangeOf, problems: ProblemList): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value === null) return out;
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.error(at('judge_prompts'), 'bad-type', 'judge_prompts must be a mapping of metric name → prompt template with {question} and {answer}.');
    return out;
  }
  for (const [metric, tpl] of Object.entries(value as Record<string, unknown>)) {
    if (typeof tpl !== 'string') {
      problems.error(at('judge_prompts', metric), 'bad-type', `judge_prompts.${metric} must be a string (a prompt template).`);
      continue;
    }
    if (!tpl.includes('{answer}')) {
      problems.error(at('judge_prompts', metric), 'judge-prompt-no-answer', `judge_prompts.${metric} has no {answer} placeholder: the judge would never see the model's answer. Add {answer}.`);
    }
    if (!tpl.includes('{question}')) {
      problems.warning(at('judge_prompts', metric), 'judge-prompt-no-question', `judge_prompts.${metric} has no {question} placeholder: the judge will not see the question.`);
    }
    out[metric] = tpl;
  }
  return out;
}

export function optionalString(obj: Record<string, unknown>, field: string, at: RangeOf, problems: ProblemList): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    problems.error(at(field), 'bad-type', `${field} must be a string, got ${describe(v)}.`);
    return undefined;
  }
  return v;
}

export function positiveInt(obj: Record<string, unknown>, field: string, at: RangeOf, problems: ProblemList): number {
  const v = obj[field];
  if (v === undefined || v === null) return 1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    problems.error(at(field), 'bad-type', `${field} must be a positive integer, got ${describe(v)}.`);
    return 1;
  }
  return v;
}

export function unknownFields(obj: Record<string, unknown>, known: string[], at: RangeOf, problems: ProblemList): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (known.includes(k)) continue;
    extra[k] = v;
    problems.warning(at(k), 'unknown-field', `unknown field "${k}": kept in the prompt set, but not used by this tool. Known fields: ${known.join(', ')}.`);
  }
  return extra;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Duplicate ids: an error on every occurrence after the first. */
export function checkDuplicateIds(questions: PromptQuestion[], idRange: Map<PromptQuestion, SourceRange>, problems: ProblemList): void {
  const first = new Map<string, PromptQuestion>();
  for (const q of questions) {
    const prev = first.get(q.id);
    if (prev) {
      problems.error(idRange.get(q) ?? q.range, 'duplicate-id', `duplicate id "${q.id}" (first defined on line ${prev.range.line}). Ids must be unique: run files key samples by id.`);
    } else first.set(q.id, q);
  }
}
