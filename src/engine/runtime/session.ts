/** onnxruntime-node session creation: execution provider, threads, external data folder. */
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProvider?: ExecutionProvider;
  /** intra-op threads (default: onnxruntime's choice, one per core). */
  threads?: number;
  /** Folder that external-data locations are relative to. */
  externalDataFolder: string;
  /**
   * Let idle pool threads spin for a moment before sleeping (onnxruntime's own default). Off by default here:
   * on a few shared cores the spinning takes the CPU time that other processes need; on a quiet machine it
   * saves the wake-up of a sleeping thread at every parallel operator, which batch-1 decoding feels most.
   */
  threadSpinning?: boolean;
}

export function availableExecutionProviders(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

export async function createSession(model: Uint8Array, opts: SessionOptions): Promise<ort.InferenceSession> {
  const ep = opts.executionProvider ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new Error(`execution provider "${ep}" is not supported (cpu, cuda)`);
  if (ep === 'cuda' && !availableExecutionProviders().includes('cuda')) {
    throw new Error(
      'execution provider "cuda" was asked for but this onnxruntime-node has no CUDA backend (available: ' +
        availableExecutionProviders().join(', ') +
        '). Reinstall with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` on a machine with CUDA 12, or use cpu.',
    );
  }
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) throw new Error(`threads must be a positive integer, got ${opts.threads}`);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    extra: {
      session: {
        model_external_initializers_file_folder_path: opts.externalDataFolder,
        // Idle pool threads sleep instead of spinning unless asked (see SessionOptions.threadSpinning).
        intra_op: { allow_spinning: opts.threadSpinning ? '1' : '0' },
        inter_op: { allow_spinning: opts.threadSpinning ? '1' : '0' },
      },
    },
  };
  if (opts.threads !== undefined) {
    options.intraOpNumThreads = opts.threads;
    options.interOpNumThreads = 1;
  }
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (e) {
    throw new Error(`onnxruntime could not create a session for the model in ${opts.externalDataFolder} on ${ep}: ${(e as Error).message}`);
  }
}
