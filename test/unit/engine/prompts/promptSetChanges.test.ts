import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptSetChanges } from '../../../../src/engine/prompts/promptSetChanges';

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
