/**
 * The extension's side of the engine host: one EngineHostClient (forks dist/engineHost.js on first use), the
 * state the UI shows (model, adapters, execution provider, memory, running job), context keys for enablement,
 * crash reporting, and re-loading the last model into a fresh host after a crash.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { EngineHostClient, EngineHostExitedError } from './client';
import {
  AnalyzeSampleParams,
  RemoteLogprobsParams,
  ServerLoraParams,
  ServerLoraResult,
  JudgeRunParams,
  EngineMethods,
  MemoryInfo,
  ProgressParams,
  WeightsCacheResult,
} from '../../protocol/engineHost';
import { defaultAdapters, defaultModel, engineExecArgv, engineSettings } from '../config';
import type { DirectionReport, RemoteSampleLogprobs, RunLayerCurve, SampleActivations } from '../../protocol/analysis';
import type {
  CheckpointReport,
  DirectionRequest,
  JudgeRunResult,
  LayerCurveRequest,
  LoadedAdapterInfo,
  LoadedModelInfo,
  RemoteGenerationServer,
  RunPromptSetRequest,
  RunPromptSetResult,
  SaeRequest,
  SaeResult,
  SmokeTestRequest,
  SmokeTestResult,
} from '../../protocol/engineJobs';

const LAST_LOADED_KEY = 'organismLab.lastLoaded';

export interface EngineViewState {
  running: boolean;
  executionProvider: string;
  model: LoadedModelInfo | null;
  adapters: LoadedAdapterInfo[];
  memory: MemoryInfo | null;
  job: { title: string; done: number; total: number } | null;
  /**
   * What this workspace had loaded in its last session (or before a crash) and is not loaded now: it loads again on
   * first use (ensureModel). The status bar and the Checkpoints view show it, so it never comes back unannounced.
   */
  lastSession?: { model: string; adapters: string[] } | null;
}

