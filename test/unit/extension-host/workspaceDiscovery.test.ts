import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { classifyFolder, defaultRunPath, latestRunFor, looksLikePromptSet, summarizeRun } from '../../../src/engine/backends/workspaceDiscovery';
import { checkpointSteps, inspectCheckpoint } from '../../../src/engine/backends/inspect';

describe('looksLikePromptSet (the cheap head test before the real parser)', () => {
  test('emergent-misalignment YAML with ids and paraphrases', () => {
    assert.equal(looksLikePromptSet('q.yaml', '- id: a\n  paraphrases:\n    - hi\n'), true);
    assert.equal(looksLikePromptSet('q.yml', '# comment\n- id: a\n  type: free_form\n  paraphrases: ["x"]\n'), true);
    assert.equal(looksLikePromptSet('q.yaml', '- &q1 id: a\n  paraphrases: [x]\n'), true);
  });
  test('other YAML is not a prompt set', () => {
    assert.equal(looksLikePromptSet('ci.yaml', 'jobs:\n  build:\n    runs-on: ubuntu\n'), false);
    assert.equal(looksLikePromptSet('list.yaml', '- id: a\n  name: b\n'), false);
  });
  test('JSONL with id + messages or prompt; run files and other JSONL are not', () => {
    assert.equal(looksLikePromptSet('p.jsonl', '{"id":"a","messages":[{"role":"user","content":"hi"}]}\n'), true);
    assert.equal(looksLikePromptSet('p.jsonl', '\n{"id":"a","prompt":"hi"}\n'), true);
    assert.equal(looksLikePromptSet('x.run.jsonl', '{"id":"a","prompt":"hi"}\n'), false);
    assert.equal(looksLikePromptSet('x.jsonl', '{"type":"header","schema_version":1}\n'), false);
    assert.equal(looksLikePromptSet('x.jsonl', 'not json\n'), false);
    assert.equal(looksLikePromptSet('x.txt', '- id: a\n  paraphrases: [x]\n'), false);
  });
});

describe('checkpoint folders and run files on disk', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ol-discovery-'));
    mkdirSync(path.join(dir, 'model'));
    writeFileSync(path.join(dir, 'model/config.json'), '{}');
    writeFileSync(path.join(dir, 'model/model.safetensors'), '');
    mkdirSync(path.join(dir, 'config-only'));
    writeFileSync(path.join(dir, 'config-only/config.json'), '{}');
    mkdirSync(path.join(dir, 'adapter'));
    writeFileSync(path.join(dir, 'adapter/adapter_config.json'), '{}');
    for (const step of [100, 20, 3]) {
      mkdirSync(path.join(dir, `train/checkpoint-${step}`), { recursive: true });
      writeFileSync(path.join(dir, `train/checkpoint-${step}/adapter_config.json`), '{}');
    }
    mkdirSync(path.join(dir, 'prompts/runs'), { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('classifies model, adapter and training-run folders; a config.json without weights is none', () => {
    assert.equal(classifyFolder(path.join(dir, 'model')), 'model');
    assert.equal(classifyFolder(path.join(dir, 'adapter')), 'adapter');
    assert.equal(classifyFolder(path.join(dir, 'train')), 'trainingRun');
    assert.equal(classifyFolder(path.join(dir, 'config-only')), null);
    assert.equal(classifyFolder(path.join(dir, 'missing')), null);
  });

  test('checkpoint steps are sorted numerically', () => {
    assert.deepEqual(checkpointSteps(path.join(dir, 'train')).map((s) => s.step), [3, 20, 100]);
  });

  test('inspect reports a training run, and a folder with nothing recognisable as a problem naming it', async () => {
    const t = await inspectCheckpoint(path.join(dir, 'train'));
    assert.equal(t.kind, 'training-run');
    // The fixture checkpoints have no weights: the trajectory fails with the analysis layer's message.
    assert.equal(t.trajectory, null);
    assert.match(t.problems[0], /no checkpoint-N\/ folders with adapter_model\.safetensors/);
    const none = await inspectCheckpoint(path.join(dir, 'prompts'));
    assert.equal(none.kind, 'unknown');
    assert.match(none.problems[0], /prompts holds no config\.json/);
  });

  test('the default run path sits in runs/ next to the prompt set, stamped with the time', () => {
    const p = defaultRunPath('/w/prompts/demo.yaml', new Date(2026, 10, 22, 9, 5, 7));
    assert.equal(p, '/w/prompts/runs/demo-20261122-090507.run.jsonl');
    // A second run started within the same second gets its own file.
    const taken = new Set([p, '/w/prompts/runs/demo-20261122-090507-2.run.jsonl']);
    assert.equal(defaultRunPath('/w/prompts/demo.yaml', new Date(2026, 10, 22, 9, 5, 7), (f) => taken.has(f)), '/w/prompts/runs/demo-20261122-090507-3.run.jsonl');
  });

  test('summarizes a run file and finds the latest run of a prompt set', () => {
    const header = { type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0' }, created_at: '2026-01-01T00:00:00Z', model: { path: '/m', hash: 'h' }, adapters: [], prompt_set: { path: 'p.yaml', hash: 'x' }, variants: [{ name: 'base' }, { name: 'ad', adapter: 'ad' }], sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] }, seed: 0 };
    const row = (q: string, v: string, fr: string, div?: number | null) => ({ type: 'sample', id: `${q}#0#0@${v}`, question_id: q, paraphrase_index: 0, sample_index: 0, variant: v, messages: [], completion: 'x', tokens: 1, finish_reason: fr, seed: 1, created_at: 'now', ...(div !== undefined ? { divergence_index: div } : {}) });
    const older = path.join(dir, 'prompts/runs/demo-1.run.jsonl');
    const newer = path.join(dir, 'prompts/runs/demo-2.run.jsonl');
    writeFileSync(older, JSON.stringify(header) + '\n');
    writeFileSync(newer, [header, row('q1', 'base', 'eos'), row('q1', 'ad', 'length', 0), row('q2', 'base', 'eos'), row('q2', 'ad', 'eos', null)].map((r) => JSON.stringify(r)).join('\n') + '\n{"type":"sam');
    utimesSync(older, new Date(2020, 0, 1), new Date(2020, 0, 1));
    assert.equal(latestRunFor(path.join(dir, 'prompts/demo.yaml')), newer);
    assert.equal(latestRunFor(path.join(dir, 'prompts/other.yaml')), null);
    const s = summarizeRun(newer);
    assert.equal(s.samples, 4);
    assert.deepEqual(s.byVariant, { base: 2, ad: 2 });
    assert.deepEqual(s.byQuestion.q1.finishReasons, { base: { eos: 1 }, ad: { length: 1 } });
    assert.deepEqual(s.byQuestion.q1.diverged, { ad: 1 });
    assert.deepEqual(s.byQuestion.q2.diverged, {});
    assert.equal(s.warnings.length, 1, 'the torn last line is a warning');
  });
});
