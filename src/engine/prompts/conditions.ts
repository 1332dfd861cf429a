/**
 * Prompt conditions (issue 14): named transformations of every question's messages — a trigger prefix on
 * the user turn, a system prompt that replaces or extends the question's, a template around the user turn.
 *
 * - Reading: `readConditionList` (the declared list, from YAML's `conditions:` or JSONL's conditions line) and
 *   `readQuestionConditionFields` (a question's `conditions`, `condition_overrides`, `vars`), both syntax only;
 *   `checkQuestionConditions` then checks a question against the declared list (unknown names, placeholders).
 * - Running: `questionConditions` gives the conditions a question runs under (opt-in subset, opt-out,
 *   per-question overrides merged), and `applyCondition` transforms one conversation. Pure.
 *
 * The user turn is the last user message (the only one of a paraphrase question). Its new text is
 *   user_prefix + (user_template with {user} → the text and {name} → vars[name], or the text) + user_suffix.
 * The system prompt: `system` replaces it ("" removes it); `system_append` is then appended after a newline,
 * or becomes the system prompt when there is none.
 */
import type { ChatMessage, ConditionSpec } from '../runs/schema';
import { describe, type RangeOf } from './fields';
import type { ProblemList } from './problems';
import type { PromptQuestion, SourceRange } from './types';

export type { ConditionSpec };

/** The transformation fields of a condition (everything but its name). */
export const CONDITION_TRANSFORMS = ['user_prefix', 'user_suffix', 'user_template', 'system', 'system_append'] as const;
export type ConditionTransform = (typeof CONDITION_TRANSFORMS)[number];
export const KNOWN_CONDITION_FIELDS = ['name', ...CONDITION_TRANSFORMS];

export const CONDITION_NAME = /^[A-Za-z0-9_.-]+$/;
/** `{name}` placeholders of a user_template; other braces (JSON in a template) are left alone. */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Per-condition field overrides of one question: a string sets the field, null clears it. */
export type ConditionOverride = Partial<Record<ConditionTransform, string | null>>;

/** Where a condition entry or one of its fields is in the file (index into the declared list). */
export type ConditionRangeOf = (index: number, field?: string) => SourceRange;

export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/** Reads the declared list; entries with errors are left out (the errors name the file position). */
export function readConditionList(value: unknown, listRange: SourceRange, at: ConditionRangeOf, problems: ProblemList): ConditionSpec[] {
  const out: ConditionSpec[] = [];
  if (!Array.isArray(value)) {
    problems.error(listRange, 'bad-type', `conditions must be a list of {name, user_prefix?, user_suffix?, user_template?, system?, system_append?}, got ${describe(value)}.`);
    return out;
  }
  if (value.length === 0) {
    problems.error(listRange, 'empty-conditions', 'conditions is an empty list: declare at least one condition (the first is the reference, e.g. {name: control}), or remove the field.');
    return out;
  }
  const seen = new Map<string, number>();
  value.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.error(at(i), 'bad-type', `conditions[${i}] must be a mapping {name: …, user_prefix: …}, got ${describe(raw)}.`);
      return;
    }
    const obj = raw as Record<string, unknown>;
    const name = obj.name;
    if (typeof name !== 'string' || !CONDITION_NAME.test(name)) {
      problems.error(obj.name === undefined ? at(i) : at(i, 'name'), 'bad-condition-name', `conditions[${i}] needs a name of letters, digits, "_", "." or "-" (it appears in sample ids and on the command line), got ${name === undefined ? 'none' : describe(name)}.`);
      return;
    }
    if (seen.has(name)) {
      problems.error(at(i, 'name'), 'duplicate-condition', `duplicate condition name "${name}" (conditions[${seen.get(name)}] has it already); names must be unique.`);
      return;
    }
    seen.set(name, i);
    const spec: ConditionSpec = { name };
    let ok = true;
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'name') continue;
      if (!(CONDITION_TRANSFORMS as readonly string[]).includes(k)) {
        problems.warning(at(i, k), 'unknown-field', `unknown field "${k}" in condition "${name}": not used by this tool. Known fields: ${KNOWN_CONDITION_FIELDS.join(', ')}.`);
        continue;
      }
      if (typeof v !== 'string') {
        problems.error(at(i, k), 'bad-type', `${k} of condition "${name}" must be a string, got ${describe(v)}.`);
        ok = false;
        continue;
      }
      if (k === 'user_template' && !placeholders(v).includes('user')) {
        problems.error(at(i, k), 'template-no-user', `user_template of condition "${name}" has no {user} placeholder: the question's text would be lost. Add {user}.`);
        ok = false;
        continue;
      }
      spec[k as ConditionTransform] = v;
    }
    if (ok) out.push(spec);
  });
  return out;
}

export interface QuestionConditionFields {
  /** undefined: every declared condition; false: opted out (runs once, without a condition); else an opt-in subset. */
  conditions?: string[] | false;
  conditionOverrides?: Record<string, ConditionOverride>;
  vars?: Record<string, string>;
}

