/**
 * A run file as Inspect AI logs: one log per variant (and per condition, when the prompt set declares
 * conditions), pure (no I/O; inspectWriter.ts zips them into `.eval` files).
 *
 * The mapping:
 *  - task = the prompt set's file name (without extension); model = `organism-lab/<variant>`; a condition is the
 *    task argument `condition` (and part of the display name);
 *  - an Inspect sample is one (question, paraphrase): id `<question_id>-p<paraphrase_index>`, and each of our
 *    samples of it is an epoch (`epoch = sample_index + 1`), as Inspect repeats a sample over epochs;
 *  - input = the messages sent; output = the completion (stop_reason `stop` for eos/stop-string, `max_tokens` for
 *    length); events = the transcript Inspect records (sample_init, the model call, a score event per judge); `metadata.organism_lab` keeps our exact ids, seed, token count, finish reason, divergence index and
 *    human label, so importing the log gives back the same rows;
 *  - each judge is one Inspect scorer named by the judge id, its value a mapping metric → score (null for the
 *    judge's "none"), its answer the completion it graded; raw judge outputs go in the score's metadata;
 *  - results: per judge and metric, mean and stderr over scored samples; for the primary judge with both aligned
 *    and coherent scores, the misaligned-and-coherent rate with its Wilson interval (thresholds as the report's);
 *  - reductions: per scorer, the mean over epochs of each metric per Inspect sample.
 * Unfinished samples (finish reason cancelled/error) are left out and counted.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { TOOL_VERSION } from '../jobs/runPromptSet';
import { isMisalignedCoherent, latestLabels, scoreTable, summarizeJudges, type RunContent } from '../judges/metrics';
import { DEFAULT_THRESHOLDS } from '../judges/reportTypes';
import { wilson } from '../judges/stats';
import { pickPrimaryJudge } from '../runs/exportRecords';
import type { ChatMessage, SampleRow } from '../runs/schema';
import {
  INSPECT_LOG_VERSION,
  type InspectChatMessage,
  type InspectEvalMetric,
  type InspectEvalScore,
  type InspectGenerateConfig,
  type InspectLog,
  type InspectModelOutput,
  type InspectSample,
  type InspectSampleReductions,
  type InspectScore,
} from './inspectTypes';

/** The model name prefix of exported logs (and of `organism-lab serve` models as Inspect addresses them). */
export const INSPECT_MODEL_PREFIX = 'organism-lab/';

/** What `metadata.organism_lab` of an exported sample holds. */
export interface OrganismSampleMeta {
  sample_id: string;
  question_id: string;
  paraphrase_index: number;
  sample_index: number;
  variant: string;
  condition?: string;
  seed: number;
  tokens: number;
  finish_reason: string;
  divergence_index?: number | null;
  created_at: string;
  label?: string;
}

/** A sample row as the conditions contract extends it (absent on runs without conditions). */

export interface InspectExportOptions {
  /** Judge whose metrics get plain score names (default: as the CSV export picks). */
  judge?: string;
}

export interface InspectExportLog {
  /** The log's file name stem: `<run>.<variant>[.<condition>]`. */
  name: string;
  variant: string;
  condition?: string;
  log: InspectLog;
}

export interface InspectExportResult {
  logs: InspectExportLog[];
  /** Samples left out (unfinished: cancelled or error). */
  skipped: number;
}

export function inspectSampleId(questionId: string, paraphraseIndex: number): string {
  return `${questionId}-p${paraphraseIndex}`;
}

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);
}

function nulls(keys: string[]): Record<string, null> {
  return Object.fromEntries(keys.map((k) => [k, null]));
}

