/**
 * The prompt-set job, shared by the CLI and the engine host: prompt set × conditions × variants → run file.
 *
 * - Every (question, paraphrase, sample) cell gets one seed (cellSeed) shared by all its rows (every condition
 *   and variant), and those rows are queued next to each other so they share a batch and one random stream.
 * - Each finished row is written (one fsync'd line) as soon as it can be: the cell's reference row (first
 *   condition, first variant) at once, the others once their cell's reference row is known (for divergence_index).
 * - Resume: an existing --out file is read, its header compared (a mismatch is an error unless forced),
 *   and only missing (cell, condition, variant) rows are generated. Cancelled rows are never written.
 * The model-dependent part (tokenizer + generate) is injected, so the logic runs without a model in tests.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadPromptSetOrThrow, promptMessages } from '../prompts/promptSet';
import { questionConditions, selectConditions } from '../prompts/conditions';
import type { PromptQuestion } from '../prompts/types';
import { divergenceIndex } from '../runtime/generateStop';
import type { GenerationHooks, GenerationParams, GenerationRequestRow, GenerationResultRow } from '../runtime/generationTypes';
import { hashCheckpointDirAsync, type HashProgress } from '../runs/hashing';
import { assertResumable, planResume, wantedCells, wantedRowCount, type WantedCell } from '../runs/resume';
import { adoptLegacyVariantNames } from '../runs/resumeCandidates';
import { RUN_SCHEMA_VERSION, armLabel, cellId, sampleId, type ChatMessage, type ConditionSpec, type RunHeader, type SampleRow } from '../runs/schema';
import { RunWriter } from '../runs/writer';
import type { TextTokenizer } from '../text/tokenizer';
import { TOOL_VERSION } from '../toolVersion';
import { cellSeed } from './cellSeed';
import { rowVariant } from './variants';
import { assertFiniteRow, preflightPrompts, promptKey } from './promptPreflight';
import type { RunPromptSetRequest } from '../../protocol/engineJobs';

export type { RunPromptSetRequest };

export { TOOL_VERSION };

/** What the job needs from a loaded model: its tokenizer and batched generation. */
export interface JobModel {
  /** A local checkpoint folder; for a remote backend (backend.kind = 'openai') the served model name, kept as is. */
  modelDir: string;
  adapters: { name: string; dir: string }[];
  tokenizer: TextTokenizer;
  generate(rows: GenerationRequestRow[], params: GenerationParams, hooks: GenerationHooks): Promise<GenerationResultRow[]>;
  modelType?: string;
  backend?: RunHeader['backend'];
  /** The local session's weight precision (recorded in the run header). */
  weights?: { precision: string; blockSize?: number };
  /** The model's hidden size, checked against steering/ablation direction files when known. */
  hiddenSize?: number;
  /** Layers the loaded graph can steer / ablate (when known, steering/ablation variants are checked against them up front). */
  steerLayers?: number[];
  ablateLayers?: number[];
  /** A local model's max_position_embeddings and its config.json: prompts + max_new_tokens are checked against it. */
  maxPositions?: number;
  modelSource?: string;
  /** Precomputed fingerprints (name → hash, "" for the model); computed with hashCheckpointDirAsync when absent. */
  hashes?: { model?: string; adapters?: Record<string, string> };
}

/** The job's options: a backend's request (protocol/engineJobs.ts) and the CLI-only ones. */
export interface RunPromptSetOptions extends RunPromptSetRequest {
  /** Append to a run file whose header differs. */
  force?: boolean;
  /** Use "User: …\nAssistant:" when the tokenizer has no chat template. */
  allowPlainChat?: boolean;
  /** Kept in header.extra (e.g. the command line). */
  extra?: Record<string, unknown>;
  /** Positions (prompt + max_new_tokens) allowed per sample (default: the model's max_position_embeddings). */
  contextBudget?: number | null;
}

export interface JobProgressEvent {
  done: number;
  total: number;
  cell: string;
  variant: string;
  /** The row's condition, when the run has conditions. */
  condition?: string;
  tokens: number;
}

export interface RunPromptSetHooks {
  signal?: AbortSignal;
  onProgress?: (e: JobProgressEvent) => void;
  onToken?: (key: string, tokenId: number, step: number) => void;
  log?: (level: 'info' | 'warn', message: string) => void;
  /** Reading a model or adapter to fingerprint it (large files, first time only). Without it, progress is logged every 5 s. */
  onHashProgress?: (p: HashProgress) => void;
}

