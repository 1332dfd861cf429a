/**
 * ModelRunner: one onnxruntime session over a Hugging Face checkpoint folder, with any number of
 * LoRA adapters (ranks concatenated per module, selected per row by the scale input), steering and
 * ablation layers, and one forward-pass API with a KV cache.
 */
import * as ort from 'onnxruntime-node';
import { ModelSpec, loadModelSpec, linearShape, LinearModule } from '../checkpoint/modelSpec';
import { SafetensorsCheckpoint } from '../checkpoint/safetensors';
import { PeftAdapter, loadPeftAdapter } from '../checkpoint/peftAdapter';
import { buildDecoderGraph, LoraSlot, loraInputName, steerInputName, ablateInputName, pastName, newKvName, hiddenName } from '../graph/decoderGraph';
import { createSession, ExecutionProvider } from './session';
import { CPU_ACCURACY_LEVEL, DEFAULT_BLOCK_SIZE, WeightPrecision, WeightsChoice, quantBitsOf } from '../quant/weightPrecision';
import { checkpointFacts, memoryBudget, preflight, type MemoryBudget, type SessionShape } from './memoryPreflight';
import { ensureQuantizedWeights, QuantProgress } from '../quant/quantCache';
import { KvCache, type KvReserve } from './kvCache';
import type { RowVariant } from './generationTypes';

export interface ModelRunnerOptions {
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** Idle onnxruntime pool threads spin before sleeping (see ./session SessionOptions.threadSpinning; default off). */
  threadSpinning?: boolean;
  adapters?: { name: string; dir: string }[];
  /** Layers whose output can be steered (RowVariant.steer.layer must be one of them). */
  steerLayers?: number[];
  /** Layers where a direction can be ablated (RowVariant.ablate.layers must be among them). */
  ablateLayers?: number[];
  /**
   * Weight precision of the session (default f32: the checkpoint's weights upcast, exact); `auto` = f32 when
   * the session fits the memory budget, else int8, else int4 (see ./memoryPreflight).
   */
  weights?: WeightsChoice;
  /** The memory preflight: the session's shape (default batch 8 × 2048 tokens) and the budget's limits. */
  memory?: { shape?: Partial<SessionShape>; maxMemoryMB?: number; budget?: MemoryBudget };
  /** Told which precision was picked and why (auto) or what was checked. */
  onWeightsDecision?: (reason: string) => void;
  /** Where int8/int4 weights are cached (default ~/.cache/organism-lab/weights). */
  cacheFolder?: string;
  /** MatMulNBits accuracy_level (default 4: int8 activations, onnxruntime's integer kernels; 0 = float32 activations). */
  accuracyLevel?: number;
  /** Quantization block size (default 32). */
  blockSize?: number;
  /** Cancels a first-load quantization. */
  signal?: AbortSignal;
  onQuantProgress?: (p: QuantProgress) => void;
  /** Precomputed fingerprint of the model folder (saves hashing it again for the cache key). */
  fingerprint?: string;
}

/** How the session's weights were made. */
export interface WeightsInfo {
  precision: WeightPrecision;
  blockSize?: number;
  /** The quantized cache file (int8/int4). */
  cacheFile?: string;
  /** true when this load quantized the checkpoint (cache miss). */
  quantized?: boolean;
  quantizeMs?: number;
  /** The preflight's line: what was picked and why. */
  reason?: string;
  /** The preflight's estimate of the session's resident bytes. */
  estimatedBytes?: number;
}

export interface LoadedAdapter {
  name: string;
  dir: string;
  adapter: PeftAdapter;
}

export interface ForwardRequest {
  /** B × S token ids (left-padded). */
  inputIds: number[][];
  /** B × (past.pastLength + S): 1 = real token, 0 = padding. */
  attentionMask: number[][];
  /** B × S; default from the mask: cumsum - 1, padding = 1 (the rule of HF generate), last S columns. */
  positionIds?: number[][];
  /**
   * The cache of the earlier tokens. The graph reads it where it lies; the result's `present` is this
   * cache with the S new columns appended, in place when it is the latest cache of its storage (see
   * ./kvCache), so keep using `present` afterwards.
   */
  past?: KvCache | null;
  /** Rows and columns to make room for when a cache storage has to be allocated (e.g. prompt + max new tokens). */
  cacheReserve?: KvReserve;
  /** One variant per row. */
  rows: RowVariant[];
  outputHiddenStates?: boolean;
  /** Only the last position's logits ([B,1,V]). */
  lastLogitsOnly?: boolean;
}

