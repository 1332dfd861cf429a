/**
 * The emergent-misalignment YAML layout: a list of questions with id, type, paraphrases,
 * samples_per_paraphrase, system, judge, judge_prompts; or a mapping {conditions: [...], questions: [...]}
 * for a set with prompt conditions (conditions.ts). Anchors, aliases and merge keys are resolved
 * by the `yaml` package; positions come from its nodes through a LineCounter.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { checkJudgePrompts, describe, KNOWN_YAML_FIELDS, optionalString, positiveInt, unknownFields, type RangeOf, type ReaderResult } from './fields';
import { readConditionList, readQuestionConditionFields } from './conditions';
import type { ProblemList } from './problems';
import type { PromptQuestion, SourceRange } from './types';
import { DEFAULT_PROMPT_SET_LIMITS, count, type PromptSetLimits } from '../limits/limits';
import { expandedSize, yamlDepthEstimate } from './sizeLimits';

export type YamlParse = ReaderResult;

const TOP_LEVEL_KEYS = ['conditions', 'questions'];

export function readYamlQuestions(text: string, problems: ProblemList, limits: PromptSetLimits = DEFAULT_PROMPT_SET_LIMITS): YamlParse {
  // Nesting is bounded on the text, before the parser recurses into it (1,000 levels overflow its stack).
  const est = yamlDepthEstimate(text, limits.maxDepth);
  if (est.depth > limits.maxDepth) {
    problems.error({ line: est.line, column: 1, endLine: est.line, endColumn: 2 }, 'yaml-too-deep', `YAML: lists/mappings are nested more than ${limits.maxDepth} levels deep here (a prompt set needs 4: list → question → paraphrases → text); flatten the file.`);
    return { questions: [], idRanges: new Map(), fieldRanges: new Map() };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, merge: true, prettyErrors: true, uniqueKeys: true });
  const rangeOf = (start: number, end: number): SourceRange => {
    const a = lc.linePos(start);
    const b = lc.linePos(Math.max(start, end));
    return { line: a.line, column: a.col, endLine: b.line, endColumn: b.col };
  };
  const nodeRange = (n: Node | Pair | null | undefined, fallback: SourceRange): SourceRange => {
    const r = n && 'range' in n ? n.range : undefined;
    return r ? rangeOf(r[0], r[1]) : fallback;
  };
  const out: YamlParse = { questions: [], idRanges: new Map(), fieldRanges: new Map() };
  const whole = rangeOf(0, text.length);
  for (const e of doc.errors) {
    const [a, b] = e.linePos ?? [{ line: 1, col: 1 }];
    const msg = /Maximum call stack size exceeded/.test(e.message)
      ? `lists/mappings are nested too deeply to parse (the limit is ${limits.maxDepth} levels); flatten the file.`
      : e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    problems.error({ line: a.line, column: a.col, endLine: (b ?? a).line, endColumn: (b ?? a).col }, /Maximum call stack/.test(e.message) ? 'yaml-too-deep' : 'yaml-syntax', `YAML: ${msg}`);
  }
  if (doc.errors.length) return out;
  for (const w of doc.warnings) {
    const [a, b] = w.linePos ?? [{ line: 1, col: 1 }];
    problems.warning({ line: a.line, column: a.col, endLine: (b ?? a).line, endColumn: (b ?? a).col }, 'yaml-warning', `YAML: ${w.message.split('\n')[0]}`);
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (e) {
    const m = (e as Error).message;
    if (/alias count|resource exhaustion/i.test(m)) {
      problems.error(whole, 'yaml-too-large', `YAML: the aliases (*name) expand to too much data (more than ${count(limits.maxAliases)} alias uses, weighted by what they repeat); write the repeated parts out or use fewer aliases.`);
    } else if (/Maximum call stack/.test(m)) {
      problems.error(whole, 'yaml-too-deep', `YAML: lists/mappings are nested too deeply (the limit is ${limits.maxDepth} levels); flatten the file.`);
    } else problems.error(whole, 'yaml-syntax', `YAML: ${m}`);
    return out;
  }
  // Aliases share one value in memory but every use is tokenized and run: bound the expanded size.
  const size = expandedSize(js, limits);
  if (size.exceeded) {
    const what = size.exceeded === 'chars'
      ? `more than ${count(limits.maxExpandedChars)} characters of text`
      : size.exceeded === 'nodes' ? `more than ${count(limits.maxExpandedNodes)} values` : `lists/mappings nested more than ${limits.maxDepth} levels deep`;
    problems.error(whole, size.exceeded === 'depth' ? 'yaml-too-deep' : 'yaml-too-large', `YAML: with its aliases (*name) expanded, the prompt set holds ${what}; split it into several files or use fewer aliases.`);
    return out;
  }
  let root = doc.contents as Node | null;
  if (js === null || js === undefined) {
    problems.error(whole, 'empty-set', 'the prompt set is empty: expected a list of questions (- id: …, paraphrases: […]).');
    return out;
  }
  if (isMap(root) && js && typeof js === 'object' && !Array.isArray(js) && TOP_LEVEL_KEYS.some((k) => k in (js as object))) {
    // The mapping form: conditions + questions (a mapping with neither is reported as not a list below).
    const top = js as Record<string, unknown>;
    for (const p of root.items) {
      const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
      if (!TOP_LEVEL_KEYS.includes(k)) problems.warning(nodeRange(p.key as Node, whole), 'unknown-field', `unknown top-level field "${k}": not used by this tool. A prompt set with conditions has "conditions:" and "questions:".`);
    }
    const condPair = findPair(root, 'conditions');
    if (condPair && top.conditions !== undefined && top.conditions !== null) {
      const listNode = resolve(condPair.value as Node, doc);
      const keyRange = nodeRange(condPair.key as Node, whole);
      const at = (i: number, field?: string): SourceRange => {
        const item = isSeq(listNode) ? resolve(listNode.items[i] as Node, doc) : null;
        const itemRange = isSeq(listNode) ? nodeRange(listNode.items[i] as Node, keyRange) : keyRange;
        if (field === undefined || !isMap(item)) return itemRange;
        const p = findPair(item, field);
        return p ? nodeRange((field === 'name' ? p.value : p.key) as Node, itemRange) : itemRange;
      };
      const conditions = readConditionList(top.conditions, keyRange, at, problems);
      if (conditions.length) out.conditions = conditions;
    } else if (condPair) {
      problems.error(nodeRange(condPair.key as Node, whole), 'empty-conditions', 'conditions is empty: declare a list of conditions ({name: …, user_prefix: …}) or remove the field.');
    }
    const qPair = findPair(root, 'questions');
    if (!qPair) {
      problems.error(nodeRange(root, whole), 'not-a-list', 'a prompt set written as a mapping needs "questions:", the list of questions (each item "- id: …").');
      return out;
    }
    root = resolve(qPair.value as Node, doc);
    js = top.questions;
    if (js === null || js === undefined) {
      problems.error(nodeRange(qPair.key as Node, whole), 'empty-set', 'questions is empty: add a list of questions (- id: …, paraphrases: […]).');
      return out;
    }
  }
  if (!isSeq(root) || !Array.isArray(js)) {
    problems.error(nodeRange(root, whole), 'not-a-list', `the top level must be a list of questions (each item "- id: …"), or a mapping with "conditions:" and "questions:"; got ${describe(js)}${isSeq(root) || Array.isArray(js) ? '' : ' where the questions should be'}.`);
    return out;
  }
  const items = js;
  if (items.length === 0) {
    problems.error(nodeRange(root, whole), 'empty-set', 'the list of questions is empty.');
    return out;
  }
  root.items.forEach((item, i) => {
    const value = items[i];
    const itemNode = resolve(item as Node, doc);
    const qRange = nodeRange(item as Node, whole);
    if (!isMap(itemNode) || !value || typeof value !== 'object' || Array.isArray(value)) {
      problems.error(qRange, 'not-a-mapping', `question ${i + 1} must be a mapping with id, paraphrases, …; got ${describe(value)}.`);
      return;
    }
    const obj = value as Record<string, unknown>;
    const map = itemNode as YAMLMap;
    const at: RangeOf = (field, sub) => {
      const pair = findPair(map, field);
      if (!pair) return { ...qRange, endLine: qRange.line, endColumn: qRange.column + 1 };
      if (sub === undefined) return nodeRange(pair.key as Node, qRange);
      const v = pair.value as Node | null;
      if (isAlias(v)) return nodeRange(v, qRange);
      const target = resolve(v, doc);
      if (typeof sub === 'number' && isSeq(target)) return nodeRange(target.items[sub] as Node, nodeRange(pair.key as Node, qRange));
      if (typeof sub === 'string' && isMap(target)) {
        const p = findPair(target, sub);
        return p ? nodeRange(p.key as Node, qRange) : nodeRange(pair.key as Node, qRange);
      }
      return nodeRange(v, qRange);
    };
    let id: string;
    if (typeof obj.id === 'string' && obj.id.trim() !== '') id = obj.id;
    else if (typeof obj.id === 'number') {
      id = String(obj.id);
      problems.warning(at('id'), 'bad-type', `id ${obj.id} is a number; it is used as the string "${id}". Quote it to make that explicit.`);
    } else {
      problems.error(obj.id === undefined ? qRange : at('id'), 'missing-id', `question ${i + 1} has no id: add "id: some_name" (ids key the samples in run files).`);
      return;
    }
    const paraphrases: string[] = [];
    const raw = obj.paraphrases;
    if (raw === undefined || raw === null) {
      problems.error(at('paraphrases'), 'empty-paraphrases', `question "${id}" has no paraphrases: add "paraphrases:" with at least one question text.`);
    } else if (!Array.isArray(raw)) {
      problems.error(at('paraphrases'), 'bad-type', `paraphrases of "${id}" must be a list of strings, got ${describe(raw)}.`);
    } else if (raw.length === 0) {
      problems.error(at('paraphrases'), 'empty-paraphrases', `paraphrases of "${id}" is an empty list: add at least one question text.`);
    } else {
      raw.forEach((p, k) => {
        if (typeof p !== 'string') problems.error(at('paraphrases', k), 'bad-type', `paraphrases[${k}] of "${id}" must be a string, got ${describe(p)}.`);
        else if (p.trim() === '') problems.error(at('paraphrases', k), 'empty-paraphrase', `paraphrases[${k}] of "${id}" is empty.`);
        else if (p.length > limits.maxTextChars) problems.error(at('paraphrases', k), 'text-too-long', `paraphrases[${k}] of "${id}" has ${count(p.length)} characters, above the limit of ${count(limits.maxTextChars)}; shorten it.`);
        else paraphrases.push(p);
      });
    }
    const q: PromptQuestion = {
      id,
      paraphrases,
      samplesPerParaphrase: positiveInt(obj, 'samples_per_paraphrase', at, problems),
      judgePrompts: checkJudgePrompts(obj.judge_prompts, at, problems),
      extra: unknownFields(obj, KNOWN_YAML_FIELDS, at, problems),
      range: qRange,
    };
    const type = optionalString(obj, 'type', at, problems);
    if (type !== undefined) q.type = type;
    const system = optionalString(obj, 'system', at, problems);
    if (system !== undefined && system.length > limits.maxTextChars) {
      problems.error(at('system'), 'text-too-long', `system of "${id}" has ${count(system.length)} characters, above the limit of ${count(limits.maxTextChars)}; shorten it.`);
    } else if (system !== undefined) q.system = system;
    const judge = optionalString(obj, 'judge', at, problems);
    if (judge !== undefined) q.judge = judge;
    Object.assign(q, readQuestionConditionFields(obj, id, at, problems));
    out.questions.push(q);
    out.fieldRanges.set(q, at);
    out.idRanges.set(q, findPair(map, 'id') ? nodeRange(findPair(map, 'id')!.value as Node, qRange) : qRange);
  });
  return out;
}

function resolve(n: Node | null | undefined, doc: Document): Node | null {
  let cur: Node | null | undefined = n;
  for (let i = 0; i < 64 && isAlias(cur); i++) cur = cur.resolve(doc) as Node | undefined;
  return cur ?? null;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key) as Pair | undefined;
}
