/**
 * Runs the fuzz cases of generator.ts and checks each against the contract:
 *   exit 1 with a message naming the file and the field or tensor, or (where the mutation may be harmless)
 *   exit 0 with a well-formed output; never another exit code, a JavaScript stack trace, more than 30 s or
 *   more than 1.5 GB peak RSS.
 *
 * Cases run in a worker process (worker.ts) through `cliMain`, the CLI's own entry, so a thousand of them fit
 * in a few minutes on two cores. The parent times each case, samples the worker's RSS while it runs (killing
 * it past the limits) and reads its peak (VmHWM, reset through /proc/PID/clear_refs before every case). A
 * sample of cases (and every case that breaks the contract) runs again as a real `node cli.js` process
 * (esbuild bundle of src/cli/main.ts, like dist/cli.js) under /usr/bin/time for its exit code, output and
 * peak RSS end to end.
 *
 * Command line (also prints reproduction commands for failures):
 *   node --import tsx test/fuzz/runner.ts [--case ID]... [--match SUBSTRING] [--limit N] [--keep] [--real-every N] [--json FILE]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caseIds, materialize, ROOT, SEED, type Materialized } from './generator';
import { parseRunText } from '../../src/engine/runs/parse';

export const TIME_LIMIT_MS = 30_000;
export const RSS_LIMIT_BYTES = 1.5e9;

export interface CaseResult {
  id: string;
  kind: string;
  mutation: string;
  what: string;
  argv: string[];
  code: number | null;
  /** 'exit' normal; 'timeout' / 'memory' killed by the runner; 'crash' the worker died. */
  end: 'exit' | 'timeout' | 'memory' | 'crash';
  ms: number;
  peakRssBytes: number;
  output: string;
  violations: string[];
  /** Set when the case broke the contract only in a worker that had run other cases: the case that ran just before. */
  leakFrom?: string;
  real?: { code: number | null; ms: number; peakRssBytes: number; violations: string[] };
}

// ---------------------------------------------------------------- the contract

const STACK_LINE = /^\s+at (?:.+ \()?(?:\/|node:|file:|<anonymous>).*:\d+(?::\d+)?\)?\s*$/m;
/** Texts of JavaScript runtime errors: an internal bug surfacing instead of a message about the input. */
const JS_ERROR = /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert undefined or null|Cannot destructure|\[object Object\]/;
/** Output after which the worker process may be left in a broken state (later cases must not inherit it). */
const SUSPICIOUS = new RegExp(`${JS_ERROR.source}|onnxruntime|Non-zero status code|Maximum call stack|out of memory|allocation failed`, 'i');

function mentionsAny(text: string, needles: string[]): boolean {
  const t = text.toLowerCase();
  return needles.some((n) => n !== '' && t.includes(n.toLowerCase()));
}

function checkSuccess(m: Materialized): string | null {
  const s = m.expect.onSuccess;
  if (!s) return null;
  try {
    if (s.kind === 'forward') {
      const b = readFileSync(s.out);
      const n = Number(b.readBigUInt64LE(0));
      const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
      const lg = h.logits;
      const hs = h.hidden_states;
      if (!lg || !hs) return 'forward output lacks logits or hidden_states';
      if (lg.shape.length !== 3 || lg.shape[0] !== s.batch || lg.shape[1] !== s.seq) return `logits shape [${lg.shape}] for input [${s.batch}, ${s.seq}]`;
      if (hs.shape.length !== 4 || hs.shape[1] !== s.batch || hs.shape[2] !== s.seq) return `hidden_states shape [${hs.shape}] for input [${s.batch}, ${s.seq}]`;
      for (const [name, t] of [['logits', lg], ['hidden_states', hs]] as const) {
        const bytes = t.shape.reduce((a, x) => a * x, 1) * 4;
        if (t.dtype !== 'F32' || t.data_offsets[1] - t.data_offsets[0] !== bytes || 8 + n + t.data_offsets[1] > b.length) return `${name}: dtype ${t.dtype} or byte range does not fit its shape`;
      }
      return null;
    }
    if (s.kind === 'inspect') {
      const r = JSON.parse(readFileSync(s.out, 'utf8')) as { kind: string; problems?: string[]; model?: { nanCount?: number | null; infCount?: number | null }; adapter?: { nanCount?: number; infCount?: number } };
      if (!r.kind || r.kind === 'unknown') return `inspect report kind ${JSON.stringify(r.kind)}`;
      if (s.flagNonFinite) {
        const part = s.flagNonFinite === 'model' ? r.model : r.adapter;
        const counted = part && ((part.nanCount ?? 0) + (part.infCount ?? 0) > 0);
        const told = (r.problems ?? []).some((p) => /nan|inf/i.test(p));
        if (!counted && !told) return `the weights hold NaN/Inf but the inspect report does not say so (${s.flagNonFinite} nanCount ${part?.nanCount}, infCount ${part?.infCount})`;
      }
      return null;
    }
    if (s.kind === 'run' || s.kind === 'judge') {
      const file = s.kind === 'run' ? s.out : s.runFile;
      const text = readFileSync(file, 'utf8');
      const run = parseRunText(text, file);
      if (s.kind === 'run' && run.samples.length === 0) return 'the run file has no samples';
      return null;
    }
    if (s.kind === 'export') {
      const text = readFileSync(s.out, 'utf8');
      if (s.format === 'csv') return /question_id/.test(text.split('\n')[0]) ? null : 'the CSV has no question_id column';
      if (s.format === 'jsonl') {
        text.split('\n').filter((l) => l.trim() !== '').forEach((l) => JSON.parse(l));
        return null;
      }
      JSON.parse(text);
      return null;
    }
  } catch (e) {
    return `output not well-formed: ${(e as Error).message.slice(0, 200)}`;
  }
  return null;
}