export interface ForwardResult {
  /** [B, S or 1, V] row-major */
  logits: Float32Array;
  logitsDims: [number, number, number];
  /** L+1 tensors of [B,S,H] (HF output_hidden_states: last one after the final norm), when asked. */
  hiddenStates?: Float32Array[];
  /** `past` with the new columns appended (built on first read when there was no past). */
  present: KvCache;
}

interface SlotFeed {
  slot: LoraSlot;
  A: ort.Tensor;
  B: ort.Tensor;
  /** adapter name → [offset in the concatenated rank, r, PEFT scale] */
  parts: Map<string, { offset: number; r: number; scale: number }>;
}

export class ModelRunner {
  private constructor(
    readonly modelDir: string,
    readonly spec: ModelSpec,
    readonly adapters: LoadedAdapter[],
    readonly steerLayers: number[],
    readonly ablateLayers: number[],
    readonly executionProvider: ExecutionProvider,
    private readonly session: ort.InferenceSession,
    private readonly slots: SlotFeed[],
    readonly weights: WeightsInfo = { precision: 'f32' },
  ) {}

  static async load(modelDir: string, opts: ModelRunnerOptions = {}): Promise<ModelRunner> {
    const spec = loadModelSpec(modelDir);
    const ckpt = SafetensorsCheckpoint.open(modelDir);
    const names = new Set<string>();
    const adapters: LoadedAdapter[] = [];
    for (const a of opts.adapters ?? []) {
      if (names.has(a.name)) throw new Error(`adapter name "${a.name}" is used twice; give each adapter its own name`);
      names.add(a.name);
      adapters.push({ name: a.name, dir: a.dir, adapter: loadPeftAdapter(a.dir, spec) });
    }
    // Concatenate ranks per (layer, module) in adapter order.
    const byKey = new Map<string, { layer: number; module: LinearModule; parts: { name: string; A: Float32Array; B: Float32Array; r: number; scale: number }[] }>();
    for (const a of adapters) {
      for (const m of a.adapter.modules) {
        const k = `${m.layer}.${m.module}`;
        let e = byKey.get(k);
        if (!e) byKey.set(k, (e = { layer: m.layer, module: m.module, parts: [] }));
        e.parts.push({ name: a.name, A: m.A, B: m.B, r: m.r, scale: m.scale });
      }
    }
    const slots: SlotFeed[] = [];
    for (const e of byKey.values()) {
      const [out, inn] = linearShape(spec, e.module);
      const R = e.parts.reduce((s, p) => s + p.r, 0);
      const A = new Float32Array(R * inn);
      const B = new Float32Array(out * R);
      const parts = new Map<string, { offset: number; r: number; scale: number }>();
      let off = 0;
      for (const p of e.parts) {
        A.set(p.A, off * inn);
        for (let o = 0; o < out; o++) for (let j = 0; j < p.r; j++) B[o * R + off + j] = p.B[o * p.r + j];
        parts.set(p.name, { offset: off, r: p.r, scale: p.scale });
        off += p.r;
      }
      slots.push({
        slot: { layer: e.layer, module: e.module, rank: R },
        A: new ort.Tensor('float32', A, [R, inn]),
        B: new ort.Tensor('float32', B, [out, R]),
        parts,
      });
    }
    const steerLayers = [...new Set(opts.steerLayers ?? [])].sort((a, b) => a - b);
    const ablateLayers = [...new Set(opts.ablateLayers ?? [])].sort((a, b) => a - b);
    const loraParams = slots.reduce((n, s) => n + s.A.data.length + s.B.data.length, 0);
    const shape: SessionShape = { batch: 8, maxLength: 2048, ...opts.memory?.shape, loraParams, executionProvider: opts.executionProvider ?? 'cpu' };
    const decision = preflight(spec, opts.weights ?? 'f32', shape, checkpointFacts(ckpt), opts.memory?.budget ?? memoryBudget(opts.memory?.maxMemoryMB), ckpt.dir);
    opts.onWeightsDecision?.(decision.reason);
    const precision = decision.precision;
    const bits = precision === 'f16' ? 16 : quantBitsOf(precision);
    let weightsInfo: WeightsInfo = { precision, reason: decision.reason, estimatedBytes: decision.estimate.total };
    let quant: Parameters<typeof buildDecoderGraph>[0]['quant'];
    if (bits !== null) {
      const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
      const q = await ensureQuantizedWeights(spec, ckpt, { bits, blockSize, cacheFolder: opts.cacheFolder, signal: opts.signal, onProgress: opts.onQuantProgress, fingerprint: opts.fingerprint });
      quant = { bits, blockSize, accuracyLevel: opts.accuracyLevel ?? CPU_ACCURACY_LEVEL, weights: q.weights };
      weightsInfo = { ...weightsInfo, ...(bits === 16 ? {} : { blockSize }), cacheFile: q.file, quantized: q.created, quantizeMs: q.ms };
    } else if (precision !== 'f32') {
      throw new Error(`weights "${precision}" are not implemented yet in this build (available: f32, int8, int4)`);
    }
    const graph = buildDecoderGraph({ spec, checkpoint: ckpt, lora: slots.map((s) => s.slot), steerLayers, ablateLayers, quant });
    const ep = opts.executionProvider ?? 'cpu';
    const session = await createSession(graph.bytes, { executionProvider: ep, threads: opts.threads, threadSpinning: opts.threadSpinning, externalDataFolder: graph.externalDataFolder });
    return new ModelRunner(ckpt.dir, spec, adapters, steerLayers, ablateLayers, ep, session, slots, weightsInfo);
  }

