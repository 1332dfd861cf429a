/**
 * Quick picks for the folders and files the commands and panels need, with a "Browse…" (file dialog) fallback,
 * and the one answer to "which run file is this command about".
 *
 * Run files: one picker for every command and panel (Compare, Run report, Activations, Export, Judge, Open Run,
 * Diff, Review report). It lists the workspace's `*.run.jsonl` files outside node_modules, .git and .tools (at
 * most FIND_LIMIT), the run in the active tab first, then the most recently modified first: the run a user
 * just made or judged is the one at the top.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { classifyFolder, CheckpointKind } from '../../engine/backends/workspaceDiscovery';
import { VIEW_TYPES } from '../../protocol/webviews';
import type { PanelManager } from '../panelManager';
import { findPromptSets } from '../views/promptSetsView';

const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.tools/**}';
/** The most files a workspace search lists (checkpoint markers, run files). */
const FIND_LIMIT = 2000;
export const RUN_FILE_SUFFIX = '.run.jsonl';

export async function findCheckpointFolders(kind: CheckpointKind): Promise<string[]> {
  const marker = kind === 'adapter' ? 'adapter_config.json' : 'config.json';
  const files = await vscode.workspace.findFiles(`**/${marker}`, EXCLUDE, FIND_LIMIT);
  return [...new Set(files.map((f) => path.dirname(f.fsPath)))].filter((d) => classifyFolder(d) === kind).sort();
}

export async function pickFolder(kind: 'model' | 'adapter' | 'checkpoint', title: string): Promise<vscode.Uri | undefined> {
  const found = kind === 'checkpoint' ? [...(await findCheckpointFolders('model')), ...(await findCheckpointFolders('adapter'))] : await findCheckpointFolders(kind);
  const browse = '$(folder-opened) Browse…';
  let chosen: string | undefined;
  if (found.length > 0) {
    const pick = await vscode.window.showQuickPick(
      [...found.map((d) => ({ label: path.basename(d), description: vscode.workspace.asRelativePath(path.dirname(d), false), dir: d })), { label: browse, description: '', dir: '' }],
      { title, placeHolder: kind === 'adapter' ? 'A PEFT LoRA adapter folder (adapter_config.json)' : 'A Hugging Face model folder (config.json + *.safetensors + tokenizer)' },
    );
    if (!pick) return undefined;
    chosen = pick.dir || undefined;
    if (chosen) return vscode.Uri.file(chosen);
  }
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title, openLabel: 'Select' });
  return picked?.[0];
}

export async function pickPromptSet(): Promise<vscode.Uri | undefined> {
  const found = await findPromptSets();
  if (found.length === 0) {
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Pick a prompt set', filters: { 'Prompt sets': ['yaml', 'yml', 'jsonl'] } });
    return picked?.[0];
  }
  const pick = await vscode.window.showQuickPick(
    found.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(path.dirname(f.fsPath), false), uri: f })),
    { title: 'Organism Lab: run a prompt set', matchOnDescription: true },
  );
  return pick?.uri;
}

/**
 * The run in the active tab: a run panel's run (Compare, Run report: the panel manager knows them), a run file's
 * text editor, or the run-file custom editor.
 */
export function activeRunFile(panels: PanelManager): vscode.Uri | undefined {
  const shown = panels.activeRun();
  if (shown) return shown;
  const doc = vscode.window.activeTextEditor?.document.uri;
  if (doc && doc.path.endsWith(RUN_FILE_SUFFIX)) return doc;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.viewType === VIEW_TYPES.runFileEditor) return input.uri;
  return undefined;
}

export interface RunPickLabels {
  title: string;
  placeHolder?: string;
  /** The file dialog's button, when the workspace has no run files. */
  openLabel?: string;
}

async function modifiedAt(uri: vscode.Uri): Promise<number> {
  try {
    return (await vscode.workspace.fs.stat(uri)).mtime;
  } catch {
    return 0; // gone since the search: listed last
  }
}

/** A quick pick of the workspace's run files (`active` first, then the newest); a file dialog when there are none. */
export async function pickRunFile(labels: RunPickLabels, active?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const found = await vscode.workspace.findFiles(`**/*${RUN_FILE_SUFFIX}`, EXCLUDE, FIND_LIMIT);
  const files = active && !found.some((f) => f.toString() === active.toString()) ? [active, ...found] : found;
  if (files.length === 0) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: labels.openLabel,
      title: `${labels.title}: no run files in the workspace; pick a *${RUN_FILE_SUFFIX} file`,
      filters: { 'Run files': ['jsonl'] },
    });
    return picked?.[0];
  }
  const isActive = (uri: vscode.Uri) => active !== undefined && uri.toString() === active.toString();
  const mtimes = new Map(await Promise.all(files.map(async (f) => [f.toString(), await modifiedAt(f)] as const)));
  files.sort((a, b) => Number(isActive(b)) - Number(isActive(a)) || mtimes.get(b.toString())! - mtimes.get(a.toString())! || a.fsPath.localeCompare(b.fsPath));
  const item = await vscode.window.showQuickPick(
    files.map((uri) => ({
      label: path.basename(uri.fsPath),
      description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath), false),
      detail: isActive(uri) ? 'open in the active editor' : undefined,
      uri,
    })),
    { title: labels.title, placeHolder: labels.placeHolder, matchOnDescription: true },
  );
  return item?.uri;
}

/** The run-file check every run command makes before acting: a clear message for anything else. */
export function isRunFileOrSay(uri: vscode.Uri, what: string): boolean {
  if (uri.path.endsWith(RUN_FILE_SUFFIX)) return true;
  void vscode.window.showErrorMessage(`Organism Lab: ${path.basename(uri.path)} is not a run file (*${RUN_FILE_SUFFIX}). Pick a run file to ${what}.`);
  return false;
}
