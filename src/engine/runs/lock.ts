/**
 * The run-file lock: `<run>.lock`, created with O_EXCL, holding who owns it (pid, thread, hostname,
 * when, which program). It works between every process that appends to a run file: the engine host
 * (generation, local judge), the extension host (labels, rule/OpenAI judgements) and the CLI.
 *
 * Writers hold it only for one append (read the tail, repair it, one write of whole lines, fsync),
 * a few milliseconds, never across an await: a run that streams for hours therefore does not block
 * labels or a judge, and their rows interleave line by line. Holding it for a whole run would make
 * the run file read-only for everyone else until the run ends (labelling while a run streams is a
 * use case) or would need every label to travel through the run's owner over RPC.
 *
 * A lock is stale, and broken, when its owner is on this host and is gone (no such pid, or our own
 * pid and thread without holding it), or when it is older than any append can take (`liveStaleMs`,
 * which also covers a reused pid), or, for an owner on another host or an unreadable lock file, when
 * it is older than `staleMs`. Acquiring retries with a short backoff up to `timeoutMs`, then fails
 * with an error naming the holder and the lock file to delete.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

export interface RunLockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** An unreadable lock, or one from another host, is stale after this long (default 30 s). */
  staleMs?: number;
  /** A lock whose owner looks alive is stale after this long (default 10 min; appends take milliseconds). */
  liveStaleMs?: number;
}

export interface RunLockOwner {
  pid: number;
  thread: number;
  hostname: string;
  /** ISO time the lock was taken. */
  acquired_at: string;
  /** ISO time the owning process started. */
  process_started_at: string;
  /** The owning program (e.g. organism-lab run, engineHost). */
  command: string;
  token: string;
}

export type ReleaseLock = () => void;

const HOST = hostname();
const PROCESS_STARTED = new Date(Date.now() - process.uptime() * 1000).toISOString();
const COMMAND = [basename(process.argv[1] ?? process.argv0 ?? 'node'), ...process.argv.slice(2, 4)].join(' ');
/** Locks this thread holds (lock path → token). */
const held = new Map<string, string>();

/** `<run>.lock` next to the real file, so two paths to one file (a symlink, a relative path) share one lock. */
export function lockPathFor(runPath: string): string {
  let real = runPath;
  try {
    real = realpathSync(runPath);
  } catch {
    try {
      real = join(realpathSync(dirname(runPath)), basename(runPath)); // not created yet
    } catch {
      /* the folder is missing: creating the lock reports it */
    }
  }
  return `${real}.lock`;
}

type Attempt = { release: ReleaseLock } | { owner: RunLockOwner | null; ageMs: number; stale: boolean; raw: string };

function tryAcquire(runPath: string, o: Required<RunLockOptions>): Attempt {
  const lockPath = lockPathFor(runPath);
  const token = randomBytes(12).toString('hex');
  const owner: RunLockOwner = { pid: process.pid, thread: threadId, hostname: HOST, acquired_at: new Date().toISOString(), process_started_at: PROCESS_STARTED, command: COMMAND, token };
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new Error(`${runPath}: cannot create its lock file ${lockPath} (${code ?? (e as Error).message}); check that the folder is writable.`);
    return inspect(lockPath, o);
  }
  try {
    writeSync(fd, JSON.stringify(owner) + '\n');
  } finally {
    closeSync(fd);
  }
  held.set(lockPath, token);
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      held.delete(lockPath);
      // Remove it only while it is still ours (a holder that was judged stale may have lost it).
      try {
        if (readOwner(readFileSync(lockPath, 'utf8'))?.token === token) unlinkSync(lockPath);
      } catch {
        /* already gone */
      }
    },
  };
}

