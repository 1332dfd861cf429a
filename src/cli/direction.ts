/**
 * organism-lab direction RUN.run.jsonl --out DIR.safetensors [--variant NAME] [--judge ID] [--labels judge|human|both]
 *                       [--test-fraction F] [--seed S] [--model DIR] [--json]
 * Per layer, mean response-token activation of misaligned minus aligned samples inside the adapted model
 * (aligned subsampled to the misaligned count), AUC on held-out samples, saved with metadata.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from './cliErrors';
import { isNonNegativeInteger, isPositiveInteger, numberOption as num, parseCommandLine, printedHelp } from './cliCommon';
import { runWeights, WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';
import { loadRunModel, runDirection } from '../engine/jobs/analyzeRun';
import { DEFAULT_LABEL_RULE } from '../engine/analysis/directions';
import { readRun } from '../engine/runs/reader';
import type { DirectionReport } from '../engine/analysis/types';

export const DIRECTION_HELP = `usage: organism-lab direction RUN.run.jsonl --out FILE.safetensors [options]

  --variant NAME        variant whose samples and model are used (default: the first adapter variant)
  --labels SRC          judge, human or both (default both: human labels override the judge's)
  --judge ID            judge id in the run (default: the first judge with aligned and coherent scores)
  --misaligned-max A    misaligned: aligned ≤ A (default ${DEFAULT_LABEL_RULE.misalignedAtMost}) and coherent > C
  --aligned-min A       aligned: aligned > A (default ${DEFAULT_LABEL_RULE.alignedAbove}) and coherent > C
  --coherent-min C      default ${DEFAULT_LABEL_RULE.coherentAbove}
  --test-fraction F     share of each label held out for the AUC (default 0.3)
  --seed S              subsampling and split seed (default 0)
  --model DIR           model folder, when it moved since the run was made
  --tokenizer DIR       tokenizer folder (default: the model folder)
  --batch-size N        samples per forward batch (default 8)
${WEIGHTS_HELP}  --report FILE.json    write the full report (projections, histograms) as JSON
  --json                print the report as JSON
The file holds one tensor per decoder layer ("layer.L", [hidden]); use it as a run variant:
  organism-lab run … --variants base,adapter,steer:FILE@L*ALPHA,adapter+ablate:FILE@L1,L2,adapter+meanablate:FILE@L
(ablate: sets the projection on the direction to 0; meanablate: to the aligned samples' mean level.)
When the variant has an adapter with LoRA on down_proj / o_proj, the direction at that layer is compared with
the adapter's write directions (columns of lora_B): rank 1 signed cosine, rank > 1 fraction of v in span(B);
printed after the AUC table, in --json / --report as adapterAlignment, in the file as adapter_alignment metadata.
`;

export function formatDirection(r: DirectionReport): string {
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(3));
  const lines = [
    `direction inside "${r.variant}" from ${r.labelSource}: train ${r.trainCounts.misaligned} misaligned vs ${r.trainCounts.aligned} aligned (of ${r.trainCounts.alignedAvailable}); held out ${r.testCounts.misaligned} misaligned, ${r.testCounts.aligned} aligned`,
    'layer  ‖v‖        AUC train  AUC held-out',
    ...r.layers.map((l) => `${String(l).padEnd(5)}  ${r.norms[l].toFixed(4).padEnd(9)}  ${f(r.aucTrain[l]).padEnd(9)}  ${f(r.aucTest[l])}`),
    `best layer ${r.bestLayer}${r.out ? `; written to ${r.out}` : ''}`,
  ];
  const al = r.adapterAlignment;
  if (al !== undefined) {
    lines.push('', `alignment with the adapter's write directions (LoRA B of down_proj / o_proj vs the direction at that layer's output)`);
    if (al.length === 0) lines.push(`  none: the adapter has no LoRA on down_proj or o_proj`);
    else {
      lines.push('adapter               layer  module     rank  ‖v‖        alignment                     chance √(r/H)');
      for (const a of al) {
        const value = a.cosine === null ? '- (zero vector)' : a.signed ? `cos ${a.cosine >= 0 ? '+' : ''}${a.cosine.toFixed(3)}` : `${a.cosine.toFixed(3)} of ‖v‖ in span(B)`;
        lines.push(`${a.adapter.padEnd(20)}  ${String(a.layer).padEnd(5)}  ${a.module.padEnd(9)}  ${String(a.rank).padEnd(4)}  ${a.directionNorm.toFixed(4).padEnd(9)}  ${value.padEnd(28)}  ${a.chance.toFixed(3)}`);
      }
      lines.push('(rank 1: signed cosine, its sign is arbitrary; rank > 1: ‖P_B v‖/‖v‖ in [0, 1]; chance: the RMS value for a random direction)');
    }
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' }, variant: { type: 'string' }, labels: { type: 'string' }, judge: { type: 'string' },
      'misaligned-max': { type: 'string' }, 'aligned-min': { type: 'string' }, 'coherent-min': { type: 'string' },
      'test-fraction': { type: 'string' }, seed: { type: 'string' }, model: { type: 'string' }, tokenizer: { type: 'string' }, 'batch-size': { type: 'string' },
      threads: { type: 'string' }, report: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      ...WEIGHTS_OPTIONS,
    },
  }, DIRECTION_HELP);
  if (printedHelp(o, DIRECTION_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`expected one run file\n${DIRECTION_HELP}`);
  if (!o.out || !o.out.endsWith('.safetensors')) throw new UsageError('--out FILE.safetensors is required');
  const source = o.labels ?? 'both';
  if (source !== 'judge' && source !== 'human' && source !== 'both') throw new UsageError(`--labels must be judge, human or both, got "${source}"`);
  const rule = {
    misalignedAtMost: num(o['misaligned-max'], '--misaligned-max', DEFAULT_LABEL_RULE.misalignedAtMost, () => true, 'a number'),
    alignedAbove: num(o['aligned-min'], '--aligned-min', DEFAULT_LABEL_RULE.alignedAbove, () => true, 'a number'),
    coherentAbove: num(o['coherent-min'], '--coherent-min', DEFAULT_LABEL_RULE.coherentAbove, () => true, 'a number'),
  };
  const testFraction = num(o['test-fraction'], '--test-fraction', 0.3, (n) => n >= 0 && n < 1, 'a number in [0, 1)');
  const seed = num(o.seed, '--seed', 0, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer');
  const batchSize = num(o['batch-size'], '--batch-size', 8, isPositiveInteger, 'a positive integer');
  const threads = o.threads === undefined ? undefined : num(o.threads, '--threads', 0, isNonNegativeInteger, 'an integer ≥ 0');
  const runPath = positionals[0];
  const run = readRun(runPath);
  const runner = weightsRunnerOptions(o, process.stderr, 'organism-lab direction', { fallback: runWeights(run.header), batch: batchSize });
  const model = await loadRunModel(run, { modelDir: o.model, tokenizerDir: o.tokenizer, threads, runner });
  try {
    const r = await runDirection(model, run, runPath, {
      variant: o.variant, labels: { source, judge: o.judge, rule }, testFraction, seed, out: o.out, batchSize,
      onProgress: (d, t) => process.stderr.write(`\rdirection: ${d}/${t} samples`),
    });
    process.stderr.write('\n');
    if (o.report) writeFileSync(o.report, JSON.stringify(r));
    process.stdout.write(o.json ? JSON.stringify(r) + '\n' : formatDirection(r));
  } finally {
    await model.dispose();
  }
  return 0;
}
