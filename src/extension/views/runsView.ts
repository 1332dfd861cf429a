/** Runs view: *.run.jsonl files in the workspace with their sample counts per variant. */
import path from 'node:path';
import * as vscode from 'vscode';
import { summarizeRun } from '../../engine/backends/workspaceDiscovery';

export class RunItem extends vscode.TreeItem {
  constructor(readonly file: vscode.Uri) {
    super(path.basename(file.fsPath), vscode.TreeItemCollapsibleState.None);
    this.contextValue = 'runFile';
    this.resourceUri = file;
    this.command = { command: 'organismLab.openRun', title: 'Open Run', arguments: [file] };
    try {
      const s = summarizeRun(file.fsPath);
      const per = Object.entries(s.byVariant)
        .map(([v, n]) => `${v} ${n}`)
        .join(', ');
      const c = s.completeness;
      // An incomplete run (cancelled or crashed) says so, with how many of the planned samples it holds.
      this.description = `${c.incomplete ? `incomplete: ${c.present}/${c.expected} samples` : `${s.samples} samples`}${per ? ` · ${per}` : ''}`;
      if (c.incomplete) this.iconPath = new vscode.ThemeIcon('debug-pause');
      this.tooltip = new vscode.MarkdownString(
        [
          `**${path.basename(file.fsPath)}**`,
          ...(c.incomplete ? [`**Incomplete run**: ${c.present} of ${c.expected} planned samples. Run its prompt set again to resume it.`] : []),
          `model: \`${s.model}\``, `prompt set: \`${s.promptSet}\``, `variants: ${s.variants.join(', ')}`, `created: ${s.createdAt}`, ...s.warnings.map((w) => `⚠ ${w}`),
        ].join('\n\n'),
      );
    } catch (err) {
      this.description = 'unreadable';
      this.tooltip = err instanceof Error ? err.message : String(err);
      this.iconPath = new vscode.ThemeIcon('warning');
    }
  }
}

export class RunsProvider implements vscode.TreeDataProvider<RunItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  async getChildren(parent?: RunItem): Promise<RunItem[]> {
    if (parent) return [];
    const files = await vscode.workspace.findFiles('**/*.run.jsonl', '{**/node_modules/**,**/.git/**}', 2000);
    return files.sort((a, b) => b.fsPath.localeCompare(a.fsPath)).map((f) => new RunItem(f));
  }
}
