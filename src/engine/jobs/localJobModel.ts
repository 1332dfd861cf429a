/**
 * The real JobModel: a ModelRunner over the checkpoint (with its adapters) plus the folder's tokenizer.
 * Used by the CLI; the engine host builds the same from its loaded runner.
 */
import { basename, resolve } from 'node:path';
import { assertAdapterFolder, assertModelFolder } from '../checkpoint/folderCheck';
import { generate } from '../runtime/generate';
import { ModelRunner, type ModelRunnerOptions } from '../runtime/modelRunner';
import type { ExecutionProvider } from '../runtime/session';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer';
import type { JobModel } from './runPromptSet';

export interface LocalJobModelOptions {
  /** Folder with tokenizer.json etc. when the model folder has none (default: the model folder). */
  tokenizerDir?: string;
  chatTemplateName?: string;
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Layers steering / ablation variants act on (see variantLayers in ./variants). */
  steerLayers?: number[];
  ablateLayers?: number[];
  /** Weight precision, cache folder, memory preflight, quantization progress (see ModelRunnerOptions). */
  runner?: Pick<ModelRunnerOptions, 'weights' | 'cacheFolder' | 'memory' | 'onWeightsDecision' | 'onQuantProgress' | 'signal' | 'fingerprint' | 'threadSpinning'>;
}

/** Adapter names default to folder basenames; a repeated basename gets a numeric suffix. */
export function adapterRefs(dirs: string[]): { name: string; dir: string }[] {
  const used = new Set<string>();
  return dirs.map((dir) => {
    const base = basename(resolve(dir)) || 'adapter';
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    return { name, dir };
  });
}

export async function loadLocalJobModel(
  modelDir: string,
  adapters: { name: string; dir: string }[],
  opts: LocalJobModelOptions = {},
): Promise<JobModel & { runner: ModelRunner; tokenizer: TextTokenizer; dispose(): Promise<void> }> {
  // What the folders are, before any loader reports the first file it misses (issue 13 §5).
  assertModelFolder(modelDir);
  for (const a of adapters) assertAdapterFolder(a.dir);
  const tokenizer = loadTokenizer(opts.tokenizerDir ?? modelDir, { chatTemplateName: opts.chatTemplateName });
  const runner = await ModelRunner.load(modelDir, { adapters, executionProvider: opts.executionProvider, threads: opts.threads, steerLayers: opts.steerLayers, ablateLayers: opts.ablateLayers, ...opts.runner });
  if (tokenizer.vocabSize > runner.spec.vocabSize) {
    await runner.dispose();
    throw new Error(`${tokenizer.dir}: the tokenizer has ${tokenizer.vocabSize} tokens but ${runner.spec.configPath} declares vocab_size ${runner.spec.vocabSize}; this tokenizer does not belong to this model.`);
  }
  return {
    modelDir,
    adapters,
    tokenizer,
    runner,
    modelType: runner.spec.family,
    hiddenSize: runner.spec.hiddenSize,
    maxPositions: runner.spec.maxPositionEmbeddings,
    modelSource: runner.spec.configPath,
    steerLayers: runner.steerLayers,
    ablateLayers: runner.ablateLayers,
    backend: { kind: 'local', execution_provider: runner.executionProvider },
    weights: { precision: runner.weights.precision, blockSize: runner.weights.blockSize },
    generate: (rows, params, hooks) => generate(runner, rows, params, hooks),
    dispose: () => runner.dispose(),
  };
}