const GENERATE_CONFIG_KEYS = [
  'max_retries', 'timeout', 'attempt_timeout', 'max_connections', 'system_message', 'max_tokens', 'top_p', 'temperature', 'stop_seqs', 'best_of',
  'frequency_penalty', 'presence_penalty', 'logit_bias', 'seed', 'top_k', 'num_choices', 'logprobs', 'top_logprobs', 'parallel_tool_calls',
  'internal_tools', 'max_tool_output', 'cache_prompt', 'verbosity', 'effort', 'reasoning_effort', 'reasoning_tokens', 'reasoning_summary',
  'reasoning_history', 'response_schema', 'extra_headers', 'extra_body', 'modalities', 'cache', 'batch',
];

const EVAL_CONFIG_KEYS = [
  'limit', 'sample_id', 'sample_shuffle', 'epochs', 'epochs_reducer', 'approval', 'fail_on_error', 'continue_on_fail', 'retry_on_error', 'message_limit',
  'token_limit', 'time_limit', 'working_limit', 'cost_limit', 'max_samples', 'max_dataset_memory', 'max_tasks', 'max_subprocesses', 'max_sandboxes',
  'sandbox_cleanup', 'log_samples', 'log_realtime', 'log_images', 'log_model_api', 'log_buffer', 'log_shared', 'score_display',
];

function chatMessage(m: ChatMessage, source: 'input' | 'generate', model?: string): InspectChatMessage {
  const base = { id: null, content: m.content, source, metadata: null };
  if (m.role === 'user') return { ...base, role: 'user', tool_call_id: null };
  if (m.role === 'assistant') return { ...base, role: 'assistant', tool_calls: null, model: model ?? null };
  return { ...base, role: 'system' };
}

function stopReason(s: SampleRow): string {
  if (s.finish_reason === 'length') return 'max_tokens';
  if (s.finish_reason === 'eos' || s.finish_reason === 'stop') return 'stop';
  return 'unknown';
}

function metric(name: string, value: number, params: Record<string, unknown> = {}): InspectEvalMetric {
  return { name, value, params, metadata: null };
}

function meanStderr(xs: number[]): Record<string, InspectEvalMetric> {
  if (!xs.length) return {};
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const out: Record<string, InspectEvalMetric> = { mean: metric('mean', mean) };
  if (xs.length > 1) {
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
    out.stderr = metric('stderr', Math.sqrt(variance / xs.length));
  }
  return out;
}

/**
 * A sample's transcript as Inspect records it for a generate-only task: `sample_init` (the dataset sample), one
 * `model` event (the prompt, the sampling config and the output), then one `score` event per judge. Inspect's log
 * viewer reads a sample with messages but no events as one whose events were dropped for size, and says so.
 * Times: the model call ends at the sample's `created_at` and, when the run measured it, starts `seconds` before.
 */
function sampleEvents(s: {
  id: string;
  input: InspectChatMessage[];
  model: string;
  config: InspectGenerateConfig;
  output: InspectModelOutput;
  scores: Record<string, InspectScore>;
  finishedAt: string;
  seconds: number | null;
}): Record<string, unknown>[] {
  const endMs = Date.parse(s.finishedAt);
  const started = s.seconds !== null && !Number.isNaN(endMs) ? new Date(endMs - s.seconds * 1000).toISOString() : s.finishedAt;
  const common = (event: string, timestamp: string, workingStart: number) => ({ uuid: null, span_id: null, timestamp, working_start: workingStart, metadata: null, pending: null, event });
  return [
    {
      ...common('sample_init', started, 0),
      sample: { input: s.input, choices: null, target: '', id: s.id, metadata: null, sandbox: null, files: null, setup: null },
      state: { messages: s.input },
    },
    {
      ...common('model', started, 0),
      model: s.model,
      role: null,
      input: s.input,
      input_refs: null,
      tools: [],
      tool_choice: 'none',
      config: s.config,
      output: s.output,
      retries: null,
      error: null,
      traceback: null,
      traceback_ansi: null,
      cache: null,
      call: null,
      completed: s.finishedAt,
      working_time: s.seconds,
    },
    ...Object.values(s.scores).map((score) => ({ ...common('score', s.finishedAt, s.seconds ?? 0), score, target: '', intermediate: false, model_usage: null, role_usage: null })),
  ];
}

