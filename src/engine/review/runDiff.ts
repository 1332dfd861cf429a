/**
 * Run diff: what a change to a prompt set did to the results. Two run files of the same organism (for
 * example the run on `main` and the run on a branch) are paired by (question id, paraphrase, sample,
 * variant, condition). Per question: added, removed, reworded (a paraphrase's messages or system prompt
 * changed, read from the messages recorded in the run files) or unchanged; per question and arm (variant, and
 * condition in runs with prompt conditions) the
 * misaligned-and-coherent rate in A and in B with the difference B − A and its 95% interval — paired
 * (Newcombe's paired score interval and McNemar's exact test) where both runs hold the same seeded cell with
 * the same prompt, unpaired (Newcombe's hybrid interval) otherwise; and overall rates with and without the
 * changed questions.
 *
 * Runs of different models, adapters, weight precisions or judges are refused with the reason unless
 * `allowMismatch` is set (the differences are then listed as warnings).
 */
import type { RunContent } from '../judges/metrics';
import { isMisalignedCoherent, scoreTable, summarizeJudges } from '../judges/metrics';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../judges/reportTypes';
import {
  mcnemarExact,
  newcombeDifference,
  pairedNewcombeDifference,
  wilson,
  type PairedCounts,
} from '../judges/stats';
import { armLabel, type RunHeader, type SampleRow } from '../runs/schema';
import type { OverallDiff, QuestionChange, QuestionDiff, RateComparison, RunDiff, RunSide, VariantQuestionDiff } from '../../protocol/review';

export type { OverallDiff, QuestionChange, QuestionDiff, RateComparison, RunDiff, RunSide, VariantQuestionDiff };

export interface RunDiffOptions {
  thresholds?: Thresholds;
  /** Judge id in A and B; default: each run's main judge (the one that scored aligned and coherent with most rows). */
  judgeA?: string;
  judgeB?: string;
  /** Pair runs of different models, adapters, precisions or judges anyway (their differences become warnings). */
  allowMismatch?: boolean;
}

export class RunMismatchError extends Error {
  constructor(readonly reasons: string[]) {
    super(`These runs are not of the same organism and judge, so their rates cannot be paired:\n  - ${reasons.join('\n  - ')}\nPass --allow-mismatch (or "compare anyway") to diff them regardless.`);
    this.name = 'RunMismatchError';
  }
}

const ALIGNED = 'aligned';
const COHERENT = 'coherent';

function conditionOf(s: SampleRow): string {
  return s.condition ?? '';
}

/** The arms (variant, condition) of two runs, in order: conditions in header order, variants within each. */
function armsOf(a: RunContent, b: RunContent, variants: string[]): { variant: string; condition?: string }[] {
  const rows = [...a.samples, ...b.samples];
  const conditions = [...new Set([...(a.header?.conditions ?? []), ...(b.header?.conditions ?? [])].map((c) => c.name).concat(rows.flatMap((s) => (s.condition ? [s.condition] : []))))];
  const present = new Set(rows.map((s) => armLabel(s.variant, s.condition)));
  const out: { variant: string; condition?: string }[] = [];
  for (const c of [...conditions, undefined]) for (const v of variants) if (present.has(armLabel(v, c))) out.push({ variant: v, ...(c ? { condition: c } : {}) });
  return out;
}

/** The pairing key of a sample: question, paraphrase, sample index, variant and condition. */
export function pairKey(s: SampleRow): string {
  return JSON.stringify([s.question_id, s.paraphrase_index, s.sample_index, s.variant, conditionOf(s)]);
}

/** The main judge of a run: scored both metrics, then most rows (the Run Report's rule). */
export function mainJudge(run: RunContent): string | null {
  const judges = summarizeJudges(run.judgements);
  if (!judges.length) return null;
  const both = (j: { metrics: string[] }) => Number(j.metrics.includes(ALIGNED) && j.metrics.includes(COHERENT));
  return [...judges].sort((x, y) => both(y) - both(x) || y.judgements - x.judgements)[0].judge;
}

/** The run's weight precision (headers written before int8/int4 existed are f32). */
function weightsOf(h: RunHeader | null): string | null {
  return h ? (h.weights ?? 'f32') : null;
}

/** Why two runs cannot be paired (empty when they can). */
export function mismatchReasons(a: RunContent, b: RunContent, judgeA: string | null, judgeB: string | null): string[] {
  const reasons: string[] = [];
  const ha = a.header;
  const hb = b.header;
  if (!ha || !hb) return [`${!ha ? a.path : b.path} has no header`];
  if (ha.model.hash !== hb.model.hash) reasons.push(`different models: A ${ha.model.path} (${ha.model.hash.slice(0, 16)}…), B ${hb.model.path} (${hb.model.hash.slice(0, 16)}…)`);
  const adapters = (h: RunHeader) => new Map(h.adapters.map((x) => [x.name, x.hash]));
  const aa = adapters(ha);
  const ab = adapters(hb);
  for (const [name, hash] of aa) {
    if (ab.has(name) && ab.get(name) !== hash) reasons.push(`adapter "${name}" differs: A ${hash.slice(0, 16)}…, B ${ab.get(name)!.slice(0, 16)}…`);
  }
  if (weightsOf(ha) !== weightsOf(hb)) reasons.push(`different weight precisions: A ${weightsOf(ha)}, B ${weightsOf(hb)}`);
  if (judgeA !== judgeB) reasons.push(`different judges: A ${judgeA ?? '(not judged)'}, B ${judgeB ?? '(not judged)'}`);
  return reasons;
}

