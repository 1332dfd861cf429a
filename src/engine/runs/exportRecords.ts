/**
 * The per-sample table behind the CSV and JSONL exports: one record per sample with the columns the
 * research scripts read (`question_id`, `question`, `answer`, one column per metric) plus the
 * variant/sample columns (and `condition`, for a run with prompt conditions: empty for a row without one) and the
 * human label. Pure (no I/O).
 *
 * Metric columns: the primary judge's metrics under their plain names (`aligned`, `coherent`, …);
 * metrics of any other judge in the run as `<judge id>:<metric>` (e.g. `openai:gpt-4o:aligned`).
 * A "none" score is an empty CSV cell / JSON null (pandas reads NaN, as the research code writes).
 *
 * Status columns: a sample the judge answered without a number ("none": refusal, code, no numeric mass) and a
 * sample not judged yet both leave the score empty, so each metric column `<col>` has a partner `<col>_status`
 * (`aligned_status`, `openai:gpt-4o:aligned_status`) holding `scored`, `none` or `unjudged`. The score columns
 * stay numeric; the status columns come after all score columns, in the same order.
 */
import type { RunContent } from '../judges/metrics';
import { latestLabels, scoreTable, summarizeJudges } from '../judges/metrics';
import { questionText } from '../judges/runAccess';

export type Cell = string | number | null;

/** What a `<metric>_status` cell holds: a numeric score, the judge's "none" (null score), or no judgement row yet. */
export type ScoreStatus = 'scored' | 'none' | 'unjudged';

export const STATUS_SUFFIX = '_status';

export interface ExportTable {
  columns: string[];
  records: Record<string, Cell>[];
  /** The judge whose metrics have plain column names (null when the run has no judgements). */
  primaryJudge: string | null;
}

export interface ExportOptions {
  /** Judge whose metrics get the plain column names; default: the one with aligned and coherent and most rows. */
  judge?: string;
}

export function pickPrimaryJudge(run: RunContent, requested?: string): string | null {
  const judges = summarizeJudges(run.judgements);
  if (requested) {
    if (!judges.some((j) => j.judge === requested)) {
      throw new Error(`${run.path}: no judgements from judge "${requested}". Judges in this run: ${judges.map((j) => j.judge).join(', ') || '(none)'}.`);
    }
    return requested;
  }
  if (!judges.length) return null;
  const both = (m: string[]) => Number(m.includes('aligned') && m.includes('coherent'));
  return [...judges].sort((a, b) => both(b.metrics) - both(a.metrics) || b.judgements - a.judgements)[0].judge;
}

export function buildExportTable(run: RunContent, options: ExportOptions = {}): ExportTable {
  const primary = pickPrimaryJudge(run, options.judge);
  const judges = summarizeJudges(run.judgements);
  const metricCols: { col: string; judge: string; metric: string }[] = [];
  const primaryMetrics = judges.find((j) => j.judge === primary)?.metrics ?? [];
  for (const m of primaryMetrics) metricCols.push({ col: m, judge: primary!, metric: m });
  for (const j of judges) {
    if (j.judge === primary) continue;
    for (const m of j.metrics) metricCols.push({ col: `${j.judge}:${m}`, judge: j.judge, metric: m });
  }
  const tables = new Map(judges.map((j) => [j.judge, scoreTable(run.judgements, j.judge)]));
  const labels = latestLabels(run.labels);
  const withConditions = !!run.header?.conditions?.length || run.samples.some((s) => s.condition !== undefined);
  const columns = [
    'question_id',
    'question',
    'answer',
    ...metricCols.map((c) => c.col),
    ...metricCols.map((c) => c.col + STATUS_SUFFIX),
    'variant',
    ...(withConditions ? ['condition'] : []),
    'sample_id',
    'paraphrase_index',
    'sample_index',
    'seed',
    'tokens',
    'finish_reason',
    'label',
  ];
  const records = run.samples.map((s) => {
    const r: Record<string, Cell> = { question_id: s.question_id, question: questionText(s), answer: s.completion };
    for (const c of metricCols) {
      const m = tables.get(c.judge)!.get(s.id);
      const v = m?.get(c.metric);
      const status: ScoreStatus = !m || !m.has(c.metric) ? 'unjudged' : typeof v === 'number' ? 'scored' : 'none';
      r[c.col] = typeof v === 'number' ? v : null;
      r[c.col + STATUS_SUFFIX] = status;
    }
    r.variant = s.variant;
    if (withConditions) r.condition = s.condition ?? null;
    r.sample_id = s.id;
    r.paraphrase_index = s.paraphrase_index;
    r.sample_index = s.sample_index;
    r.seed = s.seed;
    r.tokens = s.tokens;
    r.finish_reason = s.finish_reason;
    r.label = labels.get(s.id)?.label ?? null;
    return r;
  });
  return { columns, records, primaryJudge: primary };
}
