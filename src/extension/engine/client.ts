/**
 * The engine host's client, used by the extension (and by tests): forks the host process on first use, speaks
 * the typed RPC of src/protocol/engineHost.ts, routes progress notifications to the job that asked for them,
 * turns AbortSignals into JSON-RPC cancellation, and survives the host dying: pending requests fail with an
 * EngineHostExitedError that says what happened (likely out of memory, crashed, killed), and the next request
 * starts a fresh host. No vscode import: the extension wraps it.
 */
import { ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CancellationTokenSource, MessageConnection, RequestType, RequestType0, ResponseError } from 'vscode-jsonrpc';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import {
  ENGINE_PROTOCOL_VERSION,
  EngineErrorCodes,
  EngineErrorData,
  EngineMethods,
  EngineNotifications,
  InitializeResult,
  LogParams,
  ProgressParams,
} from '../../protocol/engineHost';
import type { RunReportParams, RunReportResult } from '../../protocol/engineHost';
import type { EngineSettings } from '../../protocol/engineJobs';

export interface EngineHostClientOptions {
  /** Path of the host's entry module (dist/engineHost.js, or src/engine/host/main.ts with tsx in execArgv). */
  hostModule: string;
  /** Node flags for the host, e.g. ['--max-old-space-size=8192'] or ['--import', 'tsx']; a function is read on every start. */
  execArgv?: string[] | (() => string[]);
  /** Executable for the host (default: this process's; Electron runs as Node because fork sets ELECTRON_RUN_AS_NODE). */
  execPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Read on every start, so a fresh host gets the current settings. */
  settings: () => EngineSettings;
  log?: (level: LogParams['level'], message: string) => void;
  /** The host left without being asked to (crash, out of memory, killed). */
  onUnexpectedExit?: (error: EngineHostExitedError) => void;
  /** A host started (first use or after a crash). */
  onStarted?: (info: InitializeResult) => void;
  /** ms to wait for engine/shutdown before killing the process. */
  shutdownTimeoutMs?: number;
}