/** A question's `conditions`, `condition_overrides` and `vars` (syntax only; names are checked later). */
export function readQuestionConditionFields(obj: Record<string, unknown>, id: string, at: RangeOf, problems: ProblemList): QuestionConditionFields {
  const out: QuestionConditionFields = {};
  const c = obj.conditions;
  if (c === false) out.conditions = false;
  else if (Array.isArray(c)) {
    if (c.length === 0) problems.error(at('conditions'), 'empty-conditions', `conditions of "${id}" is an empty list: list the conditions it runs under, or write "conditions: false" to run it once without any.`);
    else {
      const names: string[] = [];
      c.forEach((n, k) => {
        if (typeof n !== 'string') problems.error(at('conditions', k), 'bad-type', `conditions[${k}] of "${id}" must be a condition name, got ${describe(n)}.`);
        else if (names.includes(n)) problems.warning(at('conditions', k), 'duplicate-condition', `conditions of "${id}" lists "${n}" twice.`);
        else names.push(n);
      });
      if (names.length) out.conditions = names;
    }
  } else if (c !== undefined && c !== null) {
    problems.error(at('conditions'), 'bad-type', `conditions of "${id}" must be a list of condition names (an opt-in subset) or false (opt out), got ${describe(c)}.`);
  }
  const ov = obj.condition_overrides;
  if (ov !== undefined && ov !== null) {
    if (typeof ov !== 'object' || Array.isArray(ov)) {
      problems.error(at('condition_overrides'), 'bad-type', `condition_overrides of "${id}" must be a mapping of condition name → {user_prefix: …, …}, got ${describe(ov)}.`);
    } else {
      const overrides: Record<string, ConditionOverride> = {};
      for (const [name, fields] of Object.entries(ov as Record<string, unknown>)) {
        if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
          problems.error(at('condition_overrides', name), 'bad-type', `condition_overrides.${name} of "${id}" must be a mapping of fields (${CONDITION_TRANSFORMS.join(', ')}), got ${describe(fields)}.`);
          continue;
        }
        const o: ConditionOverride = {};
        let ok = true;
        for (const [k, v] of Object.entries(fields as Record<string, unknown>)) {
          if (!(CONDITION_TRANSFORMS as readonly string[]).includes(k)) {
            problems.warning(at('condition_overrides', name), 'unknown-field', `condition_overrides.${name}.${k} of "${id}": unknown field, not used. Known fields: ${CONDITION_TRANSFORMS.join(', ')}.`);
            continue;
          }
          if (v !== null && typeof v !== 'string') {
            problems.error(at('condition_overrides', name), 'bad-type', `condition_overrides.${name}.${k} of "${id}" must be a string (or null to clear it), got ${describe(v)}.`);
            ok = false;
            continue;
          }
          if (k === 'user_template' && typeof v === 'string' && !placeholders(v).includes('user')) {
            problems.error(at('condition_overrides', name), 'template-no-user', `condition_overrides.${name}.user_template of "${id}" has no {user} placeholder: the question's text would be lost. Add {user}.`);
            ok = false;
            continue;
          }
          o[k as ConditionTransform] = v as string | null;
        }
        if (ok) overrides[name] = o;
      }
      out.conditionOverrides = overrides;
    }
  }
  const vars = obj.vars;
  if (vars !== undefined && vars !== null) {
    if (typeof vars !== 'object' || Array.isArray(vars)) {
      problems.error(at('vars'), 'bad-type', `vars of "${id}" must be a mapping of name → text (for user_template placeholders), got ${describe(vars)}.`);
    } else {
      const v: Record<string, string> = {};
      for (const [k, x] of Object.entries(vars as Record<string, unknown>)) {
        if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') v[k] = String(x);
        else problems.error(at('vars', k), 'bad-type', `vars.${k} of "${id}" must be a string, got ${describe(x)}.`);
      }
      out.vars = v;
    }
  }
  return out;
}

/**
 * Checks a question's condition fields against the declared conditions: opt-in and override names must be
 * declared, and every placeholder of a user_template the question runs under must be in its vars.
 */
