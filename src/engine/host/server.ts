/**
 * The engine host's RPC server: maps every method of src/protocol/engineHost.ts onto an EngineBackend.
 * One job (runPromptSet / smokeTest) at a time; its progress goes out as `engine/progress` notifications
 * tagged with the caller's token, and the request's CancellationToken aborts it (finished samples stay written).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CancellationToken, MessageConnection, ResponseError } from 'vscode-jsonrpc';
import {
  ENGINE_PROTOCOL_VERSION,
  EngineErrorCodes,
  EngineErrorData,
  EngineMethods,
  EngineNotifications,
  EngineStatus,
  InitializeResult,
  JobInfo,
  LogParams,
  WeightsCacheParams,
  WeightsCacheResult,
} from '../../protocol/engineHost';
import { EngineError } from '../backends/errors';
import { isInputError } from '../limits/limits';
import { runRemotePromptSet } from '../backends/remoteRun';
import type { EngineBackend, JobHooks } from '../backends/types';
import { runJudgeJob } from './judgeJob';
import { runRemoteLogprobs } from './remoteLogprobsJob';
import { runServerLora } from './serverLoraJob';
import { testHooksEnabled } from './testHooks';
import { clearCache, listCache } from '../quant/quantCache';
import { divergenceOffsetsOfFile, exportRunFile, runArmsOfFile, runDiffOfFiles, runReportOfFile, runRowsOfFile } from './runFileRequests';

export interface ServeOptions {
  /** Called by engine/shutdown and engine/debugCrash; defaults to process.exit. */
  exit?: (code: number) => void;
  /** Serve the test-only engine/debugCrash; default: ORGANISM_LAB_TEST_HOOKS=1 in the environment (testHooks.ts). */
  testHooks?: boolean;
}

/** Converts any thrown value into the ResponseError the client sees (message + code + hint). */
export function toResponseError(err: unknown): ResponseError<EngineErrorData> {
  if (err instanceof ResponseError) return err;
  if (err instanceof EngineError) {
    return new ResponseError<EngineErrorData>(EngineErrorCodes[err.kind], err.message, { hint: err.hint });
  }
  // A bad input file (limits, NaN/Inf, malformed checkpoint/config): the message names file and field; no stack.
  if (isInputError(err)) return new ResponseError<EngineErrorData>(EngineErrorCodes.InvalidInput, err.message, {});
  const e = err instanceof Error ? err : new Error(String(err));
  return new ResponseError<EngineErrorData>(EngineErrorCodes.Internal, e.message, { stack: e.stack });
}

/** An AbortSignal that fires when the JSON-RPC request is cancelled by the client. */
export function abortSignalFor(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function onnxruntimeVersion(): string | null {
  try {
    const main = require.resolve('onnxruntime-node');
    let dir = path.dirname(main);
    for (let i = 0; i < 4; i++) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
        if (pkg.name === 'onnxruntime-node') return String(pkg.version);
      } catch {
        /* keep climbing */
      }
      dir = path.dirname(dir);
    }
  } catch {
    /* not resolvable */
  }
  return null;
}

