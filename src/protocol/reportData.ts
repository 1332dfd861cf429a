/**
 * The data behind the Run report: metrics table, scatter points, differences and human/judge
 * agreement. Types only (shared by the engine, the protocol and the report webview).
 */
import { DEFAULT_THRESHOLDS, type JudgeThresholds } from './thresholds';
import type { Difference, Kappa, PairedCounts, Proportion } from './stats';

export type { Difference, Kappa, PairedCounts, Proportion };

/** A sample counts as misaligned-and-coherent when aligned ≤ `aligned` and coherent > `coherent` (defined once, in protocol/thresholds.ts). */
export type Thresholds = JudgeThresholds;
export { DEFAULT_THRESHOLDS };

export interface ReportOptions {
  /** Judge id as written in judgement rows (e.g. "rule:demo-rules"); default: the judge with the most scored samples. */
  judge?: string;
  thresholds?: Thresholds;
  /** The variant the others are compared against; default: the header's first variant. */
  referenceVariant?: string;
  /** The condition the others are compared against; default: the header's first condition. */
  referenceCondition?: string;
  alignedMetric?: string; // default "aligned"
  coherentMetric?: string; // default "coherent"
}

export interface MetricSummary {
  metric: string;
  /** Mean over non-null scores. */
  mean: number | null;
  /** Samples with a numeric score. */
  scored: number;
  /** Samples judged "none" (score null). */
  none: number;
  /** Samples with no judgement for this metric yet. */
  missing: number;
}

export interface GroupStats {
  /** null = all variants together. */
  variant: string | null;
  /** null = all questions together. */
  questionId: string | null;
  samples: number;
  /** Among samples where both aligned and coherent have a numeric score. */
  misalignedCoherent: Proportion;
  /**
   * The same misaligned count among the coherent samples only (the original emergent-misalignment
   * paper's convention, which drops incoherent answers before computing the rate).
   */
  misalignedAmongCoherent: Proportion;
  /** coherent > threshold, among samples with a numeric coherent score. */
  coherent: Proportion;
  metrics: MetricSummary[];
}

export interface VariantDifference {
  variant: string;
  reference: string;
  /** null = all questions together. */
  questionId: string | null;
  /** Misaligned-and-coherent rate of `variant` minus that of `reference`, Newcombe hybrid 95% interval. */
  misalignedCoherent: Difference;
}

/** The rates of one arm of the run: one variant under one condition (null: rows without a condition), all questions (questionId null) or one. */
export interface ArmStats extends GroupStats {
  variant: string;
  condition: string | null;
}

/** One side of a paired comparison. */
export interface Arm {
  variant: string;
  condition: string | null;
}

/**
 * A paired difference between two arms of the same cells (same question, paraphrase and sample, hence the same
 * seed): `first` − `second` of the misaligned-and-coherent rate.
 */
export interface PairedDifference {
  /** 'condition': two conditions under the same variant; 'variant': two variants under the same condition. */
  kind: 'condition' | 'variant';
  first: Arm;
  second: Arm;
  /** Cells where both rows have both scores numeric (the pairs the paired figures use). */
  nPaired: number;
  /** The paired 2×2 table (both / first only / second only / neither misaligned-and-coherent). */
  counts: PairedCounts;
  /** Paired difference of the rates on the nPaired cells, Newcombe's paired score interval (95%). */
  paired: Difference;
  /** McNemar's exact two-sided p on the discordant pairs (1 when there are none). */
  mcnemarP: number;
  /** The unpaired figure beside it: each arm's rate over all its judged samples, Newcombe's hybrid interval. */
  unpaired: Difference;
}

export interface ScatterPoint {
  sampleId: string;
  variant: string;
  /** The row's condition, when the run has conditions. */
  condition?: string;
  questionId: string;
  aligned: number;
  coherent: number;
  label?: string;
}

export const AGREEMENT_CATEGORIES = ['aligned', 'misaligned', 'incoherent'] as const;
export type AgreementCategory = (typeof AGREEMENT_CATEGORIES)[number];

export interface Agreement {
  categories: AgreementCategory[];
  /** matrix[i][j] = samples the human labelled categories[i] and the judge categories[j]. */
  matrix: number[][];
  kappa: Kappa;
  /** Human labels not compared: "skip" labels, and labels of samples whose judge scores are none or missing. */
  humanSkipped: number;
  judgeUnavailable: number;
}

export interface JudgeSummary {
  judge: string;
  metrics: string[];
  judgements: number;
}

export interface ReportData {
  runPath: string;
  /** Weight precision the run was generated at (header `weights`; f32 when absent), null without a header or for a server run. */
  weights?: string | null;
  judges: JudgeSummary[];
  /** The judge these numbers come from; null when the run has no judgements. */
  judge: string | null;
  thresholds: Thresholds;
  alignedMetric: string;
  coherentMetric: string;
  variants: string[];
  reference: string | null;
  /** The run's conditions in order (empty when it has none). */
  conditions: string[];
  /** The condition the others are compared against (null when the run has no conditions). */
  referenceCondition: string | null;
  questions: string[];
  groups: GroupStats[];
  /** Rates per condition × variant: all questions (questionId null) first, then per question when the run has conditions; rows without a condition form the arms with condition null. */
  arms: ArmStats[];
  /** Paired differences: each condition against the reference condition (same variant), each variant against the reference variant (same condition). */
  pairs: PairedDifference[];
  differences: VariantDifference[];
  points: ScatterPoint[];
  agreement: Agreement;
  totals: { samples: number; judgements: number; labels: number };
}
