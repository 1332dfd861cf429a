import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { ACTIVATIONS_VIEW_TYPE, OPEN_ACTIVATIONS_COMMAND } from '../../../src/protocol/activations';
import { DEFAULT_FILTERS } from '../../../src/protocol/compare';
import { OPEN_RUN_REPORT_COMMAND, REPORT_VIEW_TYPE } from '../../../src/protocol/report';
import { VIEW_TYPES } from '../../../src/protocol/webviews';
import { api, repoRoot } from './helpers';

suite('webview panels: one manager restores every panel type', () => {
  const kinds = (runUri: string) => [
    { viewType: VIEW_TYPES.compare, command: 'organismLab.compare', title: 'Compare: ', state: { version: 1, runUri, filters: DEFAULT_FILTERS, focusedSampleId: null } },
    { viewType: REPORT_VIEW_TYPE, command: OPEN_RUN_REPORT_COMMAND, title: 'Report: ', state: { runUri, judge: null, reference: null } },
    { viewType: ACTIVATIONS_VIEW_TYPE, command: OPEN_ACTIVATIONS_COMMAND, title: 'Activations: ', state: { runUri, sampleId: null, metric: 'relNorm' } },
  ];

  test('a Compare, Run report and Activations panel is restored through the manager when none shows its run; a duplicate is closed; a state naming nothing gets the one note', async () => {
    const { ctx } = await api();
    const run = path.join(mkdtempSync(path.join(os.tmpdir(), 'ol-panels-')), 'restored.run.jsonl');
    copyFileSync(path.join(repoRoot(), 'test/fixtures/runs/adversarial.run.jsonl'), run);
    const runUri = vscode.Uri.file(run);
    const key = runUri.toString();
    for (const kind of kinds(key)) {
      const registry = ctx.panels.registry(kind.viewType);
      assert.ok(registry, `${kind.viewType} is registered with the panel manager`);
      assert.equal(registry.get(key), undefined, `no ${kind.viewType} panel shows the run yet`);
      const open = registry.size;

      // What VS Code does after a reload: a bare panel of the view type, handed to the type's serializer.
      const restored = vscode.window.createWebviewPanel(kind.viewType, 'bare', vscode.ViewColumn.Active, {});
      registry.restore(restored, kind.state);
      assert.equal(registry.get(key)?.panel, restored, `${kind.viewType}: the restored panel is the run's panel`);
      assert.equal(restored.title, `${kind.title}restored.run.jsonl`);
      assert.match(restored.webview.html, /Content-Security-Policy/);
      assert.doesNotMatch(restored.webview.html, /could not be restored/);

      // The same run restored twice (two saved panels): the second is closed, the first stays.
      const duplicate = vscode.window.createWebviewPanel(kind.viewType, 'bare', vscode.ViewColumn.Active, {});
      let closed = false;
      duplicate.onDidDispose(() => (closed = true));
      registry.restore(duplicate, kind.state);
      assert.ok(closed, `${kind.viewType}: the duplicate is closed`);
      assert.equal(registry.get(key)?.panel, restored);

      // Its open command reveals the restored panel instead of opening another.
      await vscode.commands.executeCommand(kind.command, runUri);
      assert.equal(registry.size, open + 1);
      assert.equal(registry.get(key)?.panel, restored);

      // A saved state that names no run: the manager's one "could not be restored" page, and nothing tracked.
      const broken = vscode.window.createWebviewPanel(kind.viewType, 'bare', vscode.ViewColumn.Active, {});
      registry.restore(broken, { runUri: 42 });
      assert.match(broken.webview.html, /could not be restored\. Open it again with &quot;Organism Lab: /);
      assert.equal(registry.size, open + 1);
      broken.dispose();

      restored.dispose();
      assert.equal(registry.get(key), undefined, `${kind.viewType}: a closed panel leaves the registry`);
    }
  });
});
