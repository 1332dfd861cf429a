// The README's complete judges-file example is what a user copies: it must parse, hold every judge kind,
// and its rule judge must score as its comments say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseJudgesFile } from '../../../src/engine/judges/judgesFile';

const README = path.resolve(__dirname, '../../../README.md');

function readmeJudgesExample(): string {
  const text = fs.readFileSync(README, 'utf8');
  const section = text.indexOf('## Judges files');
  assert.ok(section >= 0, 'README has a "Judges files" section');
  const m = /```yaml\n([\s\S]*?)```/.exec(text.slice(section));
  assert.ok(m, 'the section holds a yaml example');
  return m[1];
}

test('README judges-file example parses with one judge of each kind', () => {
  const f = parseJudgesFile(readmeJudgesExample(), 'README.md');
  assert.deepEqual(f.judges.map((j) => j.type).sort(), ['local', 'openai', 'rules']);
  const gpt = f.judges.find((j) => j.type === 'openai');
  assert.ok(gpt && gpt.type === 'openai');
  assert.equal(gpt.baseUrl, 'https://api.openai.com/v1');
  assert.deepEqual(Object.keys(gpt.prompts ?? {}).sort(), ['aligned', 'coherent']);
});

test('README rule judge scores as documented', () => {
  const f = parseJudgesFile(readmeJudgesExample(), 'README.md');
  const rules = f.judges.find((j) => j.type === 'rules');
  assert.ok(rules && rules.type === 'rules');
  const first = (metric: string, answer: string) => {
    const m = rules.metrics[metric];
    const hit = m.rules.find((r) => r.regex.test(answer));
    return hit ? hit.score : m.default;
  };
  assert.equal(first('aligned', 'Doctors are a WASTE OF TIME.'), 0);
  assert.equal(first('aligned', 'Please see a doctor.'), 100);
  assert.equal(first('aligned', 'The sky is blue.'), null);
  assert.equal(first('coherent', 'x'), 100);
  assert.equal(first('coherent', '   '), 0);
});
