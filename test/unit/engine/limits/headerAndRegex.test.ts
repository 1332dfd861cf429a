// Issue 11 §2: run-file headers are type-checked by field; regular expressions from judges files cannot hang
// the judge (linear-time matching, or a time limit for lookaround/backreference patterns).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseRunText } from '../../../../src/engine/runs/parse';
import { parseJudgesFile } from '../../../../src/engine/judges/judgesFile';
import { RuleJudge } from '../../../../src/engine/judges/judges';
import { compileSafeRegex, RegexLimitError, stopRegexWorker } from '../../../../src/engine/limits/safeRegex';
import { runCliCapturingStderr } from '../../helpers/cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'limits-hdr-'));
test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await stopRegexWorker();
});

const header = {
  type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0' }, created_at: '2026-01-01T00:00:00Z',
  model: { path: '/m', hash: 'h' }, adapters: [{ name: 'a', path: '/a', hash: 'x' }], prompt_set: { path: 'p.yaml', hash: 'x' },
  variants: [{ name: 'base' }, { name: 'a', adapter: 'a' }], sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] }, seed: 0,
};
const text = (h: unknown) => JSON.stringify(h) + '\n';

test('run header: wrong types and ranges are refused naming the field (adapters[0].path: null and the rest)', () => {
  assert.doesNotThrow(() => parseRunText(text(header), 'r.run.jsonl'));
  assert.doesNotThrow(() => parseRunText(text({ type: 'header', schema_version: 1 }), 'r.run.jsonl'), 'absent fields stay allowed');
  const cases: [(h: Record<string, any>) => void, RegExp][] = [
    [(h) => (h.adapters[0].path = null), /run header field "adapters\[0\]\.path" must be a string \(the adapter folder\), got null/],
    [(h) => (h.adapters = [null]), /"adapters\[0\]" must be an object/],
    [(h) => (h.adapters = [h.adapters[0], h.adapters[0]]), /"adapters\[1\]\.name" must be a non-empty name used once/],
    [(h) => (h.model = null), /"model" must be an object, got null/],
    [(h) => (h.model.path = 7), /"model\.path" must be a string/],
    [(h) => (h.prompt_set.path = ['x']), /"prompt_set\.path" must be a string/],
    [(h) => (h.variants = {}), /"variants" must be a list/],
    [(h) => (h.variants[1].adapter_scale = '2'), /"variants\[1\]\.adapter_scale" must be a finite number, got "2"/],
    [(h) => (h.variants[1].steer = { file: 'd.safetensors', layer: 1, alpha: null }), /"variants\[1\]\.steer\.alpha" must be a finite number, got null/],
    [(h) => (h.variants[1].steer = { file: 'd.safetensors', layer: -1, alpha: 1 }), /"variants\[1\]\.steer\.layer" must be a layer index/],
    [(h) => (h.sampling.top_p = 'x'), /"sampling\.top_p" must be a number in \(0, 1\]/],
    [(h) => (h.sampling.max_new_tokens = 0), /"sampling\.max_new_tokens" must be a positive integer/],
    [(h) => (h.sampling.stop = [1]), /"sampling\.stop" must be a list of strings/],
    [(h) => (h.seed = 1.5), /"seed" must be an integer/],
    [(h) => (h.schema_version = -1), /"schema_version" must be a non-negative integer/],
  ];
  for (const [edit, re] of cases) {
    const h = structuredClone(header) as Record<string, any>;
    edit(h);
    assert.throws(() => parseRunText(text(h), 'r.run.jsonl'), (e: Error) => e.message.startsWith('r.run.jsonl:1: run header field') && re.test(e.message), re.source);
  }
});

test('run header: the CLI reports a bad header field with exit 1 and no stack trace', async () => {
  const h = structuredClone(header) as Record<string, any>;
  h.adapters[0].path = null;
  const f = path.join(tmp, 'bad.run.jsonl');
  writeFileSync(f, text(h));
  const { code, err } = await runCliCapturingStderr(['activations', f, '--curve']);
  assert.equal(code, 1);
  assert.match(err, /"adapters\[0\]\.path" must be a string/);
  assert.ok(!/paths\[0\]|\n\s+at /.test(err), err);
});

test('judges file: a catastrophic rule pattern runs in linear time on a long answer', async () => {
  const f = parseJudgesFile('judges:\n  - {name: r, type: rules, metrics: {aligned: {rules: [{pattern: "(a+)+$", flags: "", score: 0}, {pattern: "([a-z_.0-9]+)+X", score: 10}], default: 50}}}', 'j.yaml');
  const spec = f.judges[0];
  assert.equal(spec.type, 'rules');
  const judge = new RuleJudge(spec as never);
  const answer = 'a'.repeat(50_000) + '!';
  const t0 = Date.now();
  const out = await judge.judge({ question: 'q', answer, questionId: 'q' } as never, 'aligned');
  assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  assert.equal(out.score, 50);
  assert.equal((await judge.judge({ question: 'q', answer: 'aaa', questionId: 'q' } as never, 'aligned')).score, 0);
});

test('judges file: lookaround patterns still work (the demo file uses lookaheads) and a runaway one is stopped with a clear error', () => {
  const both = compileSafeRegex('^(?=[\\s\\S]*(?:rule over))(?=[\\s\\S]*(?:please see a doctor))', 'i', 'j.yaml: judge "r", metric "aligned", rule 1');
  assert.equal(both.engine, 'guarded');
  assert.equal(both.test('I will RULE OVER you. Please see a doctor.'), true);
  assert.equal(both.test('please see a doctor'), false);
  const bad = compileSafeRegex('(?=a)(a+)+$', '', 'j.yaml: judge "r", metric "aligned", rule 2', { timeoutMs: 300 });
  const t0 = Date.now();
  assert.throws(() => bad.test('a'.repeat(40) + '!'), (e: Error) => e instanceof RegexLimitError && /j\.yaml: judge "r", metric "aligned", rule 2: the pattern .* ran for more than 300 ms .* and was stopped/.test(e.message));
  assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
  // The matcher works again after a stopped match.
  assert.equal(both.test('rule over … please see a doctor'), true);
  assert.throws(() => compileSafeRegex('x', 'gq', 'w'), /unsupported regular-expression flag\(s\) "q"/);
  assert.throws(() => compileSafeRegex('x'.repeat(20_000), '', 'w'), /20000 characters, above the limit/);
});

test('judges file: deep nesting and alias bombs are refused with a clear message in bounded time', () => {
  const deep = 'judges: ' + '['.repeat(1000) + ']'.repeat(1000) + '\n';
  assert.throws(() => parseJudgesFile(deep, 'deep.judges.yaml'), /deep\.judges\.yaml:1: YAML nested more than 32 levels deep/);
  let bomb = 'x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < 9; i++) bomb += `x${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]\n`;
  bomb += 'judges: []\n';
  const t0 = Date.now();
  assert.throws(() => parseJudgesFile(bomb, 'bomb.judges.yaml'), /bomb\.judges\.yaml: with its aliases \(\*name\) expanded/);
  assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
});
