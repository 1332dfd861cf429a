/** Registers the three tree views and refreshes them on file changes (FileSystemWatcher) and engine changes. */
import * as vscode from 'vscode';
import type { LabContext } from '../context';
import { CheckpointsProvider } from './checkpointsView';
import { debounce } from './debounce';
import { PromptSetsProvider } from './promptSetsView';
import { RunsProvider } from './runsView';

export interface LabViews {
  checkpoints: CheckpointsProvider;
  promptSets: PromptSetsProvider;
  runs: RunsProvider;
}

/**
 * A view's root scan (a workspace file search, slow in a large or just-reloaded workspace) says "Scanning …" in
 * the view while it runs; the "nothing found" welcome text waits for the context key organismLab.<view>.scanned,
 * set once the first scan has finished (package.json viewsWelcome), so an empty view never claims "none" early.
 */
export function showScanning<T>(ctx: LabContext, view: vscode.TreeView<T>, provider: vscode.TreeDataProvider<T>, key: string, what: string): vscode.TreeView<T> {
  const inner = provider.getChildren.bind(provider);
  let first = true;
  let pending = 0;
  provider.getChildren = async (parent?: T) => {
    if (parent !== undefined) return inner(parent);
    pending++;
    // Said at once on the first scan; on a rescan only when it takes a while (no flicker on every file change).
    const say = setTimeout(() => (view.message = `Scanning the workspace for ${what}…`), first ? 0 : 300);
    const started = Date.now();
    try {
      return await inner(parent);
    } finally {
      clearTimeout(say);
      if (--pending === 0) view.message = undefined;
      if (first) {
        first = false;
        ctx.log.info(`${key} view: first scan of the workspace took ${Date.now() - started} ms`);
      }
      void vscode.commands.executeCommand('setContext', `organismLab.${key}.scanned`, true);
    }
  };
  return view;
}

export function activateViews(ctx: LabContext): LabViews {
  const checkpoints = new CheckpointsProvider(ctx);
  const promptSets = new PromptSetsProvider();
  const runs = new RunsProvider();
  const subs = ctx.extension.subscriptions;
  subs.push(
    showScanning(ctx, vscode.window.createTreeView('organismLab.checkpoints', { treeDataProvider: checkpoints, showCollapseAll: true }), checkpoints, 'checkpoints', 'model and adapter folders'),
    showScanning(ctx, vscode.window.createTreeView('organismLab.promptSets', { treeDataProvider: promptSets, showCollapseAll: true }), promptSets, 'promptSets', 'prompt sets'),
    showScanning(ctx, vscode.window.createTreeView('organismLab.runs', { treeDataProvider: runs }), runs, 'runs', 'run files'),
  );
  const refreshRuns = debounce(() => runs.refresh(), 400);
  const refreshPromptSets = debounce(() => promptSets.refresh(), 400);
  const refreshCheckpoints = debounce(() => checkpoints.refresh(), 400);
  const watch = (glob: string, fn: () => void) => {
    const w = vscode.workspace.createFileSystemWatcher(glob);
    w.onDidCreate(fn);
    w.onDidChange(fn);
    w.onDidDelete(fn);
    subs.push(w);
  };
  watch('**/*.run.jsonl', refreshRuns);
  watch('**/*.{yaml,yml,jsonl}', refreshPromptSets);
  watch('**/{config.json,adapter_config.json,*.safetensors}', refreshCheckpoints);
  subs.push(refreshRuns, refreshPromptSets, refreshCheckpoints);
  // Only when what the Checkpoints view shows changed (progress updates fire often).
  let shown = '';
  subs.push(
    ctx.engine.onDidChange((s) => {
      const key = JSON.stringify([s.model?.dir, s.model?.loadMs, s.adapters.map((a) => a.dir)]);
      if (key !== shown) {
        shown = key;
        checkpoints.refresh(false);
      }
    }),
  );
  subs.push(
    ctx.onDidRequestRefresh(() => {
      checkpoints.refresh();
      promptSets.refresh();
      runs.refresh();
    }),
  );
  return { checkpoints, promptSets, runs };
}
