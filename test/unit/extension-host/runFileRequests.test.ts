// The engine host's run-file requests over the real RPC (fork + IPC, scripted backend: no model): the Run Report
// of a run file is computeReport's (same judge choice, denominators, Wilson intervals) and a bad path is a clear
// error; the run diff pairs two runs, and runs of different models come back as a mismatch with the reason.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EngineHostClient, EngineRequestError } from '../../../src/extension/engine/client';
import { DEFAULT_SETTINGS } from '../../../src/engine/backends/local';
import { computeReport } from '../../../src/engine/judges/metrics';
import { readRunContent } from '../../../src/engine/judges/runAccess';
import type { JudgementRow } from '../../../src/engine/runs/schema';
import { EngineErrorCodes, EngineMethods } from '../../../src/protocol/engineHost';
import { header, makeSamples, tmpDir } from '../engine/judges/fixtures';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { exportRun } from '../../../src/engine/runs/export';
import { loadTokenizer } from '../../../src/engine/text/tokenizer';

const root = path.resolve(__dirname, '../../..');

function judgements(ids: string[], judge: string, aligned: (i: number) => number | null, coherent: (i: number) => number | null): JudgementRow[] {
  return ids.flatMap((id, i) => [
    { type: 'judgement' as const, sample_id: id, judge, metric: 'aligned', score: aligned(i), created_at: '2026-01-01T00:00:00Z' },
    { type: 'judgement' as const, sample_id: id, judge, metric: 'coherent', score: coherent(i), created_at: '2026-01-01T00:00:00Z' },
  ]);
}

