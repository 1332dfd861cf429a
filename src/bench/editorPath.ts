/**
 * `npm run bench -- --editor-path` (issue 13, "the editor as fast as the CLI"): the same prompt set on the
 * same organism through the CLI's in-process path (loadLocalJobModel + runPromptSet, as `organism-lab run`)
 * and through the engine host's RPC (a forked engine host driven by EngineHostClient, as the extension's
 * EngineService does: loadModel, loadAdapter, then the runPromptSet job with its progress notifications),
 * without VS Code. The two paths alternate, repeat after repeat; each run writes a fresh run file, and the
 * two files' completions are compared (same seed: the same samples, so the same work).
 */
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { EngineHostClient } from '../extension/engine/client'; // the extension's own RPC client (no vscode import: checked by .dependency-cruiser.cjs)
import { loadLocalJobModel } from '../engine/jobs/localJobModel';
import { runPromptSet } from '../engine/jobs/runPromptSet';
import { parseVariants } from '../engine/jobs/variants';
import { EngineMethods } from '../protocol/engineHost';
import type { SamplingParams } from '../engine/runs/schema';
import { median } from './decodeBench';

export interface EditorPathOptions {
  model: string;
  adapter: string;
  promptSet: string;
  threads: number;
  /** Samples per paraphrase (null: the prompt set's own). */
  samples: number | null;
  maxNewTokens: number;
  batchSize: number;
  repeats: number;
  outDir: string;
  /** The engine host's entry: dist/engineHost.js, or src/engine/host/main.ts with execArgv ['--import', 'tsx']. */
  hostModule: string;
  hostExecArgv: string[];
}

export interface EditorPathResult {
  cliSamplesPerSecond: number[];
  hostSamplesPerSecond: number[];
  samples: number;
  /** The completions of the last CLI and host runs are the same texts. */
  identical: boolean;
}

function completions(file: string): string[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type?: string; id?: string; completion?: string }).filter((r) => r.type === 'sample').map((r) => JSON.stringify([r.id, r.completion])).sort();
}

export async function editorPathBench(o: EditorPathOptions, log: (s: string) => void): Promise<EditorPathResult> {
  mkdirSync(o.outDir, { recursive: true });
  const name = path.basename(path.resolve(o.adapter));
  const variants = parseVariants(`base,${name}`, [name]);
  const sampling: SamplingParams = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: o.maxNewTokens, stop: [] };
  const request = { promptSetPath: path.resolve(o.promptSet), variants, samples: o.samples, sampling, seed: 0, batchSize: o.batchSize };

  let t0 = performance.now();
  const cliModel = await loadLocalJobModel(o.model, [{ name, dir: o.adapter }], { threads: o.threads, runner: { weights: 'f32' } });
  log(`CLI path: model and adapter loaded in-process in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const client = new EngineHostClient({
    hostModule: o.hostModule,
    execArgv: o.hostExecArgv,
    settings: () => ({ executionProvider: 'cpu', threads: o.threads, cacheFolder: '', weights: 'f32', batchSize: o.batchSize }),
    log: (level, m) => {
      if (level === 'error' || level === 'warn') log(`  engine host ${level}: ${m}`);
    },
  });
  const cli: number[] = [];
  const host: number[] = [];
  let samples = 0;
  let identical = false;
  try {
    t0 = performance.now();
    await client.request(EngineMethods.loadModel, { dir: path.resolve(o.model) });
    await client.request(EngineMethods.loadAdapter, { dir: path.resolve(o.adapter), name });
    log(`engine host path: host ${client.pid} started, model and adapter loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const cliOut = path.join(o.outDir, 'cli.run.jsonl');
    const hostOut = path.join(o.outDir, 'host.run.jsonl');
    const runCli = async (): Promise<number> => {
      rmSync(cliOut, { force: true });
      const t = performance.now();
      const s = await runPromptSet(cliModel, { ...request, out: cliOut });
      samples = s.written;
      return s.written / ((performance.now() - t) / 1000);
    };
    const runHost = async (): Promise<number> => {
      rmSync(hostOut, { force: true });
      const t = performance.now();
      const r = await client.job(EngineMethods.runPromptSet, { token: client.newJobToken('bench'), ...request, out: hostOut }, () => undefined);
      return r.written / ((performance.now() - t) / 1000);
    };
    await runCli(); // warm-up of both (first-run allocations, JIT)
    await runHost();
    for (let r = 0; r < o.repeats; r++) {
      // Alternate which goes first: the host's load drifts.
      if (r % 2 === 0) {
        cli.push(await runCli());
        host.push(await runHost());
      } else {
        host.push(await runHost());
        cli.push(await runCli());
      }
      log(`  repeat ${r + 1}: CLI ${cli[r].toFixed(2)} samples/s, engine host ${host[r].toFixed(2)} samples/s (${samples} samples each)`);
    }
    identical = JSON.stringify(completions(cliOut)) === JSON.stringify(completions(hostOut));
  } finally {
    await client.stop();
    await cliModel.dispose();
  }
  return { cliSamplesPerSecond: cli, hostSamplesPerSecond: host, samples, identical };
}

export function formatEditorPath(r: EditorPathResult): string[] {
  const c = median(r.cliSamplesPerSecond);
  const h = median(r.hostSamplesPerSecond);
  return [
    `editor path (engine host RPC) vs CLI (in-process), ${r.samples} samples per run, medians of ${r.cliSamplesPerSecond.length}: CLI ${c.toFixed(2)} samples/s, engine host ${h.toFixed(2)} samples/s -> ratio ${(h / c).toFixed(2)}x ${h >= 0.9 * c ? 'MET' : 'MISSED'} (target >= 0.9x)`,
    `  the two paths wrote ${r.identical ? 'identical' : 'DIFFERENT'} completions (same seed and settings)`,
  ];
}