/** The engine host is gone. `likelyOutOfMemory` when the exit looks like the OOM killer or V8's heap limit. */
export class EngineHostExitedError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly likelyOutOfMemory: boolean,
    readonly stderrTail: string,
  ) {
    super(EngineHostExitedError.describe(exitCode, signal, likelyOutOfMemory, stderrTail));
    this.name = 'EngineHostExitedError';
  }

  static describe(code: number | null, signal: NodeJS.Signals | null, oom: boolean, stderrTail: string): string {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const why = oom
      ? ' It most likely ran out of memory: try a smaller model, fewer samples per batch (organismLab.batchSize), or raise organismLab.engine.maxMemoryMB.'
      : '';
    const tail = stderrTail.trim() ? ` Last output: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : '';
    return `The Organism Lab engine host ${how}.${why} The loaded model is gone; the next command starts a fresh engine host.${tail}`;
  }
}

/** An error the host reported on purpose (bad input, no model, busy …), with its hint. */
export class EngineRequestError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly hint?: string,
  ) {
    super(hint ? `${message} ${hint}` : message);
    this.name = 'EngineRequestError';
  }

  get isNoModelLoaded(): boolean {
    return this.code === EngineErrorCodes.NoModelLoaded;
  }
}

function looksLikeOom(code: number | null, signal: NodeJS.Signals | null, stderr: string): boolean {
  if (signal === 'SIGKILL') return true; // the kernel's OOM killer
  if (code === 134 || signal === 'SIGABRT') return /heap out of memory|Allocation failed|std::bad_alloc|Failed to allocate/i.test(stderr) || code === 134;
  return /heap out of memory|std::bad_alloc|Failed to allocate memory/i.test(stderr);
}

interface Live {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<EngineHostExitedError>;
  ready: Promise<InitializeResult>;
  stopping: boolean;
}

export class EngineHostClient {
  private live: Live | null = null;
  private readonly progressListeners = new Map<string, (p: ProgressParams) => void>();
  private tokenCounter = 0;

  constructor(private readonly options: EngineHostClientOptions) {}

  /** True while a host process is up (started, not exited). */
  get running(): boolean {
    return this.live !== null;
  }

  get pid(): number | undefined {
    return this.live?.child.pid;
  }

  /** Starts the host if none is running; resolves when it answered `initialize`. */
  start(): Promise<InitializeResult> {
    if (!this.live) {
      if (!existsSync(this.options.hostModule)) {
        return Promise.reject(new Error(`The engine host ${this.options.hostModule} does not exist: build the extension (npm run build) or reinstall it.`));
      }
      this.live = this.spawn();
    }
    return this.live.ready;
  }

  private spawn(): Live {
    const o = this.options;
    const child = fork(o.hostModule, [], {
      execArgv: typeof o.execArgv === 'function' ? o.execArgv() : (o.execArgv ?? []),
      execPath: o.execPath,
      env: { ...process.env, ...o.env },
      cwd: o.cwd,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
      o.log?.('warn', `[engine host stderr] ${chunk.trimEnd()}`);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => o.log?.('info', `[engine host] ${chunk.trimEnd()}`));

    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(EngineNotifications.progress, (p) => this.progressListeners.get(p.token)?.(p));
    connection.onNotification(EngineNotifications.log, (p) => o.log?.(p.level, p.message));
    connection.onError(([err]) => o.log?.('error', `engine host connection: ${err.message}`));

    const live: Live = { child, connection, exited: undefined as never, ready: undefined as never, stopping: false };
    live.exited = new Promise<EngineHostExitedError>((resolve) => {
      const onGone = (code: number | null, signal: NodeJS.Signals | null) => {
        const err = new EngineHostExitedError(code, signal, looksLikeOom(code, signal, stderrTail), stderrTail);
        if (this.live === live) this.live = null;
        connection.dispose();
        if (!live.stopping) {
          o.log?.('error', err.message);
          o.onUnexpectedExit?.(err);
        } else {
          o.log?.('info', `engine host ${child.pid} stopped`);
        }
        resolve(err);
      };
      child.once('exit', onGone);
      child.once('error', (e) => {
        stderrTail += `\n${e.message}`;
        if (child.exitCode === null && child.pid === undefined) onGone(null, null);
      });
    });
    connection.listen();
    live.ready = this.race(live, connection.sendRequest(EngineMethods.initialize, { protocolVersion: ENGINE_PROTOCOL_VERSION, settings: o.settings() })).then(
      (info) => {
        o.log?.('info', `engine host started: pid ${info.pid}, node ${info.nodeVersion}, onnxruntime-node ${info.onnxruntimeVersion ?? 'not found'}`);
        o.onStarted?.(info);
        return info;
      },
      (err) => {
        // A host that cannot initialize is useless: make sure it is gone so the next call starts afresh.
        if (!child.killed && child.exitCode === null) {
          live.stopping = true;
          child.kill();
        }
        throw err;
      },
    );
    return live;
  }

  /** Resolves with the request's answer, or rejects if the host dies first. */
  private race<R>(live: Live, request: Promise<R>): Promise<R> {
    return Promise.race([
      request.catch(async (err: unknown) => {
        // A transport error (connection closed/disposed) usually means the process is going away: report the
        // exit, which says why, rather than the bare transport message.
        if (!(err instanceof ResponseError)) {
          const exit = await Promise.race([live.exited, new Promise<null>((r) => setTimeout(() => r(null), 2000).unref())]);
          if (exit) throw exit;
        }
        throw this.translate(err);
      }),
      live.exited.then((exit) => {
        throw exit;
      }),
    ]);
  }

  private translate(err: unknown): Error {
    if (err instanceof ResponseError) {
      const data = err.data as EngineErrorData | undefined;
      return new EngineRequestError(err.message, err.code, data?.hint);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** A fresh token for a job's progress notifications. */
  newJobToken(prefix = 'job'): string {
    this.tokenCounter += 1;
    return `${prefix}-${Date.now().toString(36)}-${this.tokenCounter}`;
  }

  /** Sends a request (starting the host if needed). `signal` cancels it over JSON-RPC. */
  async request<P, R>(type: RequestType<P, R, void>, params: P, signal?: AbortSignal): Promise<R>;
  async request<R>(type: RequestType0<R, void>, params?: undefined, signal?: AbortSignal): Promise<R>;
  async request<P, R>(type: RequestType<P, R, void> | RequestType0<R, void>, params?: P, signal?: AbortSignal): Promise<R> {
    await this.start();
    const live = this.live;
    if (!live) throw new Error('The engine host stopped while starting.');
    const source = new CancellationTokenSource();
    const onAbort = () => source.cancel();
    if (signal) {
      if (signal.aborted) source.cancel();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      // Re-create the message type from its method name: a type built by another bundle's copy of vscode-jsonrpc
      // (e.g. the extension test suite) fails this copy's instanceof checks on its parameter structure.
      const sent =
        type.numberOfParams === 0
          ? live.connection.sendRequest(new RequestType0<R, void>(type.method), source.token)
          : live.connection.sendRequest(new RequestType<P, R, void>(type.method), params as P, source.token);
      return await this.race(live, sent);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.dispose();
    }
  }

  /** The Run Report of a run file, computed in the engine host (the Report and Compare panels show it). */
  runReport(params: RunReportParams, signal?: AbortSignal): Promise<RunReportResult> {
    return this.request(EngineMethods.runReport, params, signal);
  }

  /** Runs a long request whose progress notifications carry `token`. */
  async job<P extends { token?: string }, R>(type: RequestType<P, R, void>, params: P, onProgress: (p: ProgressParams) => void, signal?: AbortSignal): Promise<R> {
    const token = params.token;
    if (token) this.progressListeners.set(token, onProgress);
    try {
      return await this.request(type, params, signal);
    } finally {
      if (token) this.progressListeners.delete(token);
    }
  }

  /** Asks the host to leave; kills it if it does not within the timeout. */
  async stop(): Promise<void> {
    const live = this.live;
    if (!live) return;
    live.stopping = true;
    this.live = null;
    const timeout = this.options.shutdownTimeoutMs ?? 3000;
    const timer = setTimeout(() => live.child.kill('SIGKILL'), timeout);
    try {
      await Promise.race([live.connection.sendRequest(EngineMethods.shutdown).catch(() => undefined), live.exited]);
      await live.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the host now (used by "Restart Engine Host" when it is stuck inside a native call). */
  async kill(): Promise<void> {
    const live = this.live;
    if (!live) return;
    live.stopping = true;
    this.live = null;
    live.child.kill('SIGKILL');
    await live.exited;
  }
}
