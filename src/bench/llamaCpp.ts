/**
 * llama.cpp through node-llama-cpp, as an optional peer of the bench: never a dependency of the project.
 * It is looked for in ORGANISM_LAB_NODE_LLAMA_CPP (the package folder, or an npm prefix holding
 * node_modules/node-llama-cpp) and else in <repo>/.tools/llama-cpp, where
 *   npm install --prefix .tools/llama-cpp -E node-llama-cpp@3.21.1
 * puts it (newer releases fail to install here). Loaded with a dynamic import at run time.
 *
 * Only the small part of its API the bench uses is typed here.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const NODE_LLAMA_CPP_VERSION = '3.21.1';
export const NODE_LLAMA_CPP_INSTALL = `npm install --prefix .tools/llama-cpp -E node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`;

export interface LlamaSequence {
  evaluate(tokens: number[], options?: { temperature?: number; yieldEogToken?: boolean }): AsyncGenerator<number, void, void | number | number[]>;
  evaluateWithMetadata(tokens: number[], metadata: { confidence?: boolean; probabilities?: boolean }, options?: { temperature?: number; yieldEogToken?: boolean }): AsyncGenerator<{ token: number; confidence?: number; probabilities?: Map<number, number> }, void, void | number | number[]>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  saveStateToFile(file: string): Promise<{ fileSize: number }>;
  loadStateFromFile(file: string, o: { acceptRisk: true }): Promise<void>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  readonly nextTokenIndex: number;
  clearHistory(): Promise<void>;
  dispose(): void;
}
export interface LlamaContext {
  readonly contextSize: number;
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
export interface LlamaModel {
  createContext(o: { contextSize: number; sequences: number; threads: number | { ideal: number; min: number }; batchSize?: number; flashAttention?: boolean }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
export interface Llama {
  loadModel(o: { modelPath: string; gpuLayers: number; useMmap?: boolean }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
interface NodeLlamaCppModule {
  getLlama(o: { gpu: false; build: 'never'; logLevel: 'error' | 'warn'; maxThreads?: number }): Promise<Llama>;
}

/** The package folder of node-llama-cpp, or null with where it was looked for. */
export function findNodeLlamaCpp(repoRoot = process.cwd()): { dir: string | null; looked: string[] } {
  const env = process.env.ORGANISM_LAB_NODE_LLAMA_CPP;
  const candidates = env ? [path.resolve(env), path.resolve(env, 'node_modules/node-llama-cpp')] : [path.join(repoRoot, '.tools/llama-cpp/node_modules/node-llama-cpp')];
  const dir = candidates.find((d) => existsSync(path.join(d, 'dist/index.js'))) ?? null;
  return { dir, looked: candidates };
}

// A real dynamic import(), kept as one even where the bench is bundled to CommonJS.
const importEsm = new Function('u', 'return import(u)') as (u: string) => Promise<unknown>;

/** node-llama-cpp's Llama (CPU only, prebuilt binary, never a build from source), or an error saying how to install it. */
export async function loadLlama(threads: number, repoRoot = process.cwd()): Promise<Llama> {
  const { dir, looked } = findNodeLlamaCpp(repoRoot);
  if (!dir) throw new Error(`node-llama-cpp is not installed (looked in ${looked.join(', ')}): run \`${NODE_LLAMA_CPP_INSTALL}\` in the repository root, or set ORGANISM_LAB_NODE_LLAMA_CPP to its folder`);
  const mod = (await importEsm(pathToFileURL(path.join(dir, 'dist/index.js')).href)) as NodeLlamaCppModule;
  return mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
}

export interface LlamaDecodeRun {
  /** Aggregate generated tokens per second over the decode steps (prefill excluded). */
  tokensPerSecond: number;
  stepSeconds: number;
}

function promptOf(len: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: len }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

/**
 * Decodes in one sequence until llama.cpp's speed settles, and returns the last window's tokens/s. Measured
 * here (node-llama-cpp 3.21.1, 2 threads, Q4_0 0.5B): the first ~50 tokens after a model load ran at 0.5-3
 * tokens/s, the next at 17-26; an unwarmed measurement would understate llama.cpp tenfold. Windows of 8
 * tokens until one is less than 1.25x faster than the one before (at least 3), or `maxSeconds`.
 */
