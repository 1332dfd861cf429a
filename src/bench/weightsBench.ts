/**
 * The weight-precision part of `npm run bench`: decode tokens/s of f32, int8 and int4 sessions of the same
 * checkpoint at each batch size, measured interleaved (precision after precision, repeat after repeat) so
 * the ratios compare like with like on a shared, noisy host; and each precision's peak RSS, measured in a
 * child process of its own (a process's peak RSS only grows, so one process cannot tell them apart).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ModelRunner } from '../engine/runtime/modelRunner';
import type { RowVariant } from '../engine/runtime/generationTypes';
import type { WeightPrecision } from '../engine/quant/weightPrecision';
import { median, timeDecode, type DecodeRun } from './decodeBench';

export interface WeightsBenchOptions {
  model: string;
  threads: number;
  promptLen: number;
  newTokens: number;
  repeats: number;
  batches: number[];
  precisions: WeightPrecision[];
  /** The quantized-weights cache folder (default the engine's). */
  cacheFolder?: string;
  /** Idle pool threads spin before sleeping (bench --spin-threads). */
  threadSpinning?: boolean;
}

export interface WeightsBenchResult {
  /** precision → batch → median tokens/s */
  tokensPerSecond: Map<WeightPrecision, Map<number, number>>;
  /** precision → peak RSS bytes of a process that loads it and decodes at the largest batch */
  peakRss: Map<WeightPrecision, number | null>;
  loadSeconds: Map<WeightPrecision, number>;
}

const BASE: RowVariant = { adapter: null, adapterScale: 0 };
const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;

export async function weightsBench(o: WeightsBenchOptions, log: (s: string) => void): Promise<WeightsBenchResult> {
  const runners = new Map<WeightPrecision, ModelRunner>();
  const loadSeconds = new Map<WeightPrecision, number>();
  const maxLength = o.promptLen + o.newTokens;
  const maxB = Math.max(...o.batches);
  try {
    for (const p of o.precisions) {
      const t0 = performance.now();
      let lastPct = -10;
      const r = await ModelRunner.load(o.model, {
        threads: o.threads,
        threadSpinning: o.threadSpinning,
        weights: p,
        cacheFolder: o.cacheFolder,
        memory: { shape: { batch: maxB, maxLength } },
        onQuantProgress: (q) => {
          const pct = Math.floor((100 * q.done) / q.total);
          if (pct >= lastPct + 25 || q.done === q.total) log(`  quantizing to ${p}: ${pct}%`);
          lastPct = pct;
        },
      });
      const s = (performance.now() - t0) / 1000;
      loadSeconds.set(p, s);
      runners.set(p, r);
      log(`load ${p}: ${s.toFixed(1)} s${r.weights.quantized ? ` (quantized now, ${((r.weights.quantizeMs ?? 0) / 1000).toFixed(1)} s, into ${r.weights.cacheFile})` : r.weights.cacheFile ? ` (from the cache ${r.weights.cacheFile})` : ''}`);
    }
    const tps = new Map<WeightPrecision, Map<number, number>>(o.precisions.map((p) => [p, new Map()]));
    for (const B of o.batches) {
      const rows = Array.from({ length: B }, () => BASE);
      for (const p of o.precisions) await timeDecode(runners.get(p)!, rows, o.promptLen, 3, o.threads); // warm-up
      const runs = new Map<WeightPrecision, DecodeRun[]>(o.precisions.map((p) => [p, []]));
      for (let rep = 0; rep < o.repeats; rep++) {
        for (const p of o.precisions) runs.get(p)!.push(await timeDecode(runners.get(p)!, rows, o.promptLen, o.newTokens, o.threads));
      }
      const cells = o.precisions.map((p) => {
        const v = median(runs.get(p)!.map((x) => x.tokensPerSecond));
        tps.get(p)!.set(B, v);
        return `${p} ${v.toFixed(1)}`;
      });
      log(`decode batch ${String(B).padStart(2)}: ${cells.join(', ')} tokens/s (medians of ${o.repeats}, interleaved)`);
    }
    for (const r of runners.values()) await r.dispose();
    runners.clear();
    const peakRss = new Map<WeightPrecision, number | null>();
    for (const p of o.precisions) {
      const rss = probeRss(o, p, maxB);
      peakRss.set(p, rss);
      log(`peak RSS ${p}: ${rss === null ? 'probe failed' : gb(rss)} (a process that loads it and decodes ${o.newTokens} tokens at batch ${maxB})`);
    }
    return { tokensPerSecond: tps, peakRss, loadSeconds };
  } finally {
    for (const r of runners.values()) await r.dispose();
  }
}

