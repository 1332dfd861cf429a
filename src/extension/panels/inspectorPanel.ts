/**
 * Checkpoint inspector panel host: one panel per folder (model, adapter or training run). The report comes
 * from the engine host (inspectCheckpoint, with progress); the page draws it. Glue only.
 *
 * registerInspectorPanel(ctx) registers the view type with the panel manager (which restores it) and returns
 * organismLab.inspectCheckpoint(folderUri | path | tree item) for the command registry.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  INSPECTOR_VIEW_TYPE,
  INSPECT_CHECKPOINT_COMMAND,
  isInspectorViewState,
  parseInspectorWebviewMessage,
  type InspectorBootstrap,
  type InspectorHostMessage,
  type InspectorViewState,
} from '../../protocol/inspector';
import type { CommandTable } from '../commands/commandRegistry';
import { findCheckpointFolders } from '../commands/pickers';
import type { LabContext } from '../context';
import { uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';
import { webviewOptions, webviewRoot } from './compareSession';
import { createNonce } from './nonce';
import { OpenTiming } from './openTiming';
import { renderWebviewHtml } from './webviewHtml';

class InspectorSession implements vscode.Disposable {
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** The page has loaded (progress can be shown). */
  private ready = false;
  /** The report started when the panel opened, in parallel with the page loading; posted when the page is ready. */
  private pending: Promise<InspectorHostMessage | null> | null;
  /** How long this panel took to show its report (logged once). */
  private readonly timing: OpenTiming;

  constructor(private readonly ctx: LabContext, readonly panel: vscode.WebviewPanel, readonly dir: string) {
    this.timing = new OpenTiming(ctx.log, 'the Inspector', path.basename(dir), ['engine host start', 'page ready', 'inspect', 'report sent']);
    const webview = panel.webview;
    webview.options = webviewOptions(ctx.extension.extensionUri);
    const root = webviewRoot(ctx.extension.extensionUri);
    const bootstrap: InspectorBootstrap = { dir, name: path.basename(dir), viewState: { dir } };
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      title: `Inspect: ${path.basename(dir)}`,
      scriptUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'inspector.js')).toString()],
      styleUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'inspector.css')).toString()],
      initialState: bootstrap,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw) => {
        const m = parseInspectorWebviewMessage(raw);
        if (!m) {
          this.ctx.log.warn('Inspector: ignored a malformed message from the page');
          return;
        }
        if (m.type === 'inspector/ready') this.timing.mark('page ready');
        this.ready = true;
        void this.refresh();
      }),
    );
    this.pending = this.load();
  }

  private post(m: InspectorHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  /** Posts the report: the one started at open if the page has not had it yet, else a fresh one. */
  async refresh(): Promise<void> {
    const result = this.pending ?? this.load();
    this.pending = null;
    this.post({ type: 'inspector/busy' });
    const m = await result;
    if (!m) return;
    this.post(m);
    this.timing.mark('report sent');
  }

  /** Inspects the folder in the engine host (progress goes to the page once it is ready); null without trust. */
  private async load(): Promise<InspectorHostMessage | null> {
    if (!(await requireTrust('Inspect Checkpoint'))) return null;
    try {
      this.timing.warmEngine(this.ctx.engine.client);
      await this.ctx.engine.client.start(); // (timed as "engine host start")
      const report = await this.timing.time('inspect', () =>
        this.ctx.engine.inspectCheckpoint(this.dir, undefined, (p) => {
          if (this.ready) this.post({ type: 'inspector/busy', done: p.done, total: p.total });
        }),
      );
      // A training run: also show the final checkpoint's per-module table (its own adapter report).
      const last = report.trajectory?.checkpointDirs.at(-1);
      if (report.kind === 'training-run' && !report.adapter && last) {
        const final = await this.ctx.engine.inspectCheckpoint(last);
        report.adapter = final.adapter;
        report.problems.push(...final.problems);
      }
      return { type: 'inspector/report', report };
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      this.ctx.log.error(`Inspector ${this.dir}: ${message}`);
      return { type: 'inspector/error', message };
    }
  }

  dispose(): void {
    this.disposed = true;
    this.timing.closed();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Workspace models, adapters and training runs (folders holding checkpoint-N/ or checkpoints/checkpoint-N/). */
async function pickInspectTarget(): Promise<string | undefined> {
  const models = await findCheckpointFolders('model');
  const adapters = await findCheckpointFolders('adapter');
  const runs = new Set<string>();
  for (const a of adapters) {
    if (!/^checkpoint-\d+$/.test(path.basename(a))) continue;
    const parent = path.dirname(a);
    runs.add(path.basename(parent) === 'checkpoints' ? path.dirname(parent) : parent);
  }
  const items = [
    ...[...runs].map((dir) => ({ label: path.basename(dir), description: `training run · ${vscode.workspace.asRelativePath(path.dirname(dir), false)}`, dir })),
    ...adapters.filter((a) => !/^checkpoint-\d+$/.test(path.basename(a))).map((dir) => ({ label: path.basename(dir), description: `adapter · ${vscode.workspace.asRelativePath(path.dirname(dir), false)}`, dir })),
    ...models.map((dir) => ({ label: path.basename(dir), description: `model · ${vscode.workspace.asRelativePath(path.dirname(dir), false)}`, dir })),
  ];
  if (items.length) {
    const pick = await vscode.window.showQuickPick([...items, { label: '$(folder-opened) Browse…', description: '', dir: '' }], { title: 'Organism Lab: inspect a checkpoint', placeHolder: 'A model, an adapter or a training run', matchOnDescription: true });
    if (!pick) return undefined;
    if (pick.dir) return pick.dir;
  }
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Inspect', title: 'Organism Lab: inspect a model, adapter or training-run folder' });
  return picked?.[0]?.fsPath;
}

export function registerInspectorPanel(ctx: LabContext): CommandTable {
  const inspectors = ctx.panels.register<InspectorSession, InspectorViewState>({
    viewType: INSPECTOR_VIEW_TYPE,
    name: 'Checkpoint inspector',
    reopenWith: 'Organism Lab: Inspect Checkpoint',
    restorable: (state) => (isInspectorViewState(state) ? { key: state.dir, saved: state } : null),
    title: (dir) => `Inspect: ${path.basename(dir)}`,
    options: () => webviewOptions(ctx.extension.extensionUri),
    attach: (panel, dir) => new InspectorSession(ctx, panel, dir),
  });
  return {
    [INSPECT_CHECKPOINT_COMMAND]: async (arg?: unknown) => {
      try {
        const picked = uriFromArg(arg)?.fsPath ?? (await pickInspectTarget());
        if (!picked) return undefined;
        const shown = inspectors.show(path.resolve(picked));
        if (!shown.created) void shown.session.refresh();
        return shown.panel;
      } catch (e) {
        ctx.log.error(`Inspector: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open the inspector: ${(e as Error).message}`);
        return undefined;
      }
    },
  };
}
