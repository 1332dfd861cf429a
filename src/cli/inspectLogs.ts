/**
 * `organism-lab export-inspect RUN --out DIR`: a run as Inspect AI `.eval` logs (one per variant, and per
 * condition), for `inspect view` and the Inspect VS Code extension.
 * `organism-lab import-inspect LOG… --out RUN.run.jsonl`: Inspect `.eval`/`.json` logs as one run file, paired
 * by sample id and epoch, to open in Compare.
 */
import { exportRunToInspect } from '../engine/interop/inspectWriter';
import { importInspectLogs } from '../engine/interop/inspectImport';
import { UsageError } from './cliErrors';
import { parseCommandLine, printedHelp } from './cliCommon';

export const EXPORT_INSPECT_HELP = `usage: organism-lab export-inspect RUNFILE --out DIR [--judge JUDGE]

Writes one Inspect AI log (DIR/<run>.<variant>[.<condition>].eval) per variant of the run (and per condition
when its prompt set declares conditions). Each judge is an Inspect scorer named by the judge id, its value
{metric: score}; open the folder with \`inspect view --log-dir DIR\` or the Inspect VS Code extension.
  --out DIR       folder for the .eval files (created if missing; files of the same name are replaced)
  --judge JUDGE   judge whose metrics get plain score names in the results (default: as \`export\` picks)
`;

export const IMPORT_INSPECT_HELP = `usage: organism-lab import-inspect LOG [LOG …] --out RUN.run.jsonl

Reads Inspect AI logs (.eval or .json) and writes them as one run file: each log is a variant (named by its
model, or model:task when two logs share a model), samples pair by Inspect sample id and epoch, scores become
judgement rows. Open the run in Compare (Organism Lab: Compare) to see two logs side by side.
  --out FILE      the run file to write (must end in .run.jsonl and not exist yet)
`;

export async function exportInspectMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ args: argv, strict: true, allowPositionals: true, options: { out: { type: 'string' }, judge: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }, EXPORT_INSPECT_HELP);
  if (printedHelp(values, EXPORT_INSPECT_HELP)) return 0;
  if (positionals.length !== 1) throw new UsageError(`give exactly one RUNFILE\n${EXPORT_INSPECT_HELP}`);
  if (!values.out) throw new UsageError(`--out DIR is required\n${EXPORT_INSPECT_HELP}`);
  const r = await exportRunToInspect(positionals[0], values.out, { judge: values.judge });
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  for (const f of r.files) process.stdout.write(`${f.path}\t${f.variant}${f.condition !== undefined ? `\t${f.condition}` : ''}\t${f.samples} samples\n`);
  return 0;
}

export async function importInspectMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ args: argv, strict: true, allowPositionals: true, options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }, IMPORT_INSPECT_HELP);
  if (printedHelp(values, IMPORT_INSPECT_HELP)) return 0;
  if (positionals.length < 1) throw new UsageError(`give one or more Inspect logs\n${IMPORT_INSPECT_HELP}`);
  if (!values.out) throw new UsageError(`--out RUN.run.jsonl is required\n${IMPORT_INSPECT_HELP}`);
  const r = await importInspectLogs(positionals, { out: values.out });
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${r.out}: ${r.samples} samples (${r.variants.join(', ')}), ${r.judgements} judgements; ${r.paired} cells paired, ${r.unpaired} unpaired\n`);
  return 0;
}