export async function llamaWarmUp(model: LlamaModel, o: { threads: number; vocab: number; maxSeconds?: number }): Promise<{ tokensPerSecond: number; seconds: number }> {
  const ctx = await model.createContext({ contextSize: 512, sequences: 1, threads: { ideal: o.threads, min: o.threads } });
  const start = performance.now();
  try {
    const seq = ctx.getSequence();
    let n = 0;
    let windowStart = 0;
    let prev = 0;
    let rate = 0;
    let windows = 0;
    for await (const _t of seq.evaluate(promptOf(8, o.vocab, 3), { temperature: 0, yieldEogToken: true })) {
      if (n++ === 0) windowStart = performance.now();
      else if ((n - 1) % 8 === 0) {
        const now = performance.now();
        rate = 8 / ((now - windowStart) / 1000);
        windowStart = now;
        windows++;
        if ((windows >= 3 && rate < 1.25 * prev) || now - start > (o.maxSeconds ?? 120) * 1000 || n > 480) break;
        prev = rate;
      }
    }
    return { tokensPerSecond: rate, seconds: (performance.now() - start) / 1000 };
  } finally {
    await ctx.dispose();
  }
}

/**
 * Greedy decoding of `batch` parallel sequences of one llama.cpp context (evaluated together, one batch per
 * step), each from the same `context` tokens: `prepare` evaluates the prompt once in the first sequence and
 * copies its state (the KV cache, through a state file) into the others, so a batch of 32 long contexts
 * costs one prefill; `decode` times `steps` tokens per sequence from the moment every sequence has its first
 * new token, then erases what it generated, so the next `decode` starts from the same context again.
 */
export class LlamaBatchDecoder {
  private context = 0;
  private constructor(private readonly ctx: LlamaContext, private readonly seqs: LlamaSequence[], private readonly o: { batch: number; steps: number; vocab: number; stateFile: string }) {}

  static async create(model: LlamaModel, o: { batch: number; maxContext: number; steps: number; threads: number; vocab: number; stateFile: string }): Promise<LlamaBatchDecoder> {
    const ctx = await model.createContext({ contextSize: o.maxContext + o.steps + 16, sequences: o.batch, threads: { ideal: o.threads, min: o.threads }, batchSize: Math.max(o.batch, 512) });
    return new LlamaBatchDecoder(ctx, Array.from({ length: o.batch }, () => ctx.getSequence()), o);
  }

  async prepare(context: number): Promise<void> {
    const [first, ...rest] = this.seqs;
    for (const s of this.seqs) await s.clearHistory();
    await first.evaluateWithoutGeneratingNewTokens(promptOf(context, this.o.vocab, 1));
    if (rest.length) {
      await first.saveStateToFile(this.o.stateFile);
      try {
        for (const s of rest) await s.loadStateFromFile(this.o.stateFile, { acceptRisk: true });
      } finally {
        rmSync(this.o.stateFile, { force: true });
      }
    }
    this.context = context;
  }

  async decode(): Promise<LlamaDecodeRun> {
    if (!this.context) throw new Error('LlamaBatchDecoder: prepare(context) first');
    const { batch, steps, vocab } = this.o;
    let firsts = 0;
    let decodeStart = 0;
    const run = async (seq: LlamaSequence, b: number): Promise<void> => {
      let n = 0;
      let after = 0;
      for await (const _t of seq.evaluate([(7 + b) % vocab], { temperature: 0, yieldEogToken: true })) {
        if (n++ === 0 && ++firsts === batch) decodeStart = performance.now();
        else if (decodeStart > 0 && ++after >= steps) break; // every sequence decodes `steps` tokens once all have started
      }
    };
    await Promise.all(this.seqs.map((s, b) => run(s, b)));
    const seconds = (performance.now() - decodeStart) / 1000;
    for (const s of this.seqs) await s.eraseContextTokenRanges([{ start: this.context, end: s.nextTokenIndex }]);
    return { tokensPerSecond: (batch * steps) / seconds, stepSeconds: seconds / steps };
  }

  async dispose(): Promise<void> {
    await this.ctx.dispose();
  }
}