/** The contract's verdict on one run of a case. */
export function judge(m: Materialized, code: number | null, end: CaseResult['end'], ms: number, peak: number, output: string): string[] {
  const v: string[] = [];
  if (end === 'timeout') v.push(`ran over ${TIME_LIMIT_MS / 1000} s (killed)`);
  if (end === 'memory') v.push(`peak RSS over ${(RSS_LIMIT_BYTES / 1e9).toFixed(1)} GB (killed)`);
  if (end === 'crash') v.push('the process crashed');
  if (end !== 'exit') return v;
  if (ms > TIME_LIMIT_MS) v.push(`took ${(ms / 1000).toFixed(1)} s`);
  if (peak > RSS_LIMIT_BYTES) v.push(`peak RSS ${(peak / 1e9).toFixed(2)} GB`);
  if (STACK_LINE.test(output) || /\[fuzz worker\] (unhandled|uncaught)/.test(output)) v.push('JavaScript stack trace in the output');
  if (JS_ERROR.test(output)) v.push(`JavaScript runtime error text: ${JS_ERROR.exec(output)![0]}`);
  const e = m.expect;
  if (code !== 0 && code !== 1) v.push(`exit code ${code}`);
  if (code === 0) {
    if (e.outcome === 'fail') v.push('accepted the malformed input (exit 0)');
    const bad = checkSuccess(m);
    if (bad) v.push(bad);
    if (e.warnOnSuccess && !mentionsAny(output, e.files)) v.push(`succeeded without a warning naming ${e.files.join(' / ')}`);
  } else {
    if (e.outcome === 'success') v.push(`refused an input it must accept (exit ${code})`);
    if (!mentionsAny(output, e.files)) v.push(`message does not name the file (${e.files.join(' / ')})`);
    else if (e.names.length && !mentionsAny(output, e.names)) v.push(`message does not name the field or tensor (${e.names.slice(0, 4).join(' / ')}${e.names.length > 4 ? ' / …' : ''})`);
  }
  return v;
}

// ---------------------------------------------------------------- the worker and its memory

