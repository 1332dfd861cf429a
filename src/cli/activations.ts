/**
 * organism-lab activations RUN.run.jsonl [--sample ID | --curve] [--reference VARIANT] [--variant VARIANT]
 *                            [--model DIR] [--tokenizer DIR] [--batch-size N] [--json] [--out FILE.json]
 * Teacher-forced diffs with the run's own model and adapters: one sample (per layer and token ‖Δh‖,
 * relative norm, cosine, per-token KL and changed tokens) or the run-level per-layer curve per variant.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from './cliErrors';
import { parseCommandLine, printedHelp } from './cliCommon';
import { runWeights, WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';
import { analyzeSample, loadRunModel, runLayerCurve } from '../engine/jobs/analyzeRun';
import { readRun } from '../engine/runs/reader';
import type { RunLayerCurve, SampleActivations } from '../engine/analysis/types';

export const ACTIVATIONS_HELP = `usage: organism-lab activations RUN.run.jsonl (--sample ID | --curve) [options]

  --sample ID          one sample (its id in the run file): per layer and token ‖Δh‖, relative, cosine; per-token KL
  --curve              every sample: per variant and layer, the mean relative difference over response tokens
  --reference NAME     the variant compared against (default: the run's base variant)
  --variant NAME       with --sample: the variant to compare (default: the sample's own)
  --variants A,B       with --curve: only these variants
  --model DIR          model folder, when it moved since the run was made (default: from the run header)
  --tokenizer DIR      tokenizer folder (default: the model folder)
  --batch-size N       pairs per forward batch (default 8)
  --top-k K            changed tokens per position (default 5)
  --threads N          onnxruntime intra-op threads
${WEIGHTS_HELP.replace('(default: f32', '(default: the run\'s recorded precision, else auto: f32')}  --json               print JSON
  --out FILE.json      write the JSON result to a file
`;

const f = (x: number | null) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));

export function formatCurve(c: RunLayerCurve): string {
  const lines = [`mean relative ‖Δh‖/‖h‖ over response tokens vs "${c.reference}" (${(c.elapsedMs / 1000).toFixed(1)} s)`];
  lines.push(['hidden state'.padEnd(22), ...c.variants.map((v) => v.variant.slice(0, 24).padEnd(24))].join(' '));
  c.layerLabels.forEach((lab, l) => lines.push([lab.padEnd(22), ...c.variants.map((v) => f(v.meanRel[l]).padEnd(24))].join(' ')));
  lines.push(['mean KL'.padEnd(22), ...c.variants.map((v) => f(v.meanKl).padEnd(24))].join(' '));
  lines.push(['samples / tokens'.padEnd(22), ...c.variants.map((v) => `${v.samples} / ${v.responseTokens}`.padEnd(24))].join(' '));
  if (c.skipped.length) lines.push(`skipped ${c.skipped.length} samples (first: ${c.skipped[0].sampleId}: ${c.skipped[0].reason})`);
  return lines.join('\n') + '\n';
}

export function formatSample(s: SampleActivations): string {
  const lines = [`${s.sampleId}: "${s.variant}" vs "${s.reference}", ${s.tokens.length} tokens (response from ${s.responseStart})`];
  lines.push('mean relative difference over response tokens per hidden state:');
  s.layerLabels.forEach((lab, l) => lines.push(`  ${lab.padEnd(22)} ${f(s.meanRelResponse[l])}`));
  lines.push('response tokens: KL(variant‖reference) of the next-token distribution, relative ‖Δh‖ at the last hidden state, top change');
  const last = s.relNorm.length - 1;
  for (let t = s.responseStart; t < s.tokens.length; t++) {
    const top = s.topChanges[t]?.[0];
    lines.push(`  ${String(t).padStart(4)} ${JSON.stringify(s.tokens[t].text).padEnd(16)} KL ${f(s.kl[t])}  rel ${f(s.relNorm[last][t])}${top ? `  ${JSON.stringify(top.text)} ${top.pRef.toFixed(3)}→${top.pVariant.toFixed(3)}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      sample: { type: 'string' }, curve: { type: 'boolean' }, reference: { type: 'string' }, variant: { type: 'string' }, variants: { type: 'string' },
      model: { type: 'string' }, tokenizer: { type: 'string' }, 'batch-size': { type: 'string' }, 'top-k': { type: 'string' }, threads: { type: 'string' },
      json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...WEIGHTS_OPTIONS,
    },
  }, ACTIVATIONS_HELP);
  if (printedHelp(o, ACTIVATIONS_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`expected one run file\n${ACTIVATIONS_HELP}`);
  if (!o.sample === !o.curve) throw new UsageError(`give exactly one of --sample ID and --curve\n${ACTIVATIONS_HELP}`);
  const posInt = (v: string | undefined, flag: string, d: number) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer, got "${v}"`);
    return n;
  };
  const batchSize = Math.max(1, posInt(o['batch-size'], '--batch-size', 8));
  const topK = posInt(o['top-k'], '--top-k', 5);
  const threads = o.threads === undefined ? undefined : posInt(o.threads, '--threads', 0);
  const runPath = positionals[0];
  const run = readRun(runPath);
  if (o.sample && !run.samples.some((s) => s.id === o.sample)) throw new UsageError(`${runPath}: no sample "${o.sample}" (ids look like ${run.samples[0]?.id ?? 'question#0#0@base'})`);
  const runner = weightsRunnerOptions(o, process.stderr, 'organism-lab activations', { fallback: runWeights(run.header), batch: batchSize });
  const model = await loadRunModel(run, { modelDir: o.model, tokenizerDir: o.tokenizer, threads, runner });
  try {
    const result = o.sample
      ? await analyzeSample(model, run, runPath, o.sample, { reference: o.reference, variant: o.variant, topK })
      : await runLayerCurve(model, run, runPath, {
          reference: o.reference, batchSize,
          variants: o.variants ? o.variants.split(',').map((x) => x.trim()).filter(Boolean) : undefined,
          onProgress: (d, t) => process.stderr.write(`\ractivations: ${d}/${t} samples`),
        });
    if (o.curve) process.stderr.write('\n');
    if (o.out) writeFileSync(o.out, JSON.stringify(result));
    process.stdout.write(o.json ? JSON.stringify(result) + '\n' : o.sample ? formatSample(result as SampleActivations) : formatCurve(result as RunLayerCurve));
  } finally {
    await model.dispose();
  }
  return 0;
}
