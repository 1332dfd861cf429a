/**
 * The result of comparing two runs (computed by engine/review/runDiff.ts; sent to the Compare webview and the CLI's
 * JSON output). Types only.
 */
import type { Difference, PairedCounts, Proportion } from './stats';
import type { JudgeThresholds } from './thresholds';

export type QuestionChange = 'added' | 'removed' | 'reworded' | 'unchanged';

export interface RateComparison {
  a: Proportion;
  b: Proportion;
  /** B − A. */
  difference: Difference;
  /** True when the interval is the paired one (every compared sample has its seeded twin in the other run). */
  paired: boolean;
  /** The paired 2×2 table (first = B, second = A) when paired. */
  pairs?: PairedCounts;
  /** McNemar's exact two-sided p when paired. */
  mcnemarP?: number;
  /** The unpaired Newcombe interval, beside the paired one for comparison. */
  unpaired: Difference;
}

export interface VariantQuestionDiff extends RateComparison {
  variant: string;
  /** The prompt condition of these rows (absent: rows without a condition). */
  condition?: string;
}

export interface QuestionDiff {
  questionId: string;
  change: QuestionChange;
  /** The question's user text in A and B (first paraphrase), for display. */
  textA: string | null;
  textB: string | null;
  /** Which paraphrases changed (indices), for reworded questions. */
  changedParaphrases: number[];
  /** The prompt conditions under which a paraphrase's prompt changed (declared order), for reworded questions. */
  changedConditions: string[];
  variants: VariantQuestionDiff[];
}

export interface OverallDiff {
  variant: string;
  /** The prompt condition of these rows (absent: rows without a condition). */
  condition?: string;
  /** Every question of each run. */
  all: RateComparison;
  /** Only questions present and unchanged in both runs. */
  unchangedOnly: RateComparison;
}

export interface RunSide {
  path: string;
  judge: string | null;
  samples: number;
  model: string | null;
  weights: string | null;
}

export interface RunDiff {
  a: RunSide;
  b: RunSide;
  thresholds: JudgeThresholds;
  variants: string[];
  questions: QuestionDiff[];
  overall: OverallDiff[];
  counts: Record<QuestionChange, number>;
  /** Differences between the runs that were allowed through (allowMismatch) or that do not block pairing. */
  warnings: string[];
}
