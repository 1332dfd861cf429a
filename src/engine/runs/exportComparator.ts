/**
 * LLM Comparator (PAIR-code/llm-comparator) JSON: `{metadata, models, examples}` as its app loads it.
 *
 * One comparison per pair the user picks. Each side is an arm: `variant`, or `variant~condition` in a run with
 * prompt conditions. Model A defaults to the reference variant (the header's first, usually `base`), model B to
 * the second variant (in a run with one variant and conditions: the first condition against the second). A side
 * without a condition takes the other side's; when neither names one, rows are paired within each condition.
 * One example per (question, paraphrase, sample) cell — and condition, when paired within conditions — present
 * on both sides:
 *  - input_text: the question (last user message of side A); output_text_a / output_text_b: the two completions;
 *  - tags: [question_id] (and the condition, when paired within conditions);
 *  - score: LLM Comparator reads positive as "A is better". We use (aligned_A − aligned_B) / 100, in
 *    [−1, 1], from the primary judge; null when either side has no numeric aligned score;
 *  - custom_fields: every metric of the primary judge as a per-model number [A, B], the human labels as a
 *    per-model category [A, B], the system prompt as text, the cell id, and each side's condition.
 */
import type { RunContent } from '../judges/metrics';
import { latestLabels, scoreTable, summarizeJudges } from '../judges/metrics';
import { questionText } from '../judges/runAccess';
import { pickPrimaryJudge } from './exportRecords';
import { armLabel, cellId, type RunHeader, type SampleRow } from './schema';

export interface ComparatorOptions {
  judge?: string;
  /** Side A: a variant, or `variant~condition`. */
  variantA?: string;
  /** Side B: a variant, or `variant~condition`. */
  variantB?: string;
  /** The metric whose difference is the example score (default "aligned"). */
  scoreMetric?: string;
}

export interface ComparatorExample {
  input_text: string;
  tags: string[];
  output_text_a: string;
  output_text_b: string;
  score: number | null;
  individual_rater_scores: never[];
  custom_fields: Record<string, string | number | null | (number | null)[] | (string | null)[]>;
}

export interface ComparatorFile {
  metadata: { source_path: string; custom_fields_schema: { name: string; type: string }[] };
  models: { name: string }[];
  examples: ComparatorExample[];
}

interface Side {
  variant: string;
  /** undefined: not named (the other side's condition, or each condition in turn). */
  condition?: string;
}

/**
 * The arms a user can pick as the two sides, from the run's header: each variant, or each `variant~condition` pair
 * in a run with conditions (variants first, then conditions, in the header's order).
 */
export function comparatorArms(header: RunHeader): { arms: string[]; withConditions: boolean } {
  const variants = header.variants.map((v) => v.name);
  const conditions = header.conditions?.map((c) => c.name) ?? [];
  const arms = conditions.length ? variants.flatMap((v) => conditions.map((c) => armLabel(v, c))) : variants;
  return { arms, withConditions: conditions.length > 0 };
}

/** `variant` or `variant~condition`, checked against the run's variants and conditions. */
export function parseArm(text: string, variants: string[], conditions: string[], file: string): Side {
  if (variants.includes(text)) return { variant: text };
  const k = text.lastIndexOf('~');
  if (k > 0 && variants.includes(text.slice(0, k))) {
    const condition = text.slice(k + 1);
    if (!conditions.includes(condition)) throw new Error(`${file}: "${text}": no samples under condition "${condition}". Conditions: ${conditions.join(', ') || '(none: this run has no conditions)'}.`);
    return { variant: text.slice(0, k), condition };
  }
  throw new Error(`${file}: variant "${text}" has no samples (a side is a variant or variant~condition). Variants: ${variants.join(', ') || '(none)'}${conditions.length ? `; conditions: ${conditions.join(', ')}` : ''}.`);
}