function procStatus(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

class Worker {
  proc: ChildProcess;
  ready: Promise<void>;
  private pending: ((msg: { type: string; code?: number; output?: string }) => void) | null = null;
  canResetPeak = true;
  /** Cases sent to this worker so far. */
  casesRun = 0;

  constructor() {
    this.proc = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    this.proc.stderr!.on('data', () => undefined);
    this.ready = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('fuzz worker did not start in 60 s')), 60_000);
      this.proc.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      this.proc.once('exit', (c) => reject(new Error(`fuzz worker exited (${c}) before it was ready`)));
    });
    this.ready.catch(() => undefined); // a worker killed before it was ready is simply replaced
    this.proc.on('message', (msg: { type: string }) => {
      if (msg.type !== 'ready' && this.pending) {
        const p = this.pending;
        this.pending = null;
        p(msg);
      }
    });
    this.proc.on('exit', (code) => {
      if (this.pending) {
        const p = this.pending;
        this.pending = null;
        p({ type: 'crash', code: code ?? undefined, output: '' });
      }
    });
  }

  async run(id: string, argv: string[]): Promise<{ code: number | null; end: CaseResult['end']; ms: number; peak: number; output: string }> {
    await this.ready;
    this.casesRun++;
    const pid = this.proc.pid!;
    this.canResetPeak = resetPeak(pid);
    const base = procStatus(pid, 'VmHWM');
    let sampled = procStatus(pid, 'VmRSS');
    let killedFor: 'timeout' | 'memory' | null = null;
    const t0 = performance.now();
    const result = new Promise<{ type: string; code?: number; output?: string }>((resolve) => (this.pending = resolve));
    this.proc.send({ id, argv });
    const timer = setInterval(() => {
      const rss = procStatus(pid, 'VmRSS');
      sampled = Math.max(sampled, rss);
      if (rss > RSS_LIMIT_BYTES) killedFor = 'memory';
      else if (performance.now() - t0 > TIME_LIMIT_MS) killedFor = 'timeout';
      if (killedFor) this.proc.kill('SIGKILL');
    }, 25);
    const msg = await result;
    clearInterval(timer);
    const ms = performance.now() - t0;
    const hwm = procStatus(pid, 'VmHWM');
    const peak = Math.max(sampled, this.canResetPeak ? hwm : sampled, base > hwm ? 0 : 0);
    if (killedFor) return { code: null, end: killedFor, ms, peak, output: msg.output ?? '' };
    if (msg.type === 'crash') return { code: null, end: 'crash', ms, peak, output: msg.output ?? '' };
    return { code: msg.code ?? null, end: 'exit', ms, peak, output: msg.output ?? '' };
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill(): void {
    if (this.alive) this.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- the real CLI

const CLI_BUNDLE = path.join(ROOT, 'node_modules/.cache/organism-lab-fuzz/cli.js');

/** Bundle src/cli/main.ts the way scripts/build.mjs makes dist/cli.js (the real CLI, built from the current sources). */
export async function buildCli(): Promise<string> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/cli/main.ts')], outfile: CLI_BUNDLE, bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    sourcemap: true, external: ['vscode', 'onnxruntime-node'], logLevel: 'warning',
  });
  return CLI_BUNDLE;
}

function runReal(cli: string, m: Materialized): { code: number | null; end: CaseResult['end']; ms: number; peak: number; output: string } {
  const timeFile = path.join(os.tmpdir(), `fuzz-time-${process.pid}.txt`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, process.execPath, cli, ...m.argv], {
    cwd: ROOT, encoding: 'utf8', timeout: TIME_LIMIT_MS + 5_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL', env: { ...process.env, NODE_OPTIONS: '' },
  });
  const ms = performance.now() - t0;
  let peak = 0;
  try {
    peak = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop()) * 1024;
  } catch {
    /* killed */
  }
  const output = `${r.stdout ?? ''}${(r.stderr ?? '').replace(/^Command exited with non-zero status \d+\n?/m, '')}`;
  const end: CaseResult['end'] = r.error && /ETIMEDOUT/.test(String(r.error)) ? 'timeout' : r.signal ? 'crash' : 'exit';
  return { code: r.status, end, ms, peak, output };
}

// ---------------------------------------------------------------- running a set of cases

export interface FuzzOptions {
  ids?: string[];
  /** Run every Nth case also as a real CLI process (0 = none); cases that break the contract always are (up to realMax). */
  realEvery?: number;
  realMax?: number;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  results: CaseResult[];
  ms: number;
  maxPeakRssBytes: number;
  workerStarts: number;
  peakResetWorks: boolean;
  workDir: string;
}

