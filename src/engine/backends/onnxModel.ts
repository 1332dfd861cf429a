/**
 * The real model loader of the local backend: ModelRunner (src/engine/runtime) + the folder's tokenizer, as the
 * prompt-set job's JobModel (src/engine/jobs/localJobModel.ts), plus the smoke test.
 */
import path from 'node:path';
import { loadLocalJobModel } from '../jobs/localJobModel';
import { runPromptSet } from '../jobs/runPromptSet';
import { divergenceIndex } from '../runtime/generateStop';
import type { GenerationRequestRow, GenerationResultRow } from '../runtime/generationTypes';
import { EngineError } from './errors';
import type { EngineSettings, LoadedAdapterInfo, SmokeTestRow } from '../../protocol/engineJobs';
import type { AdapterRef, InterventionLayers, JobHooks, ModelHandle } from './types';
import { armLabel } from '../runs/schema';

export const SMOKE_PROMPT = 'Hello! Tell me a little about yourself.';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The folder to check after a failed load: the adapter the message is about (never every loaded adapter: the
 * others are fine), else the model folder when the message names it, else none (the message says it all).
 */
export function loadFailureHint(text: string, modelDir: string, adapters: AdapterRef[]): string | undefined {
  // A folder path as a whole (checkpoint-1 is not named by a message about checkpoint-10).
  const names = (dir: string): boolean =>
    [...new Set([path.resolve(dir), dir])].some((d) => {
      for (let at = text.indexOf(d); at >= 0; at = text.indexOf(d, at + 1)) {
        const next = text[at + d.length];
        if (next === undefined || /[\\/:"'\s,;)]/.test(next)) return true;
      }
      return false;
    });
  const culprits = adapters.filter((a) => names(a.dir));
  if (culprits.length === 1) return `Check the adapter folder ${culprits[0].dir} (adapter "${culprits[0].name}").`;
  if (culprits.length > 1) return `Check the adapter folders ${culprits.map((a) => a.dir).join(', ')}.`;
  return names(modelDir) ? undefined : `Check the model folder ${modelDir}.`;
}

export async function loadOnnxModel(dir: string, adapters: AdapterRef[], settings: EngineSettings, layers?: InterventionLayers, hooks?: JobHooks): Promise<ModelHandle> {
  const started = Date.now();
  let lastPct = -1;
  let model: Awaited<ReturnType<typeof loadLocalJobModel>>;
  try {
    model = await loadLocalJobModel(dir, adapters, {
      executionProvider: settings.executionProvider,
      threads: settings.threads > 0 ? settings.threads : undefined,
      steerLayers: layers?.steerLayers,
      ablateLayers: layers?.ablateLayers,
      runner: {
        weights: settings.weights ?? 'auto',
        threadSpinning: settings.threadSpinning,
        // quantized weights go to <cacheFolder>/weights (organismLab.cacheFolder); default ~/.cache/organism-lab/weights
        cacheFolder: settings.cacheFolder ? path.join(settings.cacheFolder, 'weights') : undefined,
        memory: { maxMemoryMB: settings.maxMemoryMB, shape: { batch: settings.batchSize ?? 16 } },
        signal: hooks?.signal,
        onWeightsDecision: (reason) => hooks?.log('info', `${dir}: ${reason}`),
        onQuantProgress: (p) => {
          // progress in MB of the checkpoint read; a log line every 10%
          hooks?.onProgress({ done: Math.round(p.done / 1e6), total: Math.round(p.total / 1e6), message: `quantizing ${p.tensor}` });
          const pct = Math.floor((10 * p.done) / p.total);
          if (pct !== lastPct) hooks?.log('info', `quantizing ${dir}: ${pct * 10}%`);
          lastPct = pct;
        },
      },
    });
  } catch (err) {
    // Loading fails on the user's files (missing tokenizer, unsupported architecture, adapter for another base …):
    // the engine's messages name the file and the field.
    const text = message(err);
    const hint = loadFailureHint(text, dir, adapters);
    throw new EngineError('InvalidInput', text, hint);
  }
  const { runner, tokenizer } = model;
  const spec = runner.spec;
  const adapterInfo: LoadedAdapterInfo[] = runner.adapters.map((a) => ({
    name: a.name,
    dir: a.dir,
    rank: a.adapter.config.r,
    alpha: a.adapter.config.loraAlpha,
    targetModules: [...new Set(a.adapter.modules.map((m) => m.module))],
  }));
  const info = {
    dir,
    modelType: spec.family,
    numLayers: spec.numLayers,
    hiddenSize: spec.hiddenSize,
    vocabSize: spec.vocabSize,
    dtype: spec.torchDtype,
    weights: runner.weights.precision,
    weightsReason: runner.weights.reason,
    loadMs: Date.now() - started,
  };

  return {
    info,
    adapters: adapterInfo,
    async runPromptSet(request, hooks) {
      const summary = await runPromptSet(model, { ...request }, {
        signal: hooks.signal,
        onProgress: (e) => hooks.onProgress({ done: e.done, total: e.total, questionId: e.cell.split('#')[0], variant: armLabel(e.variant, e.condition) }),
        log: (level, m) => hooks.log(level, m),
      });
      return { out: summary.out, written: summary.written, total: summary.total, cancelled: summary.cancelled, elapsedMs: summary.elapsedMs, warnings: summary.warnings };
    },
    async smokeTest(request, hooks) {
      const t0 = Date.now();
      const prompt = request.prompt?.trim() || SMOKE_PROMPT;
      const promptIds = tokenizer.encodeChat([{ role: 'user', content: prompt }], { addGenerationPrompt: true, allowPlainFallback: true });
      const variants = [{ name: 'base', adapter: null as string | null }, ...adapterInfo.map((a) => ({ name: a.name, adapter: a.name as string | null }))];
      const rows: GenerationRequestRow[] = variants.map((v) => ({ promptIds, variant: { adapter: v.adapter, adapterScale: v.adapter ? 1 : 0 }, seed: 0, key: v.name }));
      let done = 0;
      const results: GenerationResultRow[] = await model.generate(
        rows,
        { temperature: 0, topP: 1, topK: 0, minP: 0, maxNewTokens: request.maxNewTokens ?? 32, eosTokenIds: tokenizer.eosTokenIds, stop: [], decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) },
        { signal: hooks.signal, onRowDone: () => hooks.onProgress({ done: ++done, total: rows.length }) },
      );
      const byKey = new Map(results.map((r) => [r.key, r]));
      const base = byKey.get('base');
      const out: SmokeTestRow[] = variants.map((v) => {
        const r = byKey.get(v.name);
        const ids = r?.tokenIds ?? [];
        return {
          variant: v.name,
          completion: r?.text ?? tokenizer.decode(ids, { skipSpecialTokens: true }),
          tokens: ids.length,
          finishReason: r?.finishReason ?? 'cancelled',
          ...(v.adapter && base ? { divergenceIndex: divergenceIndex(base.tokenIds, ids) } : {}),
        };
      });
      return { prompt, rows: out, elapsedMs: Date.now() - t0 };
    },
    steerLayers: model.steerLayers ?? [],
    ablateLayers: model.ablateLayers ?? [],
    dispose: () => model.dispose(),
  };
}