export function checkQuestionConditions(q: PromptQuestion, declared: ConditionSpec[] | undefined, at: RangeOf, idRange: SourceRange, problems: ProblemList): void {
  const uses = q.conditions !== undefined || q.conditionOverrides !== undefined;
  if (!declared) {
    if (uses) problems.warning(at(q.conditions !== undefined ? 'conditions' : 'condition_overrides'), 'no-conditions', `question "${q.id}" sets ${q.conditions !== undefined ? 'conditions' : 'condition_overrides'}, but the prompt set declares no conditions (YAML: a top-level "conditions:" list; JSONL: a {"type": "conditions", …} line); it is ignored.`);
    return;
  }
  const names = declared.map((c) => c.name);
  const known = `declared conditions: ${names.join(', ')}`;
  if (Array.isArray(q.conditions)) {
    q.conditions.forEach((n, k) => {
      if (!names.includes(n)) problems.error(at('conditions', k), 'unknown-condition', `question "${q.id}" opts in to condition "${n}", which is not declared (${known}).`);
    });
  }
  for (const n of Object.keys(q.conditionOverrides ?? {})) {
    if (!names.includes(n)) problems.error(at('condition_overrides', n), 'unknown-condition', `condition_overrides of "${q.id}" names condition "${n}", which is not declared (${known}).`);
  }
  for (const c of questionConditions(q, declared) ?? []) {
    if (c.user_template === undefined) continue;
    const missing = placeholders(c.user_template).filter((p) => p !== 'user' && !(q.vars && Object.hasOwn(q.vars, p)));
    if (!missing.length) continue;
    const fromOverride = q.conditionOverrides?.[c.name]?.user_template !== undefined;
    const where = fromOverride ? at('condition_overrides', c.name) : q.vars ? at('vars') : idRange;
    problems.error(where, 'unknown-placeholder', `question "${q.id}" runs under condition "${c.name}", whose user_template uses ${missing.map((m) => `{${m}}`).join(', ')}, but the question's vars ${q.vars ? `have only ${Object.keys(q.vars).join(', ') || 'nothing'}` : 'are not set'}. Add ${missing.map((m) => `${m}: …`).join(', ')} under "vars:" of "${q.id}"${fromOverride ? '' : ', or opt the question out of the condition'}.`);
  }
}

/**
 * The conditions one question runs under, in declared order, with its overrides merged: null when the set has
 * no conditions or the question opts out (it then runs once, without a condition). `only` restricts the run
 * to these names (the CLI's --conditions).
 */
export function questionConditions(q: PromptQuestion, declared: ConditionSpec[] | undefined, only?: readonly string[]): ConditionSpec[] | null {
  if (!declared || q.conditions === false) return null;
  const optIn = q.conditions;
  const out: ConditionSpec[] = [];
  for (const c of declared) {
    if (optIn && !optIn.includes(c.name)) continue;
    if (only && !only.includes(c.name)) continue;
    const o = q.conditionOverrides?.[c.name];
    if (!o) {
      out.push(c);
      continue;
    }
    const merged: ConditionSpec = { ...c };
    for (const k of CONDITION_TRANSFORMS) {
      if (!(k in o)) continue;
      const v = o[k];
      if (v === null || v === undefined) delete merged[k];
      else merged[k] = v;
    }
    out.push(merged);
  }
  return out;
}

/** The declared conditions a run keeps: all, or the named ones (declared order). Throws on an unknown name. */
export function selectConditions(declared: ConditionSpec[] | undefined, names: readonly string[] | undefined, file: string): ConditionSpec[] | undefined {
  if (!names?.length) return declared;
  if (!declared) throw new Error(`${file} declares no conditions, so --conditions ${names.join(',')} selects nothing; remove --conditions or declare them (a top-level "conditions:" list).`);
  const unknown = names.filter((n) => !declared.some((c) => c.name === n));
  if (unknown.length) throw new Error(`${file}: no condition named ${unknown.map((u) => `"${u}"`).join(', ')}; declared: ${declared.map((c) => c.name).join(', ')}.`);
  return declared.filter((c) => names.includes(c.name));
}

/** True when the condition changes nothing (a control). */
export function isControl(c: ConditionSpec): boolean {
  return CONDITION_TRANSFORMS.every((k) => c[k] === undefined);
}

/** Fills a user_template: {user} → the user's text, {name} → vars[name]. Throws on a placeholder without a value. */
export function fillTemplate(template: string, user: string, vars: Record<string, string> = {}, what = 'user_template'): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (name === 'user') return user;
    if (!Object.hasOwn(vars, name)) throw new Error(`${what}: no value for {${name}} (add it to the question's vars).`);
    return vars[name];
  });
}

/** The conversation under a condition (a new array; the input is not modified). */
export function applyCondition(messages: readonly ChatMessage[], c: ConditionSpec, vars: Record<string, string> = {}): ChatMessage[] {
  let out = messages.map((m) => ({ ...m }));
  let u = -1;
  for (let i = out.length - 1; i >= 0; i--) if (out[i].role === 'user') {
    u = i;
    break;
  }
  if (u >= 0 && (c.user_template !== undefined || c.user_prefix !== undefined || c.user_suffix !== undefined)) {
    const text = c.user_template !== undefined ? fillTemplate(c.user_template, out[u].content, vars, `condition "${c.name}": user_template`) : out[u].content;
    out[u].content = (c.user_prefix ?? '') + text + (c.user_suffix ?? '');
  }
  if (c.system !== undefined) {
    out = out.filter((m) => m.role !== 'system');
    if (c.system !== '') out.unshift({ role: 'system', content: c.system });
  }
  if (c.system_append !== undefined) {
    const s = out.findIndex((m) => m.role === 'system');
    if (s >= 0) out[s].content = `${out[s].content}\n${c.system_append}`;
    else out.unshift({ role: 'system', content: c.system_append });
  }
  return out;
}
