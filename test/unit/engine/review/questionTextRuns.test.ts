// Which run files hold which text of a question (the prompt-set review hover): matched by the messages recorded
// in the sample rows, per question and paraphrase, with the rates of the Run report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromptSet } from '../../../../src/engine/prompts/promptSet';
import { digestRun, holdsQuestionText, lastRunWithText, questionTextKeys, sameQuestionText } from '../../../../src/engine/review/questionTextRuns';
import type { RunContents } from '../../../../src/engine/runs/parse';
import type { RunHeader } from '../../../../src/engine/runs/schema';

const header = {
  type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: 't' }, created_at: '2026-12-06T00:00:00Z',
  model: { path: '/m', hash: 'h' }, adapters: [], prompt_set: { path: '/p.yaml', hash: 'x' }, variants: [{ name: 'base' }],
  sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1,
} as unknown as RunHeader;

/** A run of question `q` whose paraphrase p was asked as texts[p] (with an optional system prompt); `bad` samples judged misaligned. */
function run(texts: string[], bad: number, system?: string): RunContents {
  const samples = [];
  const judgements = [];
  for (let p = 0; p < texts.length; p++) {
    for (let i = 0; i < 4; i++) {
      const id = `q#${p}#${i}@base`;
      const messages = [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user' as const, content: texts[p] }];
      samples.push({ type: 'sample', id, question_id: 'q', paraphrase_index: p, sample_index: i, variant: 'base', messages, completion: 'x', tokens: 1, finish_reason: 'eos', seed: i, created_at: '' });
      judgements.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'aligned', score: p === 0 && i < bad ? 0 : 100, created_at: '' });
      judgements.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'coherent', score: 100, created_at: '' });
    }
  }
  return { header, samples, judgements, labels: [], warnings: [], validLength: 0 } as unknown as RunContents;
}

const question = (yaml: string) => parsePromptSet('/p.yaml', yaml).questions[0];
const oldQ = question('- id: q\n  paraphrases:\n    - "Old?"\n    - "Second?"\n');
const newQ = question('- id: q\n  paraphrases:\n    - "New?"\n    - "Second?"\n');
const newWithSystem = question('- id: q\n  system: "Be brief."\n  paraphrases:\n    - "New?"\n    - "Second?"\n');

test('a run holds a text when every paraphrase it ran was asked with that text', () => {
  const a = digestRun('/a.run.jsonl', run(['Old?', 'Second?'], 1), 1);
  assert.equal(holdsQuestionText(a, 'q', questionTextKeys(oldQ)), true);
  assert.equal(holdsQuestionText(a, 'q', questionTextKeys(newQ)), false, 'paraphrase 0 differs');
  assert.equal(holdsQuestionText(a, 'other', questionTextKeys(oldQ)), false, 'no rows of that id');
  // a run of paraphrase 0 only still holds the text; a system prompt is part of the text
  const partial = digestRun('/b.run.jsonl', run(['New?'], 0), 2);
  assert.equal(holdsQuestionText(partial, 'q', questionTextKeys(newQ)), true);
  assert.equal(holdsQuestionText(partial, 'q', questionTextKeys(newWithSystem)), false);
  const sys = digestRun('/c.run.jsonl', run(['New?'], 0, 'Be brief.'), 3);
  assert.equal(holdsQuestionText(sys, 'q', questionTextKeys(newWithSystem)), true);
});

test('the last run of a text is the newest matching one, with its judged rates', () => {
  const older = digestRun('/old1.run.jsonl', run(['Old?', 'Second?'], 1), 10);
  const newer = digestRun('/old2.run.jsonl', run(['Old?', 'Second?'], 3), 20);
  const other = digestRun('/new.run.jsonl', run(['New?', 'Second?'], 2), 30);
  const last = lastRunWithText([older, other, newer], 'q', questionTextKeys(oldQ));
  assert.equal(last?.file, '/old2.run.jsonl');
  const rates = last!.rates!.byQuestion.q[0];
  assert.equal(rates.misalignedCoherent.k, 3);
  assert.equal(rates.misalignedCoherent.n, 8);
  assert.equal(lastRunWithText([older, newer], 'q', questionTextKeys(newQ)), null);
});

