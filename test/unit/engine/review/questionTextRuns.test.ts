// Which run files hold which text of a question (the prompt-set review hover): matched by the messages recorded
// in the sample rows, per question and paraphrase, with the rates of the Run report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromptSet } from '../../../../src/engine/prompts/promptSet';
import { digestRun, holdsQuestionText, lastRunWithText, questionTextKeys } from '../../../../src/engine/review/questionTextRuns';
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