function readOwner(raw: string): RunLockOwner | null {
  try {
    const o = JSON.parse(raw);
    return o && typeof o === 'object' && typeof o.pid === 'number' && typeof o.token === 'string' ? (o as RunLockOwner) : null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function inspect(lockPath: string, o: Required<RunLockOptions>): Attempt {
  let raw = '';
  let mtimeMs: number;
  try {
    mtimeMs = statSync(lockPath).mtimeMs;
    raw = readFileSync(lockPath, 'utf8');
  } catch {
    return { owner: null, ageMs: 0, stale: false, raw: '' }; // released meanwhile: retry
  }
  const ageMs = Math.max(0, Date.now() - mtimeMs);
  const owner = readOwner(raw);
  let stale: boolean;
  if (!owner || owner.hostname !== HOST) stale = ageMs > o.staleMs; // being written, or another host's: age only
  else if (owner.pid === process.pid && (owner.thread ?? 0) === threadId) stale = held.get(lockPath) !== owner.token;
  else stale = !pidAlive(owner.pid) || ageMs > o.liveStaleMs;
  return { owner, ageMs, stale, raw };
}

/** Removes a stale lock unless it changed since it was judged stale (then it is put back). */
function breakStale(lockPath: string, raw: string): void {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return; // someone else broke or released it
  }
  let now = '';
  try {
    now = readFileSync(aside, 'utf8');
  } catch {
    /* ignore */
  }
  if (now !== raw) {
    // A fresh lock was taken between our look and the rename: give it back (unless yet another one exists).
    try {
      linkSync(aside, lockPath);
    } catch {
      /* ignore */
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    /* ignore */
  }
}

function defaults(opts: RunLockOptions): Required<RunLockOptions> {
  return { timeoutMs: opts.timeoutMs ?? 30_000, staleMs: opts.staleMs ?? 30_000, liveStaleMs: opts.liveStaleMs ?? 600_000 };
}

function describeHolder(runPath: string, a: Exclude<Attempt, { release: ReleaseLock }>, waitedMs: number): Error {
  const lockPath = lockPathFor(runPath);
  const who = a.owner
    ? `pid ${a.owner.pid} on ${a.owner.hostname} (${a.owner.command || 'unknown program'}, started ${a.owner.process_started_at}), lock taken ${(a.ageMs / 1000).toFixed(1)} s ago`
    : `an unknown process (the lock file is ${a.raw ? 'unreadable' : 'empty'}, ${(a.ageMs / 1000).toFixed(1)} s old)`;
  return new Error(`${runPath} is being written by another Organism Lab process: ${who}. Gave up after ${(waitedMs / 1000).toFixed(1)} s. If that process is no longer running, delete ${lockPath}.`);
}

const backoff = (i: number) => Math.min(50, 2 + i * 3);

/** Sleeps the thread (Atomics.wait): for the synchronous writer in the engine host and the CLI. */
export function sleepSync(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function acquireRunLockSync(runPath: string, opts: RunLockOptions = {}): ReleaseLock {
  const o = defaults(opts);
  // Waiting synchronously for a lock this thread holds would never end.
  if (held.has(lockPathFor(runPath))) throw new Error(`${runPath}: the run lock is already held by this thread (a nested append); this is a bug in Organism Lab.`);
  const start = Date.now();
  for (let i = 0; ; i++) {
    const a = tryAcquire(runPath, o);
    if ('release' in a) return a.release;
    if (a.stale) {
      breakStale(lockPathFor(runPath), a.raw);
      continue;
    }
    if (Date.now() - start >= o.timeoutMs) throw describeHolder(runPath, a, Date.now() - start);
    sleepSync(backoff(i));
  }
}

/** Runs `fn` (synchronous: no await while the lock is held) under the run's lock. */
export function withRunLockSync<T>(runPath: string, fn: () => T, opts: RunLockOptions = {}): T {
  const release = acquireRunLockSync(runPath, opts);
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * Waits for the lock without blocking the event loop, then runs the synchronous `fn` under it. The lock
 * is taken and released in the same synchronous step as `fn`, never held across an await, so other
 * appenders in this process (judge workers, labels) can never find it held by their own thread.
 */
export async function withRunLock<T>(runPath: string, fn: () => T, opts: RunLockOptions = {}): Promise<T> {
  const o = defaults(opts);
  const start = Date.now();
  for (let i = 0; ; i++) {
    const a = tryAcquire(runPath, o);
    if ('release' in a) {
      try {
        return fn();
      } finally {
        a.release();
      }
    }
    if (a.stale) {
      breakStale(lockPathFor(runPath), a.raw);
      continue;
    }
    if (Date.now() - start >= o.timeoutMs) throw describeHolder(runPath, a, Date.now() - start);
    await new Promise((r) => setTimeout(r, backoff(i)));
  }
}