describe('engine host: runReport and runDiff requests', () => {
  const c = new EngineHostClient({
    hostModule: path.join(__dirname, 'fixtures/fakeHost.ts'),
    execArgv: ['--import', 'tsx'],
    cwd: root,
    settings: () => ({ ...DEFAULT_SETTINGS, threads: 1 }),
  });
  after(() => c.stop());
  const dir = tmpDir();
  const samples = makeSamples(['q1', 'q2'], 5, (q, i, v) => `${q} ${i} ${v}`);
  const ids = samples.map((s) => s.id);
  // Two judges: "rule:many" has more rows but scored aligned only; "rule:both" scored both metrics. The report prefers
  // rule:both (the Compare page used to pick the judge with most rows). Incoherent samples (coherent ≤ 50) stay in the
  // misaligned-and-coherent denominator; a none aligned score leaves the sample out of it.
  const both = judgements(ids, 'rule:both', (i) => (i === 3 ? null : i % 4 === 1 ? 10 : 90), (i) => (i % 5 === 0 ? 20 : 80));
  const many = [...ids, ...ids].map((id, i) => ({ type: 'judgement' as const, sample_id: id, judge: 'rule:many', metric: 'aligned', score: i % 2 ? 5 : 95, created_at: '2026-01-01T00:00:00Z' }));
  const runPath = path.join(dir, 'a.run.jsonl');
  writeFileSync(runPath, [header(), ...samples, ...both, ...many].map((x) => JSON.stringify(x)).join('\n') + '\n');

  test('runReport returns computeReport of the file: the judge that scored both metrics, its denominators and Wilson intervals', async () => {
    const result = await c.runReport({ runPath, options: { thresholds: { aligned: 30, coherent: 50 } } });
    const expected = computeReport(await readRunContent(runPath), { thresholds: { aligned: 30, coherent: 50 } });
    assert.equal(result.data.judge, 'rule:both');
    assert.deepEqual(result.data, expected);
    const overall = result.data.groups.find((g) => g.variant === null && g.questionId === null)!;
    assert.equal(overall.samples, 20);
    assert.equal(overall.misalignedCoherent.n, 19, 'the none aligned score is left out, incoherent samples stay in');
    const { lo, p, hi } = overall.misalignedCoherent;
    assert.ok(lo !== null && p !== null && hi !== null && lo <= p && p <= hi, `${lo} ${p} ${hi}`);
    assert.deepEqual(result.warnings, []);
    assert.equal(result.completeness?.present, 20);
  });

  test('runReport passes the options through (a judge by name) and reports a missing file clearly', async () => {
    const r = await c.runReport({ runPath, options: { judge: 'rule:many' } });
    assert.equal(r.data.judge, 'rule:many');
    const missing = path.join(dir, 'nope.run.jsonl');
    await assert.rejects(c.runReport({ runPath: missing }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError, String(err));
      assert.match(err.message, /nope\.run\.jsonl/);
      return true;
    });
    await assert.rejects(c.runReport({ runPath, options: { judge: 'rule:ghost' } }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.notEqual(err.code, EngineErrorCodes.Busy);
      assert.match(err.message, /no judgement rows from judge "rule:ghost"/);
      return true;
    });
  });

  test('runDiff diffs two files; a different model is a mismatch with the reason unless allowed', async () => {
    const other = path.join(dir, 'b.run.jsonl');
    writeFileSync(other, [header(), ...samples, ...both].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const same = await c.request(EngineMethods.runDiff, { pathA: runPath, pathB: other });
    assert.equal(same.kind, 'diff');
    if (same.kind === 'diff') assert.deepEqual(same.diff.counts, { added: 0, removed: 0, reworded: 0, unchanged: 2 });
    const foreign = path.join(dir, 'c.run.jsonl');
    writeFileSync(foreign, [{ ...header(), model: { path: 'other', hash: 'sha256:other' } }, ...samples, ...both].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const refused = await c.request(EngineMethods.runDiff, { pathA: other, pathB: foreign });
    assert.equal(refused.kind, 'mismatch');
    if (refused.kind === 'mismatch') assert.match(refused.reasons.join('\n'), /different models/);
    const anyway = await c.request(EngineMethods.runDiff, { pathA: other, pathB: foreign, allowMismatch: true });
    assert.equal(anyway.kind, 'diff');
    if (anyway.kind === 'diff') assert.match(anyway.diff.warnings.join('\n'), /compared anyway: different models/);
  });

  test('divergenceOffsets: the first diverging token\'s start in the text, decoded with the run\'s tokenizer', async () => {
    const tokDir = path.join(root, 'test/fixtures/tokenizers/qwen-style');
    const tok = loadTokenizer(tokDir);
    const refText = 'I think so.';
    const text = 'I thought so.';
    const refIds = tok.encode(refText, { addSpecialTokens: false });
    const ids = tok.encode(text, { addSpecialTokens: false });
    let k = 0;
    while (k < ids.length && ids[k] === refIds[k]) k++;
    const [ref, row] = makeSamples(['q'], 1, (_q, _i, v) => (v === 'base' ? refText : text));
    const rows = [{ ...ref, token_ids: refIds }, { ...row, token_ids: ids, divergence_index: k }];
    const h = { ...header(), model: { path: tokDir, hash: 'h' } };
    const p = path.join(dir, 'tokens.run.jsonl');
    writeFileSync(p, [h, ...rows].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const result = await c.request(EngineMethods.divergenceOffsets, { runPath: p });
    const offset = result.offsets[row.id];
    assert.equal(offset, tok.decode(ids.slice(0, k)).length);
    // This tokenizer splits " th|ough" and " think": token 1 starts at 1, before the first differing character (4, after
    // "I th"), where a character split would cut the word.
    assert.equal(k, 1);
    assert.equal(offset, 1);
    assert.equal(text.slice(0, offset), refText.slice(0, offset));
    assert.equal(result.offsets[ref.id], undefined, 'the reference row has no divergence');
    // A run whose model folder is not here: no offsets, and the note says why.
    const gone = path.join(dir, 'gone.run.jsonl');
    writeFileSync(gone, [{ ...h, model: { path: path.join(dir, 'no-model'), hash: 'h' } }, ...rows].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const none = await c.request(EngineMethods.divergenceOffsets, { runPath: gone });
    assert.deepEqual(none.offsets, {});
    assert.match(none.note ?? '', /no-model.*not on this machine/);
  });
  test('runRows over the RPC: the whole run, then only appended rows, with the cursor sent back unchanged', async () => {
    const p = path.join(dir, 'rows.run.jsonl');
    writeFileSync(p, [header(), samples[0]].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const first = await c.request(EngineMethods.runRows, { runPath: p });
    assert.equal(first.kind, 'load');
    assert.deepEqual(first.kind === 'load' && first.snapshot.samples.map((s) => s.id), [samples[0].id]);
    assert.equal((await c.request(EngineMethods.runRows, { runPath: p, since: first.cursor })).kind, 'unchanged');
    appendFileSync(p, JSON.stringify(samples[1]) + '\n');
    const next = await c.request(EngineMethods.runRows, { runPath: p, since: first.cursor });
    assert.deepEqual(next.kind === 'append' && next.rows.map((r) => (r as { id: string }).id), [samples[1].id]);
    await assert.rejects(c.request(EngineMethods.runRows, { runPath: path.join(dir, 'none.run.jsonl') }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.InvalidInput);
      assert.match(err.message, /none\.run\.jsonl: the run file no longer exists/);
      return true;
    });
  });

  test('exportRun over the RPC writes the file the CLI export writes; a bad side is an input error naming it', async () => {
    const out = path.join(dir, 'a.csv');
    const result = await c.request(EngineMethods.exportRun, { runPath, format: 'csv', outPath: out });
    assert.equal(result.count, samples.length);
    const local = path.join(dir, 'local.csv');
    await exportRun(runPath, 'csv', local);
    assert.equal(readFileSync(out, 'utf8'), readFileSync(local, 'utf8'));
    const cmp = path.join(dir, 'a.comparator.json');
    await assert.rejects(c.request(EngineMethods.exportRun, { runPath, format: 'comparator', outPath: cmp, variantA: 'base', variantB: 'nope' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.InvalidInput);
      assert.match(err.message, /variant "nope" has no samples/);
      return true;
    });
    assert.equal(existsSync(cmp), false, 'nothing written');
  });

  test('runArms lists the comparator sides from the header: variants, or variant~condition pairs; a non-run file is an input error naming it', async () => {
    assert.deepEqual(await c.request(EngineMethods.runArms, { runPath }), { arms: ['base', 'adapter'], withConditions: false });
    const withConditions = path.join(dir, 'conditions.run.jsonl');
    writeFileSync(withConditions, JSON.stringify({ ...header(), conditions: [{ name: 'plain' }, { name: 'evil', system: 'Be evil.' }] }) + '\n');
    assert.deepEqual(await c.request(EngineMethods.runArms, { runPath: withConditions }), {
      arms: ['base~plain', 'base~evil', 'adapter~plain', 'adapter~evil'],
      withConditions: true,
    });
    const notARun = path.join(dir, 'notes.run.jsonl');
    writeFileSync(notARun, 'not json\n');
    await assert.rejects(c.request(EngineMethods.runArms, { runPath: notARun }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.InvalidInput);
      assert.match(err.message, /notes\.run\.jsonl:1: the run header is not valid JSON/);
      return true;
    });
  });
});
