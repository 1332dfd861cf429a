/**
 * Regular expressions that come from files (adapter_config.json target_modules / rank_pattern /
 * alpha_pattern / layers_pattern, judges-file rules) must not be able to hang the engine.
 *
 * - Patterns RE2 can express (almost all) run on re2js: linear time in the input, whatever the pattern
 *   (`([a-z_.0-9]+)+X` is as fast as `X`).
 * - Patterns RE2 cannot express (lookaround, backreferences: the demo judges file uses lookaheads) run
 *   as JavaScript RegExps in a worker thread, with a time limit per match; a match that runs past it
 *   is stopped (the worker is terminated) and reported as a RegexLimitError naming the file and field.
 */
import { Worker } from 'node:worker_threads';
import { RE2JS } from 're2js';
import { LimitError } from './limits';
import type { SafeRegex } from '../../protocol/judges';

export type { SafeRegex };

export class RegexLimitError extends LimitError {
  constructor(message: string) {
    super(message);
    this.name = 'RegexLimitError';
  }
}

export interface SafeRegexOptions {
  /** Time limit of one guarded (backtracking) match, in ms (default 2000). */
  timeoutMs?: number;
  /** Refuse patterns RE2 cannot express instead of running them guarded (default false). */
  re2Only?: boolean;
}

export const DEFAULT_REGEX_TIMEOUT_MS = 2000;
/** Longest pattern accepted from a file. */
export const MAX_PATTERN_CHARS = 10_000;

/**
 * Compiles `pattern` with JavaScript flags (i, m, s, u; g and y are ignored). `where` names the file and
 * field for error messages ("adapter_config.json: target_modules"). Throws RegexLimitError for an invalid
 * or over-long pattern.
 */
export function compileSafeRegex(pattern: string, flags: string, where: string, opts: SafeRegexOptions = {}): SafeRegex {
  if (typeof pattern !== 'string') throw new RegexLimitError(`${where}: the pattern must be a string, got ${JSON.stringify(pattern)}`);
  if (pattern.length > MAX_PATTERN_CHARS) throw new RegexLimitError(`${where}: the pattern has ${pattern.length} characters, above the limit of ${MAX_PATTERN_CHARS}; shorten it`);
  const jsFlags = flags.replace(/[gy]/g, '');
  const bad = jsFlags.replace(/[imsu]/g, '');
  if (bad) throw new RegexLimitError(`${where}: unsupported regular-expression flag(s) "${bad}" (supported: i, m, s, u)`);
  // JavaScript must accept it first (the pattern's meaning is the JavaScript one).
  let js: RegExp;
  try {
    js = new RegExp(pattern, jsFlags);
  } catch (e) {
    throw new RegexLimitError(`${where}: invalid regular expression /${pattern}/${jsFlags}: ${(e as Error).message}`);
  }
  let re2Flags = 0;
  if (jsFlags.includes('i')) re2Flags |= RE2JS.CASE_INSENSITIVE;
  if (jsFlags.includes('s')) re2Flags |= RE2JS.DOTALL;
  if (jsFlags.includes('m')) re2Flags |= RE2JS.MULTILINE;
  let re2: RE2JS | null = null;
  let why = '';
  try {
    re2 = RE2JS.compile(pattern, re2Flags);
  } catch (e) {
    why = (e as Error).message;
  }
  if (re2) {
    const r = re2;
    return { source: pattern, flags: jsFlags, engine: 're2', test: (text: string) => r.test(text) };
  }
  if (opts.re2Only) {
    throw new RegexLimitError(`${where}: the pattern /${pattern}/ uses a construct that needs a backtracking matcher (${why}); rewrite it without lookaround or backreferences`);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_REGEX_TIMEOUT_MS;
  void js;
  return {
    source: pattern,
    flags: jsFlags,
    engine: 'guarded',
    test: (text: string) => guardedTest(pattern, jsFlags, text, timeoutMs, where),
  };
}

// ---- the guarded path: one worker thread, synchronous calls through a SharedArrayBuffer

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const state = new Int32Array(workerData);
const cache = new Map();
Atomics.store(state, 1, 1);
Atomics.notify(state, 1);
parentPort.on('message', (m) => {
  let r;
  try {
    const key = m.flags + '/' + m.pattern;
    let re = cache.get(key);
    if (!re) { re = new RegExp(m.pattern, m.flags); cache.set(key, re); }
    r = re.test(m.text) ? 1 : 0;
  } catch (e) {
    r = 3;
  }
  Atomics.store(state, 0, r + 1);
  Atomics.notify(state, 0);
});
`;

let worker: Worker | null = null;
let state: Int32Array | null = null;

function ensureWorker(): { w: Worker; s: Int32Array } {
  if (worker && state) return { w: worker, s: state };
  const sab = new SharedArrayBuffer(8);
  const s = new Int32Array(sab);
  const w = new Worker(WORKER_SOURCE, { eval: true, workerData: sab });
  w.unref();
  w.on('error', () => {
    if (worker === w) worker = state = null;
  });
  // Wait for the worker to start (not part of any match's time limit).
  if (Atomics.wait(s, 1, 0, 30_000) === 'timed-out') {
    void w.terminate();
    throw new RegexLimitError('the regular-expression worker thread did not start within 30 s');
  }
  worker = w;
  state = s;
  return { w, s };
}

function guardedTest(pattern: string, flags: string, text: string, timeoutMs: number, where: string): boolean {
  const { w, s } = ensureWorker();
  Atomics.store(s, 0, 0);
  w.postMessage({ pattern, flags, text });
  const r = Atomics.wait(s, 0, 0, timeoutMs);
  if (r === 'timed-out') {
    // Stop the runaway match: terminating the worker interrupts the regular-expression engine.
    void w.terminate();
    worker = state = null;
    throw new RegexLimitError(
      `${where}: the pattern /${pattern}/${flags} ran for more than ${timeoutMs} ms on a ${text.length}-character text and was stopped ` +
        '(catastrophic backtracking: nested quantifiers such as (a+)+ with lookaround or backreferences); rewrite it so RE2 can run it (no lookaround or backreferences), or simplify it',
    );
  }
  const v = Atomics.load(s, 0) - 1;
  if (v === 3) throw new RegexLimitError(`${where}: the pattern /${pattern}/${flags} failed to run`);
  return v === 1;
}

/** For tests: stop the guarded-match worker. */
export async function stopRegexWorker(): Promise<void> {
  const w = worker;
  worker = state = null;
  if (w) await w.terminate();
}
