import assert from 'node:assert/strict';
import path from 'node:path';
import * as vscode from 'vscode';
import { api, EXTENSION_ID, repoRoot, testHooks, waitFor, workspaceFolder } from './helpers';

suite('workspace trust', () => {
  test('the manifest declares limited support in untrusted workspaces and restricts the engine settings', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    for (const s of ['organismLab.defaultModel', 'organismLab.executionProvider', 'organismLab.cacheFolder']) {
      assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes(s), `${s} not restricted`);
    }
  });

  test('in an untrusted workspace, running, loading and smoke tests refuse without starting the engine host', async () => {
    const a = await api();
    const hooks = await testHooks();
    const wasRunning = a.ctx.engine.client.running;
    hooks.setTrustOverride(false);
    try {
      const promptSet = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
      assert.equal(await vscode.commands.executeCommand('organismLab.runPromptSet', promptSet, { quiet: true, variants: 'base' }), undefined);
      assert.equal(await vscode.commands.executeCommand('organismLab.runQuestion', promptSet, 'greet', { quiet: true }), undefined);
      assert.equal(await vscode.commands.executeCommand('organismLab.loadModel', vscode.Uri.file(workspaceFolder())), undefined);
      assert.equal(await vscode.commands.executeCommand('organismLab.smokeTest', { quiet: true }), undefined);
      assert.equal(a.ctx.engine.client.running, wasRunning, 'an untrusted workspace must not start the engine host');
    } finally {
      hooks.setTrustOverride(undefined);
    }
  });

  test('viewing run files needs no trust: the Runs view lists them and Open Run shows the run-file editor', async () => {
    const a = await api();
    const hooks = await testHooks();
    hooks.setTrustOverride(false);
    try {
      const items = await a.views.runs.getChildren();
      assert.ok(Array.isArray(items));
      const fixture = vscode.Uri.file(path.join(repoRoot(), 'test/fixtures/runs/adversarial.run.jsonl'));
      await vscode.commands.executeCommand('organismLab.openRun', fixture);
      const tab = await waitFor('the run-file editor tab', () => {
        const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        return input instanceof vscode.TabInputCustom && input.uri.fsPath === fixture.fsPath ? input : undefined;
      });
      assert.equal(tab.viewType, 'organismLab.runFile');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      hooks.setTrustOverride(undefined);
    }
  });
});
