/**
 * `organism-lab import-inspect LOG… --out RUN.run.jsonl` and the extension's "Compare Two Inspect Logs": read
 * Inspect logs (`.eval` or `.json`) and write them as one run file (through RunWriter, like every run file), so
 * the Compare panel shows them side by side, paired by sample id and epoch.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { RunWriter } from '../runs/writer';
import { readInspectLog } from './inspectReader';
import { inspectLogsToRun, type NamedInspectLog } from './inspectImportMapping';

export interface InspectImportResult {
  out: string;
  variants: string[];
  samples: number;
  judgements: number;
  paired: number;
  unpaired: number;
  warnings: string[];
}

/** Rows per append (one locked write each). */
const APPEND_CHUNK = 500;

/** Where the run goes: a file, or a folder in which a free name is chosen from the variants (importedRunPath). */
export type ImportTarget = { out: string } | { dir: string };

export async function importInspectLogs(files: string[], target: ImportTarget): Promise<InspectImportResult> {
  if ('out' in target) {
    if (!target.out.endsWith('.run.jsonl')) throw new Error(`${target.out}: the run file must end in .run.jsonl (so Organism Lab opens it as a run).`);
    if (existsSync(target.out)) throw new Error(`${target.out} already exists; choose another output file (an import never appends to a run).`);
  }
  const logs: NamedInspectLog[] = [];
  for (const f of files) logs.push({ file: f, log: await readInspectLog(f) });
  const imp = inspectLogsToRun(logs);
  const out = 'out' in target ? target.out : importedRunPath(target.dir, imp.variants);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const w = RunWriter.create(out, imp.header);
  try {
    for (let i = 0; i < imp.rows.length; i += APPEND_CHUNK) w.appendLines(imp.rows.slice(i, i + APPEND_CHUNK));
  } finally {
    w.close();
  }
  return {
    out,
    variants: imp.variants,
    samples: imp.rows.filter((r) => r.type === 'sample').length,
    judgements: imp.rows.filter((r) => r.type === 'judgement').length,
    paired: imp.paired,
    unpaired: imp.unpaired,
    warnings: imp.warnings,
  };
}

/** A free `<stem>.run.jsonl` name in `dir` for the import of these logs (`-2`, `-3`, … when taken). */
export function importedRunPath(dir: string, variants: string[]): string {
  const stem = `inspect-${variants.map((v) => v.replace(/[^A-Za-z0-9_.+-]/g, '_')).join('-vs-')}`.slice(0, 120);
  for (let i = 1; ; i++) {
    const p = path.join(dir, `${stem}${i === 1 ? '' : `-${i}`}.run.jsonl`);
    if (!existsSync(p)) return p;
  }
}