  /** Default position ids from a [B, T] mask for the last S positions (HF generate's rule). */
  static positionIdsFromMask(mask: number[][], seqLen: number): number[][] {
    return mask.map((row) => {
      const pos: number[] = [];
      let c = 0;
      for (const m of row) {
        c += m;
        pos.push(m === 0 ? 1 : c - 1);
      }
      return pos.slice(row.length - seqLen);
    });
  }

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const spec = this.spec;
    const B = req.inputIds.length;
    if (B === 0) throw new Error('forward: empty batch');
    const S = req.inputIds[0].length;
    if (S === 0) throw new Error('forward: input_ids rows are empty');
    const past = req.past ?? KvCache.empty(spec.numLayers, B, spec.numKvHeads, spec.headDim);
    const P = past.pastLength;
    const T = P + S;
    if (past.batch !== B) throw new Error(`forward: past cache has ${past.batch} rows but input_ids has ${B}`);
    if (req.attentionMask.length !== B) throw new Error(`forward: attention_mask has ${req.attentionMask.length} rows, input_ids has ${B}`);
    if (req.rows.length !== B) throw new Error(`forward: ${req.rows.length} row variants for ${B} rows`);
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) {
      if (req.inputIds[b].length !== S) throw new Error(`forward: input_ids row ${b} has length ${req.inputIds[b].length}, row 0 has ${S}; pad rows to one length`);
      if (req.attentionMask[b].length !== T) throw new Error(`forward: attention_mask row ${b} has length ${req.attentionMask[b].length}, expected past (${P}) + ${S} = ${T}`);
      for (let s = 0; s < S; s++) {
        const t = req.inputIds[b][s];
        if (!Number.isInteger(t) || t < 0 || t >= spec.vocabSize) throw new Error(`forward: input_ids[${b}][${s}] = ${t} is outside the vocabulary 0..${spec.vocabSize - 1}`);
        ids[b * S + s] = BigInt(t);
      }
      for (let t = 0; t < T; t++) mask[b * T + t] = BigInt(req.attentionMask[b][t]);
    }
    const posRows = req.positionIds ?? ModelRunner.positionIdsFromMask(req.attentionMask, S);
    const pos = new BigInt64Array(B * S);
    for (let b = 0; b < B; b++) {
      if (posRows[b]?.length !== S) throw new Error(`forward: position_ids row ${b} must have length ${S}`);
      for (let s = 0; s < S; s++) pos[b * S + s] = BigInt(posRows[b][s]);
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
      position_ids: new ort.Tensor('int64', pos, [B, S]),
      logits_from: new ort.Tensor('int64', new BigInt64Array([BigInt(req.lastLogitsOnly ? S - 1 : 0)]), [1]),
    };
    // The cache where it lies, spare columns included, no copy: keys [B, kvh, capacity, hd], values
    // transposed [B, kvh, hd, capacity] (see ./kvCache).
    // An empty cache goes in as one spare (masked) zero column: onnxruntime 1.30's FusedMatMul leaves its
    // output unwritten when the shared dimension is 0 (MatMul zero-fills it), which the context product would read.
    const cap = Math.max(1, past.capacity);
    const keyDims = [B, spec.numKvHeads, cap, spec.headDim];
    const valueDims = [B, spec.numKvHeads, spec.headDim, cap];
    const spare = past.capacity === 0 ? new Float32Array(B * spec.numKvHeads * spec.headDim) : null;
    for (let l = 0; l < spec.numLayers; l++) {
      feeds[pastName(l, 'key')] = new ort.Tensor('float32', spare ?? past.layerData(l, 'key'), keyDims);
      feeds[pastName(l, 'value')] = new ort.Tensor('float32', spare ?? past.layerData(l, 'value'), valueDims);
    }
    // Per-row LoRA scales.
    const known = new Set(this.adapters.map((a) => a.name));
    req.rows.forEach((r, b) => {
      if (r.adapter !== null && !known.has(r.adapter)) {
        throw new Error(`forward: row ${b} asks for adapter "${r.adapter}", which is not loaded (loaded: ${[...known].join(', ') || 'none'})`);
      }
      if (!Number.isFinite(r.adapterScale)) throw new Error(`forward: row ${b} has adapterScale ${r.adapterScale}`);
    });
    for (const s of this.slots) {
      const R = s.slot.rank;
      const scale = new Float32Array(B * R);
      req.rows.forEach((r, b) => {
        if (r.adapter === null) return;
        const part = s.parts.get(r.adapter);
        if (!part) return;
        for (let j = 0; j < part.r; j++) scale[b * R + part.offset + j] = part.scale * r.adapterScale;
      });
      feeds[loraInputName(s.slot.layer, s.slot.module, 'A')] = s.A;
      feeds[loraInputName(s.slot.layer, s.slot.module, 'B')] = s.B;
      feeds[loraInputName(s.slot.layer, s.slot.module, 'scale')] = new ort.Tensor('float32', scale, [B, R]);
    }
    // Steering and ablation.
    const H = spec.hiddenSize;
    const steer = new Map(this.steerLayers.map((l) => [l, new Float32Array(B * H)]));
    const ablate = new Map(this.ablateLayers.map((l) => [l, new Float32Array(B * H)]));
    req.rows.forEach((r, b) => {
      if (r.steer) {
        const buf = steer.get(r.steer.layer);
        if (!buf) throw new Error(`forward: row ${b} steers layer ${r.steer.layer}, but the model was loaded with steerLayers [${this.steerLayers.join(', ')}]`);
        if (r.steer.vector.length !== H) throw new Error(`forward: row ${b} steering vector has ${r.steer.vector.length} values, hidden size is ${H}`);
        for (let i = 0; i < H; i++) buf[b * H + i] = r.steer.vector[i] * r.steer.strength;
      }
      if (r.ablate) {
        if (r.ablate.vector.length !== H) throw new Error(`forward: row ${b} ablation vector has ${r.ablate.vector.length} values, hidden size is ${H}`);
        let n = 0;
        for (let i = 0; i < H; i++) n += r.ablate.vector[i] * r.ablate.vector[i];
        n = Math.sqrt(n);
        if (!(n > 0) || !Number.isFinite(n)) throw new Error(`forward: row ${b} ablation vector has norm ${n}; it must be a nonzero finite direction`);
        for (const l of r.ablate.layers) {
          const buf = ablate.get(l);
          if (!buf) throw new Error(`forward: row ${b} ablates layer ${l}, but the model was loaded with ablateLayers [${this.ablateLayers.join(', ')}]`);
          for (let i = 0; i < H; i++) buf[b * H + i] = r.ablate.vector[i] / n;
        }
      }
    });
    for (const [l, buf] of steer) feeds[steerInputName(l)] = new ort.Tensor('float32', buf, [B, H]);
    for (const [l, buf] of ablate) feeds[ablateInputName(l)] = new ort.Tensor('float32', buf, [B, H]);

    const fetches = ['logits'];
    for (let l = 0; l < spec.numLayers; l++) fetches.push(newKvName(l, 'key'), newKvName(l, 'value'));
    if (req.outputHiddenStates) for (let i = 0; i <= spec.numLayers; i++) fetches.push(hiddenName(i));
    const out = await this.session.run(feeds, fetches);
    const logitsT = out.logits;
    const newKeys: Float32Array[] = [];
    const newValues: Float32Array[] = [];
    for (let l = 0; l < spec.numLayers; l++) {
      newKeys.push(out[newKvName(l, 'key')].data as Float32Array);
      newValues.push(out[newKvName(l, 'value')].data as Float32Array);
    }
    const grow = (): KvCache => past.append(newKeys, newValues, req.cacheReserve);
    // Without a past the cache is built on first read (callers that never decode further skip the copy);
    // with one it is appended now, while `past` is certainly still the cache the caller passed.
    let present: KvCache | null = req.past ? grow() : null;
    const result = {
      logits: logitsT.data as Float32Array,
      logitsDims: logitsT.dims as unknown as [number, number, number],
      get present(): KvCache {
        present ??= grow();
        return present;
      },
    } as ForwardResult;
    if (req.outputHiddenStates) result.hiddenStates = Array.from({ length: spec.numLayers + 1 }, (_, i) => out[hiddenName(i)].data as Float32Array);
    return result;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
