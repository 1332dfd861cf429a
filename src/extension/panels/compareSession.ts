/**
 * One Compare view (a webview panel or the run-file custom editor) bound to one run file:
 * sets the page (strict CSP, nonce, local resources only), sends the run when the page is ready,
 * follows the file as it grows, and appends the human labels the page sends. The engine host reads
 * the run file: its rows (engine/runRows: the whole run, then what was appended since this view's
 * cursor) and the summary's numbers, the engine's Run Report (engine/runReport), sent after every
 * change. In two-run mode (view state `againstUri`: run A beside this run B) it also sends run A and
 * the engine's diff of the two (engine/runDiff), or the reasons they cannot be paired.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HumanLabel } from '../../engine/runs/schema';
import {
  DEFAULT_THRESHOLDS,
  isCompareWebviewMessage,
  type CompareBootstrap,
  type CompareHostMessage,
  type CompareViewState,
  type JudgeThresholds,
} from '../../protocol/compare';
import type { EngineHostClient } from '../engine/client';
import { OPEN_ACTIVATIONS_COMMAND } from '../../protocol/activations';
import { EngineMethods, type RunRowsCursor } from '../../protocol/engineHost';
import type { CompareViewStateStore } from './compareViewStates';
import { appendLabel, isWritable } from './labelWriter';
import { createNonce } from './nonce';
import { parseRunText } from '../../engine/runs/parse';
import { toSnapshot } from '../../engine/runs/runRows';
import { OneAtATime } from './oneAtATime';
import { OpenTiming } from './openTiming';
import { renderWebviewHtml } from './webviewHtml';

export interface PanelDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /** Where Compare panels keep their view state across reloads (workspaceState); absent: not kept. */
  viewStates?: CompareViewStateStore;
  /** The engine host that computes the report, the run diff and the token offsets (ctx.engine.client). */
  engine: () => EngineHostClient;
}

/** Folder of the bundled webviews (dist/webviews): the only local resources the pages may load. */
export function webviewRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'webviews');
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, enableCommandUris: false, localResourceRoots: [webviewRoot(extensionUri)] };
}

export function judgeThresholds(): JudgeThresholds {
  const c = vscode.workspace.getConfiguration('organismLab');
  return { aligned: c.get<number>('judge.alignedThreshold', DEFAULT_THRESHOLDS.aligned), coherent: c.get<number>('judge.coherentThreshold', DEFAULT_THRESHOLDS.coherent) };
}

const POLL_MS = 2000;
const DEBOUNCE_MS = 150;
/** The report (and the diff) are recomputed at most this often while rows arrive (e.g. judging). */
const REPORT_DEBOUNCE_MS = 400;

