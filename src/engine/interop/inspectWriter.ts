/**
 * Writing Inspect AI `.eval` logs: a zip holding, as inspect_ai's EvalRecorder writes them,
 *   _journal/start.json          {version, eval, plan}
 *   samples/<id>_epoch_<n>.json  one EvalSample each
 *   _journal/summaries/1.json    the sample summaries (one journal entry)
 *   summaries.json               the same summaries, consolidated
 *   reductions.json              per scorer, the scores reduced over epochs
 *   header.json                  the EvalLog without samples (status, eval, plan, results, stats)
 * Each file is written whole to a temporary name and renamed into place (no half-written log).
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { ZipFile } from 'yazl';
import { readRunContent } from '../judges/runAccess';
import { runToInspectLogs, type InspectExportOptions } from './inspectExportMapping';
import type { InspectLog, InspectSample } from './inspectTypes';

/** An EvalSampleSummary (inspect_ai log/_log.py): what the log viewer lists before it opens a sample. */
export function sampleSummary(s: InspectSample): Record<string, unknown> {
  return {
    id: s.id,
    epoch: s.epoch,
    input: s.input,
    choices: null,
    target: s.target,
    metadata: s.metadata,
    scores: s.scores,
    model_usage: {},
    role_usage: {},
    started_at: null,
    completed_at: s.completed_at ?? null,
    total_time: s.total_time ?? null,
    working_time: s.total_time ?? null,
    uuid: s.uuid ?? null,
    error: null,
    limit: null,
    retries: null,
    completed: true,
    message_count: s.messages.length,
  };
}

/** The zip entries of one log, in the order the recorder writes them. */
export function evalEntries(log: InspectLog): [string, unknown][] {
  const { header } = log;
  const summaries = log.samples.map(sampleSummary);
  return [
    ['_journal/start.json', { version: header.version, eval: header.eval, plan: header.plan }],
    ...log.samples.map((s): [string, unknown] => [`samples/${s.id}_epoch_${s.epoch}.json`, s]),
    ['_journal/summaries/1.json', summaries],
    ['summaries.json', summaries],
    ['reductions.json', log.reductions],
    ['header.json', header],
  ];
}

/** Writes one `.eval` file (atomically: a temporary file renamed into place). */
export async function writeEvalFile(log: InspectLog, outPath: string): Promise<void> {
  const zip = new ZipFile();
  const mtime = new Date(log.header.stats.completed_at || log.header.eval.created);
  for (const [name, value] of evalEntries(log)) zip.addBuffer(Buffer.from(JSON.stringify(value), 'utf8'), name, { mtime: Number.isNaN(mtime.getTime()) ? new Date() : mtime });
  zip.end();
  const tmp = `${outPath}.tmp-${process.pid}`;
  try {
    const out = createWriteStream(tmp);
    zip.outputStream.pipe(out);
    await once(out, 'close');
    renameSync(tmp, outPath);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new Error(`Cannot write the Inspect log ${outPath}: ${(e as Error).message}. Check the folder exists and is writable.`);
  }
}

export interface InspectExportFileResult {
  files: { path: string; variant: string; condition?: string; samples: number }[];
  skipped: number;
  warnings: string[];
}

/** `organism-lab export-inspect RUN --out DIR`: one `.eval` per variant (and condition) of the run, in DIR. */
export async function exportRunToInspect(runPath: string, outDir: string, options: InspectExportOptions = {}): Promise<InspectExportFileResult> {
  const run = await readRunContent(runPath);
  const { logs, skipped } = runToInspectLogs(run, options);
  if (!logs.length) throw new Error(`${runPath}: no finished samples to export (an Inspect log needs at least one).`);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new Error(`Cannot create the output folder ${outDir}: ${(e as Error).message}.`);
  }
  const files: InspectExportFileResult['files'] = [];
  for (const l of logs) {
    const file = path.join(outDir, `${l.name}.eval`);
    await writeEvalFile(l.log, file);
    files.push({ path: file, variant: l.variant, ...(l.condition !== undefined ? { condition: l.condition } : {}), samples: l.log.samples.length });
  }
  const warnings = [...run.warnings];
  if (skipped) warnings.push(`${skipped} unfinished sample(s) (cancelled or error) were left out; resume the run to finish them.`);
  return { files, skipped, warnings };
}