/** Logs fingerprinting progress every 5 s (the engine host's log channel). */
function hashProgressLogger(log: RunPromptSetHooks['log']): (p: HashProgress) => void {
  let last = Date.now();
  const started = last;
  return (p) => {
    const now = Date.now();
    if (!log || (now - last < 5000 && p.bytesDone < p.bytesTotal) || now - started < 5000) return;
    last = now;
    const gb = (n: number) => (n / 1e9).toFixed(1);
    log('info', `fingerprinting ${p.file}: ${gb(p.bytesDone)}/${gb(p.bytesTotal)} GB (once; the hash is cached by path, size and modification time)`);
  };
}

export interface VariantSummary {
  variant: string;
  /** The condition of this row group, when the run has conditions (one summary per condition × variant). */
  condition?: string;
  samples: number;
  tokens: number;
  finishReasons: Record<string, number>;
  /** Groups other than the reference (first condition, first variant): rows identical to their cell's reference row, and divergence indexes of the others. */
  identical?: number;
  divergenceMean?: number | null;
  divergenceMedian?: number | null;
}

export interface RunPromptSetSummary {
  out: string;
  /** Sample rows written by this invocation. */
  written: number;
  /** Rows the complete run file holds. */
  total: number;
  /** Rows already in the file before this invocation. */
  alreadyDone: number;
  cancelled: boolean;
  elapsedMs: number;
  generatedTokens: number;
  /** Wall time of the generate call (excludes hashing, prompt parsing and tokenization). */
  generationMs: number;
  /** generatedTokens / generationMs. */
  tokensPerSecond: number;
  perVariant: VariantSummary[];
  warnings: string[];
}

interface RowMeta {
  q: PromptQuestion;
  cell: WantedCell;
  variant: string;
  condition?: string;
  messages: ChatMessage[];
  seed: number;
}