export function buildComparator(run: RunContent, options: ComparatorOptions = {}): ComparatorFile {
  const variants = [...new Set([...(run.header?.variants.map((v) => v.name) ?? []).filter((v) => run.samples.some((s) => s.variant === v)), ...run.samples.map((s) => s.variant)])];
  const conditions = [...new Set([...(run.header?.conditions?.map((c) => c.name) ?? []).filter((c) => run.samples.some((s) => s.condition === c)), ...run.samples.flatMap((s) => (s.condition ? [s.condition] : []))])];
  let sa: Side | undefined = options.variantA !== undefined ? parseArm(options.variantA, variants, conditions, run.path) : variants[0] !== undefined ? { variant: variants[0] } : undefined;
  let sb: Side | undefined = options.variantB !== undefined ? parseArm(options.variantB, variants, conditions, run.path) : undefined;
  if (!sb && sa) {
    const other = variants.find((v) => v !== sa!.variant);
    if (other) sb = { variant: other, ...(sa.condition ? { condition: sa.condition } : {}) };
    else if (conditions.length > 1) {
      sa = { variant: sa.variant, condition: sa.condition ?? conditions[0] };
      sb = { variant: sa.variant, condition: conditions.find((c) => c !== sa!.condition) };
    }
  }
  if (!sa || !sb) {
    throw new Error(`${run.path}: LLM Comparator needs two variants (or conditions) to compare; this run has ${variants.length ? variants.join(', ') : 'no samples'}${conditions.length ? ` under ${conditions.join(', ')}` : ''}.`);
  }
  // A side without a condition takes the other side's.
  if (sa.condition && !sb.condition) sb = { ...sb, condition: sa.condition };
  if (sb.condition && !sa.condition) sa = { ...sa, condition: sb.condition };
  const a = armLabel(sa.variant, sa.condition);
  const b = armLabel(sb.variant, sb.condition);
  if (a === b) throw new Error(`${run.path}: choose two different variants (or conditions) for LLM Comparator (got "${a}" twice).`);
  // Neither side names a condition: pair within each condition (the condition is part of the example's key).
  const withinConditions = sa.condition === undefined && conditions.length > 0;
  const matches = (s: SampleRow, side: Side) => s.variant === side.variant && (side.condition === undefined || s.condition === side.condition);
  const judge = pickPrimaryJudge(run, options.judge);
  const metrics = judge ? summarizeJudges(run.judgements).find((j) => j.judge === judge)!.metrics : [];
  const scores = judge ? scoreTable(run.judgements, judge) : new Map<string, Map<string, number | null>>();
  const labels = latestLabels(run.labels);
  const scoreMetric = options.scoreMetric ?? 'aligned';

  const byCell = new Map<string, { a?: SampleRow; b?: SampleRow }>();
  for (const s of run.samples) {
    const inA = matches(s, sa);
    if (!inA && !matches(s, sb)) continue;
    const cid = cellId(s.question_id, s.paraphrase_index, s.sample_index);
    const key = withinConditions ? JSON.stringify([cid, s.condition ?? null]) : cid;
    const e = byCell.get(key) ?? byCell.set(key, {}).get(key)!;
    if (inA) e.a = s;
    else e.b = s;
  }
  const metricField = (m: string) => `${m} (${judge})`;
  const examples: ComparatorExample[] = [];
  for (const { a: ra, b: rb } of byCell.values()) {
    if (!ra || !rb) continue;
    const key = cellId(ra.question_id, ra.paraphrase_index, ra.sample_index);
    const num = (id: string, m: string) => {
      const v = scores.get(id)?.get(m);
      return typeof v === 'number' ? v : null;
    };
    const sA = num(ra.id, scoreMetric);
    const sB = num(rb.id, scoreMetric);
    const custom: ComparatorExample['custom_fields'] = { cell_id: key };
    if (ra.condition !== undefined || rb.condition !== undefined) custom.condition = [ra.condition ?? null, rb.condition ?? null];
    const system = ra.messages.find((m) => m.role === 'system')?.content;
    if (system !== undefined) custom.system_prompt = system;
    for (const m of metrics) custom[metricField(m)] = [num(ra.id, m), num(rb.id, m)];
    custom.human_label = [labels.get(ra.id)?.label ?? null, labels.get(rb.id)?.label ?? null];
    examples.push({
      input_text: questionText(ra),
      tags: withinConditions && ra.condition ? [ra.question_id, ra.condition] : [ra.question_id],
      output_text_a: ra.completion,
      output_text_b: rb.completion,
      score: sA !== null && sB !== null ? (sA - sB) / 100 : null,
      individual_rater_scores: [],
      custom_fields: custom,
    });
  }
  const schema: { name: string; type: string }[] = [{ name: 'cell_id', type: 'string' }];
  if (examples.some((e) => 'condition' in e.custom_fields)) schema.push({ name: 'condition', type: 'per_model_category' });
  if (examples.some((e) => 'system_prompt' in e.custom_fields)) schema.push({ name: 'system_prompt', type: 'text' });
  for (const m of metrics) schema.push({ name: metricField(m), type: 'per_model_number' });
  schema.push({ name: 'human_label', type: 'per_model_category' });
  return {
    metadata: { source_path: run.path, custom_fields_schema: schema },
    models: [{ name: a }, { name: b }],
    examples,
  };
}
