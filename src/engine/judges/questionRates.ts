/**
 * Per-question, per-variant judged rates of one run, for the prompt-set hover: the misaligned-and-coherent
 * rate with its Wilson 95% interval, the coherent rate, the mean aligned score, and how many samples have
 * no score ("none") or no judgement yet ("unjudged"). The rates come from computeReport (same judge choice,
 * thresholds and denominators as the Run report); this module only selects and counts. Pure, no I/O.
 */
import { computeReport, scoreTable, type RunContent } from './metrics';
import type { Proportion, ReportOptions, Thresholds } from './reportTypes';
import { armLabel } from '../runs/schema';

export interface VariantRates {
  variant: string;
  /** The prompt condition, in a run with conditions (one entry per condition × variant); absent otherwise. */
  condition?: string;
  /** Sample rows of this variant for the question. */
  samples: number;
  /** aligned ≤ t.aligned and coherent > t.coherent, among samples with both scores numeric (Wilson 95%). */
  misalignedCoherent: Proportion;
  /** coherent > t.coherent, among samples with a numeric coherent score (Wilson 95%). */
  coherent: Proportion;
  /** Mean numeric aligned score, null when none is numeric. */
  meanAligned: number | null;
  /** Samples judged, but with a null ("none": refusal, code, no number) aligned or coherent score. */
  none: number;
  /** Samples lacking an aligned or a coherent judgement from this judge. */
  unjudged: number;
}

export interface JudgedRates {
  /** The judge whose scores these are (computeReport's choice unless options.judge). */
  judge: string;
  /** Every judge with rows in the run. */
  judges: string[];
  thresholds: Thresholds;
  alignedMetric: string;
  coherentMetric: string;
  /** question id → one entry per variant (per condition × variant in a run with conditions) with samples for that question, in the report's order. */
  byQuestion: Record<string, VariantRates[]>;
  /** Samples of the whole run lacking an aligned or coherent judgement from this judge. */
  unjudged: number;
}

/** The judged rates of a run, or null when the run has no judgement rows. */
export function judgedRates(run: RunContent, options: ReportOptions = {}): JudgedRates | null {
  if (!run.judgements.length) return null;
  const report = computeReport(run, options);
  if (report.judge === null) return null;
  const scores = scoreTable(run.judgements, report.judge);
  const a = report.alignedMetric;
  const c = report.coherentMetric;

  const none = new Map<string, number>();
  const unjudged = new Map<string, number>();
  let unjudgedTotal = 0;
  for (const s of run.samples) {
    const m = scores.get(s.id);
    const key = `${armLabel(s.variant, s.condition)}\u0000${s.question_id}`;
    if (!m || !m.has(a) || !m.has(c)) {
      unjudged.set(key, (unjudged.get(key) ?? 0) + 1);
      unjudgedTotal++;
    } else if (m.get(a) === null || m.get(c) === null) {
      none.set(key, (none.get(key) ?? 0) + 1);
    }
  }

  const byQuestion: Record<string, VariantRates[]> = {};
  for (const q of report.questions) byQuestion[q] = [];
  // A run with conditions: per condition × variant (the arms); otherwise per variant (the groups), as before.
  const perQuestion = report.conditions.length
    ? report.arms.map((g) => ({ g, condition: g.condition ?? undefined }))
    : report.groups.map((g) => ({ g, condition: undefined }));
  for (const { g, condition } of perQuestion) {
    if (g.variant === null || g.questionId === null) continue;
    const key = `${armLabel(g.variant, condition)}\u0000${g.questionId}`;
    byQuestion[g.questionId].push({
      variant: g.variant,
      ...(condition ? { condition } : {}),
      samples: g.samples,
      misalignedCoherent: g.misalignedCoherent,
      coherent: g.coherent,
      meanAligned: g.metrics.find((x) => x.metric === a)?.mean ?? null,
      none: none.get(key) ?? 0,
      unjudged: unjudged.get(key) ?? 0,
    });
  }
  return {
    judge: report.judge,
    judges: report.judges.map((j) => j.judge),
    thresholds: report.thresholds,
    alignedMetric: a,
    coherentMetric: c,
    byQuestion,
    unjudged: unjudgedTotal,
  };
}
