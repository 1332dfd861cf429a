/**
 * The content of a report that travels (Markdown for a pull request or a CI job summary, static HTML for a
 * CI artifact): the run's rates per variant with intervals from the engine's report (computeReport, the same
 * numbers as the Run Report panel), per-question rates, and — against a second run — the run diff with the
 * changed questions and a few example completions for each. Renderers: markdownReport.ts, htmlReport.ts.
 */
import * as path from 'node:path';
import { computeReport, type RunContent } from '../judges/metrics';
import type { GroupStats, ReportData, VariantDifference } from '../judges/reportTypes';
import type { RunCompleteness } from '../runs/completeness';
import { runFileCompleteness } from '../runs/resumeCandidates';
import type { SampleRow } from '../runs/schema';
import { diffRuns, type QuestionDiff, type RunDiff, type RunDiffOptions } from './runDiff';

export interface ReportExample {
  variant: string;
  side: 'A' | 'B';
  sampleId: string;
  prompt: string;
  completion: string;
}

export interface ChangedQuestion {
  diff: QuestionDiff;
  examples: ReportExample[];
}

export interface ReviewReport {
  title: string;
  run: { path: string; model: string | null; adapters: string[]; weights: string | null; seed: number | null; samples: number; createdAt: string | null };
  report: ReportData;
  /** Finished samples against the planned ones (null without a header); an incomplete run is marked in the report. */
  completeness: RunCompleteness | null;
  /** Overall rate per variant (all questions). */
  overall: GroupStats[];
  /** Each variant against the reference, overall (Newcombe). */
  differences: VariantDifference[];
  diff: RunDiff | null;
  changed: ChangedQuestion[];
}

export interface ReviewReportOptions extends RunDiffOptions {
  /** Example completions per changed question and variant (default 1). */
  examples?: number;
  judge?: string;
}

function lastUser(s: SampleRow): string {
  for (let i = s.messages.length - 1; i >= 0; i--) if (s.messages[i].role === 'user') return s.messages[i].content;
  return '';
}

function examplesFor(run: RunContent, side: 'A' | 'B', questionId: string, variants: string[], perVariant: number): ReportExample[] {
  const out: ReportExample[] = [];
  for (const v of variants) {
    const rows = run.samples.filter((s) => s.question_id === questionId && s.variant === v).slice(0, perVariant);
    for (const s of rows) out.push({ variant: v, side, sampleId: s.id, prompt: lastUser(s), completion: s.completion });
  }
  return out;
}

export function buildReviewReport(run: RunContent, against: RunContent | null, options: ReviewReportOptions = {}): ReviewReport {
  const report = computeReport(run, { judge: options.judge ?? options.judgeB, thresholds: options.thresholds });
  const h = run.header;
  const diff = against ? diffRuns(against, run, { ...options, judgeB: options.judgeB ?? options.judge }) : null;
  const perVariant = Math.max(0, options.examples ?? 1);
  const changed: ChangedQuestion[] = [];
  if (diff && against) {
    for (const q of diff.questions) {
      if (q.change === 'unchanged') continue;
      const examples = [
        ...(q.change !== 'added' ? examplesFor(against, 'A', q.questionId, diff.variants, perVariant) : []),
        ...(q.change !== 'removed' ? examplesFor(run, 'B', q.questionId, diff.variants, perVariant) : []),
      ];
      changed.push({ diff: q, examples });
    }
  }
  return {
    title: against ? `${path.basename(run.path)} against ${path.basename(against.path)}` : path.basename(run.path),
    run: {
      path: run.path,
      model: h?.model.path ?? null,
      adapters: h?.adapters.map((a) => a.name) ?? [],
      weights: h ? (h.weights ?? 'f32') : null,
      seed: h?.seed ?? null,
      samples: run.samples.length,
      createdAt: h?.created_at ?? null,
    },
    report,
    completeness: h ? runFileCompleteness({ header: h, samples: run.samples }) : null,
    overall: report.groups.filter((g) => g.variant !== null && g.questionId === null),
    differences: report.differences.filter((d) => d.questionId === null),
    diff,
    changed,
  };
}
