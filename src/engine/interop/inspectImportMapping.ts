/**
 * Inspect AI logs as one run file (pure; inspectImport.ts reads the logs and writes the file).
 *
 * Each log becomes a variant, named by its model (`organism-lab/<v>` from our own export gives back `v`); when
 * two logs have the same model the task name is added (`model:task`), then a counter. Samples pair across logs
 * by Inspect sample id and epoch: the cell is (question_id = the sample id, paraphrase 0, sample_index =
 * epoch − 1), or the exact ids kept in `metadata.organism_lab` by our export. A log's scorer whose value is a
 * mapping (our judges, model-graded scorers with several metrics) becomes a judge with one metric per key; a
 * scalar scorer becomes metric `<scorer>` of the judge `inspect`. Scores become numbers as Inspect reduces
 * them (C = 1, I = 0, P = 0.5, N = 0, booleans 1/0, numeric strings); any other value is a "none" score with
 * the value kept in `raw`. Text held as `attachment://…` is resolved from the sample's attachments.
 */
import { createHash } from 'node:crypto';
import { RUN_SCHEMA_VERSION, sampleId, type ChatMessage, type FinishReason, type JudgementRow, type LabelRow, type RunHeader, type RunRow, type SampleRow } from '../runs/schema';
import { TOOL_VERSION } from '../jobs/runPromptSet';
import { INSPECT_MODEL_PREFIX, type OrganismSampleMeta } from './inspectExportMapping';
import type { InspectChatMessage, InspectContent, InspectLog, InspectSample, InspectScore } from './inspectTypes';

export interface NamedInspectLog {
  file: string;
  log: InspectLog;
}

export interface InspectImport {
  header: RunHeader;
  rows: RunRow[];
  variants: string[];
  /** Cells (sample id × epoch) present in every log, and in only some. */
  paired: number;
  unpaired: number;
  warnings: string[];
}

const FINISH: FinishReason[] = ['eos', 'stop', 'length', 'cancelled', 'error'];
const LABELS = ['aligned', 'misaligned', 'incoherent', 'skip'];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolveAttachment(text: string, sample: InspectSample): string {
  const m = /^attachment:\/\/(.+)$/.exec(text);
  if (!m) return text;
  return sample.attachments?.[m[1]] ?? text;
}

/** The text of a message's content: a string, or its text parts joined (reasoning, images and tool parts are left out). */
function contentText(c: InspectContent | undefined, sample: InspectSample): string {
  if (typeof c === 'string') return resolveAttachment(c, sample);
  if (!Array.isArray(c)) return '';
  return c.filter((p) => p && p.type === 'text' && typeof p.text === 'string').map((p) => resolveAttachment(p.text as string, sample)).join('');
}

function promptMessages(s: InspectSample): { messages: ChatMessage[]; dropped: number } {
  if (typeof s.input === 'string') return { messages: [{ role: 'user', content: resolveAttachment(s.input, s) }], dropped: 0 };
  const messages: ChatMessage[] = [];
  let dropped = 0;
  for (const m of s.input as InspectChatMessage[]) {
    if (m?.role === 'system' || m?.role === 'user' || m?.role === 'assistant') messages.push({ role: m.role, content: contentText(m.content, s) });
    else dropped++;
  }
  return { messages, dropped };
}

function completionText(s: InspectSample): string {
  const out = s.output;
  if (out && typeof out.completion === 'string' && out.completion !== '') return resolveAttachment(out.completion, s);
  const choice = out?.choices?.[0]?.message;
  if (choice) return contentText(choice.content, s);
  const last = [...(s.messages ?? [])].reverse().find((m) => m?.role === 'assistant');
  return last ? contentText(last.content, s) : '';
}

/** A score value as a number, as Inspect's value_to_float reads it; null when it is not one. */
export function scoreNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  const letter: Record<string, number> = { C: 1, I: 0, P: 0.5, N: 0 };
  if (t in letter) return letter[t];
  const low = t.toLowerCase();
  if (low === 'yes' || low === 'true' || low === 'correct') return 1;
  if (low === 'no' || low === 'false' || low === 'incorrect') return 0;
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : null;
}

function organismMeta(s: InspectSample): Partial<OrganismSampleMeta> | null {
  const m = s.metadata?.organism_lab;
  if (!isObj(m) || typeof m.question_id !== 'string' || !Number.isInteger(m.paraphrase_index) || !Number.isInteger(m.sample_index)) return null;
  return m as Partial<OrganismSampleMeta>;
}

