/** Checkpoints view: the loaded model and adapters, then model / adapter / training-run folders in the workspace. */
import path from 'node:path';
import * as vscode from 'vscode';
import { checkpointSteps, classifyFolder, CheckpointKind } from '../../engine/backends/workspaceDiscovery';
import type { LabContext } from '../context';

const EXCLUDE = '{**/node_modules/**,**/.git/**,**/.tools/**,**/.vscode-test/**}';

export class CheckpointItem extends vscode.TreeItem {
  constructor(
    label: string,
    readonly kind: 'loadedModel' | 'loadedAdapter' | CheckpointKind | 'checkpointStep',
    readonly dir: string,
    collapsible: vscode.TreeItemCollapsibleState,
    readonly adapterName?: string,
  ) {
    super(label, collapsible);
    this.contextValue = kind;
    this.resourceUri = vscode.Uri.file(dir);
  }
}

function relative(dir: string): string {
  return vscode.workspace.asRelativePath(dir, false);
}

export class CheckpointsProvider implements vscode.TreeDataProvider<CheckpointItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private found: { dir: string; kind: CheckpointKind }[] | null = null;

  constructor(private readonly ctx: LabContext) {}

  refresh(rescan = true): void {
    if (rescan) this.found = null;
    this.changed.fire();
  }

  /** Folders with config.json + safetensors, adapter_config.json, or checkpoint-N/ subfolders. */
  async scan(): Promise<{ dir: string; kind: CheckpointKind }[]> {
    if (this.found) return this.found;
    const files = await vscode.workspace.findFiles('**/{config.json,adapter_config.json}', EXCLUDE, 2000);
    const dirs = new Set(files.map((f) => path.dirname(f.fsPath)));
    const out = new Map<string, CheckpointKind>();
    for (const dir of dirs) {
      const parent = path.dirname(dir);
      if (/^checkpoint-\d+$/.test(path.basename(dir)) && checkpointSteps(parent).length > 0) {
        out.set(parent, 'trainingRun');
        continue;
      }
      const kind = classifyFolder(dir);
      if (kind) out.set(dir, kind);
    }
    this.found = [...out.entries()].map(([dir, kind]) => ({ dir, kind })).sort((a, b) => a.dir.localeCompare(b.dir));
    return this.found;
  }

  getTreeItem(item: CheckpointItem): vscode.TreeItem {
    return item;
  }

  async getChildren(parent?: CheckpointItem): Promise<CheckpointItem[]> {
    const state = this.ctx.engine.state;
    if (!parent) {
      const items: CheckpointItem[] = [];
      if (state.model) {
        const m = new CheckpointItem(path.basename(state.model.dir), 'loadedModel', state.model.dir, state.adapters.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
        m.description = `loaded · ${state.model.modelType} · ${state.model.numLayers} layers`;
        m.iconPath = new vscode.ThemeIcon('database', new vscode.ThemeColor('charts.green'));
        m.tooltip = `${state.model.dir}\n${state.model.modelType}, hidden ${state.model.hiddenSize}, vocab ${state.model.vocabSize}, ${state.model.dtype ?? '?'}; loaded in ${state.model.loadMs} ms`;
        items.push(m);
      }
      const last = !state.model ? state.lastSession : null;
      if (last) {
        // Loaded in this workspace before and loaded again on first use: shown, so it never comes back unannounced.
        const m = new CheckpointItem(path.basename(last.model), 'model', last.model, vscode.TreeItemCollapsibleState.None);
        m.description = `last session${last.adapters.length ? ` + ${last.adapters.join(', ')}` : ''} · loads on first use`;
        m.iconPath = new vscode.ThemeIcon('history');
        m.tooltip = `${last.model}${last.adapters.length ? `\nadapters: ${last.adapters.join(', ')}` : ''}\nLoaded in this workspace's last session; not loaded now. It loads again on first use (running a prompt set, a smoke test); Load Model… picks another.`;
        items.push(m);
      }
      const loadedDirs = new Set([state.model?.dir, last?.model, ...state.adapters.map((a) => a.dir)]);
      for (const f of await this.scan()) {
        if (loadedDirs.has(f.dir)) continue;
        const item = new CheckpointItem(path.basename(f.dir), f.kind, f.dir, f.kind === 'trainingRun' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        item.description = `${f.kind === 'trainingRun' ? 'training run' : f.kind} · ${relative(path.dirname(f.dir))}`;
        item.iconPath = new vscode.ThemeIcon(f.kind === 'model' ? 'database' : f.kind === 'adapter' ? 'layers' : 'history');
        item.tooltip = f.dir;
        items.push(item);
      }
      return items;
    }
    if (parent.kind === 'loadedModel') {
      return state.adapters.map((a) => {
        const item = new CheckpointItem(a.name, 'loadedAdapter', a.dir, vscode.TreeItemCollapsibleState.None, a.name);
        item.description = `loaded · r=${a.rank} α=${a.alpha}`;
        item.tooltip = `${a.dir}\ntargets: ${a.targetModules.join(', ')}`;
        item.iconPath = new vscode.ThemeIcon('layers', new vscode.ThemeColor('charts.green'));
        return item;
      });
    }
    if (parent.kind === 'trainingRun') {
      return checkpointSteps(parent.dir).map((s) => {
        const item = new CheckpointItem(`step ${s.step}`, 'checkpointStep', s.dir, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon('layers');
        item.tooltip = s.dir;
        return item;
      });
    }
    return [];
  }
}