/** A run of question `q`, paraphrase 0 asked as `text`, under each condition as `conditioned[name]` (user turn). */
function conditionedRun(conditioned: Record<string, string>): RunContents {
  const samples = Object.entries(conditioned).map(([condition, content], i) => ({
    type: 'sample', id: `q#0#0@base~${condition}`, question_id: 'q', paraphrase_index: 0, sample_index: 0, variant: 'base', condition,
    messages: [{ role: 'user', content }], completion: 'x', tokens: 1, finish_reason: 'eos', seed: i, created_at: '',
  }));
  return { header, samples, judgements: [], labels: [], warnings: [], validLength: 0 } as unknown as RunContents;
}

const conditionedSet = (prefix: string, override = '', vars = 'X') => parsePromptSet('/p.yaml', [
  'conditions:',
  '  - name: control',
  '  - name: trigger',
  `    user_prefix: "${prefix}"`,
  'questions:',
  '  - id: q',
  '    paraphrases: ["Hi?"]',
  `    vars: { v: "${vars}" }`,
  ...(override ? [`    condition_overrides: { trigger: { user_prefix: "${override}" } }`] : []),
  '',
].join('\n'));

test('under prompt conditions: a run holds a text when each condition it ran sent that condition\'s messages', () => {
  const oldSet = conditionedSet('[T] ');
  const newSet = conditionedSet('[TRIGGER] ');
  const keys = (set: ReturnType<typeof parsePromptSet>) => questionTextKeys(set.questions[0], set.conditions);
  const oldRun = digestRun('/old.run.jsonl', conditionedRun({ control: 'Hi?', trigger: '[T] Hi?' }), 1);
  const newRun = digestRun('/new.run.jsonl', conditionedRun({ control: 'Hi?', trigger: '[TRIGGER] Hi?' }), 2);
  assert.equal(holdsQuestionText(oldRun, 'q', keys(oldSet)), true);
  assert.equal(holdsQuestionText(oldRun, 'q', keys(newSet)), false, 'the trigger rows sent the old prefix');
  assert.equal(holdsQuestionText(newRun, 'q', keys(newSet)), true);
  assert.equal(holdsQuestionText(newRun, 'q', keys(oldSet)), false);
  assert.equal(sameQuestionText(keys(oldSet), keys(newSet)), false, 'a condition edit is a new text');
  assert.equal(sameQuestionText(keys(oldSet), keys(conditionedSet('[T] ', '', 'Y'))), true, 'a var no condition uses changes nothing');
  // an override is part of the text
  const overridden = conditionedSet('[T] ', '[O] ');
  assert.equal(holdsQuestionText(oldRun, 'q', keys(overridden)), false);
  assert.equal(holdsQuestionText(digestRun('/o.run.jsonl', conditionedRun({ trigger: '[O] Hi?' }), 3), 'q', keys(overridden)), true, 'a run of one condition only');
  // a run of the control alone holds both texts: its prompts did not change
  const controlOnly = digestRun('/c.run.jsonl', conditionedRun({ control: 'Hi?' }), 4);
  assert.equal(holdsQuestionText(controlOnly, 'q', keys(oldSet)), true);
  assert.equal(holdsQuestionText(controlOnly, 'q', keys(newSet)), true);
  // a condition the text no longer runs under: not held; rows without a condition match the plain prompt
  const plain = parsePromptSet('/p.yaml', '- id: q\n  paraphrases: ["Hi?"]\n');
  assert.equal(holdsQuestionText(oldRun, 'q', questionTextKeys(plain.questions[0], plain.conditions)), false);
  assert.equal(holdsQuestionText(digestRun('/p.run.jsonl', run(['Hi?'], 0), 5), 'q', keys(newSet)), true);
});