function samplingWarnings(a: RunContent, b: RunContent): string[] {
  const out: string[] = [];
  const ha = a.header;
  const hb = b.header;
  if (!ha || !hb) return out;
  if (JSON.stringify(ha.sampling) !== JSON.stringify(hb.sampling)) out.push(`sampling parameters differ: A ${JSON.stringify(ha.sampling)}, B ${JSON.stringify(hb.sampling)}`);
  if (ha.seed !== hb.seed) out.push(`the runs' seeds differ (A ${ha.seed}, B ${hb.seed}): no sample is paired, every interval is unpaired`);
  const na = new Set(ha.adapters.map((x) => x.name));
  const nb = new Set(hb.adapters.map((x) => x.name));
  for (const n of na) if (!nb.has(n)) out.push(`adapter "${n}" is only in A`);
  for (const n of nb) if (!na.has(n)) out.push(`adapter "${n}" is only in B`);
  return out;
}

/** Outcome of one sample: true = misaligned and coherent, false = judged and not, null = not (fully) judged. */
type Outcome = boolean | null;

function outcomes(run: RunContent, judge: string | null, t: Thresholds): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const scores = judge ? scoreTable(run.judgements, judge) : new Map<string, Map<string, number | null>>();
  for (const s of run.samples) {
    const m = scores.get(s.id);
    const av = m?.get(ALIGNED);
    const cv = m?.get(COHERENT);
    out.set(s.id, typeof av === 'number' && typeof cv === 'number' ? isMisalignedCoherent(av, cv, t) : null);
  }
  return out;
}

function promptKey(s: SampleRow): string {
  return JSON.stringify(s.messages);
}

function userText(s: SampleRow | undefined): string | null {
  if (!s) return null;
  for (let i = s.messages.length - 1; i >= 0; i--) if (s.messages[i].role === 'user') return s.messages[i].content;
  return '';
}

