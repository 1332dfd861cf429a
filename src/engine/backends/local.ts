/**
 * The local backend: the model, its adapters and the jobs, all in this (engine host) process on onnxruntime-node.
 * Which adapters are loaded decides the graph (LoRA inputs per adapted module), so loading or unloading an
 * adapter reloads the model handle with the new adapter set; a failed reload keeps the previous handle.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { judgeRun } from '../jobs/judgeRun';
import { AnalysisService } from './analysis';
import { EngineError, noModelLoaded } from './errors';
import { inspectCheckpoint } from './inspect';
import { loadOnnxModel } from './onnxModel';
import { checkVariantsFitModel, variantLayers } from '../jobs/variants';
import { setDefaultHashCacheDir } from '../runs/hashing';
import type {
  AnalyzeSampleRequest,
  CheckpointReport,
  DirectionRequest,
  EngineSettings,
  JudgeRunResult,
  LayerCurveRequest,
  LoadedAdapterInfo,
  LoadedModelInfo,
  LocalJudgeRequest,
  RunPromptSetRequest,
  RunPromptSetResult,
  SaeRequest,
  SaeResult,
  SmokeTestRequest,
  SmokeTestResult,
} from '../../protocol/engineJobs';
import type { DirectionReport, RunLayerCurve, SampleActivations } from '../../protocol/analysis';
import type { AdapterRef, EngineBackend, InterventionLayers, JobHooks, ModelHandle, ModelLoader } from './types';

export const DEFAULT_SETTINGS: EngineSettings = { executionProvider: 'cpu', threads: 0, cacheFolder: '' };

function requireFolder(dir: string, what: string): string {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) throw new EngineError('InvalidInput', `${what} folder not found: ${abs}`, 'Pick a folder that exists (a Hugging Face checkpoint folder).');
  if (!statSync(abs).isDirectory()) throw new EngineError('InvalidInput', `${what} must be a folder, got a file: ${abs}`, 'Pick the folder that holds config.json / adapter_config.json, not a file inside it.');
  return abs;
}

export class LocalBackend implements EngineBackend {
  private current: ModelHandle | null = null;
  private adapterRefs: AdapterRef[] = [];
  private _settings: EngineSettings = { ...DEFAULT_SETTINGS };
  private readonly analysis = new AnalysisService(() => this._settings);

  constructor(private readonly loader: ModelLoader = loadOnnxModel) {}

  configure(settings: EngineSettings): void {
    this._settings = { ...DEFAULT_SETTINGS, ...settings };
    setDefaultHashCacheDir(this._settings.cacheFolder ? path.join(this._settings.cacheFolder, 'hashes') : undefined); // checkpoint fingerprints (runs/hashing)
  }

  get settings(): EngineSettings {
    return this._settings;
  }

  get model(): LoadedModelInfo | null {
    return this.current?.info ?? null;
  }

  get adapters(): LoadedAdapterInfo[] {
    return this.current?.adapters ?? [];
  }

  async loadModel(dir: string, hooks?: JobHooks): Promise<LoadedModelInfo> {
    const abs = requireFolder(dir, 'Model');
    const handle = await this.loader(abs, [], this._settings, undefined, hooks);
    await this.current?.dispose();
    this.current = handle;
    this.adapterRefs = [];
    return handle.info;
  }

  async loadAdapter(dir: string, name?: string): Promise<LoadedAdapterInfo> {
    if (!this.current) throw noModelLoaded('load an adapter');
    const abs = requireFolder(dir, 'Adapter');
    const adapterName = (name ?? path.basename(abs)).trim();
    if (!/^[A-Za-z0-9_.@+-]+$/.test(adapterName)) {
      throw new EngineError('InvalidInput', `Adapter name "${adapterName}" (from ${abs}) has characters variant names cannot hold.`, 'Use letters, digits, "_", "-", "." only.');
    }
    // Loading the same name again replaces that adapter (e.g. another checkpoint-N of the same training run).
    const refs = [...this.adapterRefs.filter((a) => a.name !== adapterName), { name: adapterName, dir: abs }];
    await this.reload(refs);
    const info = this.adapters.find((a) => a.name === adapterName);
    if (!info) throw new EngineError('InvalidInput', `The engine loaded ${abs} but reported no adapter named "${adapterName}".`);
    return info;
  }

  async unloadAdapter(name: string): Promise<void> {
    if (!this.adapterRefs.some((a) => a.name === name)) {
      throw new EngineError('InvalidInput', `No adapter named "${name}" is loaded (loaded: ${this.adapterRefs.map((a) => a.name).join(', ') || 'none'}).`);
    }
    await this.reload(this.adapterRefs.filter((a) => a.name !== name));
  }

  private async reload(refs: AdapterRef[], layers?: InterventionLayers): Promise<void> {
    const prev = this.current;
    if (!prev) throw noModelLoaded('change adapters');
    const keep = layers ?? { steerLayers: prev.steerLayers, ablateLayers: prev.ablateLayers };
    const handle = await this.loader(prev.info.dir, refs, this._settings, keep);
    await prev.dispose();
    this.current = handle;
    this.adapterRefs = refs;
  }

  inspectCheckpoint(dir: string, hooks: JobHooks, baseModelDir?: string): Promise<CheckpointReport> {
    const abs = requireFolder(dir, 'Checkpoint');
    // An adapter is checked against the loaded model unless another base is named.
    const base = baseModelDir ?? (this.current ? this.current.info.dir : undefined);
    return inspectCheckpoint(abs, { baseModelDir: base, onProgress: (done, total) => hooks.onProgress({ done, total }) });
  }

  analyzeSample(request: AnalyzeSampleRequest): Promise<SampleActivations> {
    return this.analysis.sample(request);
  }

  layerCurve(request: LayerCurveRequest, hooks: JobHooks): Promise<RunLayerCurve> {
    return this.analysis.layerCurve(request, hooks);
  }

  direction(request: DirectionRequest, hooks: JobHooks): Promise<DirectionReport> {
    return this.analysis.direction(request, hooks);
  }

  sae(request: SaeRequest, hooks: JobHooks): Promise<SaeResult> {
    return this.analysis.sae(request, hooks);
  }

  async runPromptSet(request: RunPromptSetRequest, hooks: JobHooks): Promise<RunPromptSetResult> {
    if (!this.current) throw noModelLoaded('run a prompt set');
    const known = new Set(this.adapterRefs.map((a) => a.name));
    for (const v of request.variants) {
      if (v.adapter && !known.has(v.adapter)) {
        throw new EngineError('InvalidInput', `Variant "${v.name}" uses adapter "${v.adapter}", which is not loaded (loaded: ${[...known].join(', ') || 'none'}).`, 'Load the adapter first ("Organism Lab: Load Adapter…").');
      }
    }
    // The default run file lives in a runs/ folder next to the prompt set, which may not exist yet.
    mkdirSync(path.dirname(path.resolve(request.out)), { recursive: true });
    // An SAE feature's SAE, and every steered / ablated layer, must fit the loaded model (checked before a reload).
    try {
      checkVariantsFitModel(request.variants, this.current.info);
    } catch (err) {
      throw new EngineError('InvalidInput', err instanceof Error ? err.message : String(err), 'Pick an SAE (or direction) made for the loaded model, or load the model it was made for.');
    }
    // Steering / ablation variants need their layers as graph inputs: reload once with the union when missing.
    const need = variantLayers(request.variants);
    const union = (have: number[], want: number[]) => [...new Set([...have, ...want])].sort((a, b) => a - b);
    const cur = this.current;
    if (need.steerLayers.some((l) => !cur.steerLayers.includes(l)) || need.ablateLayers.some((l) => !cur.ablateLayers.includes(l))) {
      hooks.log('info', `Reloading the model with steering layers [${union(cur.steerLayers, need.steerLayers)}] and ablation layers [${union(cur.ablateLayers, need.ablateLayers)}] for this run's variants.`);
      await this.reload(this.adapterRefs, { steerLayers: union(cur.steerLayers, need.steerLayers), ablateLayers: union(cur.ablateLayers, need.ablateLayers) });
    }
    return this.current!.runPromptSet(request, hooks);
  }

  smokeTest(request: SmokeTestRequest, hooks: JobHooks): Promise<SmokeTestResult> {
    if (!this.current) throw noModelLoaded('run a smoke test');
    return this.current.smokeTest(request, hooks);
  }

  async judgeRunLocal(request: LocalJudgeRequest, hooks: JobHooks): Promise<JudgeRunResult> {
    if (request.judge?.type !== 'local') throw new EngineError('InvalidInput', `judgeRunLocal takes local-model judges only; got a "${String(request.judge?.type)}" judge.`, 'Rule and OpenAI-compatible judges need no model: engine/judgeRun runs them directly.');
    return judgeRun(request.runPath, request.judge, {
      signal: hooks.signal,
      variants: request.variants,
      // One forward at a time: the judge's model shares this process with everything else.
      concurrency: 1,
      onProgress: (p) => hooks.onProgress({ done: p.done, total: p.total, message: p.failed ? `${p.failed} failed` : undefined }),
      log: (m) => hooks.log('info', m),
      context: { local: { baseDir: request.baseDir, executionProvider: this._settings.executionProvider, threads: this._settings.threads > 0 ? this._settings.threads : undefined } },
    });
  }

  async dispose(): Promise<void> {
    await this.analysis.dispose();
    await this.current?.dispose();
    this.current = null;
    this.adapterRefs = [];
  }
}
