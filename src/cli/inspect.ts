/**
 * organism-lab inspect DIR [--base DIR] [--json]
 * What a model, adapter or training-run folder is: architecture and sizes, adapter config, per layer and
 * module ‖B·A‖, ‖A‖, ‖B‖, NaN/Inf, shape compatibility with a base; for a training run the trajectory
 * (norms vs step, cosine to final, local rotation k = 5/10/15, PCA path).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './cliErrors';
import { parseCommandLine, printedHelp } from './cliCommon';
import { inspectCheckpoint, refusals } from '../engine/backends/inspect';
import type { InspectorReport } from '../engine/analysis/types';
import { readAdapterConfig } from '../engine/analysis/adapterStats';

export const INSPECT_HELP = `usage: organism-lab inspect DIR [--base DIR] [--json] [--out FILE.json]

  DIR          a model folder (config.json + *.safetensors), a PEFT adapter folder, or a training run
               (checkpoint-N/ or checkpoints/checkpoint-N/ adapter folders)
  --base DIR   base model to check an adapter's shapes against (default: the adapter's
               base_model_name_or_path when it is a local folder)
  --json       print the full report as JSON
  --out FILE   also write the full report as JSON to FILE
Exit codes: 0 nothing loading would refuse, 1 problems (listed, each naming the file and field or tensor), 2 usage error.
`;

const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(d));

export function formatInspectorReport(r: InspectorReport): string {
  const out = [`${r.dir}: ${r.kind}`];
  if (r.model) {
    const m = r.model;
    out.push(`  ${m.family}: ${m.numLayers} layers, hidden ${m.hiddenSize}, intermediate ${m.intermediateSize ?? '-'}, ${m.numHeads} heads (${m.numKvHeads} KV, head_dim ${m.headDim}), vocab ${m.vocabSize}, tied embeddings ${m.tieWordEmbeddings ?? '-'}`);
    out.push(`  ${(m.parameters / 1e6).toFixed(2)}M parameters, ${(m.bytes / 1e6).toFixed(1)} MB; dtypes ${Object.entries(m.dtypes).map(([k, v]) => `${k} ${v}`).join(', ')}; NaN ${m.nanCount ?? 'not scanned'}, Inf ${m.infCount ?? 'not scanned'}`);
  }
  if (r.adapter) {
    const a = r.adapter;
    const c = a.config;
    const patterns = [Object.keys(c.rankPattern ?? {}).length ? `rank_pattern=${JSON.stringify(c.rankPattern)}` : '', Object.keys(c.alphaPattern ?? {}).length ? `alpha_pattern=${JSON.stringify(c.alphaPattern)}` : ''].filter(Boolean).join(' ');
    out.push(`  adapter ${a.dir}: r=${c.r} alpha=${c.loraAlpha} rsLoRA=${c.useRslora} scale=${fmt(c.scale)}${patterns ? ` (default; ${patterns}: per-module scales below)` : ''} targets=${JSON.stringify(c.targetModules)} layers=${a.layers.join(',')}; NaN ${a.nanCount}, Inf ${a.infCount}`);
    if (a.compatibility) out.push(`  compatibility with ${a.compatibility.base}: ${a.compatibility.ok ? 'ok' : 'MISMATCH'} — ${a.compatibility.message}`);
    out.push('  layer  module      r   scale      ‖A‖        ‖B‖        ‖BA‖       scale·‖BA‖');
    for (const s of a.modules) out.push(`  ${String(s.layer ?? '-').padEnd(5)}  ${s.module.padEnd(10)}  ${String(s.r).padEnd(2)}  ${fmt(s.scale).padEnd(9)}  ${fmt(s.normA).padEnd(9)}  ${fmt(s.normB).padEnd(9)}  ${fmt(s.normBA).padEnd(9)}  ${fmt(s.normDelta)}`);
  }
  if (r.trajectory) {
    const t = r.trajectory;
    out.push(`  training run: ${t.steps.length} checkpoints in ${t.checkpointsDir}; PCA explained ${fmt(t.pca.explained[0], 3)}, ${fmt(t.pca.explained[1], 3)}`);
    out.push('  step     ‖A‖        ‖B‖        cos A→final  cos B→final  rot k=5   rot k=10  rot k=15');
    t.steps.forEach((s, i) => out.push(`  ${String(s).padEnd(7)}  ${fmt(t.normA[i]).padEnd(9)}  ${fmt(t.normB[i]).padEnd(9)}  ${fmt(t.cosToFinalA[i]).padEnd(11)}  ${fmt(t.cosToFinalB[i]).padEnd(11)}  ${fmt(t.rotation['5'][i], 3).padEnd(8)}  ${fmt(t.rotation['10'][i], 3).padEnd(8)}  ${fmt(t.rotation['15'][i], 3)}`));
  }
  for (const p of r.problems) out.push(`  problem: ${p}`);
  return out.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseCommandLine(
    { args: argv, allowPositionals: true, options: { base: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } },
    INSPECT_HELP,
  );
  if (printedHelp(o, INSPECT_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`expected one folder\n${INSPECT_HELP}`);
  const dir = positionals[0];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir}: not a folder`);
  if (o.base && (!existsSync(o.base) || !statSync(o.base).isDirectory())) throw new UsageError(`--base ${o.base}: not a folder`);
  let base = o.base;
  if (!base && existsSync(path.join(dir, 'adapter_config.json'))) {
    // The adapter's own base_model_name_or_path, when it names a local model folder (relative to the adapter).
    let declared: string | null = null;
    try {
      declared = readAdapterConfig(dir).baseModel;
    } catch {
      // A broken adapter_config.json is reported by inspectCheckpoint below (as a problem naming the field).
    }
    const cand = declared ? path.resolve(dir, declared) : null;
    if (cand && existsSync(path.join(cand, 'config.json'))) base = cand;
  }
  const report = await inspectCheckpoint(dir, { baseModelDir: base });
  if (o.out) writeFileSync(o.out, JSON.stringify(report));
  process.stdout.write(o.json ? JSON.stringify(report, null, 1) + '\n' : formatInspectorReport(report));
  // Exit 1 when the folder holds anything loading would refuse (each problem names the file and field or tensor).
  return report.kind === 'unknown' || refusals(report.problems).length > 0 ? 1 : 0;
}