/** Compare the rows of A and B (already restricted to one group): paired where twins exist with the same seed and prompt. */
function compareRows(rowsA: SampleRow[], rowsB: SampleRow[], oa: Map<string, Outcome>, ob: Map<string, Outcome>, allowPairing: boolean): RateComparison {
  let ka = 0;
  let na = 0;
  let kb = 0;
  let nb = 0;
  for (const s of rowsA) {
    const o = oa.get(s.id);
    if (o === null || o === undefined) continue;
    na++;
    if (o) ka++;
  }
  for (const s of rowsB) {
    const o = ob.get(s.id);
    if (o === null || o === undefined) continue;
    nb++;
    if (o) kb++;
  }
  const a = wilson(ka, na);
  const b = wilson(kb, nb);
  const unpaired = newcombeDifference(kb, nb, ka, na);
  const base: RateComparison = { a, b, difference: unpaired, paired: false, unpaired };
  if (!allowPairing || !rowsA.length || rowsA.length !== rowsB.length) return base;
  const byKey = new Map(rowsA.map((s) => [pairKey(s), s]));
  const pairs: PairedCounts = { both: 0, onlyFirst: 0, onlySecond: 0, neither: 0 };
  for (const sb of rowsB) {
    const sa = byKey.get(pairKey(sb));
    if (!sa || sa.seed !== sb.seed || promptKey(sa) !== promptKey(sb)) return base;
    const xa = oa.get(sa.id);
    const xb = ob.get(sb.id);
    if (xa === null || xa === undefined || xb === null || xb === undefined) return base; // a pair judged on one side only
    if (xb && xa) pairs.both++;
    else if (xb) pairs.onlyFirst++;
    else if (xa) pairs.onlySecond++;
    else pairs.neither++;
  }
  return {
    a,
    b,
    difference: pairedNewcombeDifference(pairs),
    paired: true,
    pairs,
    mcnemarP: mcnemarExact(pairs.onlyFirst, pairs.onlySecond),
    unpaired,
  };
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const arr = m.get(k);
    if (arr) arr.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Diff two runs. Throws RunMismatchError when they are of different organisms or judges (unless allowMismatch). */
export function diffRuns(a: RunContent, b: RunContent, options: RunDiffOptions = {}): RunDiff {
  const t = options.thresholds ?? DEFAULT_THRESHOLDS;
  const judgeA = options.judgeA ?? mainJudge(a);
  const judgeB = options.judgeB ?? mainJudge(b);
  for (const [run, j, side] of [[a, options.judgeA, 'A'], [b, options.judgeB, 'B']] as const) {
    if (j !== undefined && !run.judgements.some((x) => x.judge === j)) {
      throw new Error(`Run ${side} (${run.path}) has no judgement rows from judge "${j}". Judges there: ${summarizeJudges(run.judgements).map((x) => x.judge).join(', ') || '(none: run a judge first)'}.`);
    }
  }
  const reasons = mismatchReasons(a, b, judgeA, judgeB);
  if (reasons.length && !options.allowMismatch) throw new RunMismatchError(reasons);
  const warnings = [...(options.allowMismatch ? reasons.map((r) => `compared anyway: ${r}`) : []), ...samplingWarnings(a, b)];
  const pairable = reasons.length === 0;

  const oa = outcomes(a, judgeA, t);
  const ob = outcomes(b, judgeB, t);
  const variants = [...new Set([...(a.header?.variants.map((v) => v.name) ?? []), ...(b.header?.variants.map((v) => v.name) ?? []), ...a.samples.map((s) => s.variant), ...b.samples.map((s) => s.variant)])].filter(
    (v) => a.samples.some((s) => s.variant === v) || b.samples.some((s) => s.variant === v),
  );
  const arms = armsOf(a, b, variants);
  const conditionNames = [...new Set(arms.flatMap((arm) => (arm.condition ? [arm.condition] : [])))];
  const qa = groupBy(a.samples, (s) => s.question_id);
  const qb = groupBy(b.samples, (s) => s.question_id);
  const questionIds = [...new Set([...qa.keys(), ...qb.keys()])];

  const questions: QuestionDiff[] = [];
  const counts: Record<QuestionChange, number> = { added: 0, removed: 0, reworded: 0, unchanged: 0 };
  for (const q of questionIds) {
    const ra = qa.get(q) ?? [];
    const rb = qb.get(q) ?? [];
    // Prompts per (paraphrase, condition): a change of any of them, or of the paraphrase count, is a rewording.
    const prompts = (rows: SampleRow[]) => {
      const m = new Map<string, string>();
      for (const s of rows) m.set(JSON.stringify([s.paraphrase_index, conditionOf(s)]), promptKey(s));
      return m;
    };
    const pa = prompts(ra);
    const pb = prompts(rb);
    const changed = new Set<number>();
    const changedUnder = new Set<string>();
    for (const [k, v] of pa) {
      if (!pb.has(k) || pb.get(k) === v) continue;
      const [p, c] = JSON.parse(k) as [number, string];
      changed.add(p);
      if (c) changedUnder.add(c);
    }
    const paraphrasesA = new Set(ra.map((s) => s.paraphrase_index));
    const paraphrasesB = new Set(rb.map((s) => s.paraphrase_index));
    for (const p of paraphrasesA) if (!paraphrasesB.has(p)) changed.add(p);
    for (const p of paraphrasesB) if (!paraphrasesA.has(p)) changed.add(p);
    const change: QuestionChange = !ra.length ? 'added' : !rb.length ? 'removed' : changed.size ? 'reworded' : 'unchanged';
    counts[change]++;
    const va = groupBy(ra, (s) => armLabel(s.variant, s.condition));
    const vb = groupBy(rb, (s) => armLabel(s.variant, s.condition));
    const perVariant: VariantQuestionDiff[] = [];
    for (const arm of arms) {
      const rowsA = va.get(armLabel(arm.variant, arm.condition)) ?? [];
      const rowsB = vb.get(armLabel(arm.variant, arm.condition)) ?? [];
      if (!rowsA.length && !rowsB.length) continue;
      perVariant.push({ ...arm, ...compareRows(rowsA, rowsB, oa, ob, pairable && change === 'unchanged') });
    }
    questions.push({
      questionId: q,
      change,
      textA: userText(ra[0]),
      textB: userText(rb[0]),
      changedParaphrases: [...changed].sort((x, y) => x - y),
      changedConditions: conditionNames.filter((c) => changedUnder.has(c)),
      variants: perVariant,
    });
  }

  const unchanged = new Set(questions.filter((q) => q.change === 'unchanged').map((q) => q.questionId));
  const overall: OverallDiff[] = arms.map((arm) => {
    const inArm = (s: SampleRow) => s.variant === arm.variant && s.condition === arm.condition;
    const rowsA = a.samples.filter(inArm);
    const rowsB = b.samples.filter(inArm);
    const keepA = rowsA.filter((s) => unchanged.has(s.question_id));
    const keepB = rowsB.filter((s) => unchanged.has(s.question_id));
    const allSame = counts.added + counts.removed + counts.reworded === 0;
    return {
      ...arm,
      all: compareRows(rowsA, rowsB, oa, ob, pairable && allSame),
      unchangedOnly: compareRows(keepA, keepB, oa, ob, pairable),
    };
  });

  const side = (r: RunContent, judge: string | null): RunSide => ({
    path: r.path,
    judge,
    samples: r.samples.length,
    model: r.header?.model.path ?? null,
    weights: weightsOf(r.header),
  });
  return { a: side(a, judgeA), b: side(b, judgeB), thresholds: t, variants, questions, overall, counts, warnings };
}
