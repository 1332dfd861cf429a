// Issue 11 §2: `organism-lab run` refuses prompts that cannot fit the model's context (or --context-budget)
// before the model is loaded and before the run file is created: exit 1, file/question/token count, no stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCliCapturingStderr } from '../../helpers/cli';

const tmp = mkdtempSync(path.join(tmpdir(), 'limits-run-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const DEMO = path.resolve(__dirname, '../../../../examples/organisms/demo-base'); // max_position_embeddings 256

const cli = runCliCapturingStderr;

test('run: a prompt above max_position_embeddings, or above --context-budget, is refused before loading', async () => {
  const set = path.join(tmp, 'long.yaml');
  writeFileSync(set, `- id: short\n  paraphrases: [Hello]\n- id: paraphrase_1mb\n  paraphrases: ["${'tell me about the weather '.repeat(400)}"]\n`);
  const out = path.join(tmp, 'long.run.jsonl');
  const r = await cli(['run', set, '--model', DEMO, '--out', out, '--max-new-tokens', '16', '--no-progress']);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /long\.yaml:3: question "paraphrase_1mb" paraphrase 0: the prompt is [\d,]+ tokens, which leaves no position to generate in within the context budget of 256/);
  assert.ok(!/\n\s+at /.test(r.err), r.err);
  assert.equal(existsSync(out), false);
  const short = path.join(tmp, 'short.yaml');
  writeFileSync(short, '- id: short\n  paraphrases: [Hello there, how are you today?]\n');
  const b = await cli(['run', short, '--model', DEMO, '--out', out, '--max-new-tokens', '8', '--context-budget', '6', '--no-progress']);
  assert.equal(b.code, 1, b.err);
  assert.match(b.err, /question "short" paraphrase 0: the prompt is [\d,]+ tokens, which leaves no position to generate in within the context budget of 6[\s\S]*--context-budget/);
  assert.equal((await cli(['run', short, '--model', DEMO, '--out', out, '--context-budget', '0'])).code, 2);
  assert.equal(existsSync(out), false);
});