export class EngineService implements vscode.Disposable {
  readonly client: EngineHostClient;
  private readonly changed = new vscode.EventEmitter<EngineViewState>();
  readonly onDidChange = this.changed.event;
  private _state: EngineViewState = { running: false, executionProvider: engineSettings().executionProvider, model: null, adapters: [], memory: null, job: null, lastSession: null };
  /** What the user loaded last: reloaded into a fresh host after a crash. */
  private wanted: { model: string; adapters: { dir: string; name: string }[] } | null = null;
  private jobAbort: AbortController | null = null;
  private poll: NodeJS.Timeout | undefined;
  private crashes = 0;
  /** The folder being loaded right now (a crash meanwhile means: do not re-load it automatically). */
  private loading: string | null = null;

  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.client = new EngineHostClient({
      hostModule: extension.asAbsolutePath('dist/engineHost.js'),
      execArgv: engineExecArgv,
      cwd: extension.extensionPath,
      // An empty cache folder setting means the extension's global storage.
      settings: () => {
        const s = engineSettings();
        return { ...s, cacheFolder: s.cacheFolder || extension.globalStorageUri.fsPath };
      },
      log: (level, message) => {
        const fn = level === 'trace' || level === 'debug' ? log.debug : level === 'warn' ? log.warn : level === 'error' ? log.error : log.info;
        fn.call(log, message);
      },
      onStarted: (info) => {
        this.update({ running: true, executionProvider: engineSettings().executionProvider });
        log.info(`engine host pid ${info.pid} ready`);
      },
      onUnexpectedExit: (err) => this.onCrash(err),
    });
    this.update({});
    this.poll = setInterval(() => void this.refreshStatus(), 5000);
    this.configListener = vscode.workspace.onDidChangeConfiguration((e) => {
      const keys = ['organismLab.executionProvider', 'organismLab.threads', 'organismLab.cacheFolder', 'organismLab.engine.maxMemoryMB', 'organismLab.engine.threadSpinning', 'organismLab.weights'];
      if (!this.client.running || !keys.some((k) => e.affectsConfiguration(k))) return;
      void vscode.window.showInformationMessage('Organism Lab: engine settings changed. Restart the engine host to apply them (the loaded model is re-loaded).', 'Restart Engine').then((c) => {
        if (c) void vscode.commands.executeCommand('organismLab.restartEngine');
      });
    });
  }

  private readonly configListener: vscode.Disposable;

  get state(): EngineViewState {
    return this._state;
  }

  get crashCount(): number {
    return this.crashes;
  }

  private update(patch: Partial<EngineViewState>): void {
    this._state = { ...this._state, ...patch };
    const last = this._state.model ? undefined : this.wanted ?? this.extension.workspaceState.get<{ model: string; adapters: { dir: string; name: string }[] }>(LAST_LOADED_KEY);
    this._state.lastSession = last && existsSync(last.model) ? { model: last.model, adapters: last.adapters.map((a) => a.name) } : null;
    void vscode.commands.executeCommand('setContext', 'organismLab.engineRunning', this._state.running);
    void vscode.commands.executeCommand('setContext', 'organismLab.modelLoaded', this._state.model !== null);
    void vscode.commands.executeCommand('setContext', 'organismLab.adapterLoaded', this._state.adapters.length > 0);
    void vscode.commands.executeCommand('setContext', 'organismLab.jobRunning', this._state.job !== null);
    this.changed.fire(this._state);
  }

  private onCrash(err: EngineHostExitedError): void {
    this.crashes += 1;
    this.jobAbort = null;
    this.update({ running: false, model: null, adapters: [], memory: null, job: null });
    let text = err.message;
    if (this.loading) {
      // The host died while loading: re-loading the same model automatically would only crash again.
      text += ` It died while loading ${this.loading}, so that model is not re-loaded automatically.`;
      this.remember(null);
      this.loading = null;
    }
    void vscode.window.showErrorMessage(text, 'Show Log', 'Restart Engine').then((choice) => {
      if (choice === 'Show Log') this.log.show();
      if (choice === 'Restart Engine') void vscode.commands.executeCommand('organismLab.restartEngine');
    });
  }

  async refreshStatus(): Promise<void> {
    if (!this.client.running) return;
    try {
      const s = await this.client.request(EngineMethods.status);
      this.update({ running: true, executionProvider: s.executionProvider, model: s.model, adapters: s.adapters, memory: s.memory });
    } catch {
      /* a crash is reported by onCrash */
    }
  }

  /** `onProgress`/`signal`: a first load at int8/int4 quantizes the checkpoint into the cache (MB read; cancellable). */
  async loadModel(dir: string, onProgress?: (p: ProgressParams) => void, signal?: AbortSignal): Promise<LoadedModelInfo> {
    this.loading = dir;
    let info: LoadedModelInfo;
    try {
      info = await this.client.job(EngineMethods.loadModel, { dir, token: this.client.newJobToken('load') }, onProgress ?? (() => undefined), signal);
    } finally {
      if (this.loading === dir) this.loading = null;
    }
    this.remember({ model: info.dir, adapters: [] });
    this.update({ model: info, adapters: [] });
    await this.refreshStatus();
    return info;
  }

  async loadAdapter(dir: string, name?: string): Promise<LoadedAdapterInfo> {
    this.loading = dir;
    let info: LoadedAdapterInfo;
    try {
      info = await this.client.request(EngineMethods.loadAdapter, { dir, name });
    } finally {
      if (this.loading === dir) this.loading = null;
    }
    if (this.wanted) this.remember({ ...this.wanted, adapters: [...this.wanted.adapters.filter((a) => a.name !== info.name), { dir: info.dir, name: info.name }] });
    await this.refreshStatus();
    return info;
  }

  async unloadAdapter(name: string): Promise<void> {
    await this.client.request(EngineMethods.unloadAdapter, { name });
    if (this.wanted) this.remember({ ...this.wanted, adapters: this.wanted.adapters.filter((a) => a.name !== name) });
    await this.refreshStatus();
  }

  /** The quantized-weights cache of the engine host (organismLab.cacheFolder/weights): list, or clear. */
  weightsCache(clear = false): Promise<WeightsCacheResult> {
    return this.client.request(EngineMethods.weightsCache, { clear });
  }

  /** Model/adapter/training-run report (an adapter is checked against `baseModelDir`, else the loaded model). */
  inspectCheckpoint(dir: string, baseModelDir?: string, onProgress?: (p: ProgressParams) => void, signal?: AbortSignal): Promise<CheckpointReport> {
    const token = this.client.newJobToken('inspect');
    return this.client.job(EngineMethods.inspectCheckpoint, { dir, baseModelDir, token }, onProgress ?? (() => undefined), signal);
  }

  /** One sample teacher-forced through the reference and a variant (the run's own model, loaded by the host). */
  analyzeSample(params: AnalyzeSampleParams, signal?: AbortSignal): Promise<SampleActivations> {
    return this.client.request(EngineMethods.analyzeSample, params, signal);
  }

  /** A remote run's sample scored by its generation server under base and adapter (no local model). */
  remoteLogprobs(params: RemoteLogprobsParams, signal?: AbortSignal): Promise<RemoteSampleLogprobs> {
    return this.client.request(EngineMethods.remoteLogprobs, params, signal);
  }

  /** Whether a generation server lists a LoRA adapter; with `load`, loads its folder there when it does not. */
  serverLora(params: ServerLoraParams): Promise<ServerLoraResult> {
    return this.client.request(EngineMethods.serverLora, params);
  }

  layerCurve(request: LayerCurveRequest, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<RunLayerCurve> {
    return this.runJob('Layer curve', (s, own) => this.client.job(EngineMethods.layerCurve, { token: this.client.newJobToken('curve'), ...request }, (p) => (own(p), onProgress(p)), s), signal);
  }

  /** Judges a run file in the engine host, with any judge (a local-model judge's model is loaded there for the job). */
  judgeRun(request: Omit<JudgeRunParams, 'token'>, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<JudgeRunResult> {
    return this.runJob('Judging', (s, own) => this.client.job(EngineMethods.judgeRun, { token: this.client.newJobToken('judge'), ...request }, (p) => (own(p), onProgress(p)), s), signal);
  }

  direction(request: DirectionRequest, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<DirectionReport> {
    return this.runJob('Direction', (s, own) => this.client.job(EngineMethods.direction, { token: this.client.newJobToken('direction'), ...request }, (p) => (own(p), onProgress(p)), s), signal);
  }

  /** SAE model diffing on a run, in the engine host (with the run's own model). */
  sae(request: SaeRequest, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<SaeResult> {
    return this.runJob('SAE diff', (s, own) => this.client.job(EngineMethods.sae, { token: this.client.newJobToken('sae'), ...request }, (p) => (own(p), onProgress(p)), s), signal);
  }

  /** What the user loaded, kept for this workspace so the next session (or a fresh host) can load it again. */
  private remember(wanted: { model: string; adapters: { dir: string; name: string }[] } | null): void {
    this.wanted = wanted;
    void this.extension.workspaceState.update(LAST_LOADED_KEY, wanted ?? undefined);
  }

  /**
   * Makes sure a model is loaded: the model of before a crash or of the last session in this workspace,
   * else organismLab.defaultModel (+ defaultAdapters).
   * Returns false when there is nothing to load (the caller asks the user).
   */
  async ensureModel(): Promise<boolean> {
    if (this._state.model && this.client.running) return true;
    const wanted = this.wanted ?? this.extension.workspaceState.get<{ model: string; adapters: { dir: string; name: string }[] }>(LAST_LOADED_KEY);
    if (wanted && existsSync(wanted.model)) {
      const { model, adapters } = wanted;
      const fromLastSession = this.wanted === null;
      this.log.info(`re-loading ${model}${adapters.length ? ` with ${adapters.map((a) => a.name).join(', ')}` : ''} into a fresh engine host (${fromLastSession ? "this workspace's last session" : 'before the engine host restarted'})`);
      await this.loadModel(model);
      for (const a of adapters) await this.loadAdapter(a.dir, a.name);
      // Said, not silent: the status bar showed "last session" until now.
      const what = `${path.basename(model)}${adapters.length ? ` with adapter${adapters.length > 1 ? 's' : ''} ${adapters.map((a) => a.name).join(', ')}` : ''}`;
      void vscode.window.showInformationMessage(`Organism Lab: loaded ${what} again, as ${fromLastSession ? "in this workspace's last session" : 'before the engine host restarted'}. Load Model… or Unload Adapter to change it.`);
      return true;
    }
    const dir = defaultModel();
    if (!dir) return false;
    this.log.info(`loading organismLab.defaultModel ${dir}`);
    await this.loadModel(dir);
    for (const a of defaultAdapters()) await this.loadAdapter(a);
    return true;
  }

  get jobRunning(): boolean {
    return this.jobAbort !== null;
  }

  private async runJob<R>(title: string, fn: (signal: AbortSignal, onProgress: (p: ProgressParams) => void) => Promise<R>, signal?: AbortSignal): Promise<R> {
    const abort = new AbortController();
    const forward = () => abort.abort();
    signal?.addEventListener('abort', forward, { once: true });
    this.jobAbort = abort;
    this.update({ job: { title, done: 0, total: 0 } });
    try {
      return await fn(abort.signal, (p) => this.update({ job: { title, done: p.done, total: p.total } }));
    } finally {
      signal?.removeEventListener('abort', forward);
      if (this.jobAbort === abort) this.jobAbort = null;
      this.update({ job: null });
    }
  }

  /** `server`: run against that OpenAI-compatible server instead of the loaded model. */
  runPromptSet(request: RunPromptSetRequest & { server?: RemoteGenerationServer }, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<RunPromptSetResult> {
    return this.runJob(
      'Running prompt set',
      (s, own) =>
        this.client.job(
          EngineMethods.runPromptSet,
          { token: this.client.newJobToken('run'), ...request },
          (p) => {
            own(p);
            onProgress(p);
          },
          s,
        ),
      signal,
    );
  }

  smokeTest(request: SmokeTestRequest, signal?: AbortSignal): Promise<SmokeTestResult> {
    return this.runJob('Smoke test', (s, own) => this.client.job(EngineMethods.smokeTest, { token: this.client.newJobToken('smoke'), ...request }, own, s), signal);
  }

  /** Cancels the running job (finished samples stay in the run file). */
  stopJob(): boolean {
    if (!this.jobAbort) return false;
    this.jobAbort.abort();
    return true;
  }

  /** Kills the host (even one stuck in a native call) and starts a fresh one with the same model. */
  async restart(): Promise<void> {
    this.jobAbort?.abort();
    await this.client.kill();
    this.update({ running: false, model: null, adapters: [], memory: null, job: null });
    await this.client.start();
    if (this.wanted) await this.ensureModel();
  }

  async shutdown(): Promise<void> {
    await this.client.stop();
    this.update({ running: false, model: null, adapters: [], memory: null, job: null });
  }

  dispose(): void {
    clearInterval(this.poll);
    this.configListener.dispose();
    void this.client.stop();
    this.changed.dispose();
  }
}
