/**
 * Activation analyses for the engine host: one sample teacher-forced through two variants, the run-level
 * per-layer curve, and a misaligned-minus-aligned direction — all with the run's own model and adapters
 * (from its header, or `modelDir`), via src/engine/jobs/analyzeRun.ts. The analysis model is loaded on first
 * use and kept for the next request on a run with the same model/adapters/variant layers (it is separate from
 * the model loaded for running prompt sets, whose graph may lack the steering/ablation layers a run needs).
 */
import { analyzeSample, loadRunModel, runDirection, runLayerCurve, type AnalysisModel } from '../jobs/analyzeRun';
import { variantLayers } from '../jobs/variants';
import { readRun } from '../runs/reader';
import type { RunContents } from '../runs/parse';
import type { DirectionReport, RunLayerCurve, SampleActivations } from '../analysis/types';
import { checkSaeModel, openSaeFolder } from '../sae/saeFolder';
import { loadModelSpec } from '../checkpoint/modelSpec';
import { SaeKernel } from '../sae/saeKernel';
import { saeRunDiff, saeTopTokens } from '../sae/saeDiff';
import { EngineError } from './errors';
import { runWeights } from '../quant/weightPrecision';
import type { AnalyzeSampleRequest, DirectionRequest, EngineSettings, LayerCurveRequest, SaeRequest, SaeResult } from '../../protocol/engineJobs';
import type { JobHooks } from './types';

const MOVED_MODEL_HINT = 'If the model folder moved since the run was made, pass its new location (modelDir).';

function modelKey(run: RunContents, modelDir?: string): string {
  return JSON.stringify([modelDir ?? run.header.model.path, run.header.adapters.map((a) => [a.name, a.path]), variantLayers(run.header.variants)]);
}

function readRunOrThrow(runPath: string): RunContents {
  try {
    return readRun(runPath);
  } catch (err) {
    throw new EngineError('InvalidInput', err instanceof Error ? err.message : String(err), 'Pick a readable *.run.jsonl file.');
  }
}

export class AnalysisService {
  private cached: { key: string; model: AnalysisModel & { dispose(): Promise<void> } } | null = null;

  constructor(private readonly settings: () => EngineSettings) {}

  private async model(run: RunContents, modelDir?: string): Promise<AnalysisModel> {
    const key = modelKey(run, modelDir);
    if (this.cached?.key === key) return this.cached.model;
    await this.dispose();
    const s = this.settings();
    try {
      const model = await loadRunModel(run, {
        modelDir,
        executionProvider: s.executionProvider,
        threads: s.threads > 0 ? s.threads : undefined,
        // the run's own precision, so activations are those of the generated samples
        runner: { weights: runWeights(run.header), threadSpinning: s.threadSpinning, cacheFolder: s.cacheFolder ? `${s.cacheFolder}/weights` : undefined, memory: { maxMemoryMB: s.maxMemoryMB } },
      });
      this.cached = { key, model };
      return model;
    } catch (err) {
      throw new EngineError(
        'InvalidInput',
        `Cannot load the run's model (${modelDir ?? run.header.model.path}): ${err instanceof Error ? err.message : String(err)}`,
        MOVED_MODEL_HINT,
      );
    }
  }

  async sample(req: AnalyzeSampleRequest): Promise<SampleActivations> {
    const run = readRunOrThrow(req.runPath);
    return analyzeSample(await this.model(run, req.modelDir), run, req.runPath, req.sampleId, { reference: req.reference, variant: req.variant, topK: req.topK });
  }

  async layerCurve(req: LayerCurveRequest, hooks: JobHooks): Promise<RunLayerCurve> {
    const run = readRunOrThrow(req.runPath);
    return runLayerCurve(await this.model(run, req.modelDir), run, req.runPath, {
      reference: req.reference,
      variants: req.variants,
      batchSize: req.batchSize,
      signal: hooks.signal,
      onProgress: (done, total) => hooks.onProgress({ done, total }),
    });
  }

  async direction(req: DirectionRequest, hooks: JobHooks): Promise<DirectionReport> {
    const run = readRunOrThrow(req.runPath);
    return runDirection(await this.model(run, req.modelDir), run, req.runPath, {
      variant: req.variant,
      labels: req.labels,
      testFraction: req.testFraction,
      seed: req.seed,
      out: req.out,
      batchSize: req.batchSize,
      signal: hooks.signal,
      onProgress: (done, total) => hooks.onProgress({ done, total }),
    });
  }

  async sae(req: SaeRequest, hooks: JobHooks): Promise<SaeResult> {
    const run = readRunOrThrow(req.runPath);
    // The SAE is checked against the model's config.json before the model is loaded (seconds to minutes).
    const modelDir = req.modelDir ?? run.header.model.path;
    let modelSpec;
    try {
      modelSpec = loadModelSpec(modelDir);
    } catch (err) {
      throw new EngineError('InvalidInput', `Cannot read the run's model (${modelDir}): ${err instanceof Error ? err.message : String(err)}`, MOVED_MODEL_HINT);
    }
    let spec;
    try {
      spec = openSaeFolder(req.saeDir, { hiddenSize: modelSpec.hiddenSize, numLayers: modelSpec.numLayers, dir: modelDir });
      if (!req.allowModelMismatch) checkSaeModel(spec, modelDir, 'Choose "Use Anyway"');
    } catch (err) {
      throw new EngineError('InvalidInput', err instanceof Error ? err.message : String(err), 'Pick an SAE folder (cfg.json + sae_weights.safetensors) trained on this model.');
    }
    const model = await this.model(run, req.modelDir);
    const kernel = await SaeKernel.create(spec, this.settings().threads > 0 ? this.settings().threads : undefined);
    try {
      if (req.feature !== undefined) {
        const tokens = await saeTopTokens(model, run, spec, kernel, req.feature, { variant: req.variant, top: req.top });
        return { kind: 'feature', feature: req.feature, variant: req.variant ?? null, tokens };
      }
      const diff = await saeRunDiff(model, run, req.runPath, spec, kernel, { variant: req.variant, top: req.top, signal: hooks.signal, onProgress: (done, total) => hooks.onProgress({ done, total }) });
      return { kind: 'run', diff };
    } finally {
      await kernel.dispose();
    }
  }

  async dispose(): Promise<void> {
    const c = this.cached;
    this.cached = null;
    await c?.model.dispose();
  }
}
