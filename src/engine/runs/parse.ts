/**
 * Parsing run files (`*.run.jsonl`) from text. Pure (no Node imports) so webviews can use it too.
 * A torn last line (a crash mid-write) is a warning; other bad lines are warnings with their line number;
 * a missing or broken header is an error (thrown).
 */
import { RUN_SCHEMA_VERSION, type JudgementRow, type LabelRow, type RunHeader, type SampleRow } from './schema';

export interface RunWarning {
  line: number; // 1-based
  kind: 'torn-last-line' | 'bad-json' | 'bad-row' | 'duplicate-sample';
  message: string;
}

export interface RunContents {
  header: RunHeader;
  samples: SampleRow[];
  judgements: JudgementRow[];
  labels: LabelRow[];
  warnings: RunWarning[];
  /** Character length of the complete lines (everything before a torn last line). */
  validLength: number;
}

const SAMPLE_FIELDS: [keyof SampleRow, string][] = [
  ['id', 'string'], ['question_id', 'string'], ['paraphrase_index', 'number'], ['sample_index', 'number'],
  ['variant', 'string'], ['completion', 'string'], ['tokens', 'number'], ['finish_reason', 'string'], ['seed', 'number'],
];

export function parseRunText(text: string, file: string): RunContents {
  const warnings: RunWarning[] = [];
  const endsClean = text.length === 0 || text.endsWith('\n');
  const lines = text.split('\n');
  if (endsClean) lines.pop();
  let validLength = text.length;
  if (!endsClean) {
    const last = lines[lines.length - 1];
    let complete = false;
    try {
      JSON.parse(last);
      complete = true;
    } catch {
      /* torn */
    }
    if (!complete) {
      validLength = text.length - last.length;
      lines.pop();
      if (lines.length > 0) {
        warnings.push({ line: lines.length + 1, kind: 'torn-last-line', message: `${file}:${lines.length + 1}: the last line is incomplete (the writer was interrupted); it is ignored and will be regenerated on resume.` });
      }
    }
  }
  if (lines.length === 0 || lines[0].trim() === '') {
    throw new Error(`${file}: not a run file: the first line must be the run header ({"type":"header", …}); the file is empty or was torn before its header was written. Delete it and run again.`);
  }
  let header: RunHeader;
  try {
    header = JSON.parse(lines[0]) as RunHeader;
  } catch (e) {
    throw new Error(`${file}:1: the run header is not valid JSON (${(e as Error).message}). This is not a run file, or it is damaged.`);
  }
  if (!header || header.type !== 'header') throw new Error(`${file}:1: the first line must be a header row ({"type":"header", …}), got ${JSON.stringify(lines[0].slice(0, 60))}.`);
  if (typeof header.schema_version !== 'number' || header.schema_version > RUN_SCHEMA_VERSION) {
    throw new Error(`${file}:1: run-file schema_version ${header.schema_version} is not supported by this version (which reads up to ${RUN_SCHEMA_VERSION}). Update Organism Lab.`);
  }
  const samples: SampleRow[] = [];
  const judgements: JudgementRow[] = [];
  const labels: LabelRow[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i];
    if (raw.trim() === '') continue;
    let row: { type?: unknown } & Record<string, unknown>;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      warnings.push({ line: lineNo, kind: 'bad-json', message: `${file}:${lineNo}: not valid JSON (${(e as Error).message}); line skipped.` });
      continue;
    }
    const bad = (why: string) => warnings.push({ line: lineNo, kind: 'bad-row', message: `${file}:${lineNo}: ${why}; line skipped.` });
    if (!row || typeof row !== 'object') {
      bad('not a JSON object');
      continue;
    }
    if (row.type === 'sample') {
      const wrong = SAMPLE_FIELDS.find(([k, t]) => typeof row[k] !== t);
      if (wrong) {
        bad(`sample row without a valid "${wrong[0]}" (${wrong[1]})`);
        continue;
      }
      let s = row as unknown as SampleRow;
      const msgs = row.messages as unknown;
      if (!Array.isArray(msgs) || !msgs.every((m) => m !== null && typeof m === 'object' && typeof (m as { role?: unknown }).role === 'string' && typeof (m as { content?: unknown }).content === 'string')) {
        // Keep the completion; the prompt is unknown (every reader may rely on messages being {role, content} strings).
        warnings.push({ line: lineNo, kind: 'bad-row', message: `${file}:${lineNo}: sample "${s.id}" has no valid "messages" (a list of {"role", "content"} strings); it is kept without its prompt.` });
        s = { ...s, messages: [] };
      }
      const prev = seen.get(s.id);
      if (prev !== undefined && (samples[prev].finish_reason === 'cancelled' || samples[prev].finish_reason === 'error')) {
        samples[prev] = s; // a retry completes an unfinished sample
        continue;
      }
      if (prev !== undefined) {
        warnings.push({ line: lineNo, kind: 'duplicate-sample', message: `${file}:${lineNo}: sample "${s.id}" appears again; the first occurrence is kept.` });
        continue;
      }
      seen.set(s.id, samples.length);
      samples.push(s);
    } else if (row.type === 'judgement') {
      if (typeof row.sample_id !== 'string' || typeof row.metric !== 'string' || !(row.score === null || typeof row.score === 'number')) {
        bad('judgement row needs sample_id (string), metric (string) and score (number or null)');
        continue;
      }
      judgements.push(row as unknown as JudgementRow);
    } else if (row.type === 'label') {
      if (typeof row.sample_id !== 'string' || typeof row.label !== 'string') {
        bad('label row needs sample_id and label (strings)');
        continue;
      }
      labels.push(row as unknown as LabelRow);
    } else if (row.type === 'header') {
      bad('a second header row');
    } else {
      bad(`unknown row type ${JSON.stringify(row.type)}`);
    }
  }
  return { header, samples, judgements, labels, warnings, validLength };
}
