/**
 * organism-lab sae-diff RUN.run.jsonl --sae DIR [--sample ID | --feature F] [options]
 * SAE model diffing with the run's own model and adapters (engine/sae): per run, the features the variant
 * turns up or down on identical tokens; per sample and token, the features that changed most; per feature,
 * its top-activating tokens.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from './cliErrors';
import { isPositiveInteger, numberOption, parseCommandLine, printedHelp } from './cliCommon';
import { loadRunModel } from '../engine/jobs/analyzeRun';
import { loadModelSpec } from '../engine/checkpoint/modelSpec';
import { readRun } from '../engine/runs/reader';
import { checkSaeModel, openSaeFolder } from '../engine/sae/saeFolder';
import { SaeKernel } from '../engine/sae/saeKernel';
import { saeRunDiff, saeSampleDiff, saeTopTokens, type SaeFeatureRow, type SaeRunDiff } from '../engine/sae/saeDiff';

export const SAE_DIFF_HELP = `usage: organism-lab sae-diff RUN.run.jsonl --sae DIR [options]

  --sae DIR              SAE folder in the SAELens layout (cfg.json + sae_weights.safetensors); its hook
                         (blocks.L.hook_resid_post / hook_resid_pre) picks the hidden state it reads
  (default)              per run: features whose mean activation over response tokens rises / falls most with
                         the variant, samples carrying them, AUC of misaligned vs aligned samples
  --sample ID            per token of one sample: the features whose activation changed most
  --feature F            a feature's top-activating response tokens across the run (variant rows)
  --variant NAME         the compared variant (default: the run's first adapter variant)
  --reference NAME       the reference variant (default: the run's base variant)
  --top N                features (or tokens with --feature) to list (default 20)
  --allow-model-mismatch use an SAE whose cfg.json model_name names another model
  --model DIR            model folder, when it moved since the run was made
  --tokenizer DIR        tokenizer folder (default: the model folder)
  --threads N            onnxruntime intra-op threads
  --json                 print JSON;  --out FILE.json  write it to a file
Exit codes: 0 ok, 1 failure, 2 usage error.
`;

const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));

export function formatRunDiff(d: SaeRunDiff): string {
  const lines = [
    `SAE ${d.sae.dir} (${d.sae.architecture}, ${d.sae.dSae} features) at ${d.sae.hookMapping}`,
    `"${d.variant}" vs "${d.reference}": ${d.samples} samples, ${d.responseTokens} response tokens; labels: ${d.labels.misaligned} misaligned, ${d.labels.aligned} aligned${d.labels.judge ? ` (judge ${d.labels.judge})` : ''}`,
  ];
  for (const w of d.sae.warnings) lines.push(`warning: ${w}`);
  const table = (title: string, rows: SaeFeatureRow[]) => {
    lines.push('', title, `  ${'feature'.padEnd(9)} ${'mean ref'.padStart(10)} ${'mean var'.padStart(10)} ${'Δ'.padStart(10)} ${'samples ref/var'.padStart(16)} ${'AUC mis'.padStart(8)}`);
    for (const r of rows) lines.push(`  ${String(r.feature).padEnd(9)} ${f(r.meanRef).padStart(10)} ${f(r.meanVar).padStart(10)} ${f(r.delta).padStart(10)} ${`${r.samplesRef}/${r.samplesVar}`.padStart(16)} ${f(r.aucMisaligned).padStart(8)}`);
  };
  table('features the variant turns up (largest rise in mean activation over response tokens)', d.rising);
  table('features the variant turns down', d.falling);
  if (d.skipped.length) lines.push('', `skipped ${d.skipped.length} samples (first: ${d.skipped[0].sampleId}: ${d.skipped[0].reason})`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      sae: { type: 'string' }, sample: { type: 'string' }, feature: { type: 'string' }, variant: { type: 'string' }, reference: { type: 'string' },
      top: { type: 'string' }, 'allow-model-mismatch': { type: 'boolean' }, model: { type: 'string' }, tokenizer: { type: 'string' },
      threads: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  }, SAE_DIFF_HELP);
  if (printedHelp(o, SAE_DIFF_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`expected one run file\n${SAE_DIFF_HELP}`);
  if (!o.sae) throw new UsageError(`--sae DIR is required\n${SAE_DIFF_HELP}`);
  if (o.sample && o.feature !== undefined) throw new UsageError('give at most one of --sample and --feature');
  const top = numberOption(o.top, '--top', 20, isPositiveInteger, 'a positive integer');
  const threads = o.threads === undefined ? undefined : numberOption(o.threads, '--threads', 1, isPositiveInteger, 'a positive integer');
  const feature = o.feature === undefined ? undefined : numberOption(o.feature, '--feature', 0, (n) => Number.isInteger(n) && n >= 0, 'a feature index (integer >= 0)');
  const runPath = positionals[0];
  const run = readRun(runPath);
  const modelDir = o.model ?? run.header.model.path;
  // The SAE is checked against the model's config.json before the model is loaded.
  const modelSpec = loadModelSpec(modelDir);
  const spec = openSaeFolder(o.sae, { hiddenSize: modelSpec.hiddenSize, numLayers: modelSpec.numLayers, dir: modelDir });
  if (!o['allow-model-mismatch']) checkSaeModel(spec, modelDir, 'Pass --allow-model-mismatch');
  const model = await loadRunModel(run, { modelDir: o.model, tokenizerDir: o.tokenizer, threads });
  let kernel: SaeKernel | null = null;
  try {
    kernel = await SaeKernel.create(spec, threads);
    let result: unknown;
    let text: string;
    if (o.sample) {
      const d = await saeSampleDiff(model, run, spec, kernel, o.sample, { reference: o.reference, k: 3 });
      result = d;
      text = `${d.sampleId}: "${d.variant}" vs "${d.reference}" at ${spec.hookMapping}\n` + d.tokens.map((t, i) => `  ${String(i).padStart(4)} ${t.response ? '*' : ' '} ${JSON.stringify(t.text).padEnd(16)} ${t.features.map((x) => `#${x.feature} ${x.ref.toFixed(3)}→${x.var.toFixed(3)}`).join('  ')}`).join('\n') + '\n';
    } else if (feature !== undefined) {
      const tops = await saeTopTokens(model, run, spec, kernel, feature, { variant: o.variant, top });
      result = { feature, tokens: tops };
      text = `feature ${feature}: top-activating response tokens\n` + tops.map((t) => `  ${t.activation.toFixed(4).padStart(10)}  ${JSON.stringify(t.token).padEnd(14)} ${t.sampleId}  …${JSON.stringify(t.context)}`).join('\n') + '\n';
    } else {
      let last = 0;
      const d = await saeRunDiff(model, run, runPath, spec, kernel, {
        variant: o.variant,
        reference: o.reference,
        top,
        onProgress: (done, total) => {
          if (Date.now() - last < 1000 && done < total) return;
          last = Date.now();
          process.stderr.write(`sae-diff: ${done}/${total} samples\n`);
        },
      });
      result = d;
      text = formatRunDiff(d);
    }
    if (o.out) writeFileSync(o.out, JSON.stringify(result, null, 2));
    process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : text);
    return 0;
  } finally {
    await kernel?.dispose();
    await model.dispose();
  }
}
