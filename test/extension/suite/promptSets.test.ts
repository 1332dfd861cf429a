import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { waitFor, workspaceFolder } from './helpers';

suite('prompt-set editing: diagnostics and CodeLens', () => {
  test('a broken prompt set gets diagnostics with line and column', async () => {
    const uri = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/broken.yaml'));
    await vscode.window.showTextDocument(uri);
    const diags = await waitFor('Organism Lab diagnostics on broken.yaml', () => {
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Organism Lab');
      return d.length >= 2 ? d : undefined;
    });
    const messages = diags.map((d) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message}`);
    console.log(`    ${messages.join('\n    ')}`);
    const dup = diags.find((d) => /duplicate/i.test(d.message));
    assert.ok(dup, `no duplicate-id diagnostic in: ${messages.join(' | ')}`);
    assert.equal(dup.range.start.line, 5, 'the duplicate id is on line 6');
    assert.equal(dup.severity, vscode.DiagnosticSeverity.Error);
    assert.ok(diags.some((d) => d.range.start.line === 6), `no diagnostic for the empty paraphrases on line 7: ${messages.join(' | ')}`);
  });

  test('a broken JSONL prompt set gets a diagnostic on the bad line', async () => {
    const uri = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/broken.jsonl'));
    await vscode.window.showTextDocument(uri);
    const diags = await waitFor('diagnostics on broken.jsonl', () => {
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Organism Lab');
      return d.length >= 2 ? d : undefined;
    });
    const lines = diags.map((d) => d.range.start.line + 1);
    assert.ok(lines.includes(2), `duplicate id on line 2: ${lines.join(',')}`);
    assert.ok(lines.includes(3), `bad JSON on line 3: ${lines.join(',')}`);
  });

  test('fixing the file clears the diagnostics (debounced revalidation)', async () => {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(workspaceFolder(), 'prompts/broken.yaml')));
    const editor = await vscode.window.showTextDocument(doc);
    const original = doc.getText();
    try {
      await editor.edit((e) => e.replace(new vscode.Range(0, 0, doc.lineCount, 0), '- id: fixed\n  paraphrases: ["ok"]\n  samples_per_paraphrase: 1\n'));
      await waitFor('diagnostics to clear', () => (vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'Organism Lab').length === 0 ? true : undefined));
    } finally {
      await editor.edit((e) => e.replace(new vscode.Range(0, 0, doc.lineCount, 0), original));
      await doc.save();
    }
  });

  test('a prompt set with conditions: a user_template placeholder missing from vars is a diagnostic on its question', async () => {
    const file = path.join(workspaceFolder(), 'prompts/cond-diag.yaml');
    writeFileSync(file, ['conditions:', '  - name: control', '  - name: opinion', '    user_template: "{user} I think {view}."', 'questions:', '  - id: asks', '    paraphrases: ["Is it safe?"]', ''].join('\n'));
    try {
      const uri = vscode.Uri.file(file);
      await vscode.window.showTextDocument(uri);
      const diags = await waitFor('the unknown-placeholder diagnostic', () => {
        const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Organism Lab');
        return d.length ? d : undefined;
      });
      assert.equal(diags.length, 1, diags.map((d) => d.message).join(' | '));
      assert.equal(diags[0].code, 'unknown-placeholder');
      assert.equal(diags[0].range.start.line, 5, 'on the question id (line 6)');
      assert.match(diags[0].message, /question "asks" runs under condition "opinion".*\{view\}/);
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('CodeLens above each question runs it alone or with and without the adapter', async () => {
    const uri = vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
    await vscode.window.showTextDocument(uri);
    const lenses = await waitFor('code lenses', async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
      return l && l.some((x) => x.command?.command === 'organismLab.runQuestion') ? l : undefined;
    });
    const single = lenses.filter((l) => l.command?.command === 'organismLab.runQuestion');
    const paired = lenses.filter((l) => l.command?.command === 'organismLab.runQuestionWithAdapter');
    assert.deepEqual(single.map((l) => l.command!.arguments![1]), ['greet', 'wish']);
    assert.deepEqual(paired.map((l) => l.command!.arguments![1]), ['greet', 'wish']);
    assert.deepEqual(single.map((l) => l.range.start.line), [1, 6]);
    assert.match(paired[0].command!.title, /with and without adapter/);
  });
});