export function formatWeightsRatios(res: WeightsBenchResult, batches: number[]): string[] {
  const f32 = res.tokensPerSecond.get('f32');
  const lines: string[] = [];
  for (const [p, m] of res.tokensPerSecond) {
    if (p === 'f32' || !f32) continue;
    lines.push(`  ${p} / f32 decode throughput: ${batches.map((B) => `batch ${B} ${((m.get(B) ?? NaN) / (f32.get(B) ?? NaN)).toFixed(2)}x`).join(', ')}`);
  }
  const rf = res.peakRss.get('f32');
  for (const [p, r] of res.peakRss) {
    if (p === 'f32' || !rf || !r) continue;
    lines.push(`  ${p} / f32 peak RSS: ${(r / rf).toFixed(2)} (${gb(r)} vs ${gb(rf)})`);
  }
  return lines;
}

/** Runs this bench script again as `--rss-probe P` and reads the peak RSS it reports. */
function probeRss(o: WeightsBenchOptions, p: WeightPrecision, batch: number): number | null {
  const args = [...process.execArgv, process.argv[1], '--rss-probe', p, '--model', o.model, '--threads', String(o.threads), ...(o.threadSpinning ? ['--spin-threads'] : []), '--batch', String(batch), '--prompt-len', String(o.promptLen), '--new-tokens', String(o.newTokens), ...(o.cacheFolder ? ['--quant-cache', o.cacheFolder] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return (JSON.parse(line) as { peakRss: number }).peakRss;
  } catch {
    return null;
  }
}

/** The child side of probeRss: load at one precision, decode, print {"peakRss": bytes}. */
export async function rssProbeMain(argv: string[]): Promise<void> {
  const get = (k: string, d?: string): string => {
    const i = argv.indexOf(k);
    if (i < 0 || argv[i + 1] === undefined) {
      if (d === undefined) throw new Error(`rss probe: ${k} missing`);
      return d;
    }
    return argv[i + 1];
  };
  const p = get('--rss-probe') as WeightPrecision;
  const batch = Number(get('--batch', '1'));
  const promptLen = Number(get('--prompt-len', '16'));
  const newTokens = Number(get('--new-tokens', '32'));
  const cacheFolder = argv.includes('--quant-cache') ? get('--quant-cache') : undefined;
  const r = await ModelRunner.load(get('--model'), { threads: Number(get('--threads', '2')), threadSpinning: argv.includes('--spin-threads'), weights: p, cacheFolder, memory: { shape: { batch, maxLength: promptLen + newTokens } } });
  const afterLoad = process.memoryUsage().rss;
  await timeDecode(r, Array.from({ length: batch }, () => BASE), promptLen, newTokens);
  await r.dispose();
  console.log(JSON.stringify({ precision: p, peakRss: peakRssOfThisProcess(), rssAfterLoad: afterLoad }));
}

/**
 * VmHWM of /proc/self/status: the peak of this process's own memory map. getrusage's maxRSS is not usable in
 * a child: Linux carries the parent's peak over fork and exec, so a child of a large bench process would
 * report the parent's size.
 */
export function peakRssOfThisProcess(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS * 1024;
}
