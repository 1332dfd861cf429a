/**
 * Batched generation over a ModelRunner: the contract of generationTypes.ts.
 * The scheduling policy (left-padded prefill, decode loop, rows leaving and refilling the batch,
 * stop conditions, cancellation, paired random streams) is documented in generateLoop.ts; this
 * module connects it to the runner's forward pass and KV cache.
 */
import type { GenerationHooks, GenerationParams, GenerationRequestRow, GenerationResultRow } from './generationTypes';
import { KvCache } from './kvCache';
import type { ModelRunner } from './modelRunner';
import { runGeneration, type StepBackend, type StepForwardArgs } from './generateLoop';
import { LogitsStatsKernel } from './samplingKernels';

export { divergenceIndex } from './generateStop';

/** The part of ModelRunner that generation uses. */
export type GenerationRunner = Pick<ModelRunner, 'forward' | 'spec'>;

function reshape(flat: number[], B: number, n: number): number[][] {
  return Array.from({ length: B }, (_, b) => flat.slice(b * n, (b + 1) * n));
}

/**
 * One log-sum-exp kernel per process (a tiny onnxruntime session), created on first use. It runs on
 * the calling thread only (1 intra-op thread): a second thread pool would spin against the model
 * session's threads on a small machine, and vectorized it needs ~5 ms for 32 rows of 151936 anyway.
 */
let statsKernel: Promise<LogitsStatsKernel> | null = null;
function logitsStatsKernel(): Promise<LogitsStatsKernel> {
  statsKernel ??= LogitsStatsKernel.create(1);
  return statsKernel;
}

/**
 * The loop's cache operations on a KvCache. The loop replaces its cache by each result, so these
 * work in place (see ./kvCache).
 */
export const kvCacheSteps: Pick<StepBackend<KvCache>, 'keepRows' | 'concatLeftPadded' | 'dropLeadingColumns'> = {
  keepRows: (c, rows) => c.selectRows(rows),
  concatLeftPadded: (a, padA, b, padB) => KvCache.concatLeftPadded(a, padA, b, padB),
  dropLeadingColumns: (c, n) => c.dropLeadingColumns(n),
};

/** The step interface of generateLoop over a ModelRunner. */
export function runnerBackend(runner: GenerationRunner): StepBackend<KvCache> {
  return {
    logSumExpRows: async (logits, batch, vocab) => (await logitsStatsKernel()).run(logits, batch, vocab).then((s) => s.logSumExp),
    async forward(a: StepForwardArgs<KvCache>) {
      const T = a.pastLength + a.seqLen;
      const out = await runner.forward({
        inputIds: reshape(a.inputIds, a.batch, a.seqLen),
        attentionMask: reshape(a.attentionMask, a.batch, T),
        positionIds: reshape(a.positionIds, a.batch, a.seqLen),
        past: a.past,
        cacheReserve: a.reserve,
        rows: a.rows,
        lastLogitsOnly: true,
      });
      const [B, S, V] = out.logitsDims;
      if (B !== a.batch || S !== 1) throw new Error(`generate: the runner returned logits [${out.logitsDims.join(', ')}], expected [${a.batch}, 1, V] with lastLogitsOnly`);
      return { lastLogits: out.logits, vocab: V, present: out.present };
    },
    ...kvCacheSteps,
  };
}

/**
 * Generates completions for every row. Results come back in request order; `hooks.onRowDone` is
 * called once per row as soon as it finishes, including rows ended by cancellation
 * (finishReason 'cancelled', possibly with no tokens), so a caller that writes run files should
 * skip or mark those.
 *
 * tokenIds include the EOS token when finishReason = 'eos' (as HF generate's output does); `text`
 * (present when params.decode is given) is decoded without it, and with a stop string and what
 * follows removed when finishReason = 'stop'. logprobs[i] is log softmax(raw logits)[tokenIds[i]].
 */
export function generate(
  runner: GenerationRunner,
  rows: GenerationRequestRow[],
  params: GenerationParams,
  hooks: GenerationHooks = {},
): Promise<GenerationResultRow[]> {
  return runGeneration(runnerBackend(runner), rows, params, hooks);
}