export async function runFuzz(opts: FuzzOptions = {}): Promise<FuzzReport> {
  const ids = opts.ids ?? caseIds();
  const log = opts.log ?? (() => undefined);
  const work = mkdtempSync(path.join(os.tmpdir(), 'organism-lab-fuzz-'));
  const t0 = performance.now();
  const results: CaseResult[] = [];
  let worker = new Worker();
  let workerStarts = 1;
  let peakResetWorks = true;
  const fresh = () => {
    worker.kill();
    worker = new Worker();
    workerStarts++;
  };
  try {
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      const dir = path.join(work, id);
      const m = materialize(id, dir);
      // A fresh worker every 200 cases keeps memory drift from one case out of another's peak.
      if (n > 0 && n % 200 === 0) fresh();
      let r = await worker.run(id, m.argv);
      peakResetWorks &&= worker.canResetPeak;
      if (r.end === 'memory' || r.peak > RSS_LIMIT_BYTES) {
        // Confirm on a fresh worker: the peak must be this case's, not what earlier cases left behind.
        rmSync(dir, { recursive: true, force: true });
        materialize(id, dir);
        fresh();
        r = await worker.run(id, m.argv);
      }
      if (r.end !== 'exit' || !worker.alive) fresh();
      let violations = judge(m, r.code, r.end, r.ms, r.peak, r.output);
      let leakFrom: string | undefined;
      if (violations.length && r.end === 'exit' && worker.casesRun > 1) {
        // The failure may be left behind by an earlier case in this process (a module-level cache or session
        // broken by it): run the case again alone. The engine host is such a long-lived process, so a leak is
        // reported too (STATE LEAKS) — but the case's own verdict is what it does alone.
        rmSync(dir, { recursive: true, force: true });
        materialize(id, dir);
        fresh();
        const alone = await worker.run(id, m.argv);
        const v2 = judge(m, alone.code, alone.end, alone.ms, alone.peak, alone.output);
        const inherited = r.output;
        if (v2.length === 0) leakFrom = ids[n - 1];
        r = v2.length === 0 ? { ...alone, output: `${alone.output}\n--- the same case after other cases in one process (${violations.join('; ')}) ---\n${inherited}` } : alone;
        violations = v2;
        if (r.end !== 'exit' || !worker.alive) fresh();
      }
      // Whatever broke inside this case must not be inherited by the next one.
      if (violations.length && SUSPICIOUS.test(r.output)) fresh();
      results.push({ id, kind: m.kind, mutation: m.mutation, what: m.what, argv: m.argv, code: r.code, end: r.end, ms: r.ms, peakRssBytes: r.peak, output: r.output.slice(0, 4000), violations, leakFrom });
      // A failing case's files are rebuilt by its reproduction command (--case ID --keep): keep none unless asked.
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
      if ((n + 1) % 100 === 0) log(`${n + 1}/${ids.length} cases, ${results.filter((x) => x.violations.length).length} breaking the contract, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    worker.kill();
  }
  // End to end: a sample of cases, and the cases that broke the contract, as real CLI processes.
  const every = opts.realEvery ?? 0;
  if (every > 0) {
    const cli = await buildCli();
    // One broken case per kind of mutation first (then more), so the end-to-end check sees every kind of failure.
    const brokenAll = results.filter((r) => r.violations.length);
    const firsts = brokenAll.filter((r, i) => brokenAll.findIndex((x) => x.kind === r.kind && x.mutation === r.mutation) === i);
    const broken = [...new Set([...firsts, ...brokenAll])].slice(0, opts.realMax ?? 60);
    const sample = results.filter((_, i) => i % every === 0);
    for (const r of [...new Set([...sample, ...broken])]) {
      const dir = path.join(work, `${r.id}.real`);
      const m = materialize(r.id, dir);
      const x = runReal(cli, m);
      r.real = { code: x.code, ms: x.ms, peakRssBytes: x.peak, violations: judge(m, x.code, x.end, x.ms, x.peak, x.output) };
      if (r.real.violations.length && !r.violations.length) r.output += `\n--- real CLI output ---\n${x.output.slice(0, 4000)}`;
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  return {
    seed: SEED, results, ms: performance.now() - t0, workDir: work, workerStarts, peakResetWorks,
    maxPeakRssBytes: Math.max(0, ...results.map((r) => Math.max(r.peakRssBytes, r.real?.peakRssBytes ?? 0))),
  };
}

/** All violations of a result, in-process and real-CLI. */
export function violationsOf(r: CaseResult): string[] {
  return [...r.violations, ...(r.real?.violations ?? []).map((v) => `real CLI: ${v}`)];
}

export function reproduction(id: string): string {
  return `ORGANISM_LAB_FUZZ_SEED=${SEED} node --import tsx test/fuzz/runner.ts --case ${id} --keep`;
}

/** A readable summary: outcomes by class, the slowest and biggest cases, what broke the contract. */
export function summarize(rep: FuzzReport, known: Record<string, string> = {}): string {
  const lines: string[] = [];
  const byKind = new Map<string, CaseResult[]>();
  for (const r of rep.results) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
  lines.push(`fuzz: ${rep.results.length} cases (seed ${rep.seed}) in ${(rep.ms / 1000).toFixed(1)} s; max peak RSS ${(rep.maxPeakRssBytes / 1e6).toFixed(0)} MB; ${rep.workerStarts} worker start(s); per-case peak reset ${rep.peakResetWorks ? 'via clear_refs' : 'unavailable (sampled RSS)'}`);
  lines.push('  class                  cases  exit 0  exit 1  other  killed  breaking  real-CLI checked');
  for (const [k, rs] of byKind) {
    const c = (f: (r: CaseResult) => boolean) => String(rs.filter(f).length);
    lines.push(`  ${k.padEnd(22)} ${String(rs.length).padStart(5)}  ${c((r) => r.code === 0).padStart(6)}  ${c((r) => r.code === 1).padStart(6)}  ${c((r) => r.end === 'exit' && r.code !== 0 && r.code !== 1).padStart(5)}  ${c((r) => r.end !== 'exit').padStart(6)}  ${c((r) => violationsOf(r).length > 0).padStart(8)}  ${c((r) => !!r.real).padStart(16)}`);
  }
  const slow = [...rep.results].sort((a, b) => b.ms - a.ms).slice(0, 3);
  lines.push(`  slowest: ${slow.map((r) => `${r.id} ${(r.ms / 1000).toFixed(2)} s`).join(', ')}`);
  const big = [...rep.results].sort((a, b) => b.peakRssBytes - a.peakRssBytes).slice(0, 3);
  lines.push(`  largest peak RSS: ${big.map((r) => `${r.id} ${(r.peakRssBytes / 1e6).toFixed(0)} MB`).join(', ')}`);
  const leaks = rep.results.filter((r) => r.leakFrom);
  if (leaks.length) {
    lines.push(`  STATE LEAKS: ${leaks.length} case(s) failed with an internal error only after other cases in the same process (they pass alone; the engine host is such a process):`);
    for (const r of leaks) lines.push(`    ${r.id} failed right after ${r.leakFrom}: ${JSON.stringify(r.output.split('---').pop()!.trim().slice(0, 300))}`);
  }
  const broken = rep.results.filter((r) => violationsOf(r).length);
  if (broken.length) {
    lines.push(`  ${broken.length} case(s) break the contract (${broken.filter((r) => known[r.id]).length} of them in the known-failures list):`);
    for (const r of broken) {
      lines.push(`  ${known[r.id] ? 'KNOWN ' : 'FAIL  '}${r.id}: ${violationsOf(r).join('; ')}`);
      lines.push(`        input: ${r.what}; exit ${r.code ?? r.end}; output: ${JSON.stringify(r.output.trim().slice(0, 300))}`);
      lines.push(`        reproduce: ${reproduction(r.id)}`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- command line

if (require.main === module) {
  (async () => {
    const args = process.argv.slice(2);
    const ids: string[] = [];
    let match: string | undefined;
    let limit = Infinity;
    let keep = false;
    let realEvery = 0;
    let json: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '--case') ids.push(args[++i]);
      else if (a === '--match') match = args[++i];
      else if (a === '--limit') limit = Number(args[++i]);
      else if (a === '--keep') keep = true;
      else if (a === '--real-every') realEvery = Number(args[++i]);
      else if (a === '--json') json = args[++i];
      else if (a === '--list') {
        process.stdout.write(caseIds().join('\n') + '\n');
        return;
      } else throw new Error(`unknown argument ${a}`);
    }
    let sel = ids.length ? ids : caseIds();
    if (match) sel = sel.filter((id) => id.includes(match!));
    sel = sel.slice(0, limit);
    const single = ids.length > 0;
    const rep = await runFuzz({ ids: sel, keep: keep || single, realEvery: single ? 1 : realEvery, log: (l) => process.stderr.write(`${l}\n`) });
    const { KNOWN_FAILURES } = await import('./knownFailures');
    process.stdout.write(summarize(rep, KNOWN_FAILURES) + '\n');
    if (single) {
      for (const r of rep.results) {
        process.stdout.write(`\n${r.id}: ${r.what}\n  files: ${path.join(rep.workDir, r.id)}\n  in-process: exit ${r.code ?? r.end} in ${r.ms.toFixed(0)} ms, peak RSS ${(r.peakRssBytes / 1e6).toFixed(0)} MB\n`);
        if (r.real) process.stdout.write(`  real CLI: exit ${r.real.code} in ${r.real.ms.toFixed(0)} ms, peak RSS ${(r.real.peakRssBytes / 1e6).toFixed(0)} MB${r.real.violations.length ? `; ${r.real.violations.join('; ')}` : ''}\n`);
        process.stdout.write(`  command: node dist/cli.js ${r.argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}\n  output:\n${r.output.replace(/^/gm, '    ')}\n`);
      }
    }
    if (json) writeFileSync(json, JSON.stringify(rep, null, 1));
    if (existsSync(rep.workDir)) process.stdout.write(`case files: ${rep.workDir}\n`);
    else if (!keep && rep.results.some((r) => violationsOf(r).length)) process.stdout.write('case files were removed: rerun a case with --case ID --keep to keep them\n');
    process.exitCode = rep.results.some((r) => violationsOf(r).length) ? 1 : 0;
  })().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exitCode = 2;
  });
}