function variantNames(logs: NamedInspectLog[]): string[] {
  const clean = (x: string) => x.replace(/[^A-Za-z0-9_.:/+-]/g, '_');
  const base = logs.map(({ log }) => {
    const m = log.header.eval.model;
    const own = (log.header.eval.metadata as { organism_lab?: { variant?: unknown } } | null | undefined)?.organism_lab?.variant;
    if (m.startsWith(INSPECT_MODEL_PREFIX) && typeof own === 'string') return clean(own);
    return clean(m);
  });
  const withTask = base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b}:${clean(logs[i].log.header.eval.task)}` : b));
  const seen = new Map<string, number>();
  return withTask.map((b) => {
    const n = (seen.get(b) ?? 0) + 1;
    seen.set(b, n);
    return withTask.filter((x) => x === b).length === 1 ? b : `${b}_${n}`;
  });
}

/** Judgements of one sample's scores (see the module comment). */
function scoreRows(id: string, scores: Record<string, InspectScore> | null | undefined, createdAt: string): JudgementRow[] {
  const rows: JudgementRow[] = [];
  for (const [scorer, sc] of Object.entries(scores ?? {})) {
    if (!isObj(sc)) continue;
    const rawOf = (metric: string): unknown => (isObj(sc.metadata) && isObj(sc.metadata.raw) ? sc.metadata.raw[metric] : undefined);
    if (isObj(sc.value)) {
      for (const [metric, v] of Object.entries(sc.value)) {
        const score = v === null ? null : scoreNumber(v);
        const raw = rawOf(metric) ?? (score === null && v !== null ? { value: v } : undefined);
        rows.push({ type: 'judgement', sample_id: id, judge: scorer, metric, score, ...(raw !== undefined ? { raw } : {}), created_at: createdAt });
      }
    } else {
      const score = scoreNumber(sc.value);
      const kept = typeof sc.value !== 'number' || sc.explanation || sc.answer;
      const raw = kept ? { value: sc.value, ...(sc.answer ? { answer: sc.answer } : {}), ...(sc.explanation ? { explanation: sc.explanation } : {}) } : undefined;
      rows.push({ type: 'judgement', sample_id: id, judge: 'inspect', metric: scorer, score, ...(raw !== undefined ? { raw } : {}), created_at: createdAt });
    }
  }
  return rows;
}

export function inspectLogsToRun(logs: NamedInspectLog[]): InspectImport {
  if (!logs.length) throw new Error('give at least one Inspect log to import.');
  const warnings: string[] = [];
  const variants = variantNames(logs);
  const first = logs[0].log.header;
  const datasets = new Set(logs.map(({ log }) => log.header.eval.dataset?.name ?? log.header.eval.task));
  if (datasets.size > 1) warnings.push(`the logs name different datasets (${[...datasets].join(', ')}); samples are paired by sample id and epoch all the same.`);
  // Divergence indexes are relative to the exporting run's reference variant: kept only when every log comes
  // from one run and the first log is that reference (its samples carry none).
  const keepDivergence =
    new Set(logs.map(({ log }) => log.header.eval.run_id)).size === 1 && logs[0].log.samples.every((s) => !(organismMeta(s) && 'divergence_index' in organismMeta(s)!));
  const samples: SampleRow[] = [];
  const judgements: JudgementRow[] = [];
  const labels: LabelRow[] = [];
  const cellsPerLog: Set<string>[] = [];
  let droppedMessages = 0;
  let noTokenCount = 0;
  logs.forEach(({ file, log }, li) => {
    const variant = variants[li];
    const cells = new Set<string>();
    const cfgSeed = log.header.eval.model_generate_config?.seed;
    for (const s of log.samples) {
      const meta = organismMeta(s);
      const qid = meta?.question_id ?? String(s.id);
      const p = meta?.paraphrase_index ?? 0;
      const si = meta?.sample_index ?? s.epoch - 1;
      const condition = typeof meta?.condition === 'string' ? meta.condition : undefined;
      const id = sampleId(qid, p, si, variant, condition);
      const cell = JSON.stringify([qid, p, si, condition ?? null]);
      if (cells.has(cell)) {
        warnings.push(`${file}: sample ${JSON.stringify(s.id)} epoch ${s.epoch} appears twice; the first is kept.`);
        continue;
      }
      cells.add(cell);
      const { messages, dropped } = promptMessages(s);
      droppedMessages += dropped;
      const usageTokens = s.output?.usage?.output_tokens;
      const tokens = typeof meta?.tokens === 'number' ? meta.tokens : typeof usageTokens === 'number' ? usageTokens : null;
      if (tokens === null) noTokenCount++;
      const stop = s.output?.choices?.[0]?.stop_reason;
      const finish: FinishReason = s.error
        ? 'error'
        : FINISH.includes(meta?.finish_reason as FinishReason)
          ? (meta!.finish_reason as FinishReason)
          : stop === 'max_tokens' || stop === 'model_length'
            ? 'length'
            : 'eos';
      const createdAt = meta?.created_at ?? s.completed_at ?? log.header.eval.created;
      const row: SampleRow & { condition?: string } = {
        type: 'sample',
        id,
        question_id: qid,
        paraphrase_index: p,
        sample_index: si,
        variant,
        ...(condition !== undefined ? { condition } : {}),
        messages,
        completion: s.error ? '' : completionText(s),
        tokens: tokens ?? 0,
        finish_reason: finish,
        ...(keepDivergence && meta && 'divergence_index' in meta ? { divergence_index: meta.divergence_index } : {}),
        seed: typeof meta?.seed === 'number' ? meta.seed : typeof cfgSeed === 'number' ? cfgSeed : 0,
        ...(typeof s.total_time === 'number' ? { elapsed_ms: Math.round(s.total_time * 1000) } : {}),
        created_at: createdAt,
      };
      samples.push(row);
      judgements.push(...scoreRows(id, s.scores, createdAt));
      if (typeof meta?.label === 'string' && LABELS.includes(meta.label)) labels.push({ type: 'label', sample_id: id, label: meta.label as LabelRow['label'], created_at: createdAt });
    }
    if (!log.samples.length) warnings.push(`${file}: the log holds no samples (written with --no-log-samples, or still running?).`);
    cellsPerLog.push(cells);
  });
  const all = new Set(cellsPerLog.flatMap((c) => [...c]));
  const paired = [...all].filter((c) => cellsPerLog.every((s) => s.has(c))).length;
  const unpaired = all.size - paired;
  if (logs.length > 1 && paired === 0 && all.size > 0) {
    throw new Error(`${logs.map((l) => l.file).join(' and ')}: no sample id and epoch in common, so nothing pairs; compare logs of the same dataset (same sample ids).`);
  }
  if (unpaired) warnings.push(`${unpaired} sample(s) (id × epoch) are in only some of the logs; they show unpaired.`);
  if (droppedMessages) warnings.push(`${droppedMessages} tool message(s) in sample inputs were left out (run files hold system, user and assistant turns).`);
  if (noTokenCount) warnings.push(`${noTokenCount} sample(s) have no output token count in the log; their token count is written as 0.`);
  // Rows ordered by cell, then log (variant) order, so each cell's first row is the reference variant's.
  const order = new Map(variants.map((v, i) => [v, i]));
  const cellKey = (s: SampleRow) => JSON.stringify([s.question_id, s.paraphrase_index, s.sample_index, s.condition ?? '']);
  const firstSeen = new Map<string, number>();
  samples.forEach((s, i) => firstSeen.has(cellKey(s)) || firstSeen.set(cellKey(s), i));
  samples.sort((a, b) => firstSeen.get(cellKey(a))! - firstSeen.get(cellKey(b))! || order.get(a.variant)! - order.get(b.variant)!);
  const cfg = first.eval.model_generate_config ?? {};
  const modelArgs = (first.eval as { model_args?: Record<string, unknown> }).model_args ?? {};
  const ownMeta = (first.eval.metadata as { organism_lab?: Record<string, unknown> } | null | undefined)?.organism_lab;
  const conditions = ownMeta && Array.isArray(ownMeta.conditions) ? ownMeta.conditions : undefined;
  const created = logs.map(({ log }) => log.header.eval.created).filter((x) => typeof x === 'string').sort()[0] ?? new Date().toISOString();
  const header: RunHeader & { conditions?: unknown[] } = {
    type: 'header',
    schema_version: RUN_SCHEMA_VERSION,
    tool: { name: 'organism-lab', version: TOOL_VERSION },
    created_at: created,
    model: { path: typeof modelArgs.model_path === 'string' ? modelArgs.model_path : first.eval.model, hash: typeof modelArgs.model_hash === 'string' ? modelArgs.model_hash : '' },
    adapters: [],
    prompt_set: {
      path: first.eval.dataset?.location ?? first.eval.dataset?.name ?? first.eval.task,
      hash: typeof ownMeta?.prompt_set_hash === 'string' ? ownMeta.prompt_set_hash : createHash('sha256').update(JSON.stringify(first.eval.dataset?.sample_ids ?? [])).digest('hex'),
    },
    variants: variants.map((name) => ({ name })),
    sampling: {
      temperature: typeof cfg.temperature === 'number' ? cfg.temperature : 1,
      top_p: typeof cfg.top_p === 'number' ? cfg.top_p : 1,
      top_k: typeof cfg.top_k === 'number' ? cfg.top_k : 0,
      min_p: 0,
      max_new_tokens: typeof cfg.max_tokens === 'number' && cfg.max_tokens >= 1 ? cfg.max_tokens : Math.max(1, ...samples.map((s) => s.tokens)),
      stop: Array.isArray(cfg.stop_seqs) ? cfg.stop_seqs : [],
    },
    seed: typeof cfg.seed === 'number' ? cfg.seed : 0,
    ...(conditions ? { conditions } : {}),
    extra: {
      imported_from: logs.map(({ file, log }, i) => ({
        file,
        variant: variants[i],
        task: log.header.eval.task,
        model: log.header.eval.model,
        eval_id: log.header.eval.eval_id,
        run_id: log.header.eval.run_id,
        created: log.header.eval.created,
        status: log.header.status,
        generate_config: log.header.eval.model_generate_config ?? null,
      })),
      sampling_note: 'sampling is the first log\'s generate config (Inspect defaults where it sets none); each log\'s own is under imported_from',
    },
  };
  return { header, rows: [...samples, ...judgements, ...labels], variants, paired, unpaired, warnings };
}
