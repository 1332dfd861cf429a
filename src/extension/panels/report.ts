/**
 * Run report panel host: one panel per run file (opening again reveals it), restored after a reload
 * from the page's saved state, refreshed when the run file changes (judgements arriving) or the
 * threshold settings change. Clicking a scatter point opens that sample in Compare.
 *
 * Glue only: the numbers come from the engine's computeReport, run in the engine host (engine/runReport;
 * deps.computeReport replaces it in tests).
 *
 * registerReportPanel(ctx) registers the view type organismLab.runReport with the panel manager (which restores
 * it) and returns the command organismLab.openRunReport(runUri | path | {resourceUri}) for the command registry.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ReportOptions } from '../../engine/judges/reportTypes';
import type { RunCompleteness } from '../../engine/runs/completeness';
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
import type { CommandTable } from '../commands/commandRegistry';
import { activeRunFile, isRunFileOrSay, pickRunFile } from '../commands/pickers';
import type { LabContext } from '../context';
import { uriFromArg } from '../run/args';
import { judgeThresholds, webviewOptions, webviewRoot } from './compareSession';
import { createNonce } from './nonce';
import { OpenTiming } from './openTiming';
import type { EngineHostClient } from '../engine/client';
import { renderWebviewHtml } from './webviewHtml';

export interface ReportPanelDeps {
  log: vscode.LogOutputChannel;
  /** Compute the report: in the engine host (engine/host/runFileRequests.ts, ctx.engine.client.runReport), not here. */
  computeReport: (runPath: string, options: ReportOptions) => Promise<{ data: ReportData; warnings: string[]; completeness?: RunCompleteness }>;
  /** Command that opens a sample in Compare (default organismLab.compare with { focusSampleId }). */
  compareCommand?: string;
  /** The engine host computeReport runs in: started when a panel opens, while its page loads (absent in tests). */
  engine?: () => EngineHostClient;
}


const DEBOUNCE_MS = 300;

class ReportSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private state: ReportViewState;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private disposed = false;
  /** How long this panel took to show its report (logged once). */
  private readonly timing: OpenTiming;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly runUri: vscode.Uri,
    private readonly deps: ReportPanelDeps,
    extensionUri: vscode.Uri,
    saved: ReportViewState | null,
  ) {
    this.state = { runUri: runUri.toString(), judge: saved?.judge ?? null, reference: saved?.reference ?? null, referenceCondition: saved?.referenceCondition ?? null };
    const engine = deps.engine?.();
    this.timing = new OpenTiming(deps.log, 'the Run report', path.basename(runUri.fsPath), [...(engine ? ['engine host start'] : []), 'page ready', 'report', 'report sent']);
    // The numbers need the engine host: start it now, while the page loads, not once the page asks for them.
    if (engine) this.timing.warmEngine(engine);
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
    if (m.type === 'report/ready') this.timing.mark('page ready');
    switch (m.type) {
      case 'report/ready':
      case 'report/options':
        this.state = { ...this.state, judge: m.judge, reference: m.reference, referenceCondition: m.referenceCondition ?? null };
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
    const compute = this.deps.computeReport;
    const options: ReportOptions = { thresholds: judgeThresholds() };
    if (this.state.judge) options.judge = this.state.judge;
    if (this.state.reference) options.referenceVariant = this.state.reference;
    if (this.state.referenceCondition) options.referenceCondition = this.state.referenceCondition;
    try {
      let result;
      await this.deps.engine?.().start(); // (timed as "engine host start" when this panel started it)
      try {
        result = await this.timing.time('report', () => compute(this.runUri.fsPath, options));
      } catch (e) {
        // A saved judge or reference (variant or condition) that no longer exists: fall back to the defaults.
        if (!this.state.judge && !this.state.reference && !this.state.referenceCondition) throw e;
        this.state = { ...this.state, judge: null, reference: null, referenceCondition: null };
        result = await compute(this.runUri.fsPath, { thresholds: options.thresholds });
      }
      this.post({ type: 'report/data', data: result.data, warnings: result.warnings, ...(result.completeness ? { completeness: result.completeness } : {}) });
      this.timing.mark('report sent');
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      this.deps.log.error(`Run report ${this.runUri.fsPath}: ${message}`);
      this.post({ type: 'report/error', message });
    }
  }

  dispose(): void {
    this.disposed = true;
    this.timing.closed();
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

const PICK_LABELS = { title: 'Organism Lab: Run report', placeHolder: 'Pick a run file', openLabel: 'Open Run Report' };

export function registerReportPanel(
  ctx: LabContext,
  deps: ReportPanelDeps = { log: ctx.log, computeReport: (runPath, options) => ctx.engine.client.runReport({ runPath, options }), engine: () => ctx.engine.client },
): CommandTable {
  const extensionUri = ctx.extension.extensionUri;
  const reports = ctx.panels.register<ReportSession, ReportViewState>({
    viewType: REPORT_VIEW_TYPE,
    name: 'Run report',
    reopenWith: 'Organism Lab: Open Run Report',
    restorable: (state) => (isReportViewState(state) ? { key: vscode.Uri.parse(state.runUri).toString(), saved: state } : null),
    title: (key) => `Report: ${path.basename(vscode.Uri.parse(key).fsPath)}`,
    options: () => webviewOptions(extensionUri),
    attach: (panel, key, saved) => new ReportSession(panel, vscode.Uri.parse(key), deps, extensionUri, saved),
    // Export, Judge and the other run commands act on the run whose report is the active tab.
    runOf: (key) => vscode.Uri.parse(key),
  });
  return {
    [OPEN_RUN_REPORT_COMMAND]: async (arg?: unknown) => {
      try {
        const runUri = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile(PICK_LABELS));
        if (!runUri || !isRunFileOrSay(runUri, 'report on')) return;
        const shown = reports.show(runUri.toString());
        if (!shown.created) void shown.session.refresh();
      } catch (e) {
        deps.log.error(`Run report: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open the Run report: ${(e as Error).message}`);
      }
    },
  };
}
