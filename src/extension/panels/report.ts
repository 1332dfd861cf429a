/**
 * Run report panel host: one panel per run file (opening again reveals it), restored after a reload
 * from the page's saved state, refreshed when the run file changes (judgements arriving) or the
 * threshold settings change. Clicking a scatter point opens that sample in Compare.
 *
 * Glue only: the numbers come from the engine's computeReport, run in the engine host (engine/runReport;
 * deps.computeReport replaces it in tests).
 *
 * Wire-up (in activate): registerReportPanel(context, { log })
 * Registers the command organismLab.openRunReport(runUri | path | {resourceUri}) and the serializer
 * for the view type organismLab.runReport.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ReportOptions } from '../../engine/judges/reportTypes';
import type { RunCompleteness } from '../../engine/runs/completeness';
import { getEngine } from '../engine/engineAccess';
import {
  OPEN_RUN_REPORT_COMMAND,
  REPORT_VIEW_TYPE,
  isReportViewState,
  parseReportWebviewMessage,
  type ReportBootstrap,
  type ReportData,
  type ReportHostMessage,
  type ReportViewState,
} from '../../protocol/report';
import { judgeThresholds, webviewOptions, webviewRoot } from './compareSession';
import { createNonce } from './nonce';
import { activeRunFile, isRunFileOrSay, pickRunFile, registerActiveRunSource, runUriFromArgument } from './runFilePicker';
import { escapeHtml, renderWebviewHtml } from './webviewHtml';

export interface ReportPanelDeps {
  log: vscode.LogOutputChannel;
  /** Compute the report (default: in this process, from the run file). */
  computeReport?: (runPath: string, options: ReportOptions) => Promise<{ data: ReportData; warnings: string[]; completeness?: RunCompleteness }>;
  /** Command that opens a sample in Compare (default organismLab.compare with { focusSampleId }). */
  compareCommand?: string;
  /** The run of the active Compare panel, if the active tab is one ("Open Run Report" then opens that run's report). */
  activeCompareRun?: () => vscode.Uri | undefined;
}

/** The default: computeReport runs in the engine host (engine/host/runFileRequests.ts), not in the extension host. */
function computeInEngineHost(runPath: string, options: ReportOptions): Promise<{ data: ReportData; warnings: string[]; completeness?: RunCompleteness }> {
  return getEngine().client.runReport({ runPath, options });
}

const DEBOUNCE_MS = 300;

class ReportSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private state: ReportViewState;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private disposed = false;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly runUri: vscode.Uri,
    private readonly deps: ReportPanelDeps,
    extensionUri: vscode.Uri,
    saved: ReportViewState | null,
  ) {
    this.state = { runUri: runUri.toString(), judge: saved?.judge ?? null, reference: saved?.reference ?? null };
    const webview = panel.webview;
    webview.options = webviewOptions(extensionUri);
    const root = webviewRoot(extensionUri);
    const bootstrap: ReportBootstrap = { runUri: runUri.toString(), fileName: path.basename(runUri.fsPath), viewState: this.state };
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      title: `Run report: ${path.basename(runUri.fsPath)}`,
      scriptUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'report.js')).toString()],
      styleUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'report.css')).toString()],
      initialState: bootstrap,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((m) => this.onMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('organismLab.judge')) this.schedule();
      }),
    );
    const dir = vscode.Uri.file(path.dirname(runUri.fsPath));
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(dir, path.basename(runUri.fsPath)));
    this.disposables.push(watcher, watcher.onDidChange(() => this.schedule()), watcher.onDidCreate(() => this.schedule()));
  }

  private post(m: ReportHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  private onMessage(raw: unknown): void {
    const m = parseReportWebviewMessage(raw);
    if (!m) {
      this.deps.log.warn(`Run report: ignored a malformed message from the page`);
      return;
    }
    switch (m.type) {
      case 'report/ready':
      case 'report/options':
        this.state = { ...this.state, judge: m.judge, reference: m.reference };
        this.ready = true;
        void this.refresh();
        break;
      case 'report/refresh':
        void this.refresh();
        break;
      case 'report/openSample':
        void vscode.commands.executeCommand(this.deps.compareCommand ?? 'organismLab.compare', this.runUri, { focusSampleId: m.sampleId });
        break;
    }
  }

  private schedule(): void {
    if (!this.ready) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), DEBOUNCE_MS);
  }

  async refresh(): Promise<void> {
    const compute = this.deps.computeReport ?? computeInEngineHost;
    const options: ReportOptions = { thresholds: judgeThresholds() };
    if (this.state.judge) options.judge = this.state.judge;
    if (this.state.reference) options.referenceVariant = this.state.reference;
    try {
      let result;
      try {
        result = await compute(this.runUri.fsPath, options);
      } catch (e) {
        // A saved judge or reference that no longer exists: fall back to the defaults.
        if (!this.state.judge && !this.state.reference) throw e;
        this.state = { ...this.state, judge: null, reference: null };
        result = await compute(this.runUri.fsPath, { thresholds: options.thresholds });
      }
      this.post({ type: 'report/data', data: result.data, warnings: result.warnings, ...(result.completeness ? { completeness: result.completeness } : {}) });
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      this.deps.log.error(`Run report ${this.runUri.fsPath}: ${message}`);
      this.post({ type: 'report/error', message });
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

const PICK_LABELS = { title: 'Organism Lab: Run report', placeHolder: 'Pick a run file', openLabel: 'Open Run Report' };

export function registerReportPanel(context: vscode.ExtensionContext, deps: ReportPanelDeps): void {
  const open = new Map<string, ReportSession>();
  const attach = (panel: vscode.WebviewPanel, runUri: vscode.Uri, saved: ReportViewState | null) => {
    const key = runUri.toString();
    const session = new ReportSession(panel, runUri, deps, context.extensionUri, saved);
    open.set(key, session);
    panel.onDidDispose(() => {
      session.dispose();
      if (open.get(key) === session) open.delete(key);
    });
  };
  // Export, Judge and the other run commands act on the run whose report is the active tab.
  context.subscriptions.push(registerActiveRunSource(() => [...open.values()].find((s) => s.panel.active)?.runUri));
  context.subscriptions.push(
    { dispose: () => [...open.values()].forEach((s) => s.panel.dispose()) },
    vscode.window.registerWebviewPanelSerializer(REPORT_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        if (!isReportViewState(state)) {
          panel.webview.options = { enableScripts: false, localResourceRoots: [] };
          panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><p>${escapeHtml(
            'This Run report could not be restored. Open it again with "Organism Lab: Open Run Report".',
          )}</p></body></html>`;
          return;
        }
        const runUri = vscode.Uri.parse(state.runUri);
        if (open.has(runUri.toString())) {
          panel.dispose();
          return;
        }
        panel.title = `Report: ${path.basename(runUri.fsPath)}`;
        attach(panel, runUri, state);
      },
    }),
    vscode.commands.registerCommand(OPEN_RUN_REPORT_COMMAND, async (arg?: unknown) => {
      try {
        const runUri = runUriFromArgument(arg) ?? activeRunFile(deps.activeCompareRun) ?? (await pickRunFile(undefined, PICK_LABELS));
        if (!runUri || !isRunFileOrSay(runUri, 'report on')) return;
        const existing = open.get(runUri.toString());
        if (existing) {
          existing.panel.reveal();
          void existing.refresh();
          return;
        }
        const panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, `Report: ${path.basename(runUri.fsPath)}`, vscode.ViewColumn.Active, webviewOptions(context.extensionUri));
        attach(panel, runUri, null);
      } catch (e) {
        deps.log.error(`Run report: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open the Run report: ${(e as Error).message}`);
      }
    }),
  );
}
