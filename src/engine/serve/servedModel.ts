/**
 * The organism `organism-lab serve` holds: one ModelRunner over the base checkpoint with every served
 * adapter (ranks concatenated, selected per row), its tokenizer, and the served names.
 *
 * Runtime LoRA loading (POST /v1/load_lora_adapter) rebuilds the session with the new adapter list: the
 * graph's LoRA inputs have the total rank of the loaded adapters, so a new adapter means a new graph. The
 * swap waits for the running batch (RequestBatcher.exclusive); requests that arrive meanwhile wait in the
 * queue. The old session is released before the new one is created (the base weights are not held twice);
 * when the new one fails (bad adapter), the old adapter list is loaded again and the error reported.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadPeftAdapter } from '../checkpoint/peftAdapter';
import { adapterRefs, loadLocalJobModel, type LocalJobModelOptions } from '../jobs/localJobModel';
import type { ModelRunner } from '../runtime/modelRunner';
import type { TextTokenizer } from '../text/tokenizer';
import type { BatcherModel } from './requestBatcher';

export interface ServedAdapter {
  name: string;
  dir: string;
  /** Loaded at run time through /v1/load_lora_adapter. */
  runtime: boolean;
}

export interface ServedModelOptions extends LocalJobModelOptions {
  /** The base model's served name (default: the model folder's name). */
  servedName?: string;
}

/** NAME=DIR, or DIR (named after its folder). */
export function parseAdapterArgs(args: string[]): { name: string; dir: string }[] {
  const named = args.map((a) => {
    const eq = a.indexOf('=');
    return eq > 0 ? { name: a.slice(0, eq), dir: a.slice(eq + 1) } : { name: null, dir: a };
  });
  const auto = adapterRefs(named.filter((a) => a.name === null).map((a) => a.dir));
  let k = 0;
  return named.map((a) => (a.name !== null ? { name: a.name, dir: a.dir } : auto[k++]));
}

export class ServedModel {
  #runner: ModelRunner;
  #tokenizer: TextTokenizer;
  #adapters: ServedAdapter[];
  #names: Set<string>;

  private constructor(
    readonly modelDir: string,
    readonly servedName: string,
    runner: ModelRunner,
    tokenizer: TextTokenizer,
    adapters: ServedAdapter[],
    private readonly opts: ServedModelOptions,
  ) {
    this.#runner = runner;
    this.#tokenizer = tokenizer;
    this.#adapters = adapters;
    this.#names = new Set(adapters.map((a) => a.name));
  }

  static async load(modelDir: string, adapters: { name: string; dir: string }[], opts: ServedModelOptions = {}): Promise<ServedModel> {
    const servedName = opts.servedName ?? basename(resolve(modelDir));
    const seen = new Set<string>([servedName]);
    for (const a of adapters) {
      if (!a.name) throw new Error(`adapter ${a.dir}: empty name`);
      if (seen.has(a.name)) throw new Error(`the served name "${a.name}" is used twice (the base model is served as "${servedName}"); give each adapter its own name with NAME=DIR`);
      seen.add(a.name);
    }
    const m = await loadLocalJobModel(modelDir, adapters, opts);
    return new ServedModel(modelDir, servedName, m.runner, m.tokenizer, adapters.map((a) => ({ ...a, runtime: false })), opts);
  }

  /**
   * Serves a runner someone else loaded and owns (the engine host's loaded organism): no runtime LoRA
   * loading (the session is not ours to rebuild) and dispose() leaves the runner alone.
   */
  static fromRunner(runner: ModelRunner, tokenizer: TextTokenizer, servedName?: string): ServedModel {
    const m = new ServedModel(runner.modelDir, servedName ?? basename(resolve(runner.modelDir)), runner, tokenizer, runner.adapters.map((a) => ({ name: a.name, dir: a.dir, runtime: false })), {});
    m.#borrowed = true;
    return m;
  }

  #borrowed = false;

  /** false for a borrowed runner (fromRunner). */
  get canReload(): boolean {
    return !this.#borrowed;
  }

  get runner(): ModelRunner {
    return this.#runner;
  }

  get tokenizer(): TextTokenizer {
    return this.#tokenizer;
  }

  get adapters(): readonly ServedAdapter[] {
    return this.#adapters;
  }

  /** The model's max_position_embeddings: prompt + max_tokens must fit. */
  get maxPositions(): number {
    return this.#runner.spec.maxPositionEmbeddings;
  }

  /** What the batcher reads at the start of each batch. */
  batcherModel(): BatcherModel {
    return { runner: this.#runner, tokenizer: this.#tokenizer, adapterNames: this.#names };
  }

  /** null for the base model, the adapter name for an adapter, undefined when the name is not served. */
  resolveModel(name: string): string | null | undefined {
    if (name === this.servedName) return null;
    return this.#names.has(name) ? name : undefined;
  }

  /** Checks an adapter folder before the session is rebuilt (clear 400s instead of a failed reload). */
  checkAdapterDir(dir: string): void {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`lora_path ${JSON.stringify(dir)} is not a folder on the server.`);
    if (!existsSync(join(dir, 'adapter_config.json'))) throw new Error(`lora_path ${JSON.stringify(dir)} has no adapter_config.json (a PEFT LoRA adapter folder is expected).`);
    loadPeftAdapter(dir, this.#runner.spec);
  }

  /** Rebuilds the session with this adapter list (call inside RequestBatcher.exclusive). */
  async #reload(adapters: ServedAdapter[]): Promise<void> {
    if (this.#borrowed) throw new Error('this server serves a model loaded elsewhere; adapters cannot be loaded or unloaded through it');
    const old = this.#adapters;
    await this.#runner.dispose();
    try {
      const m = await loadLocalJobModel(this.modelDir, adapters.map(({ name, dir }) => ({ name, dir })), this.opts);
      this.#runner = m.runner;
      this.#adapters = adapters;
    } catch (e) {
      const m = await loadLocalJobModel(this.modelDir, old.map(({ name, dir }) => ({ name, dir })), this.opts);
      this.#runner = m.runner;
      this.#adapters = old;
      throw e;
    } finally {
      this.#names = new Set(this.#adapters.map((a) => a.name));
    }
  }

  async addAdapter(name: string, dir: string): Promise<void> {
    await this.#reload([...this.#adapters, { name, dir, runtime: true }]);
  }

  async removeAdapter(name: string): Promise<void> {
    await this.#reload(this.#adapters.filter((a) => a.name !== name));
  }

  async dispose(): Promise<void> {
    if (this.#borrowed) return;
    await this.#runner.dispose();
  }
}
