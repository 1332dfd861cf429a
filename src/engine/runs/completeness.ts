/**
 * How complete a run file is: the samples it holds against the samples its header planned.
 * Pure (no Node imports): the extension host, the CLI and the webviews share it.
 *
 * A run planned N samples = (question, paraphrase, sample) cells × their conditions × variants; the job records N in
 * `header.extra.planned_samples` when it creates the file. A file written before that field existed gets its
 * count from its prompt set (when the file is unchanged; see resumeCandidates.ts), else the count is unknown.
 * A sample counts as present when its row exists with a finish reason other than cancelled/error (the same rule
 * resume uses: such rows are generated again).
 */
import type { RunCompleteness, RunHeader, SampleRow } from './schema';

export type { RunCompleteness };

/** header.extra.planned_samples, when the job recorded it. */
export function plannedSamples(header: RunHeader): number | null {
  const n = header.extra?.planned_samples;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : null;
}

export function runCompleteness(header: RunHeader, samples: readonly Pick<SampleRow, 'id' | 'variant' | 'finish_reason' | 'condition'>[], expectedFallback: number | null = null): RunCompleteness {
  const variants = new Set(header.variants.map((v) => v.name));
  // Rows of a condition the header does not list are not part of the plan (a row without one is: an opted-out question).
  const conditions = header.conditions ? new Set(header.conditions.map((c) => c.name)) : null;
  const done = new Set<string>();
  for (const s of samples) {
    if (!variants.has(s.variant) || s.finish_reason === 'cancelled' || s.finish_reason === 'error') continue;
    if (s.condition !== undefined && !conditions?.has(s.condition)) continue;
    done.add(s.id);
  }
  const expected = plannedSamples(header) ?? expectedFallback;
  return { present: done.size, expected, incomplete: expected !== null && done.size < expected };
}

/** "incomplete: 72 of 144 samples" / "complete: 144 samples" / "72 samples". */
export function completenessText(c: RunCompleteness): string {
  if (c.expected === null) return `${c.present} samples`;
  return c.incomplete ? `incomplete: ${c.present} of ${c.expected} samples` : `complete: ${c.present} samples`;
}