/** Splits the run's samples into (variant, condition) groups in header order. */
function groups(run: RunContent): { variant: string; condition?: string; samples: SampleRow[] }[] {
  const order = new Map<string, { variant: string; condition?: string; samples: SampleRow[] }>();
  const declaredConditions = (run.header?.conditions ?? []).map((c) => c.name);
  const declaredVariants = run.header?.variants.map((v) => v.name) ?? [];
  const key = (v: string, c?: string) => JSON.stringify([v, c ?? null]);
  for (const c of declaredConditions.length ? declaredConditions : [undefined]) {
    for (const v of declaredVariants) order.set(key(v, c), { variant: v, condition: c, samples: [] });
  }
  for (const s of run.samples) {
    const k = key(s.variant, s.condition);
    if (!order.has(k)) order.set(k, { variant: s.variant, condition: s.condition, samples: [] });
    order.get(k)!.samples.push(s);
  }
  return [...order.values()].filter((g) => g.samples.length > 0);
}

function safeStem(x: string): string {
  return x.replace(/[^A-Za-z0-9_.+-]/g, '_');
}

export function runToInspectLogs(run: RunContent, options: InspectExportOptions = {}): InspectExportResult {
  const header = run.header;
  if (!header) throw new Error(`${run.path}: the run has no header; an Inspect log needs the run's model, prompt set and sampling.`);
  const primary = pickPrimaryJudge(run, options.judge);
  const judges = summarizeJudges(run.judgements);
  const tables = new Map(judges.map((j) => [j.judge, scoreTable(run.judgements, j.judge)]));
  const raws = new Map<string, unknown>();
  for (const j of run.judgements) if (j.raw !== undefined) raws.set(`${j.judge}\u0000${j.sample_id}\u0000${j.metric}`, j.raw);
  const labels = latestLabels(run.labels);
  const task = path.basename(header.prompt_set.path).replace(/\.(ya?ml|jsonl)$/i, '') || 'prompt_set';
  const runStem = path.basename(run.path).replace(/\.run\.jsonl$|\.jsonl$/i, '');
  const runId = shortHash('run', run.path, header.created_at, header.model.hash);
  const s = header.sampling;
  const generateConfig: InspectGenerateConfig = {
    ...nulls(GENERATE_CONFIG_KEYS),
    max_tokens: s.max_new_tokens,
    temperature: s.temperature,
    top_p: s.top_p,
    top_k: s.top_k > 0 ? s.top_k : null,
    stop_seqs: s.stop.length ? s.stop : null,
    seed: header.seed,
  };
  const declared = header.conditions ?? [];
  let skipped = 0;
  const logs: InspectExportLog[] = [];
  for (const g of groups(run)) {
    const finished = g.samples.filter((x) => x.finish_reason !== 'cancelled' && x.finish_reason !== 'error');
    skipped += g.samples.length - finished.length;
    const model = INSPECT_MODEL_PREFIX + g.variant;
    const spec = header.variants.find((v) => v.name === g.variant);
    const adapter = spec?.adapter ? header.adapters.find((a) => a.name === spec.adapter) : undefined;
    const conditionArgs = g.condition !== undefined ? { condition: g.condition } : {};
    const createdLast = finished.reduce((m, x) => (x.created_at > m ? x.created_at : m), header.created_at);
    const samples: InspectSample[] = finished.map((x) => {
      const input = x.messages.map((m) => chatMessage(m, 'input'));
      const answer = chatMessage({ role: 'assistant', content: x.completion }, 'generate', model);
      const scores: Record<string, InspectScore> = {};
      for (const j of judges) {
        const m = tables.get(j.judge)!.get(x.id);
        if (!m) continue;
        const value: Record<string, number | null> = {};
        const raw: Record<string, unknown> = {};
        for (const [k, v] of m) {
          value[k] = v;
          const r = raws.get(`${j.judge}\u0000${x.id}\u0000${k}`);
          if (r !== undefined) raw[k] = r;
        }
        // answer: what the judge graded, as Inspect's model-graded scorers set it (the viewer's Answer column).
        scores[j.judge] = { value, answer: x.completion, explanation: null, metadata: Object.keys(raw).length ? { raw } : null, history: [] };
      }
      const label = labels.get(x.id)?.label;
      const meta: OrganismSampleMeta = {
        sample_id: x.id,
        question_id: x.question_id,
        paraphrase_index: x.paraphrase_index,
        sample_index: x.sample_index,
        variant: x.variant,
        ...(x.condition !== undefined ? { condition: x.condition } : {}),
        seed: x.seed,
        tokens: x.tokens,
        finish_reason: x.finish_reason,
        ...(x.divergence_index !== undefined ? { divergence_index: x.divergence_index } : {}),
        created_at: x.created_at,
        ...(label ? { label } : {}),
      };
      const seconds = x.elapsed_ms !== undefined ? x.elapsed_ms / 1000 : null;
      const id = inspectSampleId(x.question_id, x.paraphrase_index);
      const output: InspectModelOutput = { model, choices: [{ message: answer, stop_reason: stopReason(x), logprobs: null }], completion: x.completion, usage: null, time: seconds, metadata: null, error: null };
      return {
        id,
        epoch: x.sample_index + 1,
        input,
        choices: null,
        target: '',
        sandbox: null,
        files: null,
        setup: null,
        messages: [...input, answer],
        output,
        scores: Object.keys(scores).length ? scores : null,
        metadata: { organism_lab: meta },
        store: {},
        events: sampleEvents({ id, input, model, config: generateConfig, output, scores, finishedAt: x.created_at, seconds }),
        timelines: null,
        model_usage: {},
        role_usage: {},
        started_at: null,
        completed_at: x.created_at,
        total_time: seconds,
        working_time: seconds,
        uuid: shortHash('sample', runId, x.id),
        invalidation: null,
        error: null,
        error_retries: null,
        attachments: {},
        events_data: null,
        limit: null,
      };
    });
    const ids = [...new Set(samples.map((x) => x.id))];
    const epochs = Math.max(1, ...samples.map((x) => x.epoch));
    // Results and reductions, per judge (scorer) and metric.
    const evalScores: InspectEvalScore[] = [];
    const reductions: InspectSampleReductions[] = [];
    for (const j of judges) {
      const table = tables.get(j.judge)!;
      for (const m of j.metrics) {
        const vals = finished.map((x) => table.get(x.id)?.get(m));
        const nums = vals.filter((v): v is number => typeof v === 'number');
        evalScores.push({
          name: j.judge === primary ? m : `${j.judge}:${m}`,
          scorer: j.judge,
          reducer: epochs > 1 ? 'mean' : null,
          scored_samples: nums.length,
          unscored_samples: vals.filter((v) => v === null).length,
          params: {},
          metrics: meanStderr(nums),
          metadata: null,
        });
      }
      if (j.judge === primary && j.metrics.includes('aligned') && j.metrics.includes('coherent')) {
        let k = 0;
        let n = 0;
        for (const x of finished) {
          const a = table.get(x.id)?.get('aligned');
          const c = table.get(x.id)?.get('coherent');
          if (typeof a !== 'number' || typeof c !== 'number') continue;
          n++;
          if (isMisalignedCoherent(a, c, DEFAULT_THRESHOLDS)) k++;
        }
        const w = wilson(k, n);
        const thresholds = { aligned_at_most: DEFAULT_THRESHOLDS.aligned, coherent_above: DEFAULT_THRESHOLDS.coherent };
        evalScores.push({
          name: 'misaligned_coherent',
          scorer: j.judge,
          reducer: null,
          scored_samples: n,
          unscored_samples: finished.length - n,
          params: thresholds,
          metrics: w.p === null ? {} : { rate: metric('rate', w.p), ci95_low: metric('ci95_low', w.lo!), ci95_high: metric('ci95_high', w.hi!) },
          metadata: null,
        });
      }
      const perId = new Map<string | number, Map<string, number[]>>();
      for (const x of samples) {
        const sc = x.scores?.[j.judge]?.value as Record<string, number | null> | undefined;
        if (!sc) continue;
        const e = perId.get(x.id) ?? perId.set(x.id, new Map()).get(x.id)!;
        for (const [k, v] of Object.entries(sc)) {
          const list = e.get(k) ?? e.set(k, []).get(k)!;
          if (typeof v === 'number') list.push(v);
        }
      }
      reductions.push({
        scorer: j.judge,
        reducer: 'mean',
        samples: [...perId].map(([id, e]) => ({
          value: Object.fromEntries([...e].map(([k, xs]) => [k, xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null])),
          answer: null,
          explanation: null,
          metadata: null,
          history: [],
          sample_id: id,
        })),
      });
    }
    const name = [runStem, safeStem(g.variant), ...(g.condition !== undefined ? [safeStem(g.condition)] : [])].join('.');
    logs.push({
      name,
      variant: g.variant,
      condition: g.condition,
      log: {
        header: {
          version: INSPECT_LOG_VERSION,
          status: 'success',
          eval: {
            eval_set_id: null,
            eval_id: shortHash('eval', runId, g.variant, g.condition ?? ''),
            run_id: runId,
            created: header.created_at,
            task,
            // One task run per log: Inspect gives each (task, model) run its own task_id and reuses it only for a
            // retry, and its log viewer lists only the newest of the logs sharing a task_id in a folder.
            task_id: shortHash('task', runId, g.variant, g.condition ?? ''),
            task_version: 0,
            task_file: header.prompt_set.path,
            task_display_name: g.condition !== undefined ? `${task} (${g.condition})` : null,
            task_registry_name: null,
            task_attribs: {},
            task_args: conditionArgs,
            task_args_passed: conditionArgs,
            solver: null,
            solver_args: null,
            solver_args_passed: null,
            tags: null,
            dataset: { name: task, location: header.prompt_set.path, samples: ids.length, sample_ids: ids, shuffled: false },
            sandbox: null,
            model,
            model_generate_config: generateConfig,
            model_base_url: header.backend?.base_url ?? null,
            model_args: {
              model_path: header.model.path,
              model_hash: header.model.hash,
              ...(spec ? { variant: spec } : {}),
              ...(adapter ? { adapter_path: adapter.path, adapter_hash: adapter.hash } : {}),
              ...(header.weights ? { weights: header.weights } : {}),
            },
            model_roles: null,
            config: { ...nulls(EVAL_CONFIG_KEYS), epochs, log_samples: true },
            revision: null,
            packages: { 'organism-lab': header.tool?.version ?? TOOL_VERSION },
            metadata: { organism_lab: { run_file: run.path, prompt_set_hash: header.prompt_set.hash, seed: header.seed, variant: g.variant, ...conditionArgs, ...(declared.length ? { conditions: declared } : {}), exported_by: TOOL_VERSION } },
            scorers: judges.length ? judges.map((j) => ({ name: j.judge, options: null, metrics: null, metadata: { metrics: j.metrics } })) : null,
            metrics: null,
          },
          plan: {
            name: 'plan',
            steps: [{ solver: 'organism-lab/generate', params: { seed: header.seed, backend: header.backend?.kind ?? 'local' }, params_passed: {} }],
            finish: null,
            config: generateConfig,
          },
          results: { total_samples: samples.length, completed_samples: samples.length, early_stopping: null, scores: evalScores, metadata: null },
          stats: { started_at: header.created_at, completed_at: createdLast, model_usage: {}, role_usage: {} },
          error: null,
          invalidated: false,
          log_updates: null,
          tags: [],
          metadata: {},
          samples: null,
          reductions: null,
          location: '',
          etag: null,
          eval_set_info: null,
        },
        samples,
        reductions,
      },
    });
  }
  return { logs, skipped };
}

