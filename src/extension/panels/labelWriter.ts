/**
 * Appends human `label` rows to a run file through the engine's RunWriter. A run or a judge may be
 * appending to the same file at the same moment, from another process: every append takes the run's
 * lock (engine/runs/lock.ts) for that one write, so the label lands on a line of its own between their
 * rows. The wait for the lock does not block the extension host's event loop. A complete last line
 * without its newline is kept; a torn one (a crashed writer) is moved to `<run>.torn` (RunWriter).
 * No vscode import (unit-tested).
 */
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { RunWriter } from '../../engine/runs/writer';
import type { HumanLabel, LabelRow } from '../../engine/runs/schema';

export interface AppendLabelOptions {
  /** How long a torn last line must stay unchanged before it counts as torn (ms; for programs that take no lock). */
  settleMs?: number;
  /** How long to wait for another writer's lock (ms, default 30 s). */
  lockTimeoutMs?: number;
  annotator?: string;
  note?: string;
  now?: () => Date;
  /** A torn last line set aside before the label was appended. */
  onWarning?: (message: string) => void;
}

export async function appendLabel(path: string, sampleId: string, label: HumanLabel, opts: AppendLabelOptions = {}): Promise<LabelRow> {
  try {
    statSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot open the run file to add a label (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  const row: LabelRow = { type: 'label', sample_id: sampleId, label, created_at: (opts.now?.() ?? new Date()).toISOString() };
  if (opts.annotator) row.annotator = opts.annotator;
  if (opts.note) row.note = opts.note;
  const writer = await RunWriter.openAsync(path, { settleMs: opts.settleMs ?? 1000, timeoutMs: opts.lockTimeoutMs, onWarning: opts.onWarning });
  try {
    if (!writer.existing?.samples.some((s) => s.id === sampleId)) {
      throw new Error(`${path}: there is no sample "${sampleId}" in this run file; the label was not written.`);
    }
    await writer.appendAsync(row);
  } finally {
    writer.close();
  }
  return row;
}

/** Whether the user may write to the file (labels are appended to it, under a lock file created next to it). */
export function isWritable(path: string): boolean {
  try {
    const st = statSync(path);
    if (!st.isFile()) return false;
    closeSync(openSync(path, 'a'));
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
