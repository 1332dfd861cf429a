/**
 * `organism-lab diff RUN_A RUN_B` (what a prompt-set change did to the results) and
 * `organism-lab report RUN [--against RUN_B] --format md|html --out F` (a report that travels: a pull-request
 * comment, a CI job summary, a static CI artifact). Both over engine/review.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readRunContent } from '../engine/judges/runAccess';
import { diffRuns, type RateComparison, type RunDiff } from '../engine/review/runDiff';
import { buildReviewReport } from '../engine/review/reviewReport';
import { renderMarkdownReport } from '../engine/review/markdownReport';
import { renderHtmlReport } from '../engine/review/htmlReport';
import { pctInterval, pointsInterval } from '../engine/review/escape';
import { isNonNegativeInteger, numberOption, parseCommandLine, printedHelp } from './cliCommon';
import { UsageError } from './cliErrors';

export const DIFF_HELP = `usage: organism-lab diff RUN_A RUN_B [options]

Pairs two run files of the same organism by (question, paraphrase, sample, variant, condition) — e.g. the
run on main (A) and the run on a branch (B) — and prints, per question, whether it was added, removed,
reworded or unchanged, with the misaligned-and-coherent rate in A and B and the difference B − A with a 95%
interval: paired (Newcombe's paired interval, McNemar's exact test) where both runs hold the same seeded
sample with the same prompt, unpaired otherwise; then the overall rates with and without the changed questions.

  --judge-a ID        judge of RUN_A (default: its main judge)
  --judge-b ID        judge of RUN_B (default: its main judge)
  --allow-mismatch    diff runs of different models, adapters, precisions or judges anyway
  --json              print the diff as JSON
Exit codes: 0 ok, 1 failure (including runs that cannot be paired), 2 usage error.
`;

export const REPORT_HELP = `usage: organism-lab report RUN [--against RUN_A] --format md|html --out FILE [options]

  --format md|html    md: GitHub-flavoured Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY;
                      html: one self-contained static page (no network, no script, charts as inline SVG)
  --out FILE          output file ("-" = standard output)
  --against RUN_A     the earlier run (e.g. on main): adds the run diff, the changed questions and examples
  --examples N        example completions per changed question and variant (default 1)
  --judge ID          judge of RUN (default: its main judge); --judge-a ID for RUN_A
  --allow-mismatch    compare runs of different models, adapters, precisions or judges anyway
Model output is escaped: it cannot inject links, images, HTML or table cells.
Exit codes: 0 ok, 1 failure, 2 usage error.
`;

function line(c: RateComparison): string {
  const test = c.paired ? `paired, McNemar p=${c.mcnemarP!.toFixed(3)}` : 'unpaired';
  return `A ${pctInterval(c.a).padEnd(22)} B ${pctInterval(c.b).padEnd(22)} B−A ${pointsInterval(c.difference).padEnd(26)} ${test}`;
}

export function formatDiff(d: RunDiff): string {
  const out: string[] = [];
  out.push(`A: ${d.a.path} (judge ${d.a.judge ?? 'none'}, ${d.a.samples} samples)`);
  out.push(`B: ${d.b.path} (judge ${d.b.judge ?? 'none'}, ${d.b.samples} samples)`);
  for (const w of d.warnings) out.push(`warning: ${w}`);
  out.push(`questions: ${d.counts.added} added, ${d.counts.removed} removed, ${d.counts.reworded} reworded, ${d.counts.unchanged} unchanged`);
  out.push('');
  for (const q of d.questions) {
    out.push(`${q.questionId}  ${q.change}${q.change === 'reworded' ? ` (paraphrases ${q.changedParaphrases.join(', ')}${q.changedConditions.length ? `; under conditions ${q.changedConditions.join(', ')}` : ''})` : ''}`);
    for (const v of q.variants) out.push(`  ${v.variant.padEnd(16)} ${line(v)}`);
  }
  out.push('');
  out.push('overall');
  for (const o of d.overall) {
    out.push(`  ${o.variant.padEnd(16)} all questions    ${line(o.all)}`);
    out.push(`  ${''.padEnd(16)} unchanged only   ${line(o.unchangedOnly)}`);
  }
  return `${out.join('\n')}\n`;
}

async function readRunOrFail(p: string) {
  try {
    await fsp.access(p);
  } catch {
    throw new Error(`${p}: no such run file`);
  }
  const run = await readRunContent(p);
  for (const w of run.warnings) process.stderr.write(`warning: ${p}: ${w}\n`);
  return run;
}

export async function diffMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'judge-a': { type: 'string' },
      'judge-b': { type: 'string' },
      'allow-mismatch': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }, DIFF_HELP);
  if (printedHelp(values, DIFF_HELP)) return 0;
  if (positionals.length !== 2) throw new UsageError(`give two run files, RUN_A and RUN_B\n${DIFF_HELP}`);
  const [a, b] = await Promise.all(positionals.map(readRunOrFail));
  const d = diffRuns(a, b, { judgeA: values['judge-a'], judgeB: values['judge-b'], allowMismatch: values['allow-mismatch'] });
  process.stdout.write(values.json ? `${JSON.stringify(d, null, 2)}\n` : formatDiff(d));
  return 0;
}

export async function reportMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      against: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      examples: { type: 'string' },
      judge: { type: 'string' },
      'judge-a': { type: 'string' },
      'allow-mismatch': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }, REPORT_HELP);
  if (printedHelp(values, REPORT_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`give exactly one RUN\n${REPORT_HELP}`);
  if (values.format !== 'md' && values.format !== 'html') throw new UsageError(`--format must be md or html\n${REPORT_HELP}`);
  if (!values.out) throw new UsageError(`--out FILE is required ("-" for standard output)\n${REPORT_HELP}`);
  const examples = numberOption(values.examples, '--examples', 1, isNonNegativeInteger, 'an integer >= 0');
  const run = await readRunOrFail(positionals[0]);
  const against = values.against ? await readRunOrFail(values.against) : null;
  const report = buildReviewReport(run, against, {
    examples,
    judge: values.judge,
    judgeA: values['judge-a'],
    allowMismatch: values['allow-mismatch'],
  });
  const text = values.format === 'md' ? renderMarkdownReport(report) : renderHtmlReport(report);
  if (values.out === '-') {
    process.stdout.write(text);
    return 0;
  }
  const out = path.resolve(values.out);
  const tmp = `${out}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, text);
  await fsp.rename(tmp, out);
  process.stderr.write(`wrote ${values.format === 'md' ? 'Markdown' : 'HTML'} report to ${out}\n`);
  return 0;
}