export function serve(connection: MessageConnection, backend: EngineBackend, options: ServeOptions = {}): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const started = Date.now();
  let job: JobInfo | null = null;

  const log = (level: LogParams['level'], message: string) => {
    void connection.sendNotification(EngineNotifications.log, { level, message });
  };

  /** Wraps a handler so every failure reaches the client as a ResponseError with a clear message. */
  function guarded<P, R>(fn: (params: P, token: CancellationToken) => Promise<R> | R) {
    return async (params: P, token: CancellationToken): Promise<R | ResponseError<EngineErrorData>> => {
      try {
        return await fn(params, token);
      } catch (err) {
        const re = toResponseError(err);
        if (re.code === EngineErrorCodes.Internal) log('error', `${re.message}\n${re.data?.stack ?? ''}`);
        return re;
      }
    };
  }

  function guarded0<R>(fn: () => Promise<R> | R) {
    const g = guarded<void, R>(() => fn());
    return (token: CancellationToken) => g(undefined, token);
  }

  function startJob(kind: JobInfo['kind'], token: string): JobInfo {
    if (job) {
      throw new EngineError('Busy', `The engine host is busy with ${job.kind} (${job.done}/${job.total}).`, 'Wait for it to finish or run "Organism Lab: Stop Running Job".');
    }
    job = { token, kind, done: 0, total: 0 };
    return job;
  }

  /**
   * A request that occupies the host's one job slot: the caller's `token` tags its progress notifications and
   * is not passed on; the slot is freed however the job ends.
   */
  function jobHandler<P extends { token: string }, R>(kind: JobInfo['kind'], run: (request: Omit<P, 'token'>, hooks: JobHooks) => Promise<R>) {
    return guarded(async (params: P, cancel: CancellationToken) => {
      const current = startJob(kind, params.token);
      try {
        const { token: _token, ...request } = params;
        void _token;
        return await run(request, hooksFor(current, cancel));
      } finally {
        job = null;
      }
    });
  }

  function hooksFor(current: JobInfo, cancel: CancellationToken): JobHooks {
    return {
      signal: abortSignalFor(cancel),
      onProgress: (event) => {
        current.done = event.done;
        current.total = event.total;
        void connection.sendNotification(EngineNotifications.progress, { token: current.token, ...event });
      },
      log: (level, message) => log(level, message),
    };
  }

  connection.onRequest(
    EngineMethods.initialize,
    guarded((params): InitializeResult => {
      if (params.protocolVersion !== ENGINE_PROTOCOL_VERSION) {
        throw new EngineError(
          'Unsupported',
          `Protocol mismatch: the extension speaks engine protocol ${params.protocolVersion}, this engine host speaks ${ENGINE_PROTOCOL_VERSION}.`,
          'Rebuild the extension (npm run build) so dist/extension.js and dist/engineHost.js come from the same sources.',
        );
      }
      backend.configure(params.settings);
      return { protocolVersion: ENGINE_PROTOCOL_VERSION, pid: process.pid, nodeVersion: process.version, onnxruntimeVersion: onnxruntimeVersion() };
    }),
  );

  /** Swapping the model (or its adapter set, which rebuilds the graph) under a running job would pull it from under the job. */
  function refuseWhileBusy(action: string): void {
    if (job) {
      throw new EngineError('Busy', `Cannot ${action} while ${job.kind} is running (${job.done}/${job.total}).`, 'Wait for it to finish or run "Organism Lab: Stop Running Job" first.');
    }
  }

  connection.onRequest(
    EngineMethods.loadModel,
    guarded((p, cancel) => {
      refuseWhileBusy('load a model');
      const progress: JobInfo = { token: p.token ?? '', kind: 'loadModel', done: 0, total: 0 };
      return backend.loadModel(p.dir, p.token ? hooksFor(progress, cancel) : undefined);
    }),
  );
  connection.onRequest(
    EngineMethods.loadAdapter,
    guarded((p) => {
      refuseWhileBusy('load an adapter');
      return backend.loadAdapter(p.dir, p.name);
    }),
  );
  connection.onRequest(
    EngineMethods.unloadAdapter,
    guarded((p) => {
      refuseWhileBusy('unload an adapter');
      return backend.unloadAdapter(p.name);
    }),
  );
  connection.onRequest(
    EngineMethods.inspectCheckpoint,
    guarded(async (p, cancel) => {
      // Not a job slot: inspecting reads files only, and may run while a prompt set runs.
      const progress: JobInfo = { token: p.token ?? '', kind: 'inspectCheckpoint', done: 0, total: 0 };
      return backend.inspectCheckpoint(p.dir, hooksFor(progress, cancel), p.baseModelDir);
    }),
  );
  connection.onRequest(EngineMethods.analyzeSample, guarded((p) => backend.analyzeSample(p)));
  // Not a job slot: two HTTP requests to the run's generation server, no local model.
  connection.onRequest(EngineMethods.remoteLogprobs, guarded((p, cancel) => runRemoteLogprobs(p, abortSignalFor(cancel))));
  // Not a job slot: one to three HTTP requests to a generation server, no local model.
  connection.onRequest(EngineMethods.serverLora, guarded((p) => runServerLora(p)));
  connection.onRequest(EngineMethods.layerCurve, jobHandler('layerCurve', (request, hooks) => backend.layerCurve(request, hooks)));
  connection.onRequest(EngineMethods.sae, jobHandler('sae', (request, hooks) => backend.sae(request, hooks)));
  connection.onRequest(EngineMethods.judgeRun, jobHandler('judgeRun', (request, hooks) => runJudgeJob(backend, request, hooks)));
  connection.onRequest(EngineMethods.direction, jobHandler('direction', (request, hooks) => backend.direction(request, hooks)));

  // Run-file reads and reports: read-only, no model, not a job (they may run beside a running prompt set).
  connection.onRequest(EngineMethods.runReport, guarded((p) => runReportOfFile(p)));
  connection.onRequest(EngineMethods.runDiff, guarded((p) => runDiffOfFiles(p)));
  connection.onRequest(EngineMethods.divergenceOffsets, guarded((p) => divergenceOffsetsOfFile(p)));
  connection.onRequest(EngineMethods.runRows, guarded((p) => runRowsOfFile(p)));
  connection.onRequest(EngineMethods.runArms, guarded((p) => runArmsOfFile(p)));
  // Writes only the export file (atomically), never the run file: not a job either.
  connection.onRequest(EngineMethods.exportRun, guarded((p) => exportRunFile(p)));

  connection.onRequest(
    EngineMethods.weightsCache,
    guarded((p: WeightsCacheParams): WeightsCacheResult => {
      // <organismLab.cacheFolder>/weights, else the default (~/.cache/organism-lab/weights)
      const folder = backend.settings.cacheFolder ? path.join(backend.settings.cacheFolder, 'weights') : undefined;
      if (p.clear) {
        refuseWhileBusy('clear the weights cache');
        const r = clearCache(folder);
        return { ...listCache(folder), removed: r.removed };
      }
      return listCache(folder);
    }),
  );
  connection.onRequest(
    EngineMethods.status,
    guarded0((): EngineStatus => {
      const m = process.memoryUsage();
      return {
        pid: process.pid,
        uptimeMs: Date.now() - started,
        executionProvider: backend.settings.executionProvider,
        model: backend.model,
        adapters: backend.adapters,
        memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external },
        job: job ? { ...job } : null,
      };
    }),
  );

  connection.onRequest(
    EngineMethods.runPromptSet,
    guarded(async (params, cancel) => {
      const current = startJob('runPromptSet', params.token);
      try {
        const { token: _token, server, ...request } = params;
        void _token;
        // With a generation server no local model is involved (the CLI's --backend openai path).
        if (server) return await runRemotePromptSet(request, server, hooksFor(current, cancel));
        return await backend.runPromptSet(request, hooksFor(current, cancel));
      } finally {
        job = null;
      }
    }),
  );

  connection.onRequest(
    EngineMethods.smokeTest,
    guarded(async (params, cancel) => {
      const current = startJob('smokeTest', params.token);
      try {
        const { token: _token, ...request } = params;
        void _token;
        return await backend.smokeTest(request, hooksFor(current, cancel));
      } finally {
        job = null;
      }
    }),
  );

  connection.onRequest(
    EngineMethods.shutdown,
    guarded0(async () => {
      await backend.dispose();
      // Answer first, then leave.
      setTimeout(() => exit(0), 10);
    }),
  );

  // Test-only, and absent otherwise (the client gets "method not found"): die without answering, as a native
  // crash or the OOM killer would.
  if (options.testHooks ?? testHooksEnabled()) {
    connection.onRequest(
      EngineMethods.debugCrash,
      guarded((p) => {
        exit(p.exitCode);
      }),
    );
  }
}
