/**
 * organism-lab judge RUNFILE (--judge FILE.judges.yaml[:NAME] | --openai-model M [--base-url U]) [--concurrency N]
 *
 * Scores every sample of a run file and appends judgement rows as answers arrive. Resumable: run it
 * again to judge only what is missing. Ctrl-C stops cleanly (nothing judged is lost). The API key is
 * read from OPENAI_API_KEY and never printed or written.
 *
 * organism-lab export RUNFILE --format csv|jsonl|comparator --out FILE [--judge ID] [--pair A,B | --variant-a A --variant-b B]
 * (exportMain below).
 */
import * as path from 'node:path';
import { judgeRun } from '../engine/jobs/judgeRun';
import { exportRun } from '../engine/runs/export';
import { EXPORT_FORMATS, isExportFormat } from '../protocol/runExport';
import { loadJudgesFile, selectJudge, type JudgeSpec, type OpenAIJudgeSpec } from '../engine/judges/judgesFile';
import { UsageError } from './cliErrors';
import { isPositiveInteger, numberOption, parseCommandLine, printedHelp } from './cliCommon';
import { WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';

export const JUDGE_HELP = `usage: organism-lab judge RUNFILE (--judge FILE.judges.yaml[:NAME] | --openai-model M) [options]

  --judge FILE[:NAME]     a judges file; NAME picks one of its judges (needed when it holds several).
                          A file of plain {metric: template} entries supplies prompts to --openai-model.
  --openai-model M        judge with model M on an OpenAI-compatible server (key: env OPENAI_API_KEY)
  --base-url U            server base URL (default https://api.openai.com/v1; e.g. http://localhost:8000/v1)
  --concurrency N         requests in flight at once (default 8)
  --variant V             judge only this variant (repeatable)
  --timeout-s S           per-request timeout in seconds (default 60)
A local judge (a judges file's model: entry) loads its model with:
${WEIGHTS_HELP}Run it again to resume: cells already judged by the same judge are skipped.
Exit codes: 0 ok (all judged), 1 failure or some cells left unjudged, 2 usage error, 130 cancelled.
`;

/** Split "FILE:NAME" (the file must end in .yaml/.yml; a Windows drive letter is not a name). */
export function splitJudgeRef(ref: string): { file: string; name?: string } {
  const m = /^(.*\.ya?ml):([^\\/:]+)$/i.exec(ref);
  return m ? { file: m[1], name: m[2] } : { file: ref };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      judge: { type: 'string' },
      'openai-model': { type: 'string' },
      'base-url': { type: 'string' },
      concurrency: { type: 'string' },
      variant: { type: 'string', multiple: true },
      'timeout-s': { type: 'string' },
      ...WEIGHTS_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  }, JUDGE_HELP);
  if (printedHelp(values, JUDGE_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`give exactly one RUNFILE\n${JUDGE_HELP}`);
  const runPath = positionals[0];
  if (!values.judge && !values['openai-model']) throw new UsageError(`pass --judge FILE[:NAME] or --openai-model M\n${JUDGE_HELP}`);
  if (values['base-url'] && !values['openai-model']) throw new UsageError('--base-url goes with --openai-model (a judges file sets base_url itself)');
  const concurrency = numberOption(values.concurrency, '--concurrency', 8, isPositiveInteger, 'a positive integer');
  const timeoutS = numberOption(values['timeout-s'], '--timeout-s', 60, isPositiveInteger, 'a positive integer');

  let spec: JudgeSpec;
  let baseDir = process.cwd();
  if (values['openai-model']) {
    const o: OpenAIJudgeSpec = { type: 'openai', name: values['openai-model'], model: values['openai-model'] };
    if (values['base-url']) o.baseUrl = values['base-url'];
    if (values.judge) {
      const { file, name } = splitJudgeRef(values.judge);
      if (name) throw new UsageError('with --openai-model, --judge names a prompts file (no :NAME)');
      const f = await loadJudgesFile(file);
      if (!f.prompts) throw new UsageError(`${file} defines judges, not bare prompts; use --judge ${file}:NAME without --openai-model`);
      o.prompts = f.prompts;
      if (f.highScore !== undefined) o.highScore = f.highScore;
    }
    spec = o;
  } else {
    const { file, name } = splitJudgeRef(values.judge!);
    spec = selectJudge(await loadJudgesFile(file), name);
    baseDir = path.dirname(path.resolve(file));
  }
  const apiKey = process.env.OPENAI_API_KEY || undefined;
  if (spec.type === 'openai' && !apiKey && (!spec.baseUrl || /api\.openai\.com/.test(spec.baseUrl))) {
    throw new UsageError('OPENAI_API_KEY is not set; export it (local servers such as vLLM or Ollama need --base-url and usually no key)');
  }

  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\ncancelling (press Ctrl-C again to quit at once)…\n');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  let lastPrint = 0;
  try {
    const res = await judgeRun(runPath, spec, {
      concurrency,
      signal: ac.signal,
      secrets: { apiKey },
      variants: values.variant,
      context: { client: { timeoutMs: timeoutS * 1000 }, local: { baseDir, runner: weightsRunnerOptions(values, process.stderr, 'organism-lab judge') } },
      log: (m) => process.stderr.write(`${m}\n`),
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastPrint < 1000 && p.done + p.failed < p.total) return;
        lastPrint = now;
        process.stderr.write(`${p.judge}: ${p.done + p.failed}/${p.total} judged${p.failed ? ` (${p.failed} failed)` : ''}${p.skipped ? `, ${p.skipped} already done` : ''}\n`);
      },
    });
    const summary = `${res.judge}: ${res.judged} judged, ${res.skipped} already done, ${res.failed.length} failed of ${res.total + res.skipped} cells in ${runPath}`;
    process.stdout.write(`${summary}\n`);
    if (res.cancelled) {
      process.stderr.write('cancelled: what was judged is saved; run the same command again to resume.\n');
      return 130;
    }
    if (res.failed.length) {
      process.stderr.write(`${res.failed.length} cells could not be judged (first: ${res.failed[0].sampleId} ${res.failed[0].metric}: ${res.failed[0].message}); run again to retry them.\n`);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export const EXPORT_HELP = `usage: organism-lab export RUNFILE --format csv|jsonl|comparator --out FILE [options]

  --format F        csv: one row per sample (question_id, question, answer, one column per metric, then
                    <metric>_status = scored / none / unjudged for each, variant, condition (runs with
                    prompt conditions), sample columns)
                    jsonl: the same records as JSON lines
                    comparator: LLM Comparator JSON, one comparison: model A against model B (--pair)
  --out FILE        output file (written atomically)
  --judge ID        judge whose metrics get the plain column names (e.g. rule:demo-rules); default: the main judge
  --pair A,B        comparator: the two sides, each a variant or variant~condition, e.g. base,adapter (within
                    each condition), adapter~no_trigger,adapter~trigger (one variant, two conditions); a side
                    without ~condition takes the other side's. Default: the first two variants (a run with one
                    variant: its first two conditions)
  --variant-a A     comparator: side A alone (same syntax as --pair; default: the run's first variant)
  --variant-b B     comparator: side B alone (default: the next variant)
Exit codes: 0 ok, 1 failure, 2 usage error.
`;

/** `organism-lab export` (registered in main.ts as a separate subcommand). */
export async function exportMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      judge: { type: 'string' },
      'variant-a': { type: 'string' },
      'variant-b': { type: 'string' },
      pair: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }, EXPORT_HELP);
  if (printedHelp(values, EXPORT_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`give exactly one RUNFILE\n${EXPORT_HELP}`);
  if (!values.format || !isExportFormat(values.format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}\n${EXPORT_HELP}`);
  if (!values.out) throw new UsageError(`--out FILE is required\n${EXPORT_HELP}`);
  if ((values['variant-a'] || values['variant-b'] || values.pair) && values.format !== 'comparator') throw new UsageError('--pair/--variant-a/--variant-b apply to --format comparator');
  let variantA = values['variant-a'];
  let variantB = values['variant-b'];
  if (values.pair !== undefined) {
    if (variantA !== undefined || variantB !== undefined) throw new UsageError('give either --pair A,B or --variant-a/--variant-b, not both');
    const sides = values.pair.split(',').map((x) => x.trim());
    if (sides.length !== 2 || sides.some((x) => x === '')) throw new UsageError(`--pair takes two sides separated by a comma (A,B; each a variant or variant~condition), got "${values.pair}"`);
    [variantA, variantB] = sides;
  }
  const res = await exportRun(positionals[0], values.format, values.out, { judge: values.judge, variantA, variantB });
  for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`wrote ${res.count} ${res.format === 'comparator' ? 'examples' : 'rows'} to ${res.outPath}\n`);
  return 0;
}
