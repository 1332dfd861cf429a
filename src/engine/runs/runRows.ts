/**
 * A run file's rows for a reader that follows the file as it grows (Compare, through the engine host's
 * engine/runRows): the whole run on the first read, afterwards only the rows appended since the reader's cursor,
 * or the whole run again when the file was replaced, truncated or a row was rewritten. The cursor carries what is
 * needed to tell (protocol/engineHost.ts RunRowsCursor), so the host keeps no state per reader.
 */
import { createHash, type Hash } from 'node:crypto';
import type { RunRowsCursor, RunRowsResult } from '../../protocol/engineHost';
import type { RunSnapshot } from '../../protocol/compare';
import type { RunFileVersion } from './fileVersion';
import type { RunContents } from './parse';
import type { RunRow } from './schema';


export function toSnapshot(c: RunContents): RunSnapshot {
  return {
    header: c.header,
    samples: c.samples,
    judgements: c.judgements,
    labels: c.labels,
    warnings: c.warnings.map((w) => w.message),
  };
}

function sampleKey(hash: Hash, s: RunContents['samples'][number]): void {
  // A retry may replace a cancelled/errored sample in place (see parse.ts): its finish reason or text changes.
  hash.update(JSON.stringify([s.id, s.finish_reason, s.completion]));
  hash.update('\n');
}

const rowDigest = (row: unknown) => (row === undefined ? '-' : createHash('sha1').update(JSON.stringify(row)).digest('hex'));

/**
 * The digest of the first n samples (with the header), judgements and labels of `c`: `prefix`, for the counts a
 * cursor gives, and `whole`, for all of `c`'s rows (the next cursor). One pass over the samples.
 */
function digests(c: RunContents, n: { samples: number; judgements: number; labels: number } | null): { prefix: string | null; whole: string } {
  const hash = createHash('sha1').update(JSON.stringify(c.header)).update('\n');
  let prefix: string | null = null;
  const tail = (h: Hash, nj: number, nl: number) => `${h.digest('hex')}:${rowDigest(c.judgements[nj - 1])}:${rowDigest(c.labels[nl - 1])}`;
  for (let i = 0; i <= c.samples.length; i++) {
    if (n && i === n.samples) prefix = tail(hash.copy(), n.judgements, n.labels);
    if (i < c.samples.length) sampleKey(hash, c.samples[i]);
  }
  return { prefix, whole: tail(hash, c.judgements.length, c.labels.length) };
}

function cursorOf(c: RunContents, version: RunFileVersion, digest: string): RunRowsCursor {
  return {
    size: version.size,
    mtimeMs: version.mtimeMs,
    ino: version.ino,
    samples: c.samples.length,
    judgements: c.judgements.length,
    labels: c.labels.length,
    digest,
    warnings: c.warnings.map((w) => w.message),
  };
}

/**
 * What a reader at `since` gets from the file version `version` holding `contents`. `expectedSamples` is called for
 * whole loads only. With `wholeOnChange`, any new version is a load.
 */
export function runRowsSince(
  contents: RunContents,
  version: RunFileVersion,
  since: RunRowsCursor | null | undefined,
  options: { wholeOnChange?: boolean; expectedSamples: (c: RunContents) => number | null },
): RunRowsResult {
  const counts = since && since.samples <= contents.samples.length && since.judgements <= contents.judgements.length && since.labels <= contents.labels.length ? since : null;
  const d = digests(contents, counts);
  const cursor = cursorOf(contents, version, d.whole);
  const appendable = since && !options.wholeOnChange && version.size >= since.size && counts !== null && d.prefix === since.digest;
  if (!since || !appendable) {
    return { kind: 'load', snapshot: toSnapshot(contents), expectedSamples: options.expectedSamples(contents), cursor };
  }
  const rows: RunRow[] = [...contents.samples.slice(since.samples), ...contents.judgements.slice(since.judgements), ...contents.labels.slice(since.labels)];
  const seen = new Set(since.warnings);
  // A torn last line while another process is writing is expected and transient: not worth a warning.
  const warnings = contents.warnings.filter((w) => w.kind !== 'torn-last-line' && !seen.has(w.message)).map((w) => w.message);
  if (rows.length === 0 && warnings.length === 0) return { kind: 'unchanged', cursor };
  return { kind: 'append', rows, warnings, cursor };
}
