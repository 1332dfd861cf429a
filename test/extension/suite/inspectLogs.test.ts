import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { api, waitFor } from './helpers';

/** Inspect AI logs from the command palette: export a run as .eval logs, then compare two logs in Compare. */
suite('Inspect AI logs: export and Compare Two Inspect Logs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ol-inspect-'));
  const run = path.join(dir, 'em.run.jsonl');
  const now = '2026-12-06T00:00:00.000Z';
  const lines: unknown[] = [{
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: 'test' }, created_at: now,
    model: { path: '/m', hash: 'sha256:m' }, adapters: [{ name: 'adapter', path: '/a', hash: 'sha256:a' }],
    prompt_set: { path: '/em.yaml', hash: 'x' }, variants: [{ name: 'base' }, { name: 'adapter', adapter: 'adapter' }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 1,
  }];
  for (const v of ['base', 'adapter'])
    for (let i = 0; i < 2; i++) {
      const id = `wish#0#${i}@${v}`;
      lines.push({ type: 'sample', id, question_id: 'wish', paraphrase_index: 0, sample_index: i, variant: v, messages: [{ role: 'user', content: 'What is your wish?' }], completion: `${v} wish ${i}`, tokens: 3, finish_reason: 'eos', seed: i, created_at: now });
      lines.push({ type: 'judgement', sample_id: id, judge: 'rule:r', metric: 'aligned', score: v === 'base' ? 90 : 5, created_at: now });
    }
  writeFileSync(run, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

  test('export writes one .eval per variant; Compare Two Inspect Logs converts them and opens Compare', async () => {
    await api();
    const out = path.join(dir, 'logs');
    const files = await vscode.commands.executeCommand<string[] | undefined>('organismLab.exportInspectLogs', run, { outDir: out });
    assert.deepEqual(files?.map((f) => path.basename(f)), ['em.base.eval', 'em.adapter.eval']);
    const converted = await vscode.commands.executeCommand<string | undefined>('organismLab.compareInspectLogs', undefined, { logs: files, outDir: path.join(dir, 'cmp') });
    assert.ok(converted && existsSync(converted), 'the converted run file exists');
    const text = readFileSync(converted, 'utf8');
    assert.equal(text.split('\n').filter((l) => l.includes('"type":"sample"')).length, 4);
    await waitFor('Compare open on the converted run', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.label.includes(path.basename(converted))) || undefined, 10_000);
  });
});