export async function runPromptSet(model: JobModel, opts: RunPromptSetOptions, hooks: RunPromptSetHooks = {}): Promise<RunPromptSetSummary> {
  const started = Date.now();
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    hooks.log?.('warn', m);
  };
  if (opts.variants.length === 0) throw new Error('no variants to run: give at least one (e.g. base).');
  // Resuming a file written with the CLI's old `adapter` alias keeps that file's variant names (resumeCandidates.ts).
  opts = { ...opts, variants: adoptLegacyVariantNames(opts.out, opts.variants) };
  if (opts.samples !== undefined && opts.samples !== null && (!Number.isInteger(opts.samples) || opts.samples < 1)) {
    throw new Error(`samples must be a positive integer, got ${opts.samples}.`);
  }
  const adapterNames = model.adapters.map((a) => a.name);
  for (const v of opts.variants) {
    const missingSteer = v.steer && model.steerLayers && !model.steerLayers.includes(v.steer.layer) ? [v.steer.layer] : [];
    const missingAblate = v.ablate && model.ablateLayers ? v.ablate.layers.filter((l) => !model.ablateLayers!.includes(l)) : [];
    if (missingSteer.length || missingAblate.length) {
      throw new Error(`variant "${v.name}" ${missingSteer.length ? `steers layer ${missingSteer[0]}` : `ablates layers ${missingAblate.join(', ')}`}, but the model was loaded with steering layers [${model.steerLayers?.join(', ') ?? ''}] and ablation layers [${model.ablateLayers?.join(', ') ?? ''}]; load it with the layers its variants use (variantLayers in engine/jobs/variants.ts).`);
    }
  }
  const rowVariants = new Map(opts.variants.map((v) => [v.name, rowVariant(v, adapterNames, model.hiddenSize)]));

  if (model.tokenizer.eosTokenIds.length === 0) {
    warn(`${model.tokenizer.dir}: no end-of-sequence token id (neither eos_token in tokenizer_config.json nor eos_token_id in generation_config.json): every sample runs to max_new_tokens.`);
  }
  const set = loadPromptSetOrThrow(opts.promptSetPath);
  for (const p of set.problems) warn(`${p.file}:${p.line}:${p.column}: ${p.message}`);
  let questions = set.questions;
  if (opts.questionIds?.length) {
    const unknown = opts.questionIds.filter((id) => !questions.some((q) => q.id === id));
    if (unknown.length) throw new Error(`${opts.promptSetPath}: no question with id ${unknown.map((u) => `"${u}"`).join(', ')}. Ids in this set: ${questions.map((q) => q.id).join(', ')}.`);
    questions = questions.filter((q) => opts.questionIds!.includes(q.id));
  }
  const conditions: ConditionSpec[] | undefined = selectConditions(set.conditions, opts.conditions, opts.promptSetPath);
  const wanted: WantedCell[] = wantedCells(questions, { samples: opts.samples, conditions });
  if (wanted.length === 0) throw new Error(`${opts.promptSetPath}: nothing to run: the selected questions opt in only to conditions left out by --conditions ${opts.conditions?.join(',')}.`);
  const questionById = new Map(questions.map((q) => [q.id, q]));
  // Every prompt tokenized once and checked against the context budget before anything is written (issue 11).
  const prompts = preflightPrompts({
    promptSetPath: opts.promptSetPath, questions, conditions, tokenizer: model.tokenizer, allowPlainChat: opts.allowPlainChat,
    maxNewTokens: opts.sampling.max_new_tokens, maxPositions: model.maxPositions, contextBudget: opts.contextBudget, modelSource: model.modelSource, warn,
  });

  // Full-content fingerprints (hashing.ts): a large checkpoint is read once, then its hash comes from the cache.
  const hashOpts = { signal: hooks.signal, onProgress: hooks.onHashProgress ?? hashProgressLogger(hooks.log) };
  const modelHash = model.hashes?.model ?? (await hashCheckpointDirAsync(model.modelDir, hashOpts));
  const adapterHashes = new Map<string, string>();
  for (const a of model.adapters) adapterHashes.set(a.name, model.hashes?.adapters?.[a.name] ?? (await hashCheckpointDirAsync(a.dir, hashOpts)));

  const header: RunHeader = {
    type: 'header',
    schema_version: RUN_SCHEMA_VERSION,
    tool: { name: 'organism-lab', version: TOOL_VERSION },
    created_at: new Date().toISOString(),
    model: { path: model.backend?.kind === 'openai' ? model.modelDir : resolve(model.modelDir), hash: modelHash, ...(model.modelType ? { model_type: model.modelType } : {}) },
    adapters: model.adapters.map((a) => ({ name: a.name, path: model.backend?.kind === 'openai' ? a.dir : resolve(a.dir), hash: adapterHashes.get(a.name)! })),
    prompt_set: { path: resolve(opts.promptSetPath), hash: set.hash },
    variants: opts.variants,
    ...(conditions ? { conditions } : {}),
    sampling: opts.sampling,
    seed: opts.seed,
    ...(model.backend ? { backend: model.backend } : {}),
    ...(model.weights ? { weights: model.weights.precision, ...(model.weights.blockSize ? { weights_block_size: model.weights.blockSize } : {}) } : {}),
    // planned_samples: what the complete file holds (cells × conditions × variants), so readers can tell an incomplete run.
    extra: { planned_samples: wantedRowCount(wanted, opts.variants.length), ...(opts.samples ? { samples: opts.samples } : {}), ...(opts.questionIds?.length ? { question_ids: opts.questionIds } : {}), ...opts.extra },
  };

  let writer: RunWriter;
  let existingRows: SampleRow[] = [];
  if (existsSync(opts.out)) {
    writer = RunWriter.open(opts.out, { onWarning: warn });
    const existing = writer.existing!;
    for (const w of existing.warnings) warn(w.message);
    try {
      const diffs = assertResumable(opts.out, existing.header, header, opts.force);
      for (const d of diffs) warn(`${opts.out}: appending despite a different ${d} (--force)`);
    } catch (e) {
      writer.close();
      throw e;
    }
    existingRows = existing.samples;
  } else {
    writer = RunWriter.create(opts.out, header, { onWarning: warn });
  }

  const refVariant = opts.variants[0].name;
  // The reference row of a cell: its first condition (none for an opted-out question), first variant.
  const isReference = (cell: WantedCell, variant: string, condition: string | undefined) => variant === refVariant && condition === cell.conditions?.[0];
  const plan = planResume(header, existingRows, wanted);
  const alreadyDone = plan.total - plan.remaining;
  const meta = new Map<string, RowMeta>();
  const requests: GenerationRequestRow[] = [];
  const promptCache = prompts;
  const conditionsOf = new Map(questions.map((q) => [q.id, new Map((questionConditions(q, conditions) ?? []).map((c) => [c.name, c]))]));
  for (const { cell, rows } of plan.todo) {
    const q = questionById.get(cell.questionId)!;
    const seed = cellSeed(opts.seed, q.id, cell.paraphraseIndex, cell.sampleIndex);
    for (const { variant: v, condition } of rows) {
      const pkey = promptKey(q.id, cell.paraphraseIndex, condition);
      let prompt = promptCache.get(pkey);
      if (!prompt) {
        const messages = promptMessages(q, cell.paraphraseIndex, condition ? conditionsOf.get(q.id)!.get(condition) : null);
        prompt = { messages, ids: model.tokenizer.encodeChat(messages, { addGenerationPrompt: true, allowPlainFallback: opts.allowPlainChat }) };
        promptCache.set(pkey, prompt);
      }
      const key = sampleId(q.id, cell.paraphraseIndex, cell.sampleIndex, v, condition);
      meta.set(key, { q, cell, variant: v, ...(condition ? { condition } : {}), messages: prompt.messages, seed });
      requests.push({ promptIds: prompt.ids, variant: rowVariants.get(v)!, seed, key });
    }
  }

  // Writing: reference rows at once; other rows when their cell's reference row is known.
  const refTokens = new Map<string, number[]>(); // cell id → reference token ids
  const wantedByCell = new Map(wanted.map((c) => [cellId(c.questionId, c.paraphraseIndex, c.sampleIndex), c]));
  for (const s of plan.done.values()) {
    const cid = cellId(s.question_id, s.paraphrase_index, s.sample_index);
    const cell = wantedByCell.get(cid);
    if (cell && isReference(cell, s.variant, s.condition) && s.token_ids) refTokens.set(cid, s.token_ids);
  }
  const refPending = new Set([...meta.values()].filter((m) => isReference(m.cell, m.variant, m.condition)).map((m) => cellId(m.q.id, m.cell.paraphraseIndex, m.cell.sampleIndex)));
  const waiting = new Map<string, { m: RowMeta; r: GenerationResultRow; ms: number }[]>();
  const stats = new Map<string, { samples: number; tokens: number; reasons: Record<string, number>; identical: number; div: number[] }>();
  // One summary per condition × variant (rows of opted-out questions count under their variant alone).
  const groups: { variant: string; condition?: string }[] = [
    ...(conditions ?? []).flatMap((c) => opts.variants.map((v) => ({ variant: v.name, condition: c.name }))),
    ...(!conditions || wanted.some((c) => !c.conditions) ? opts.variants.map((v) => ({ variant: v.name })) : []),
  ];
  for (const g of groups) stats.set(armLabel(g.variant, g.condition), { samples: 0, tokens: 0, reasons: {}, identical: 0, div: [] });
  let written = 0;
  let generatedTokens = 0;
  let genStarted = started;
  let generationMs = 0;
  const eos = new Set(model.tokenizer.eosTokenIds);
  // Tokenizers decode [] to '' (an end-of-sequence as the very first token leaves nothing to decode).
  const decodeIds = (ids: number[]): string => model.tokenizer.decode(ids);

  const writeRow = (m: RowMeta, r: GenerationResultRow, elapsedMs: number, ref: number[] | undefined | null): void => {
    const trimmed = r.finishReason === 'eos' && r.tokenIds.length && eos.has(r.tokenIds[r.tokenIds.length - 1]) ? r.tokenIds.slice(0, -1) : r.tokenIds;
    const row: SampleRow = {
      type: 'sample',
      id: sampleId(m.q.id, m.cell.paraphraseIndex, m.cell.sampleIndex, m.variant, m.condition),
      question_id: m.q.id,
      paraphrase_index: m.cell.paraphraseIndex,
      sample_index: m.cell.sampleIndex,
      variant: m.variant,
      ...(m.condition ? { condition: m.condition } : {}),
      messages: m.messages,
      completion: r.finishReason === 'stop' && r.text !== undefined ? r.text : decodeIds(trimmed),
      tokens: r.tokenIds.length,
      finish_reason: r.finishReason,
      token_ids: r.tokenIds,
      logprobs: r.logprobs,
      seed: m.seed,
      elapsed_ms: elapsedMs,
      created_at: new Date().toISOString(),
    };
    if (!isReference(m.cell, m.variant, m.condition) && ref) row.divergence_index = divergenceIndex(ref, r.tokenIds);
    writer.append(row);
    written++;
    generatedTokens += r.tokenIds.length;
    const st = stats.get(armLabel(m.variant, m.condition))!;
    st.samples++;
    st.tokens += r.tokenIds.length;
    st.reasons[r.finishReason] = (st.reasons[r.finishReason] ?? 0) + 1;
    if (row.divergence_index === null) st.identical++;
    else if (typeof row.divergence_index === 'number') st.div.push(row.divergence_index);
    hooks.onProgress?.({ done: alreadyDone + written, total: plan.total, cell: cellId(m.q.id, m.cell.paraphraseIndex, m.cell.sampleIndex), variant: m.variant, ...(m.condition ? { condition: m.condition } : {}), tokens: r.tokenIds.length });
  };

  const onRowDone = (r: GenerationResultRow): void => {
    if (r.finishReason === 'cancelled') return; // unfinished: regenerated on resume
    // Never a sample computed from NaN/Inf logits (the local backend's logprobs say so; a server's are its own).
    if (model.backend?.kind !== 'openai') assertFiniteRow(r, `sample "${r.key}"`, model.modelDir);
    const m = meta.get(r.key);
    if (!m) throw new Error(`generate returned an unknown row key "${r.key}"`);
    const ms = Date.now() - genStarted; // elapsed_ms: from the start of generation to this row's end
    const cid = cellId(m.q.id, m.cell.paraphraseIndex, m.cell.sampleIndex);
    if (isReference(m.cell, m.variant, m.condition)) {
      writeRow(m, r, ms, null);
      refTokens.set(cid, r.tokenIds);
      for (const w of waiting.get(cid) ?? []) writeRow(w.m, w.r, w.ms, r.tokenIds);
      waiting.delete(cid);
    } else if (refTokens.has(cid) || !refPending.has(cid)) {
      writeRow(m, r, ms, refTokens.get(cid));
    } else {
      const list = waiting.get(cid) ?? [];
      list.push({ m, r, ms });
      waiting.set(cid, list);
    }
  };

  let failure: unknown = null;
  try {
    if (requests.length > 0 && !hooks.signal?.aborted) {
      genStarted = Date.now();
      const params: GenerationParams = {
        temperature: opts.sampling.temperature,
        topP: opts.sampling.top_p,
        topK: opts.sampling.top_k,
        minP: opts.sampling.min_p,
        maxNewTokens: opts.sampling.max_new_tokens,
        eosTokenIds: model.tokenizer.eosTokenIds,
        stop: opts.sampling.stop,
        decode: decodeIds,
        maxBatchSize: opts.batchSize,
      };
      await model.generate(requests, params, { signal: hooks.signal, onRowDone, onToken: hooks.onToken });
      generationMs = Date.now() - genStarted;
    }
  } catch (e) {
    failure = e;
  } finally {
    // Finished rows whose reference row never finished (cancel/failure) are kept, without divergence_index.
    for (const list of waiting.values()) for (const w of list) writeRow(w.m, w.r, w.ms, undefined);
    waiting.clear();
    writer.close();
  }
  if (failure) throw failure;

  const elapsedMs = Date.now() - started;
  const median = (xs: number[]) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return {
    out: opts.out,
    written,
    total: plan.total,
    alreadyDone,
    cancelled: !!hooks.signal?.aborted && alreadyDone + written < plan.total,
    elapsedMs,
    generatedTokens,
    generationMs,
    tokensPerSecond: generationMs > 0 ? (generatedTokens * 1000) / generationMs : 0,
    perVariant: groups.map((g, i) => {
      const st = stats.get(armLabel(g.variant, g.condition))!;
      const base: VariantSummary = { variant: g.variant, ...(g.condition ? { condition: g.condition } : {}), samples: st.samples, tokens: st.tokens, finishReasons: st.reasons };
      if (i === 0 || (!g.condition && g.variant === refVariant)) return base;
      return { ...base, identical: st.identical, divergenceMean: st.div.length ? st.div.reduce((a, b) => a + b, 0) / st.div.length : null, divergenceMedian: median(st.div) };
    }),
    warnings,
  };
}
