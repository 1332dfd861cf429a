/**
 * Memory preflight: before a session is created, estimate its resident size at a weight precision and
 * compare it with what this machine or container can give; refuse with the numbers (and the precision
 * that would fit) instead of being killed by the kernel half-way through session creation.
 *
 * Estimate (bytes), from config.json and the checkpoint header only:
 *   weights      f32: 4 B/param (+ the largest tensor's float32 copy while a BF16/F16 checkpoint is cast
 *                at load); f16: 2 B/param on CUDA, 6 on CPU (onnxruntime folds the float16 matrices
 *                back to float32 there, next to the float16 initializers); int8: (1 + 4/32) B/param of every quantized matrix (values +
 *                block scales), int4: (0.5 + 4/32); the embedding is stored twice when quantized (the
 *                gather's copy and the LM head's prepacked one); norms and biases float32.
 *   kvCache      2 (key, value) × layers × kv heads × head dim × 4 B × batch × max length, × 2 (the past
 *                fed in and the present returned coexist during a step).
 *   activations  the largest of one prefill step's buffers: attention scores and probabilities
 *                (batch × heads × prompt² × 4 B × 2), the MLP (batch × prompt × intermediate × 4 B × 3),
 *                the last-position logits (batch × vocab × 4 B × 2), plus LoRA A/B in float32.
 *   runtime      Node + onnxruntime + the arena's slack: 300 MiB + 10% of the weights (measured on the
 *                Qwen2.5-0.5B shape: see README "Weight precision").
 * Available: MemAvailable from /proc/meminfo, the cgroup's limit minus its usage (v2 memory.max /
 * memory.current, v1 memory.limit_in_bytes / memory.usage_in_bytes), and organismLab.engine.maxMemoryMB
 * (--max-memory-mb); the smallest wins.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ModelSpec } from '../checkpoint/modelSpec';
import type { SafetensorsCheckpoint } from '../checkpoint/safetensors';
import { DTYPE_SIZE } from '../checkpoint/safetensors';
import { LINEAR_MODULES, linearShape } from '../checkpoint/modelSpec';
import type { WeightPrecision, WeightsChoice } from '../quant/weightPrecision';
import { DEFAULT_BLOCK_SIZE } from '../quant/weightPrecision';

const MiB = 1024 * 1024;
const GB = 1e9;

export interface SessionShape {
  /** Rows generated together (organismLab.batchSize / --batch-size). */
  batch: number;
  /** Prompt + generated tokens per row, at most. */
  maxLength: number;
  /** Longest prompt prefilled at once (default min(maxLength, 512)). */
  promptLength?: number;
  /** Total LoRA rank × (in + out) float32 values of all loaded adapters. */
  loraParams?: number;
  /** The provider: on cpu, f16 weights are folded back to float32 (default cpu). */
  executionProvider?: 'cpu' | 'cuda';
}

export interface MemoryEstimate {
  precision: WeightPrecision;
  weights: number;
  kvCache: number;
  activations: number;
  runtime: number;
  total: number;
}

/** Source dtype facts of the checkpoint the estimate needs (from its header). */
export interface CheckpointFacts {
  /** Bytes per element on disk of the weights (2 for BF16/F16, 4 for F32). */
  sourceBytesPerParam: number;
  /** Elements of the largest tensor (the embedding, usually). */
  largestTensor: number;
}

export function checkpointFacts(ckpt: SafetensorsCheckpoint): CheckpointFacts {
  let largest = 0;
  let bytes = 4;
  for (const n of ckpt.names()) {
    const info = ckpt.info(n);
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (count > largest) {
      largest = count;
      bytes = DTYPE_SIZE[info.dtype];
    }
  }
  return { sourceBytesPerParam: bytes, largestTensor: largest };
}

export function paramCounts(spec: ModelSpec): { linear: number; embedding: number; lmHead: number; other: number; total: number } {
  const H = spec.hiddenSize;
  let linear = 0;
  for (const m of LINEAR_MODULES) {
    const [o, i] = linearShape(spec, m);
    linear += o * i;
  }
  linear *= spec.numLayers;
  const embedding = spec.vocabSize * H;
  const lmHead = spec.tieWordEmbeddings ? 0 : embedding;
  let other = (spec.sandwichNorms ? 4 : 2) * H + (spec.qkNorm ? 2 * spec.headDim : 0);
  if (spec.qkvBias) other += (spec.numHeads + 2 * spec.numKvHeads) * spec.headDim;
  other = other * spec.numLayers + H;
  return { linear, embedding, lmHead, other, total: linear + embedding + lmHead + other };
}

