/**
 * Activations panel host: one panel per run file. Lists the run's samples (engine's run reader), asks the
 * engine host for one sample's teacher-forced diffs (analyzeSample) or the run-level per-layer curve
 * (layerCurve, with progress), and restores from the page's saved state. Glue only.
 *
 * Registers organismLab.openActivations(runUri | path | {resourceUri} [, {sampleId}]) and the serializer.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRun } from '../../engine/runs/reader';
import {
  ACTIVATIONS_VIEW_TYPE,
  OPEN_ACTIVATIONS_COMMAND,
  isActivationsViewState,
  parseActivationsWebviewMessage,
  type ActivationsBootstrap,
  type ActivationsHostMessage,
  type ActivationsViewState,
} from '../../protocol/activations';
import { getEngine } from '../engine/engineAccess';
import { activeRunFile, isRunFileOrSay, pickRunFile, runUriFromArgument } from './runFilePicker';
import { registerInspectorPanel } from './inspectorPanel';
import { requireTrust } from '../trust/trust';
import { webviewOptions, webviewRoot } from './compareSession';
import { createNonce } from './nonce';
import { escapeHtml, renderWebviewHtml } from './webviewHtml';

const MAX_LISTED = 5000;

class ActivationsSession implements vscode.Disposable {
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];
  private pendingSample: string | null;

  constructor(readonly panel: vscode.WebviewPanel, readonly runUri: vscode.Uri, extensionUri: vscode.Uri, private readonly log: vscode.LogOutputChannel, saved: ActivationsViewState | null, sampleId: string | null) {
    this.pendingSample = sampleId ?? saved?.sampleId ?? null;
    const webview = panel.webview;
    webview.options = webviewOptions(extensionUri);
    const root = webviewRoot(extensionUri);
    const bootstrap: ActivationsBootstrap = {
      runUri: runUri.toString(),
      fileName: path.basename(runUri.fsPath),
      viewState: { runUri: runUri.toString(), sampleId: this.pendingSample, metric: saved?.metric ?? 'relNorm' },
    };
    webview.html = renderWebviewHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      title: `Activations: ${path.basename(runUri.fsPath)}`,
      scriptUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'activations.js')).toString()],
      styleUris: [webview.asWebviewUri(vscode.Uri.joinPath(root, 'activations.css')).toString()],
      initialState: bootstrap,
    });
    this.disposables.push(webview.onDidReceiveMessage((m) => void this.onMessage(m)));
  }

  private post(m: ActivationsHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  private fail(what: string, e: unknown): void {
    const message = (e as Error).message ?? String(e);
    this.log.error(`Activations ${this.runUri.fsPath}: ${what}: ${message}`);
    this.post({ type: 'activations/error', message: `${what}: ${message}` });
  }

  showSample(sampleId: string): void {
    this.pendingSample = sampleId;
    void this.analyze(sampleId);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseActivationsWebviewMessage(raw);
    if (!m) {
      this.log.warn('Activations: ignored a malformed message from the page');
      return;
    }
    if (m.type === 'activations/ready') {
      try {
        const run = readRun(this.runUri.fsPath);
        this.post({
          type: 'activations/samples',
          variants: run.header.variants.map((v) => v.name),
          samples: run.samples.slice(0, MAX_LISTED).map((s) => ({ id: s.id, questionId: s.question_id, variant: s.variant, completion: s.completion.slice(0, 200) })),
        });
        // Nothing chosen yet: start with the first sample of the first non-reference variant.
        const first = this.pendingSample ?? (run.samples.find((s) => s.variant !== run.header.variants[0]?.name) ?? run.samples[0])?.id ?? null;
        if (first) {
          this.pendingSample = first;
          this.post({ type: 'activations/select', sampleId: first });
          void this.analyze(first);
        }
      } catch (e) {
        this.fail('cannot read the run file', e);
      }
    } else if (m.type === 'activations/pickSample') void this.analyze(m.sampleId);
    else if (m.type === 'activations/computeCurve') void this.curve();
    else if (m.type === 'activations/computeDirection') void this.direction();
    else if (m.type === 'activations/computeSaeDiff') void this.saeDiff();
    else if (m.type === 'activations/saeFeatureTokens') void this.saeFeature(m.feature);
  }

  /** The SAE folder last diffed on this run (feature clicks read its tokens). */
  private saeDir: { dir: string; allowModelMismatch: boolean } | null = null;

  /** Run the SAE diff; `dir` (tests, commands) or the folder the user picks (SAELens layout). */
  async saeDiff(dir?: string): Promise<void> {
    if (!(await requireTrust('Activations'))) return;
    let saeDir = dir;
    if (!saeDir) {
      const found = (await vscode.workspace.findFiles('**/cfg.json', '**/{node_modules,.git}/**', 200)).filter((u) => existsSync(path.join(path.dirname(u.fsPath), 'sae_weights.safetensors')));
      const items = [
        ...found.map((u) => ({ label: path.basename(path.dirname(u.fsPath)), description: vscode.workspace.asRelativePath(path.dirname(u.fsPath)), dir: path.dirname(u.fsPath) })),
        { label: 'Browse…', description: 'a folder with cfg.json and sae_weights.safetensors', dir: '' },
      ];
      const pick = await vscode.window.showQuickPick(items, { title: 'Organism Lab: SAE for the diff (SAELens layout)' });
      if (!pick) return;
      saeDir = pick.dir || (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, title: 'SAE folder (cfg.json + sae_weights.safetensors)' }))?.[0]?.fsPath;
      if (!saeDir) return;
    }
    await this.runSae(saeDir, false);
  }

  private async runSae(dir: string, allowModelMismatch: boolean): Promise<void> {
    this.post({ type: 'activations/busy', what: 'SAE diff' });
    try {
      const r = await getEngine().sae({ runPath: this.runUri.fsPath, saeDir: dir, allowModelMismatch }, (p) => this.post({ type: 'activations/busy', what: 'SAE diff', done: p.done, total: p.total }));
      this.saeDir = { dir, allowModelMismatch };
      if (r.kind === 'run') this.post({ type: 'activations/saeDiff', data: r.diff });
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      if (!allowModelMismatch && /model_name .* does not name this run's model/.test(message)) {
        const choice = await vscode.window.showWarningMessage(`Organism Lab: ${message}`, { modal: true }, 'Use Anyway');
        if (choice === 'Use Anyway') return this.runSae(dir, true);
      }
      this.fail('SAE diff', e);
    }
  }

  private async saeFeature(feature: number): Promise<void> {
    if (!this.saeDir) return;
    this.post({ type: 'activations/busy', what: `SAE feature ${feature}` });
    try {
      const r = await getEngine().sae({ runPath: this.runUri.fsPath, saeDir: this.saeDir.dir, allowModelMismatch: this.saeDir.allowModelMismatch, feature, top: 20 }, () => undefined);
      if (r.kind === 'feature') this.post({ type: 'activations/saeFeature', feature: r.feature, tokens: r.tokens });
    } catch (e) {
      this.fail(`SAE feature ${feature}`, e);
    }
  }

  private async direction(): Promise<void> {
    if (!(await requireTrust('Activations'))) return;
    const out = this.runUri.fsPath.replace(/\.run\.jsonl$/, '') + '.direction.safetensors';
    this.post({ type: 'activations/busy', what: 'direction' });
    try {
      const data = await getEngine().direction({ runPath: this.runUri.fsPath, out }, (p) => this.post({ type: 'activations/busy', what: 'direction', done: p.done, total: p.total }));
      this.post({ type: 'activations/direction', data });
    } catch (e) {
      this.fail('direction', e);
    }
  }

  private async analyze(sampleId: string): Promise<void> {
    if (!(await requireTrust('Activations'))) return;
    this.post({ type: 'activations/busy', what: `teacher-forcing ${sampleId}` });
    try {
      const data = await getEngine().analyzeSample({ runPath: this.runUri.fsPath, sampleId, topK: 5 });
      this.post({ type: 'activations/sample', data });
    } catch (e) {
      this.fail(`sample ${sampleId}`, e);
    }
  }

  private async curve(): Promise<void> {
    if (!(await requireTrust('Activations'))) return;
    this.post({ type: 'activations/busy', what: 'run-level curve' });
    try {
      const data = await getEngine().layerCurve({ runPath: this.runUri.fsPath }, (p) => this.post({ type: 'activations/busy', what: 'run-level curve', done: p.done, total: p.total }));
      this.post({ type: 'activations/curve', data });
    } catch (e) {
      this.fail('run-level curve', e);
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

const PICK_LABELS = { title: 'Organism Lab: Activations', placeHolder: 'Pick a run file', openLabel: 'Open Activations' };

export interface MechanismPanelDeps {
  log: vscode.LogOutputChannel;
  /** The run of the active Compare panel, if any: Open Activations from there needs no question. */
  activeCompareRun?: () => vscode.Uri | undefined;
}

export function registerActivationsPanel(context: vscode.ExtensionContext, deps: MechanismPanelDeps): void {
  const open = new Map<string, ActivationsSession>();
  const attach = (panel: vscode.WebviewPanel, runUri: vscode.Uri, saved: ActivationsViewState | null, sampleId: string | null) => {
    const key = runUri.toString();
    const s = new ActivationsSession(panel, runUri, context.extensionUri, deps.log, saved, sampleId);
    open.set(key, s);
    panel.onDidDispose(() => {
      s.dispose();
      if (open.get(key) === s) open.delete(key);
    });
  };
  context.subscriptions.push(
    { dispose: () => [...open.values()].forEach((s) => s.panel.dispose()) },
    vscode.window.registerWebviewPanelSerializer(ACTIVATIONS_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        if (!isActivationsViewState(state)) {
          panel.webview.options = { enableScripts: false, localResourceRoots: [] };
          panel.webview.html = `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><p>${escapeHtml('This Activations panel could not be restored. Open it again with "Organism Lab: Open Activations".')}</p></body></html>`;
          return;
        }
        attach(panel, vscode.Uri.parse(state.runUri), state, null);
      },
    }),
    // SAE diff of a run: opens (or reveals) its Activations panel and runs the diff there; `saeDir` skips the pick.
    vscode.commands.registerCommand('organismLab.saeDiff', async (arg?: unknown, options?: { saeDir?: unknown }) => {
      const panel = (await vscode.commands.executeCommand<vscode.WebviewPanel | undefined>(OPEN_ACTIVATIONS_COMMAND, arg)) ?? undefined;
      const session = panel && [...open.values()].find((s) => s.panel === panel);
      if (!session) return undefined;
      await session.saeDiff(typeof options?.saeDir === 'string' ? options.saeDir : undefined);
      return panel;
    }),
    vscode.commands.registerCommand(OPEN_ACTIVATIONS_COMMAND, async (arg?: unknown, options?: { sampleId?: unknown }) => {
      try {
        const runUri = runUriFromArgument(arg) ?? activeRunFile(deps.activeCompareRun) ?? (await pickRunFile(undefined, PICK_LABELS));
        if (!runUri || !isRunFileOrSay(runUri, 'analyse')) return undefined;
        const sampleId = typeof options?.sampleId === 'string' ? options.sampleId : null;
        const existing = open.get(runUri.toString());
        if (existing) {
          existing.panel.reveal();
          if (sampleId) existing.showSample(sampleId);
          return existing.panel;
        }
        const panel = vscode.window.createWebviewPanel(ACTIVATIONS_VIEW_TYPE, `Activations: ${path.basename(runUri.fsPath)}`, vscode.ViewColumn.Active, webviewOptions(context.extensionUri));
        attach(panel, runUri, null, sampleId);
        return panel;
      } catch (e) {
        deps.log.error(`Activations: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open Activations: ${(e as Error).message}`);
        return undefined;
      }
    }),
  );
}

/** Registers the Activations panel and the Checkpoint inspector (called once from panels/index.ts). */
export function registerMechanismPanels(context: vscode.ExtensionContext, deps: MechanismPanelDeps): void {
  registerActivationsPanel(context, deps);
  registerInspectorPanel(context, deps);
}
