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

/**
 * Type and range checks of the header fields the tools read (issue 11): a field that is present must have
 * its type (older or hand-made headers may leave fields out; readers default them). A wrong field is an
 * error naming the file and the field, never a JavaScript TypeError later.
 */
export function checkRunHeader(h: Record<string, unknown>, file: string): void {
  const fail = (field: string, what: string, v: unknown): never => {
    const shown = v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 80);
    throw new Error(`${file}:1: run header field "${field}" must be ${what}, got ${shown}; the header is damaged or hand-edited: fix that field or run again into a new file.`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (v: unknown, field: string, what = 'a string') => {
    if (typeof v !== 'string') fail(field, what, v);
  };
  const optStr = (v: unknown, field: string, what = 'a string') => {
    if (v !== undefined) str(v, field, what);
  };
  const finite = (v: unknown, field: string, ok: (n: number) => boolean, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(field, what, v);
  };
  const optObj = (k: string): Record<string, unknown> | undefined => {
    const v = h[k];
    if (v === undefined) return undefined;
    if (!isObj(v)) fail(k, 'an object', v);
    return v as Record<string, unknown>;
  };
  if (!Number.isInteger(h.schema_version) || (h.schema_version as number) < 0) fail('schema_version', 'a non-negative integer', h.schema_version);
  optStr(h.created_at, 'created_at', 'a date string');
  const tool = optObj('tool');
  if (tool) optStr(tool.version, 'tool.version');
  const model = optObj('model');
  if (model) {
    str(model.path, 'model.path', 'a string (the model folder)');
    optStr(model.hash, 'model.hash');
    optStr(model.model_type, 'model.model_type');
  }
  if (h.adapters !== undefined) {
    if (!Array.isArray(h.adapters) || h.adapters.length > 10_000) fail('adapters', 'a list of {name, path, hash}', h.adapters);
    const names = new Set<string>();
    (h.adapters as unknown[]).forEach((a, i) => {
      if (!isObj(a)) fail(`adapters[${i}]`, 'an object {name, path, hash}', a);
      const o = a as Record<string, unknown>;
      str(o.name, `adapters[${i}].name`, 'a non-empty string');
      if ((o.name as string) === '' || names.has(o.name as string)) fail(`adapters[${i}].name`, 'a non-empty name used once', o.name);
      names.add(o.name as string);
      str(o.path, `adapters[${i}].path`, 'a string (the adapter folder)');
      optStr(o.hash, `adapters[${i}].hash`);
    });
  }
  const ps = optObj('prompt_set');
  if (ps) {
    str(ps.path, 'prompt_set.path', 'a string (the prompt-set file)');
    optStr(ps.hash, 'prompt_set.hash');
  }
  if (h.variants !== undefined) {
    if (!Array.isArray(h.variants) || h.variants.length > 10_000) fail('variants', 'a list of variants {name, adapter?, adapter_scale?, steer?, ablate?}', h.variants);
    // An SAE feature's decoder row as the direction (steer-sae: / ablate-sae:); absent for direction files.
    const saeRef = (x: unknown, f: string) => {
      if (x === undefined) return;
      if (!isObj(x)) fail(f, 'an object {feature, hook_name, hash, decoder_norm}', x);
      const r = x as Record<string, unknown>;
      finite(r.feature, `${f}.feature`, (n) => Number.isInteger(n) && n >= 0, 'a feature index (an integer ≥ 0)');
      str(r.hook_name, `${f}.hook_name`);
      str(r.hash, `${f}.hash`);
      finite(r.decoder_norm, `${f}.decoder_norm`, (n) => n > 0, 'a number > 0');
    };
    (h.variants as unknown[]).forEach((v, i) => {
      const f = `variants[${i}]`;
      if (!isObj(v)) fail(f, 'an object {name, …}', v);
      const o = v as Record<string, unknown>;
      str(o.name, `${f}.name`);
      if (o.adapter !== undefined && o.adapter !== null) str(o.adapter, `${f}.adapter`, 'an adapter name or null');
      // Any finite scale/strength the writer accepted stays readable; an overflowing one is caught where outputs are computed.
      if (o.adapter_scale !== undefined) finite(o.adapter_scale, `${f}.adapter_scale`, () => true, 'a finite number');
      if (o.steer !== undefined && o.steer !== null) {
        if (!isObj(o.steer)) fail(`${f}.steer`, 'an object {file, layer, alpha} or null', o.steer);
        const st = o.steer as Record<string, unknown>;
        str(st.file, `${f}.steer.file`);
        finite(st.layer, `${f}.steer.layer`, (n) => Number.isInteger(n) && n >= 0, 'a layer index (an integer ≥ 0)');
        finite(st.alpha, `${f}.steer.alpha`, () => true, 'a finite number');
        saeRef(st.sae, `${f}.steer.sae`);
      }
      if (o.ablate !== undefined && o.ablate !== null) {
        if (!isObj(o.ablate)) fail(`${f}.ablate`, 'an object {file, layers} or null', o.ablate);
        const ab = o.ablate as Record<string, unknown>;
        str(ab.file, `${f}.ablate.file`);
        if (!Array.isArray(ab.layers) || !ab.layers.every((l) => Number.isInteger(l) && l >= 0)) fail(`${f}.ablate.layers`, 'a list of layer indexes', ab.layers);
        saeRef(ab.sae, `${f}.ablate.sae`);
      }
    });
  }
  if (h.conditions !== undefined) {
    if (!Array.isArray(h.conditions) || h.conditions.length > 10_000) fail('conditions', 'a list of conditions {name, user_prefix?, user_suffix?, user_template?, system?, system_append?}', h.conditions);
    const names = new Set<string>();
    (h.conditions as unknown[]).forEach((c, i) => {
      const f = `conditions[${i}]`;
      if (!isObj(c)) fail(f, 'an object {name, …}', c);
      const o = c as Record<string, unknown>;
      str(o.name, `${f}.name`, 'a non-empty string');
      if ((o.name as string) === '' || names.has(o.name as string)) fail(`${f}.name`, 'a non-empty name used once', o.name);
      names.add(o.name as string);
      for (const k of ['user_prefix', 'user_suffix', 'user_template', 'system', 'system_append']) optStr(o[k], `${f}.${k}`);
    });
  }
  const sp = optObj('sampling');
  if (sp) {
    if (sp.temperature !== undefined) finite(sp.temperature, 'sampling.temperature', (n) => n >= 0, 'a number ≥ 0');
    if (sp.top_p !== undefined) finite(sp.top_p, 'sampling.top_p', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
    if (sp.top_k !== undefined) finite(sp.top_k, 'sampling.top_k', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0');
    if (sp.min_p !== undefined) finite(sp.min_p, 'sampling.min_p', (n) => n >= 0 && n <= 1, 'a number in [0, 1]');
    if (sp.max_new_tokens !== undefined) finite(sp.max_new_tokens, 'sampling.max_new_tokens', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
    if (sp.stop !== undefined && !(Array.isArray(sp.stop) && sp.stop.every((x) => typeof x === 'string'))) fail('sampling.stop', 'a list of strings', sp.stop);
  }
  if (h.seed !== undefined) finite(h.seed, 'seed', (n) => Number.isSafeInteger(n), 'an integer');
  if (h.backend !== undefined) {
    const b = optObj('backend')!;
    if (b.kind !== 'local' && b.kind !== 'openai') fail('backend.kind', '"local" or "openai"', b.kind);
  }
  if (h.extra !== undefined) optObj('extra');
}

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
  checkRunHeader(header as unknown as Record<string, unknown>, file);
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
      if (row.condition !== undefined && (typeof row.condition !== 'string' || row.condition === '')) {
        bad('sample row with a "condition" that is not a non-empty string');
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
