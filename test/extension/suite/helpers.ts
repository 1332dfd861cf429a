/** Shared helpers for the extension suite: the activated extension's API, waiting, the test model. */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { OrganismLabApi, OrganismLabTestHooks } from '../../../src/extension/extension';

export const EXTENSION_ID = 'organism-lab.organism-lab';

export async function api(): Promise<OrganismLabApi> {
  const ext = vscode.extensions.getExtension<OrganismLabApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this extension host`);
  return ext.isActive ? ext.exports : await ext.activate();
}

/** The extension's test-only hooks (exported only when the runner sets ORGANISM_LAB_TEST_HOOKS=1). */
export async function testHooks(): Promise<OrganismLabTestHooks> {
  const hooks = (await api()).testing;
  if (!hooks) throw new Error('the extension exports no test hooks: run the suite with ORGANISM_LAB_TEST_HOOKS=1 (scripts/test-extension.ts sets it)');
  return hooks;
}

export function repoRoot(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  return process.env.ORGANISM_LAB_REPO_ROOT ?? ext!.extensionPath;
}

export function workspaceFolder(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the extension suite needs a workspace folder (test/extension/workspace)');
  return f.uri.fsPath;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A model with a tokenizer for running: the bundled demo organism when it is there, else the golden qwen2
 * checkpoint with the fixture Qwen-style tokenizer (copied: onnxruntime refuses weights outside the folder).
 * Returns null when neither exists.
 */
export function testModel(): { model: string; adapter: string | null; origin: string } | null {
  // ORGANISM_LAB_TEST_MODEL / ORGANISM_LAB_TEST_ADAPTER: run the suite on another model (e.g. a copy of the demo organism).
  const env = process.env.ORGANISM_LAB_TEST_MODEL;
  if (env && existsSync(path.join(env, 'config.json'))) {
    return { model: env, adapter: process.env.ORGANISM_LAB_TEST_ADAPTER ?? null, origin: `ORGANISM_LAB_TEST_MODEL=${env}` };
  }
  const root = repoRoot();
  const demo = path.join(root, 'examples/organisms/demo-base');
  const demoAdapter = path.join(root, 'examples/organisms/demo-narrow-r1');
  if (existsSync(path.join(demo, 'config.json')) && existsSync(path.join(demo, 'tokenizer.json'))) {
    return { model: demo, adapter: existsSync(path.join(demoAdapter, 'adapter_config.json')) ? demoAdapter : null, origin: 'demo organism' };
  }
  // The golden data next to the repository (test/unit/helpers/golden.ts resolves it the same way for the unit tests).
  const golden = path.join(process.env.ORGANISM_LAB_GOLDEN ? path.resolve(process.env.ORGANISM_LAB_GOLDEN) : path.resolve(root, '../shared/golden'), 'qwen2');
  const tok = path.join(root, 'test/fixtures/tokenizers/qwen-style');
  if (!existsSync(path.join(golden, 'model/model.safetensors')) || !existsSync(path.join(tok, 'tokenizer.json'))) return null;
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'ol-ext-model-')), 'qwen2-tiny');
  mkdirSync(dir);
  copyFileSync(path.join(golden, 'model/model.safetensors'), path.join(dir, 'model.safetensors'));
  copyFileSync(path.join(golden, 'model/config.json'), path.join(dir, 'config.json'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(path.join(tok, f), path.join(dir, f));
  return { model: dir, adapter: path.join(golden, 'lora_a'), origin: 'golden qwen2 + fixture tokenizer' };
}
