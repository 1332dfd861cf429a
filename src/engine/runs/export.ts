/**
 * exportRun(runPath, format, outPath): CSV, JSONL or LLM Comparator JSON, written atomically
 * (a temporary file renamed into place, so a failed export never leaves half a file). The formats and the result
 * are defined in src/protocol/runExport.ts (the extension asks the engine host for an export: engine/exportRun).
 */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readRunContent } from '../judges/runAccess';
import { buildComparator, type ComparatorOptions } from './exportComparator';
import { toCsv, toJsonl } from './exportCsv';
import { buildExportTable, type ExportOptions } from './exportRecords';
import { EXPORT_FORMATS, isExportFormat, type ExportFormat, type ExportResult } from '../../protocol/runExport';

export async function exportRun(runPath: string, format: ExportFormat, outPath: string, options: ExportOptions & ComparatorOptions = {}): Promise<ExportResult> {
  if (!isExportFormat(format)) throw new Error(`Unknown export format ${JSON.stringify(format)}; use one of ${EXPORT_FORMATS.join(', ')}.`);
  const run = await readRunContent(runPath);
  let text: string;
  let count: number;
  if (format === 'comparator') {
    const c = buildComparator(run, options);
    text = JSON.stringify(c, null, 1) + '\n';
    count = c.examples.length;
  } else {
    const t = buildExportTable(run, options);
    text = format === 'csv' ? toCsv(t) : toJsonl(t);
    count = t.records.length;
  }
  const tmp = `${outPath}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, 'utf8');
    renameSync(tmp, outPath);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw new Error(`Cannot write the export to ${outPath}: ${(e as Error).message}. Check the folder exists and is writable.`);
  }
  return { outPath, format, count, warnings: run.warnings };
}