export function estimateWeightBytes(spec: ModelSpec, precision: WeightPrecision, facts: CheckpointFacts, blockSize = DEFAULT_BLOCK_SIZE, executionProvider: 'cpu' | 'cuda' = 'cpu'): number {
  const p = paramCounts(spec);
  switch (precision) {
    case 'f32': {
      const transient = facts.sourceBytesPerParam < 4 ? facts.largestTensor * 4 : 0;
      return p.total * 4 + transient;
    }
    case 'f16':
      // CUDA: float16 on the device; CPU: onnxruntime folds the float16 matrices back to float32 (plus the
      // float16 initializers while it does)
      return executionProvider === 'cuda' ? p.total * 2 : p.total * 6;
    case 'int8':
    case 'int4': {
      const per = (precision === 'int8' ? 1 : 0.5) + 4 / blockSize;
      // embedding twice: GatherBlockQuantized's copy and the LM head's (tied) or lm_head's own
      return (p.linear + 2 * p.embedding) * per + p.other * 4;
    }
  }
}

export function estimateSession(spec: ModelSpec, precision: WeightPrecision, shape: SessionShape, facts: CheckpointFacts): MemoryEstimate {
  const weights = estimateWeightBytes(spec, precision, facts, DEFAULT_BLOCK_SIZE, shape.executionProvider ?? 'cpu');
  const kvPerToken = 2 * spec.numLayers * spec.numKvHeads * spec.headDim * 4;
  const kvCache = kvPerToken * shape.batch * shape.maxLength * 2;
  const P = Math.min(shape.promptLength ?? Math.min(shape.maxLength, 512), shape.maxLength);
  const B = shape.batch;
  const scores = B * spec.numHeads * P * P * 4 * 2;
  const mlp = B * P * spec.intermediateSize * 4 * 3;
  const logits = B * spec.vocabSize * 4 * 2;
  const activations = Math.max(scores, mlp, logits) + (shape.loraParams ?? 0) * 4;
  const runtime = 300 * MiB + 0.1 * weights;
  return { precision, weights, kvCache, activations, runtime, total: weights + kvCache + activations + runtime };
}

export interface MemoryBudget {
  /** The bytes a new session may use: the smallest of the limits below that is known. */
  available: number;
  memTotal: number | null;
  memAvailable: number | null;
  cgroupLimit: number | null;
  cgroupUsage: number | null;
  maxMemoryMB: number | null;
  /** Which limit decided `available`. */
  limitedBy: 'MemAvailable' | 'cgroup' | 'maxMemoryMB' | 'os.freemem';
}

