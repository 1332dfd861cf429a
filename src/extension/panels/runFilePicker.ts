/**
 * Which run file a panel command is about: the command's argument, the run shown in the active tab, or one the
 * user picks. Shared by the Compare, Run report and Activations commands.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { VIEW_TYPES } from '../../protocol/webviews';

export const RUN_FILE_SUFFIX = '.run.jsonl';

/** Accepts a Uri, a path string, or a tree item / object carrying `resourceUri`, `uri` or `runUri`. */
export function runUriFromArgument(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string' && arg) return arg.includes('://') ? vscode.Uri.parse(arg) : vscode.Uri.file(arg);
  if (arg && typeof arg === 'object') {
    const o = arg as { resourceUri?: unknown; uri?: unknown; runUri?: unknown };
    for (const v of [o.resourceUri, o.uri, o.runUri]) if (v instanceof vscode.Uri) return v;
  }
  return undefined;
}

/** Panels that show one run (Compare, Run report) register how to tell their run when one of them is the active tab. */
const activeRunSources = new Set<() => vscode.Uri | undefined>();

export function registerActiveRunSource(source: () => vscode.Uri | undefined): vscode.Disposable {
  activeRunSources.add(source);
  return { dispose: () => activeRunSources.delete(source) };
}

/**
 * The run in the active tab: a Compare panel's run (when given), the run of any registered panel that is active
 * (Compare, Run report), a run file's text editor, or the run-file custom editor.
 */
export function activeRunFile(activeCompareRun?: () => vscode.Uri | undefined): vscode.Uri | undefined {
  const compared = activeCompareRun?.();
  if (compared) return compared;
  for (const source of activeRunSources) {
    const uri = source();
    if (uri) return uri;
  }
  const doc = vscode.window.activeTextEditor?.document.uri;
  if (doc && doc.path.endsWith(RUN_FILE_SUFFIX)) return doc;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.viewType === VIEW_TYPES.runFileEditor) return input.uri;
  return undefined;
}

/** A quick pick of the workspace's run files (`active` first, when given); a file dialog when there are none. */
export async function pickRunFile(active: vscode.Uri | undefined, labels: { title: string; placeHolder: string; openLabel: string }): Promise<vscode.Uri | undefined> {
  const found = await vscode.workspace.findFiles(`**/*${RUN_FILE_SUFFIX}`, '**/{node_modules,.git}/**', 500);
  const files = active && !found.some((f) => f.toString() === active.toString()) ? [active, ...found] : found;
  if (files.length === 0) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: labels.openLabel,
      title: 'No run files in the workspace: pick a *.run.jsonl file',
      filters: { 'Run files': ['jsonl'] },
    });
    return picked?.[0];
  }
  const isActive = (uri: vscode.Uri) => active !== undefined && uri.toString() === active.toString();
  files.sort((a, b) => Number(isActive(b)) - Number(isActive(a)) || a.fsPath.localeCompare(b.fsPath));
  const item = await vscode.window.showQuickPick(
    files.map((uri) => ({
      label: path.basename(uri.fsPath),
      description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)),
      detail: isActive(uri) ? 'open in the active editor' : undefined,
      uri,
    })),
    { title: labels.title, placeHolder: labels.placeHolder, matchOnDescription: true },
  );
  return item?.uri;
}

/** The run-file check every panel command makes before opening: a clear message for anything else. */
export function isRunFileOrSay(uri: vscode.Uri, what: string): boolean {
  if (uri.path.endsWith(RUN_FILE_SUFFIX)) return true;
  void vscode.window.showErrorMessage(`Organism Lab: ${path.basename(uri.path)} is not a run file (*${RUN_FILE_SUFFIX}). Pick a run file to ${what}.`);
  return false;
}
