/**
 * Activations panel host: one panel per run file. Lists the run's samples (engine's run reader), asks the
 * engine host for one sample's teacher-forced diffs (analyzeSample) or the run-level per-layer curve
 * (layerCurve, with progress), and restores from the page's saved state. A remote run (header backend "openai") has
 * no local activations: for its samples the host asks the engine for the generation server's per-token log-probs
 * under base and adapter (remoteLogprobs), shown in place of the KL strip. Glue only.
 *
 * registerActivationsPanel(ctx) registers the view type with the panel manager (which restores it) and returns
 * organismLab.openActivations(runUri | path | {resourceUri} [, {sampleId}]) and organismLab.saeDiff for the
 * command registry.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRun } from '../../engine/runs/reader';
import {
  ACTIVATIONS_VIEW_TYPE,
  OPEN_ACTIVATIONS_COMMAND,
  isActivationsViewState,
  localModelNeededFor,
  parseActivationsWebviewMessage,
  type ActivationsBootstrap,
  type ActivationsHostMessage,
  type ActivationsViewState,
} from '../../protocol/activations';
import type { CommandTable } from '../commands/commandRegistry';
import { activeRunFile, isRunFileOrSay, pickRunFile } from '../commands/pickers';
import type { LabContext } from '../context';
import { uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';
import { apiKeyForRequest } from '../commands/apiKeys';
import { webviewOptions, webviewRoot } from './compareSession';
import { createNonce } from './nonce';
import type { OpenPanel } from '../panelManager';
import { renderWebviewHtml } from './webviewHtml';
import { steerWithSaeFeature } from './saeSteerAction';
import { testHooksEnabled } from '../../engine/host/testHooks';

const MAX_LISTED = 5000;

class ActivationsSession implements vscode.Disposable {
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];
  private pendingSample: string | null;

  /** `saved`: the restored page's state, or a new panel's starting sample. */
  constructor(private readonly ctx: LabContext, readonly panel: vscode.WebviewPanel, readonly runUri: vscode.Uri, saved: ActivationsViewState | null) {
    this.pendingSample = saved?.sampleId ?? null;
    const webview = panel.webview;
    webview.options = webviewOptions(ctx.extension.extensionUri);
    const root = webviewRoot(ctx.extension.extensionUri);
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
    this.disposables.push(webview.onDidReceiveMessage((m) => void this.receive(m)));
  }

  private post(m: ActivationsHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  private fail(what: string, e: unknown): void {
    const message = (e as Error).message ?? String(e);
    this.ctx.log.error(`Activations ${this.runUri.fsPath}: ${what}: ${message}`);
    this.post({ type: 'activations/error', message: `${what}: ${message}` });
  }

  showSample(sampleId: string): void {
    this.pendingSample = sampleId;
    void this.analyze(sampleId);
  }

  /** A message from the page (resolves when the host has handled it, the Steer… prompts included). */
  async receive(raw: unknown): Promise<void> {
    const m = parseActivationsWebviewMessage(raw);
    if (!m) {
      this.ctx.log.warn('Activations: ignored a malformed message from the page');
      return;
    }
    if (m.type === 'activations/ready') {
      try {
        const run = readRun(this.runUri.fsPath);
        this.localModelNeeded = localModelNeededFor(run.header);
        this.post({
          type: 'activations/samples',
          variants: run.header.variants.map((v) => v.name),
          ...(this.localModelNeeded ? { localModelNeeded: this.localModelNeeded } : {}),
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
    else if (m.type === 'activations/saeSteer' && this.saeDir) await steerWithSaeFeature(this.saeDir.dir, m.feature, this.ctx.log).catch((e) => this.fail(`steer with SAE feature ${m.feature}`, e));
  }

  /** A remote run: why the run-level analyses (curve, direction, SAE diff) cannot run; null for a local run. */
  private localModelNeeded: string | null = null;

  /** Refuses a run-level analysis of a remote run (the page disables its buttons; the saeDiff command can still ask). */
  private refuseRemote(what: string): boolean {
    let reason = this.localModelNeeded;
    if (reason === null) {
      try {
        reason = localModelNeededFor(readRun(this.runUri.fsPath).header);
      } catch {
        reason = null; // the analysis itself says what is wrong with the file
      }
    }
    if (!reason) return false;
    this.post({ type: 'activations/error', message: `${what}: ${reason}` });
    return true;
  }

  /** The SAE folder last diffed on this run (feature clicks read its tokens). */
  private saeDir: { dir: string; allowModelMismatch: boolean } | null = null;

  /** Run the SAE diff; `dir` (tests, commands) or the folder the user picks (SAELens layout). */
  async saeDiff(dir?: string): Promise<void> {
    if (this.refuseRemote('SAE diff') || !(await requireTrust('Activations'))) return;
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
      const r = await this.ctx.engine.sae({ runPath: this.runUri.fsPath, saeDir: dir, allowModelMismatch }, (p) => this.post({ type: 'activations/busy', what: 'SAE diff', done: p.done, total: p.total }));
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
      const r = await this.ctx.engine.sae({ runPath: this.runUri.fsPath, saeDir: this.saeDir.dir, allowModelMismatch: this.saeDir.allowModelMismatch, feature, top: 20 }, () => undefined);
      if (r.kind === 'feature') this.post({ type: 'activations/saeFeature', feature: r.feature, tokens: r.tokens });
    } catch (e) {
      this.fail(`SAE feature ${feature}`, e);
    }
  }

  private async direction(): Promise<void> {
    if (this.refuseRemote('direction')) return;
    if (!(await requireTrust('Activations'))) return;
    const out = this.runUri.fsPath.replace(/\.run\.jsonl$/, '') + '.direction.safetensors';
    this.post({ type: 'activations/busy', what: 'direction' });
    try {
      const data = await this.ctx.engine.direction({ runPath: this.runUri.fsPath, out }, (p) => this.post({ type: 'activations/busy', what: 'direction', done: p.done, total: p.total }));
      this.post({ type: 'activations/direction', data });
    } catch (e) {
      this.fail('direction', e);
    }
  }

  private async analyze(sampleId: string): Promise<void> {
    if (!(await requireTrust('Activations'))) return;
    let backend;
    try {
      backend = readRun(this.runUri.fsPath).header.backend;
    } catch (e) {
      this.fail('cannot read the run file', e);
      return;
    }
    if (backend?.kind === 'openai') return this.analyzeRemote(sampleId, backend.base_url ?? '');
    this.post({ type: 'activations/busy', what: `teacher-forcing ${sampleId}` });
    try {
      const data = await this.ctx.engine.analyzeSample({ runPath: this.runUri.fsPath, sampleId, topK: 5 });
      this.post({ type: 'activations/sample', data });
    } catch (e) {
      this.fail(`sample ${sampleId}`, e);
    }
  }

  /** A remote run's sample: the generation server's log-probabilities of the sampled tokens, base vs adapter. */
  private async analyzeRemote(sampleId: string, baseUrl: string): Promise<void> {
    this.post({ type: 'activations/busy', what: `scoring ${sampleId} on the generation server` });
    try {
      // The URL comes from the run file (workspace content): no key is sent for it in an untrusted workspace.
      const key = await apiKeyForRequest(this.ctx, 'server', baseUrl, { label: `the header of ${path.basename(this.runUri.fsPath)}`, fromWorkspace: true });
      if (!key) return;
      const data = await this.ctx.engine.remoteLogprobs({ runPath: this.runUri.fsPath, sampleId, apiKey: key.apiKey });
      const reason =
        `This run was generated through the generation server at ${baseUrl} (backend "openai"): activations and the KL need the model's weights ` +
        'in this process, and a remote run has only what the server returns. Shown instead: the log-probability each model gives the sampled tokens ' +
        "(the server's teacher-forced log-probabilities of the completion, from vLLM's prompt_logprobs or /v1/completions echo + logprobs, under the base and the adapter served names).";
      this.post({ type: 'activations/remoteLogprobs', data, reason });
    } catch (e) {
      this.fail(`sample ${sampleId}`, e);
    }
  }

  private async curve(): Promise<void> {
    if (this.refuseRemote('run-level curve')) return;
    if (!(await requireTrust('Activations'))) return;
    this.post({ type: 'activations/busy', what: 'run-level curve' });
    try {
      const data = await this.ctx.engine.layerCurve({ runPath: this.runUri.fsPath }, (p) => this.post({ type: 'activations/busy', what: 'run-level curve', done: p.done, total: p.total }));
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

/**
 * Test hook (exported by activate() only with ORGANISM_LAB_TEST_HOOKS=1): hand a message to a run's open Activations
 * session as its page would post it (a webview cannot be clicked from the extension host). False: no such panel.
 */
export async function sendActivationsMessageForTests(ctx: LabContext, runUri: vscode.Uri, message: unknown): Promise<boolean> {
  if (!testHooksEnabled()) throw new Error('sendActivationsMessageForTests is a test hook (ORGANISM_LAB_TEST_HOOKS=1)');
  const open = ctx.panels.registry(ACTIVATIONS_VIEW_TYPE)?.get(runUri.toString());
  if (!open || !(open.session instanceof ActivationsSession)) return false;
  await open.session.receive(message);
  return true;
}

const PICK_LABELS = { title: 'Organism Lab: Activations', placeHolder: 'Pick a run file', openLabel: 'Open Activations' };

export function registerActivationsPanel(ctx: LabContext): CommandTable {
  const panels = ctx.panels.register<ActivationsSession, ActivationsViewState>({
    viewType: ACTIVATIONS_VIEW_TYPE,
    name: 'Activations',
    reopenWith: 'Organism Lab: Open Activations',
    restorable: (state) => (isActivationsViewState(state) ? { key: vscode.Uri.parse(state.runUri).toString(), saved: state } : null),
    title: (key) => `Activations: ${path.basename(vscode.Uri.parse(key).fsPath)}`,
    options: () => webviewOptions(ctx.extension.extensionUri),
    attach: (panel, key, saved) => new ActivationsSession(ctx, panel, vscode.Uri.parse(key), saved),
  });

  /** Opens (or reveals) the Activations panel of a run; `sampleId` is shown there. Undefined when nothing was opened. */
  const open = async (arg: unknown, sampleId: string | null): Promise<OpenPanel<ActivationsSession> | undefined> => {
    try {
      const runUri = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile(PICK_LABELS));
      if (!runUri || !isRunFileOrSay(runUri, 'analyse')) return undefined;
      const shown = panels.show(runUri.toString(), { saved: { runUri: runUri.toString(), sampleId, metric: 'relNorm' } });
      if (!shown.created && sampleId) shown.session.showSample(sampleId);
      return shown;
    } catch (e) {
      ctx.log.error(`Activations: ${(e as Error).message}`);
      void vscode.window.showErrorMessage(`Organism Lab: could not open Activations: ${(e as Error).message}`);
      return undefined;
    }
  };

  return {
    [OPEN_ACTIVATIONS_COMMAND]: async (arg?: unknown, options?: unknown) => {
      const sampleId = (options as { sampleId?: unknown } | undefined)?.sampleId;
      return (await open(arg, typeof sampleId === 'string' ? sampleId : null))?.panel;
    },
    // SAE diff of a run: opens (or reveals) its Activations panel and runs the diff there; `saeDir` skips the pick.
    'organismLab.saeDiff': async (arg?: unknown, options?: unknown) => {
      const shown = await open(arg, null);
      if (!shown) return undefined;
      const saeDir = (options as { saeDir?: unknown } | undefined)?.saeDir;
      await shown.session.saeDiff(typeof saeDir === 'string' ? saeDir : undefined);
      return shown.panel;
    },
  };
}
