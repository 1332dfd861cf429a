/**
 * Run-file access for metrics, exports and the judge job, over engine/runs (readRun, RunWriter).
 */
import { readRun } from '../runs/reader';
import type { RunContents } from '../runs/parse';
import type { SampleRow } from '../runs/schema';
import type { RunContent } from './metrics';

export interface ReadRunResult extends RunContent {
  warnings: string[];
}

/** Read a run file (a torn last line and bad rows become warnings; a missing header is an error). */
export async function readRunContent(path: string): Promise<ReadRunResult> {
  return runContentOf(path, readRun(path));
}

/** A parsed run file (engine/runs/reader) as metrics and exports take it: its rows, and its warnings as text. */
export function runContentOf(path: string, c: RunContents): ReadRunResult {
  return { path, header: c.header, samples: c.samples, judgements: c.judgements, labels: c.labels, warnings: c.warnings.map((w) => w.message) };
}

/** The question text of a sample: its last user message. */
export function questionText(s: SampleRow): string {
  for (let i = s.messages.length - 1; i >= 0; i--) if (s.messages[i].role === 'user') return s.messages[i].content;
  return '';
}
