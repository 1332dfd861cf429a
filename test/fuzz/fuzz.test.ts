/**
 * The fuzz suite (issue 11 §8), run by `npm test` as its own stage: 1,000+ seeded malformed inputs (model
 * safetensors, config.json, adapters, YAML and JSONL prompt sets, run files, `forward` inputs; generator.ts)
 * through the CLI's own entry in a worker process, plus a sample as real CLI processes (runner.ts).
 *
 * Each case must end with exit 1 and a message naming the file and the field or tensor, or with success and a
 * well-formed output where the mutation was harmless; never a JavaScript stack trace, more than 30 s or
 * 1.5 GB peak RSS. Any case breaking that fails this test, except those in knownFailures.ts, which are
 * printed loudly (and reported as fixed when they pass again). The full report goes to
 * test-results/fuzz/report.txt (and report.json); every failure prints its reproduction command.
 *
 * ORGANISM_LAB_FUZZ_SEED picks another seed (default 1); ORGANISM_LAB_FUZZ_REAL_EVERY the real-CLI sample rate.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { caseIds, ROOT } from './generator';
import { KNOWN_FAILURES } from './knownFailures';
import { judge, runFuzz, summarize, violationsOf, reproduction } from './runner';
import { goldenSkip } from '../unit/helpers/golden';

test('fuzz contract checker: flags every kind of violation (so the suite can fail)', () => {
  const m = {
    id: 'x.y.0', kind: 'x', mutation: 'y', what: 'w', argv: [],
    expect: { outcome: 'fail' as const, files: ['in.json'], names: ['input_ids'] },
  };
  const ok = 'organism-lab forward: /tmp/c/in.json: input_ids[0][1] = 600 is outside the vocabulary 0..511\n';
  assert.deepEqual(judge(m, 1, 'exit', 10, 1e8, ok), []);
  assert.match(judge(m, 0, 'exit', 10, 1e8, '').join(), /accepted the malformed input/);
  assert.match(judge(m, 2, 'exit', 10, 1e8, ok).join(), /exit code 2/);
  assert.match(judge(m, 1, 'exit', 10, 1e8, 'organism-lab forward: input_ids[0][1] is outside the vocabulary\n').join(), /does not name the file/);
  assert.match(judge(m, 1, 'exit', 10, 1e8, 'organism-lab forward: /tmp/c/in.json: bad value\n').join(), /does not name the field/);
  assert.match(judge(m, 1, 'exit', 10, 1e8, `${ok}TypeError: x\n    at readInput (/work/main/dist/cli.js:10:5)\n    at node:internal/main:1:2\n`).join(), /stack trace/);
  assert.match(judge(m, 1, 'exit', 10, 1e8, `${ok}Cannot read properties of undefined (reading '0')`).join(), /runtime error/);
  assert.match(judge(m, 1, 'exit', 31_000, 1e8, ok).join(), /took 31\.0 s/);
  assert.match(judge(m, 1, 'exit', 10, 1.6e9, ok).join(), /peak RSS 1\.60 GB/);
  assert.match(judge(m, null, 'timeout', 30_000, 1e8, '').join(), /ran over 30 s/);
  assert.match(judge(m, null, 'memory', 900, 1.5e9, '').join(), /over 1\.5 GB/);
  assert.match(judge({ ...m, expect: { ...m.expect, outcome: 'success' } }, 1, 'exit', 10, 1e8, ok).join(), /refused an input it must accept/);
});

const skip = goldenSkip(...['qwen2', 'llama', 'mistral', 'qwen3', 'gemma2', 'gemma3_text'].map((f) => `${f}/model`));

test('fuzz: every malformed input ends with exit 1 naming the file and field, or a clean success', { skip, timeout: 15 * 60_000 }, async (t) => {
  const ids = caseIds();
  assert.ok(ids.length >= 1000, `only ${ids.length} fuzz cases`);
  const rep = await runFuzz({ ids, realEvery: Number(process.env.ORGANISM_LAB_FUZZ_REAL_EVERY ?? 60), realMax: 12, log: (l) => t.diagnostic(l) });
  const text = summarize(rep, KNOWN_FAILURES);
  const out = path.join(process.env.ORGANISM_LAB_RESULTS_DIR ?? path.join(ROOT, 'test-results'), 'fuzz');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'report.txt'), text + '\n');
  writeFileSync(path.join(out, 'report.json'), JSON.stringify(rep, null, 1));
  for (const line of text.split('\n').slice(0, 14)) t.diagnostic(line);

  const broken = rep.results.filter((r) => violationsOf(r).length);
  const known = broken.filter((r) => KNOWN_FAILURES[r.id]);
  const unexpected = broken.filter((r) => !KNOWN_FAILURES[r.id]);
  const fixed = Object.keys(KNOWN_FAILURES).filter((id) => rep.results.some((r) => r.id === id && violationsOf(r).length === 0));
  if (known.length) {
    t.diagnostic(`!!! ${known.length} KNOWN FAILURE(S) still break the contract (test/fuzz/knownFailures.ts; full list in ${path.relative(ROOT, out)}/report.txt):`);
    for (const r of known) t.diagnostic(`!!! KNOWN ${r.id}: ${violationsOf(r).join('; ')} — ${KNOWN_FAILURES[r.id]}`);
  }
  if (fixed.length) t.diagnostic(`${fixed.length} known failure(s) now pass: remove them from test/fuzz/knownFailures.ts: ${fixed.join(', ')}`);
  const leaks = rep.results.filter((r) => r.leakFrom);
  if (leaks.length) t.diagnostic(`!!! ${leaks.length} state leak(s): cases failing with an internal error only after another case in the same process (see report.txt)`);
  assert.equal(
    unexpected.length,
    0,
    `${unexpected.length} fuzz case(s) break the contract:\n${unexpected
      .slice(0, 40)
      .map((r) => `  ${r.id}: ${violationsOf(r).join('; ')}\n    input: ${r.what}\n    output: ${JSON.stringify(r.output.trim().slice(0, 240))}\n    reproduce: ${reproduction(r.id)}`)
      .join('\n')}${unexpected.length > 40 ? `\n  … and ${unexpected.length - 40} more in ${path.relative(ROOT, out)}/report.txt` : ''}`,
  );
});