export interface MemorySources {
  meminfo?: string | null;
  cgroupV2Max?: string | null;
  cgroupV2Current?: string | null;
  cgroupV1Limit?: string | null;
  cgroupV1Usage?: string | null;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The process's cgroup v2 folder (from /proc/self/cgroup "0::/path"), or the root. */
function cgroupV2Dir(): string {
  const txt = readOrNull('/proc/self/cgroup');
  const line = txt?.split('\n').find((l) => l.startsWith('0::'));
  const rel = line ? line.slice(3).trim() : '/';
  return `/sys/fs/cgroup${rel === '/' ? '' : rel}`;
}

export function readMemorySources(): MemorySources {
  const v2 = cgroupV2Dir();
  let max = readOrNull(`${v2}/memory.max`);
  let cur = readOrNull(`${v2}/memory.current`);
  if (max === null) {
    max = readOrNull('/sys/fs/cgroup/memory.max');
    cur = readOrNull('/sys/fs/cgroup/memory.current');
  }
  return {
    meminfo: readOrNull('/proc/meminfo'),
    cgroupV2Max: max,
    cgroupV2Current: cur,
    cgroupV1Limit: readOrNull('/sys/fs/cgroup/memory/memory.limit_in_bytes'),
    cgroupV1Usage: readOrNull('/sys/fs/cgroup/memory/memory.usage_in_bytes'),
  };
}

function meminfoField(txt: string, key: string): number | null {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(txt);
  return m ? Number(m[1]) * 1024 : null;
}

/** Limits above 2^60 (cgroup v1's "no limit" is 9223372036854771712) and "max" mean none. */
function limitValue(txt: string | null | undefined): number | null {
  if (!txt) return null;
  const t = txt.trim();
  if (t === 'max' || t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) && n > 0 && n < 2 ** 60 ? n : null;
}

export function memoryBudget(maxMemoryMB?: number, src: MemorySources = readMemorySources()): MemoryBudget {
  const memTotal = src.meminfo ? meminfoField(src.meminfo, 'MemTotal') : null;
  const memAvailable = src.meminfo ? meminfoField(src.meminfo, 'MemAvailable') : null;
  let cgroupLimit = limitValue(src.cgroupV2Max);
  let cgroupUsage = cgroupLimit !== null ? limitValue(src.cgroupV2Current) : null;
  if (cgroupLimit === null) {
    cgroupLimit = limitValue(src.cgroupV1Limit);
    cgroupUsage = cgroupLimit !== null ? limitValue(src.cgroupV1Usage) : null;
  }
  const candidates: [number, MemoryBudget['limitedBy']][] = [];
  if (memAvailable !== null) candidates.push([memAvailable, 'MemAvailable']);
  else candidates.push([os.freemem(), 'os.freemem']);
  if (cgroupLimit !== null) candidates.push([Math.max(0, cgroupLimit - (cgroupUsage ?? 0)), 'cgroup']);
  const mm = maxMemoryMB && maxMemoryMB > 0 ? maxMemoryMB : null;
  if (mm !== null) candidates.push([mm * MiB, 'maxMemoryMB']);
  candidates.sort((a, b) => a[0] - b[0]);
  return { available: candidates[0][0], memTotal, memAvailable, cgroupLimit, cgroupUsage, maxMemoryMB: mm, limitedBy: candidates[0][1] };
}

const gb = (b: number): string => `${(b / GB).toFixed(2)} GB`;

export function describeEstimate(e: MemoryEstimate, shape: SessionShape): string {
  return `${gb(e.total)} (weights ${gb(e.weights)}, KV cache ${gb(e.kvCache)} for batch ${shape.batch} × ${shape.maxLength} tokens, activations ${gb(e.activations)}, runtime ${gb(e.runtime)})`;
}

export function describeBudget(b: MemoryBudget): string {
  const parts: string[] = [];
  if (b.memAvailable !== null) parts.push(`MemAvailable ${gb(b.memAvailable)}${b.memTotal !== null ? ` of ${gb(b.memTotal)} total` : ''}`);
  if (b.cgroupLimit !== null) parts.push(`cgroup limit ${gb(b.cgroupLimit)} with ${gb(b.cgroupUsage ?? 0)} in use`);
  if (b.maxMemoryMB !== null) parts.push(`organismLab.engine.maxMemoryMB / --max-memory-mb ${b.maxMemoryMB} MiB`);
  return `${gb(b.available)} available (${parts.join('; ') || 'os.freemem'})`;
}

export interface PreflightDecision {
  precision: WeightPrecision;
  estimate: MemoryEstimate;
  budget: MemoryBudget;
  /** One line saying what was picked (or checked) and why. */
  reason: string;
}

export class MemoryPreflightError extends Error {
  constructor(message: string, readonly estimates: MemoryEstimate[], readonly budget: MemoryBudget) {
    super(message);
    this.name = 'MemoryPreflightError';
  }
}

const AUTO_ORDER: WeightPrecision[] = ['f32', 'int8', 'int4'];

/**
 * `auto`: the first of f32, int8, int4 that fits; an explicit precision: checked. Throws
 * MemoryPreflightError with the numbers and the precisions that would fit.
 */
export function preflight(spec: ModelSpec, choice: WeightsChoice, shape: SessionShape, facts: CheckpointFacts, budget: MemoryBudget, what = 'the model'): PreflightDecision {
  const all = (['f32', 'f16', 'int8', 'int4'] as WeightPrecision[]).map((p) => estimateSession(spec, p, shape, facts));
  const est = (p: WeightPrecision): MemoryEstimate => all.find((e) => e.precision === p)!;
  const fits = (p: WeightPrecision): boolean => est(p).total <= budget.available;
  const others = (skip: WeightPrecision): string =>
    AUTO_ORDER.filter((p) => p !== skip)
      .map((p) => `${p} ≈ ${gb(est(p).total)}${fits(p) ? ' (fits)' : ''}`)
      .join(', ');
  if (choice === 'auto') {
    const pick = AUTO_ORDER.find(fits);
    if (pick) {
      const skipped = AUTO_ORDER.slice(0, AUTO_ORDER.indexOf(pick));
      const why = skipped.length
        ? `${skipped.map((p) => `${p} needs ≈ ${gb(est(p).total)}`).join(', ')}, more than the ${gb(budget.available)} available`
        : `it fits: ≈ ${gb(est(pick).total)} of ${gb(budget.available)} available`;
      return { precision: pick, estimate: est(pick), budget, reason: `weights auto → ${pick}: ${why}` };
    }
    throw new MemoryPreflightError(
      `Not enough memory for ${what} at any precision: int4 needs ${describeEstimate(est('int4'), shape)}; ${describeBudget(budget)}. ` +
        `Lower the batch size or the maximum length, free memory, or raise the limit (organismLab.engine.maxMemoryMB / --max-memory-mb, the container's memory limit).`,
      all,
      budget,
    );
  }
  if (fits(choice)) return { precision: choice, estimate: est(choice), budget, reason: `weights ${choice}: ≈ ${gb(est(choice).total)} of ${gb(budget.available)} available` };
  const fitting = AUTO_ORDER.filter((p) => p !== choice && fits(p));
  throw new MemoryPreflightError(
    `Not enough memory for ${what} at ${choice}: needs ${describeEstimate(est(choice), shape)}; ${describeBudget(budget)}. ` +
      (fitting.length
        ? `${fitting[0]} would fit (${others(choice)}): use --weights ${fitting[0]} (setting organismLab.weights), or --weights auto.`
        : `No precision fits (${others(choice)}); lower the batch size or the maximum length, or raise the limit.`),
    all,
    budget,
  );
}