export class CompareSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  /** Where this view stands in its run file (engine/runRows); null: the next read is the whole run. */
  private cursor: RunRowsCursor | null = null;
  /** Bumped when the view starts over (reload): the answer to a read made before is dropped. */
  private readEpoch = 0;
  /** Reads of the run file, one at a time (the poll, file events and labels all ask for one). */
  private readonly reads = new OneAtATime(() => this.readChanges());
  private ready = false;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private debounce: ReturnType<typeof setTimeout> | undefined;
  private lastError: string | null = null;
  private disposed = false;
  /** A sample to focus once the page has the run. */
  private pendingFocus: string | null = null;
  /** The latest view state the page reported. */
  viewState: CompareViewState | null;
  /** Two-run mode: run A (the earlier run) shown beside this one; null with one run. */
  readonly againstUri: vscode.Uri | null;
  private allowMismatch: boolean;
  private reportTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped per report request: an older answer that arrives late is dropped. */
  private reportSeq = 0;
  /** Sample rows arrived since the token offsets were last computed (judgements and labels do not move them). */
  private samplesChanged = true;
  /** Two-run mode: where run A's rows stood when last sent; while its file is unchanged they are not sent again. */
  private againstCursor: RunRowsCursor | null = null;
  /** How long this view took to show the run and its report (logged once). */
  private readonly timing: OpenTiming;

  constructor(
    private readonly webview: vscode.Webview,
    readonly runUri: vscode.Uri,
    private readonly deps: PanelDeps,
    initialViewState: CompareViewState | null,
    private readonly kind: 'panel' | 'editor',
  ) {
    this.viewState = initialViewState;
    this.againstUri = initialViewState?.againstUri ? vscode.Uri.parse(initialViewState.againstUri) : null;
    this.allowMismatch = initialViewState?.allowMismatch ?? false;
    webview.options = webviewOptions(deps.extensionUri);
    this.timing = new OpenTiming(deps.log, kind === 'panel' ? 'Compare' : 'the Compare editor', path.basename(runUri.path), ['engine host start', 'page ready', 'samples sent', 'report']);
    // The report needs the engine host: start it now, while the page loads, not once the page asks for the run.
    if (this.local) this.timing.warmEngine(deps.engine());
    this.disposables.push(
      webview.onDidReceiveMessage((m) => void this.onMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('organismLab.judge')) {
          this.post({ type: 'compare/thresholds', thresholds: judgeThresholds() });
          this.scheduleReport();
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reload()),
    );
    if (this.local) this.watch();
    this.setHtml();
  }

  private setHtml(): void {
    const root = webviewRoot(this.deps.extensionUri);
    const bootstrap: CompareBootstrap = {
      runUri: this.runUri.toString(),
      fileName: path.basename(this.runUri.path),
      viewState: this.viewState,
    };
    this.webview.html = renderWebviewHtml({
      cspSource: this.webview.cspSource,
      nonce: createNonce(),
      title: `Compare: ${bootstrap.fileName}`,
      scriptUris: [this.webview.asWebviewUri(vscode.Uri.joinPath(root, 'compare.js')).toString()],
      styleUris: [this.webview.asWebviewUri(vscode.Uri.joinPath(root, 'compare.css')).toString()],
      initialState: bootstrap,
    });
  }

  private watch(): void {
    const dir = vscode.Uri.file(path.dirname(this.runUri.fsPath));
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(dir, path.basename(this.runUri.fsPath)));
    this.disposables.push(
      watcher,
      watcher.onDidChange(() => this.schedule()),
      watcher.onDidCreate(() => this.reload()),
      watcher.onDidDelete(() => this.schedule()),
    );
    // File events can be missed (network folders, some remote setups): a cheap poll backs them up (the engine host
    // stats the file and reads nothing while it is unchanged).
    this.pollTimer = setInterval(() => this.ready && void this.refresh(), POLL_MS);
  }

  private schedule(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.refresh(), DEBOUNCE_MS);
  }

  /** Re-sends the whole run (e.g. after the file was recreated or trust was granted). */
  reload(): void {
    this.cursor = null;
    this.readEpoch++;
    if (this.ready) void this.refresh();
  }

  /** Run files on the local disk are followed and labelled; others (a pull request, a git revision) are shown read-only. */
  private get local(): boolean {
    return this.runUri.scheme === 'file';
  }

  /** Reads what changed in the file and posts it; resolves once a read made after this call was posted. */
  private refresh(): Promise<void> {
    return this.reads.run();
  }

  private async readChanges(): Promise<void> {
    if (this.disposed || !this.ready) return;
    if (!this.local) {
      await this.loadRemote();
      return;
    }
    const epoch = this.readEpoch;
    try {
      const result = await this.engine().request(EngineMethods.runRows, { runPath: this.runUri.fsPath, since: this.cursor });
      if (epoch !== this.readEpoch || this.disposed) return;
      this.cursor = result.cursor;
      this.lastError = null;
      if (result.kind === 'load') {
        const writable = isWritable(this.runUri.fsPath);
        this.post({
          type: 'compare/load',
          runUri: this.runUri.toString(),
          fileName: path.basename(this.runUri.fsPath),
          snapshot: result.snapshot,
          thresholds: judgeThresholds(),
          labelsWritable: writable && vscode.workspace.isTrusted,
          labelsNote: this.labelsNote(writable),
          expectedSamples: result.expectedSamples,
        });
        if (this.pendingFocus !== null) {
          this.post({ type: 'compare/focusSample', sampleId: this.pendingFocus });
          this.pendingFocus = null;
        }
        this.timing.mark('samples sent');
        this.samplesChanged = true;
        this.againstCursor = null;
        // A whole (re)load: the report now, not after the debounce that paces appends.
        if (this.reportTimer) clearTimeout(this.reportTimer);
        void this.sendReport();
      } else if (result.kind === 'append') {
        this.post({ type: 'compare/append', rows: result.rows, warnings: result.warnings });
        if (result.rows.some((r) => r.type === 'sample')) this.samplesChanged = true;
        this.scheduleReport();
      }
    } catch (e) {
      if (epoch !== this.readEpoch || this.disposed) return;
      const message = (e as Error).message;
      if (message !== this.lastError) {
        this.lastError = message;
        this.deps.log.warn(`Compare: ${message}`);
        this.post({ type: 'compare/error', message });
      }
      this.cursor = null;
    }
  }

  /** One read through VS Code's file system API (any scheme), no labels, no following. */
  private async loadRemote(): Promise<void> {
    try {
      const bytes = await vscode.workspace.fs.readFile(this.runUri);
      const contents = parseRunText(new TextDecoder('utf-8').decode(bytes), this.runUri.toString());
      this.post({
        type: 'compare/load',
        runUri: this.runUri.toString(),
        fileName: path.basename(this.runUri.path),
        snapshot: toSnapshot(contents),
        thresholds: judgeThresholds(),
        labelsWritable: false,
        labelsNote: `This run file is not on the local disk (${this.runUri.scheme}:), so it is shown read-only and labels are off.`,
      });
      this.post({ type: 'compare/report', report: null, note: `The summary is computed by the engine host from a run file on the local disk; this one is ${this.runUri.scheme}:.` });
    } catch (e) {
      const message = `${this.runUri.toString()}: ${(e as Error).message}`;
      this.deps.log.warn(`Compare: ${message}`);
      this.post({ type: 'compare/error', message });
    }
  }

  private engine(): EngineHostClient {
    return this.deps.engine();
  }

  private scheduleReport(): void {
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => void this.sendReport(), REPORT_DEBOUNCE_MS);
  }

  /** The engine's Run Report of this run (and in two-run mode the diff), posted to the page. */
  async sendReport(): Promise<void> {
    if (this.disposed || !this.local) return;
    const seq = ++this.reportSeq;
    const thresholds = judgeThresholds();
    try {
      await this.engine().start(); // (timed as "engine host start" when this view started it)
      const result = await this.timing.time('report', () => this.engine().runReport({ runPath: this.runUri.fsPath, options: { thresholds } }));
      if (seq === this.reportSeq) this.post({ type: 'compare/report', report: result.data });
    } catch (e) {
      const message = (e as Error).message;
      this.deps.log.warn(`Compare: the report of ${this.runUri.fsPath} failed: ${message}`);
      if (seq === this.reportSeq) this.post({ type: 'compare/report', report: null, note: `The report could not be computed: ${message}` });
    }
    if (this.againstUri && seq === this.reportSeq) await this.sendDiff(seq);
    if (seq === this.reportSeq && this.samplesChanged) {
      this.samplesChanged = false;
      await this.sendTokenOffsets(seq);
    }
  }

  /** Where each diverging row's first diverging token starts (decoded by the engine host), for the exact highlight. */
  private async sendTokenOffsets(seq: number): Promise<void> {
    const offsets: Record<string, number> = {};
    const notes: string[] = [];
    const runs: [vscode.Uri, string][] = [[this.runUri, '']];
    if (this.againstUri?.scheme === 'file') runs.push([this.againstUri, 'A:']);
    for (const [uri, prefix] of runs) {
      try {
        const result = await this.engine().request(EngineMethods.divergenceOffsets, { runPath: uri.fsPath });
        for (const [id, offset] of Object.entries(result.offsets)) offsets[prefix + id] = offset;
        if (result.note) notes.push(`${path.basename(uri.fsPath)}: ${result.note}`);
      } catch (e) {
        notes.push(`${path.basename(uri.fsPath)}: ${(e as Error).message}`);
      }
    }
    if (notes.length) this.deps.log.info(`Compare: divergence marked by characters where tokens are unknown (${notes.join('; ')})`);
    if (seq === this.reportSeq && !this.disposed) this.post({ type: 'compare/tokenOffsets', offsets, ...(notes.length ? { note: notes.join('; ') } : {}) });
  }

  /** Two-run mode: run A's rows and the engine's diff of A and B, or why they cannot be paired. */
  private async sendDiff(seq: number): Promise<void> {
    const against = this.againstUri;
    if (!against) return;
    const fileName = path.basename(against.fsPath);
    try {
      if (against.scheme !== 'file') throw new Error(`run A must be a file on the local disk (it is ${against.scheme}:)`);
      const result = await this.engine().request(EngineMethods.runDiff, {
        pathA: against.fsPath,
        pathB: this.runUri.fsPath,
        thresholds: judgeThresholds(),
        allowMismatch: this.allowMismatch,
      });
      if (seq !== this.reportSeq || this.disposed) return;
      if (result.kind === 'mismatch') {
        this.post({ type: 'compare/mismatch', againstUri: against.toString(), fileName, reasons: result.reasons });
        return;
      }
      // Run A's rows go to the page once (and again, whole, only when its file changed); the diff follows every change of B.
      const rowsA = await this.engine().request(EngineMethods.runRows, { runPath: against.fsPath, since: this.againstCursor, wholeOnChange: true });
      if (seq !== this.reportSeq || this.disposed) return;
      const snapshot = rowsA.kind === 'load' ? rowsA.snapshot : undefined;
      this.againstCursor = rowsA.cursor;
      this.post({ type: 'compare/against', againstUri: against.toString(), fileName, ...(snapshot ? { snapshot } : {}), diff: result.diff, warnings: result.warnings });
    } catch (e) {
      const message = `Could not diff against ${against.fsPath}: ${(e as Error).message}`;
      this.deps.log.warn(`Compare: ${message}`);
      if (seq === this.reportSeq) this.post({ type: 'compare/error', message });
    }
  }

  private labelsNote(writable: boolean): string {
    if (!vscode.workspace.isTrusted) return 'Labelling is off in an untrusted workspace (labels are written to the run file). Trust the workspace to label samples.';
    if (!writable) return 'This run file is not writable, so labels cannot be saved.';
    const editor = this.kind === 'editor' ? ' This view is otherwise read-only.' : '';
    return `Labels you give here (a aligned, m misaligned, i incoherent, s skip, on the focused sample) are written to this run file as "label" rows.${editor}`;
  }

  private async onMessage(message: unknown): Promise<void> {
    if (!isCompareWebviewMessage(message)) {
      this.deps.log.warn(`Compare: ignored an unexpected message from the webview: ${JSON.stringify(message)?.slice(0, 200)}`);
      return;
    }
    switch (message.type) {
      case 'compare/ready':
        this.timing.mark('page ready');
        this.ready = true;
        this.reload();
        break;
      case 'compare/viewState':
        if (message.viewState.runUri !== this.runUri.toString()) {
          this.deps.log.warn(`Compare: ignored a view state for ${message.viewState.runUri} from the panel of ${this.runUri.toString()}`);
          break;
        }
        this.viewState = message.viewState;
        // Panels only: the run-file editor is restored by VS Code itself and must not overwrite the panel's filters.
        // A two-run panel keeps its state in the page only: opening this run alone later must not bring run A back.
        if (this.kind === 'panel' && this.deps.viewStates && !this.againstUri) {
          await this.deps.viewStates.put(this.runUri.toString(), message.viewState).catch((e: unknown) => {
            this.deps.log.warn(`Compare: could not keep the view state of ${this.runUri.toString()}: ${(e as Error).message}`);
          });
        }
        break;
      case 'compare/setLabel':
        await this.setLabel(message.sampleId, message.label);
        break;
      case 'compare/compareAnyway':
        if (!this.againstUri) break;
        this.allowMismatch = true;
        this.againstCursor = null;
        this.deps.log.info(`Compare: comparing ${this.againstUri.fsPath} and ${this.runUri.fsPath} anyway`);
        void this.sendReport();
        break;
      case 'compare/openActivations': {
        const run = message.side === 'A' && this.againstUri ? this.againstUri : this.runUri;
        await vscode.commands.executeCommand(OPEN_ACTIVATIONS_COMMAND, run, { sampleId: message.sampleId }).then(undefined, (e: unknown) => {
          this.deps.log.error(`Compare: could not open activations for ${message.sampleId}: ${(e as Error).message}`);
          void vscode.window.showErrorMessage(`Organism Lab: could not open activations for ${message.sampleId}: ${(e as Error).message}`);
        });
        break;
      }
    }
  }

  private async setLabel(sampleId: string, label: HumanLabel): Promise<void> {
    if (!this.local) {
      this.post({ type: 'compare/labelResult', sampleId, label, ok: false, error: 'this run file is not on the local disk' });
      return;
    }
    if (!vscode.workspace.isTrusted) {
      this.post({ type: 'compare/labelResult', sampleId, label, ok: false, error: 'labelling needs a trusted workspace' });
      return;
    }
    try {
      await appendLabel(this.runUri.fsPath, sampleId, label, { onWarning: (m) => this.deps.log.warn(`Compare: ${m}`) });
      this.deps.log.info(`Compare: labelled ${sampleId} as ${label} in ${this.runUri.fsPath}`);
      await this.refresh(); // posts the new label row before the result
      this.post({ type: 'compare/labelResult', sampleId, label, ok: true });
    } catch (e) {
      const error = (e as Error).message;
      this.deps.log.error(`Compare: could not write a label: ${error}`);
      this.post({ type: 'compare/labelResult', sampleId, label, ok: false, error });
    }
  }

  /** Focuses one sample in the page (e.g. from the Run report). */
  focusSample(sampleId: string): void {
    if (this.ready && this.pendingFocus === null) this.post({ type: 'compare/focusSample', sampleId });
    else this.pendingFocus = sampleId;
  }

  private post(message: CompareHostMessage): void {
    if (!this.disposed) void this.webview.postMessage(message);
  }

  dispose(): void {
    this.disposed = true;
    this.timing.closed();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounce) clearTimeout(this.debounce);
    if (this.reportTimer) clearTimeout(this.reportTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
