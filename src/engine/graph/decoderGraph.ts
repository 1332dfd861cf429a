/**
 * One decoder-only transformer graph for every supported family, with per-family switches from the ModelSpec.
 *
 * Inputs:  input_ids [B,S] int64, attention_mask [B,T] int64 (T = P + S: P cached columns, then the S new
 *          ones; left padding), position_ids [B,S] int64,
 *          past_key_values.{i}.key [B,kvh,C,hd] and .value [B,kvh,hd,C] (transposed) float32: the KV cache
 *          where it lies, C >= P columns of which the first P are read (the rest, spare capacity, is masked
 *          out; see runtime/kvCache.ts),
 *          logits_from [1] int64 (first position whose logits are computed: 0 = all, S-1 = last only),
 *          lora.{L}.{module}.A [R,in], .B [out,R], .scale [B,R]  (for each adapted module),
 *          steer.{L} [B,H] (added to layer L's output), ablate.{L} [B,H] (unit vector projected out of
 *          layer L's output before steering; zeros = off).
 * Outputs: logits [B,S-logits_from,V], new_key_values.{i}.key|value [B,kvh,S,hd] (only the S new columns,
 *          keys after rotary: the caller appends them to its cache, so no step copies the cache),
 *          hidden_states.{i} [B,S,H] (i = 0..L).
 * Weights are external initializers pointing into the checkpoint's safetensors files; non-F32 weights
 * are cast to float32 inside the graph (constant-folded when the session is created). With `quant`, the
 * projections, the LM head and the embedding are block-quantized (MatMulNBits, GatherBlockQuantized) and every
 * weight comes from the quantized cache file; the LoRA branch, steering and ablation stay float32.
 */
import { linearParent, linearShape, LinearModule, ModelSpec, RopeSpec } from '../checkpoint/modelSpec';
import type { SafetensorsCheckpoint, SafetensorsFile } from '../checkpoint/safetensors';
import type { QuantBits } from '../quant/blockQuantize';
import { f16Name, qscalesName, qweightName } from '../quant/quantCache';
import { externalDataLayout } from './externalData';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import { OnnxDtype } from './onnxProto';
import { ropeInvFreq } from './rope';

export interface LoraSlot {
  layer: number;
  module: LinearModule;
  /** Total rank of all loaded adapters for this module (their A/B concatenated). */
  rank: number;
}

export interface DecoderGraphOptions {
  spec: ModelSpec;
  checkpoint: SafetensorsCheckpoint;
  lora?: LoraSlot[];
  steerLayers?: number[];
  ablateLayers?: number[];
  /**
   * Weight-only quantized projections, embedding and LM head (MatMulNBits / GatherBlockQuantized), read from
   * the cache file of ../quant/quantCache, which then holds every weight of the graph (norms and biases as
   * float32). Absent: the checkpoint's own tensors, in float32 (bit for bit as before).
   */
  quant?: { bits: QuantBits | 16; blockSize: number; accuracyLevel: number; weights: SafetensorsFile };
}

export interface DecoderGraph {
  bytes: Uint8Array;
  /** Folder against which external-data locations resolve (the deepest folder holding the weight files' real paths). */
  externalDataFolder: string;
  inputNames: string[];
  outputNames: string[];
}

export const loraInputName = (layer: number, module: string, part: 'A' | 'B' | 'scale'): string => `lora.${layer}.${module}.${part}`;
export const steerInputName = (layer: number): string => `steer.${layer}`;
export const ablateInputName = (layer: number): string => `ablate.${layer}`;
export const pastName = (layer: number, kv: 'key' | 'value'): string => `past_key_values.${layer}.${kv}`;
/** The S new key/value columns of a forward (appended to the cache by the caller). */
export const newKvName = (layer: number, kv: 'key' | 'value'): string => `new_key_values.${layer}.${kv}`;
export const hiddenName = (i: number): string => `hidden_states.${i}`;

const FLOAT_MIN = -3.4028234663852886e38;

export function buildDecoderGraph(opts: DecoderGraphOptions): DecoderGraph {
  const { spec, checkpoint: ckpt } = opts;
  const g = new GraphBuilder();
  // Real paths: checkpoints in the Hugging Face cache are symlinks into ../../blobs (see ./externalData).
  const quant = opts.quant;
  const layout = externalDataLayout(quant ? [quant.weights.file] : ckpt.files.map((f) => f.file));
  const folder = layout.folder;
  const H = spec.hiddenSize;
  const nh = spec.numHeads;
  const kvh = spec.numKvHeads;
  const hd = spec.headDim;
  const groups = nh / kvh;
  const L = spec.numLayers;
  const loraSlots = new Map<string, LoraSlot>();
  for (const s of opts.lora ?? []) {
    if (s.layer < 0 || s.layer >= L) throw new Error(`LoRA slot for layer ${s.layer} is outside the model's ${L} layers`);
    loraSlots.set(`${s.layer}.${s.module}`, s);
  }
  const steer = new Set(opts.steerLayers ?? []);
  const ablate = new Set(opts.ablateLayers ?? []);
  for (const l of [...steer, ...ablate]) {
    if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`steering/ablation layer ${l} is outside 0..${L - 1}`);
  }

  // ---- weights
  const rawCache = new Map<string, string>();
  /** The stored tensor as an external initializer (its own dtype). */
  const rawWeight = (name: string): string => {
    let v = rawCache.get(name);
    if (!v) rawCache.set(name, (v = g.external(name, quant ? quant.weights.byteRange(name) : ckpt.byteRange(name), folder, layout.location)));
    return v;
  };
  /** A [N, K] matrix's MatMulNBits blocks and scales in the quantized weights file (shape checked). */
  const quantWeight = (name: string, N: number, K: number): { B: string; scales: string } => {
    if (!quant) throw new Error('quantWeight without quantized weights');
    const B = rawWeight(qweightName(name));
    const scales = rawWeight(qscalesName(name));
    const kb = Math.ceil(K / quant.blockSize);
    const bs = quant.weights.info(qweightName(name)).shape;
    if (bs.join() !== [N, kb, (quant.blockSize * quant.bits) / 8].join()) throw new Error(`${quant.weights.file}: "${qweightName(name)}" has shape [${bs.join(', ')}], expected [${N}, ${kb}, ${(quant.blockSize * quant.bits) / 8}]; delete the file to quantize again`);
    return { B, scales };
  };
  /** x [..., K] times the transposed [N, K] weight, quantized (MatMulNBits). */
  const matMulNBits = (x: string, name: string, N: number, K: number, hint: string): string => {
    if (quant!.bits === 16) {
      // f16: the matrix product in float16 (the CUDA provider's tensor cores), activations float32 around it
      const w16 = rawWeight(f16Name(name));
      const ws = quant!.weights.info(f16Name(name)).shape;
      if (ws.join() !== [N, K].join()) throw new Error(`${quant!.weights.file}: "${f16Name(name)}" has shape [${ws.join(', ')}], expected [${N}, ${K}]; delete the file to make it again`);
      const x16 = g.o('Cast', [x], { to: OnnxDtype.FLOAT16 }, `${hint}_in16`);
      return g.o('Cast', [g.o('FusedMatMul', [x16, w16], { transB: 1 }, `${hint}_f16`, MS_DOMAIN)], { to: OnnxDtype.FLOAT }, hint);
    }
    const q = quantWeight(name, N, K);
    return g.o('MatMulNBits', [x, q.B, q.scales], { K, N, bits: quant!.bits, block_size: quant!.blockSize, accuracy_level: quant!.accuracyLevel }, hint, MS_DOMAIN);
  };
  const f32Cache = new Map<string, string>();
  /** float32 value of a checkpoint tensor (shape checked). */
  const weight = (name: string, shape: number[]): string => {
    const hit = f32Cache.get(name);
    if (hit) return hit;
    const info = quant ? quant.weights.info(name) : ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${ckpt.fileOf(name).file}: tensor "${name}" has shape [${info.shape.join(', ')}] but ${spec.configPath} implies [${shape.join(', ')}]; the weights do not belong to this config`);
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new Error(`${ckpt.fileOf(name).file}: tensor "${name}" has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    }
    const init = rawWeight(name);
    const out = info.dtype === 'F32' ? init : g.o('Cast', [init], { to: OnnxDtype.FLOAT }, `${name}_f32`);
    f32Cache.set(name, out);
    return out;
  };
  // ---- inputs
  g.input('input_ids', OnnxDtype.INT64, ['batch', 'seq']);
  g.input('attention_mask', OnnxDtype.INT64, ['batch', 'total']);
  g.input('position_ids', OnnxDtype.INT64, ['batch', 'seq']);
  g.input('logits_from', OnnxDtype.INT64, [1]);
  for (let i = 0; i < L; i++) {
    g.input(pastName(i, 'key'), OnnxDtype.FLOAT, ['batch', kvh, 'capacity', hd]);
    g.input(pastName(i, 'value'), OnnxDtype.FLOAT, ['batch', kvh, hd, 'capacity']); // V^T: the context product reads it with transB
  }
  for (const s of loraSlots.values()) {
    const [out, inn] = linearShape(spec, s.module);
    g.input(loraInputName(s.layer, s.module, 'A'), OnnxDtype.FLOAT, [s.rank, inn]);
    g.input(loraInputName(s.layer, s.module, 'B'), OnnxDtype.FLOAT, [out, s.rank]);
    g.input(loraInputName(s.layer, s.module, 'scale'), OnnxDtype.FLOAT, ['batch', s.rank]);
  }
  for (const l of [...ablate].sort((a, b) => a - b)) g.input(ablateInputName(l), OnnxDtype.FLOAT, ['batch', H]);
  for (const l of [...steer].sort((a, b) => a - b)) g.input(steerInputName(l), OnnxDtype.FLOAT, ['batch', H]);

  // ---- shared helpers
  const ax = (...a: number[]): string => g.i64(a);
  const idsShape = g.o('Shape', ['input_ids']);
  const bDim = g.o('Gather', [idsShape, ax(0)], { axis: 0 }); // [1]
  const normWeight = (wName: string, dim: number, gemma: boolean): string => {
    const w = weight(wName, [dim]);
    return gemma ? g.o('Add', [w, g.scalar(1)], {}, `${wName}_plus1`) : w; // Gemma scales by (1 + w); folded at load
  };
  /** RMSNorm over the last axis as one node (onnxruntime's SimplifiedLayerNormalization kernel). */
  const rmsNorm = (x: string, wName: string, dim: number, gemma: boolean): string =>
    g.o('SimplifiedLayerNormalization', [x, normWeight(wName, dim, gemma)], { axis: -1, epsilon: { float: spec.rmsNormEps } });
  /** a + b and RMSNorm(a + b) as one node (com.microsoft SkipSimplifiedLayerNormalization); `sumTo` names the sum output ('' = unused). */
  const addRmsNorm = (a: string, b: string, wName: string, gemma: boolean, sumTo = g.fresh('residual')): { sum: string; normed: string } => {
    const normed = g.fresh('norm');
    g.opTo('SkipSimplifiedLayerNormalization', [a, b, normWeight(wName, H, gemma)], [normed, '', '', sumTo], { epsilon: { float: spec.rmsNormEps } }, MS_DOMAIN);
    return { sum: sumTo, normed };
  };
  const linear = (x: string, layer: number, module: LinearModule, hasBias: boolean): string => {
    const prefix = `model.layers.${layer}.${linearParent(module)}.${module}`;
    const [out, inn] = linearShape(spec, module);
    // FusedMatMul with transB reads the [out, in] weight as stored (no transposed copy is folded at
    // load) and takes [B,S,in] as it is (no reshapes to 2-D and back around a Gemm).
    let y = quant
      ? matMulNBits(x, `${prefix}.weight`, out, inn, `${module}_${layer}`)
      : g.o('FusedMatMul', [x, weight(`${prefix}.weight`, [out, inn])], { transB: 1 }, `${module}_${layer}`, MS_DOMAIN);
    if (hasBias) y = g.o('Add', [y, weight(`${prefix}.bias`, [out])]);
    const slot = loraSlots.get(`${layer}.${module}`);
    if (slot) {
      const A = loraInputName(layer, module, 'A');
      const B = loraInputName(layer, module, 'B');
      const scale = loraInputName(layer, module, 'scale');
      const xa = g.o('MatMul', [x, g.o('Transpose', [A], { perm: [1, 0] })]);
      const xs = g.o('Mul', [xa, g.o('Unsqueeze', [scale, ax(1)])]);
      const yl = g.o('MatMul', [xs, g.o('Transpose', [B], { perm: [1, 0] })]);
      y = g.o('Add', [y, yl], {}, `${module}_${layer}_lora`);
    }
    return y;
  };
  const softcap = (x: string, cap: number): string =>
    g.o('Mul', [g.o('Tanh', [g.o('Div', [x, g.scalar(cap)])]), g.scalar(cap)]);

  // ---- dims and masks. Attention runs over K = C + S key columns: the C columns of the cache as it
  // lies (the first P cached, the rest spare), then the S new ones. Key column j < C is column j of
  // the cache; column C + s is new token s, at column P + s of the row. Spare columns are masked out.
  const sDim = g.o('Gather', [idsShape, ax(1)], { axis: 0 }); // [1]
  const tDim = g.o('Gather', [g.o('Shape', ['attention_mask']), ax(1)], { axis: 0 });
  const pastDim = g.o('Sub', [tDim, sDim]); // [1] P
  const capDim = g.o('Gather', [g.o('Shape', [pastName(0, 'key')]), ax(2)], { axis: 0 }); // [1] C
  const scalarOf = (v: string): string => g.o('Squeeze', [v, ax(0)]);
  const qpos = g.o('Range', [scalarOf(pastDim), scalarOf(tDim), g.i64([1], [])]); // [S]
  const kpos = g.o('Concat', [g.o('Range', [g.i64([0], []), scalarOf(capDim), g.i64([1], [])]), qpos], { axis: 0 }); // [C+S]
  const diff = g.o('Sub', [g.o('Unsqueeze', [qpos, ax(1)]), g.o('Unsqueeze', [kpos, ax(0)])]); // [S,C+S]
  const causal = g.o('Unsqueeze', [g.o('GreaterOrEqual', [diff, g.i64([0], [])]), ax(0, 1, 2)]); // [1,1,1,S,C+S]
  const maskPast = g.o('Slice', ['attention_mask', ax(0), pastDim, ax(1)]); // [B,P]
  const maskPastPadded = g.o('Pad', [maskPast, g.o('Concat', [ax(0, 0, 0), g.o('Sub', [capDim, pastDim])], { axis: 0 })]); // [B,C], 0 on spare columns
  const maskNew = g.o('Slice', ['attention_mask', pastDim, tDim, ax(1)]); // [B,S]
  const keyMask = g.o('Concat', [maskPastPadded, maskNew], { axis: 1 }); // [B,C+S]
  const keyValid = g.o('Unsqueeze', [g.o('Cast', [keyMask], { to: OnnxDtype.BOOL }), ax(1, 2, 3)]); // [B,1,1,1,C+S]
  const allowedGlobal = g.o('And', [causal, keyValid]);
  const zero = g.scalar(0);
  const minVal = g.scalar(FLOAT_MIN);
  const masks = new Map<number | null, string>();
  const maskFor = (window: number | null): string => {
    const hit = masks.get(window);
    if (hit) return hit;
    let allowed = allowedGlobal;
    if (window !== null) {
      const inWindow = g.o('Unsqueeze', [g.o('Less', [diff, g.i64([window], [])]), ax(0, 1, 2)]);
      allowed = g.o('And', [allowed, inWindow]);
    }
    const m = g.o('Where', [allowed, zero, minVal], {}, `mask_${window ?? 'global'}`); // [B,1,1,S,C+S]
    masks.set(window, m);
    return m;
  };

  // ---- rotary tables per distinct rope spec: one cos/sin row [hd/2] per (row, position) of the batch,
  // [B*S, hd/2]; row b*S+s of the table is looked up by RotaryEmbedding through ropeRows [B,S].
  const posF = g.o('Unsqueeze', [g.o('Cast', ['position_ids'], { to: OnnxDtype.FLOAT }), ax(2)]); // [B,S,1]
  const ropeRows = g.o('Reshape', [g.o('Range', [g.i64([0], []), g.o('Size', ['position_ids']), g.i64([1], [])]), g.o('Shape', ['position_ids'])]);
  const ropes = new Map<string, { cos: string; sin: string }>();
  const ropeFor = (rope: RopeSpec): { cos: string; sin: string } => {
    const key = JSON.stringify(rope);
    const hit = ropes.get(key);
    if (hit) return hit;
    const inv = g.f32(ropeInvFreq(rope, hd), [hd / 2]);
    const freqs = g.o('Reshape', [g.o('Mul', [posF, inv]), g.i64([-1, hd / 2])]); // [B*S,hd/2]
    const r = { cos: g.o('Cos', [freqs], {}, 'rope_cos'), sin: g.o('Sin', [freqs], {}, 'rope_sin') };
    ropes.set(key, r);
    return r;
  };
  /** Rotates the halves of x [B,n,S,hd] (transformers' rotate_half form) as one com.microsoft RotaryEmbedding node. */
  const applyRope = (x: string, r: { cos: string; sin: string }, out = g.fresh('rope')): string => {
    g.opTo('RotaryEmbedding', [x, ropeRows, r.cos, r.sin], [out], { interleaved: 0 }, MS_DOMAIN);
    return out;
  };
  // Scores [B,kvh,g*S,C+S] viewed as [B,kvh,g,S,C+S] (for the [B,1,1,S,C+S] mask) and back.
  const kDim = g.o('Add', [capDim, sDim]);
  const scores5Shape = g.o('Concat', [bDim, g.i64([kvh, groups]), sDim, kDim], { axis: 0 });
  const scores4Shape = g.o('Concat', [bDim, g.i64([kvh, -1]), kDim], { axis: 0 });

  // ---- embeddings
  const embName = 'model.embed_tokens.weight';
  // The lookup gathers from the stored tensor and casts only the gathered rows, so the float32 copy of a
  // BF16/F16 embedding exists once (for the tied lm_head, if any), not once per consumer.
  let h: string;
  if (quant && quant.bits === 16) {
    h = g.o('Cast', [g.o('Gather', [rawWeight(f16Name(embName)), 'input_ids'], { axis: 0 }, 'embeds_f16')], { to: OnnxDtype.FLOAT }, 'embeds');
  } else if (quant) {
    // GatherBlockQuantized reads the MatMulNBits bytes as uint8 [V, H·bits/8] with scales [V, kBlocks].
    const scales = rawWeight(qscalesName(embName));
    if (H % quant.blockSize !== 0) throw new Error(`hidden size ${H} is not a multiple of the quantization block size ${quant.blockSize}`);
    const range = quant.weights.byteRange(qweightName(embName));
    const data = g.external(`${embName}.gather`, { ...range, shape: [spec.vocabSize, (H * quant.bits) / 8] }, folder, layout.location);
    h = g.o('GatherBlockQuantized', [data, 'input_ids', scales], { gather_axis: 0, quantize_axis: 1, block_size: quant.blockSize, bits: quant.bits }, 'embeds', MS_DOMAIN);
  } else {
    weight(embName, [spec.vocabSize, H]); // shape/dtype check
    const embRaw = ckpt.info(embName).dtype === 'F32' ? weight(embName, [spec.vocabSize, H]) : rawWeight(embName);
    h = g.o('Gather', [embRaw, 'input_ids'], { axis: 0 }, 'embeds_raw');
    if (embRaw !== weight(embName, [spec.vocabSize, H])) h = g.o('Cast', [h], { to: OnnxDtype.FLOAT }, 'embeds');
  }
  if (spec.embeddingScale !== null) h = g.o('Mul', [h, g.scalar(spec.embeddingScale)]);
  g.opTo('Identity', [h], [hiddenName(0)]);

  const headsShape = (n: number): string => g.i64([0, 0, n, hd]);
  /** The previous layer's residual add when it is left to be fused with the next norm (no intervention on that layer). */
  let pendingAdd: [string, string] | null = null;
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    const layer = spec.layers[i];
    // attention block
    let x: string;
    if (pendingAdd) {
      ({ sum: h, normed: x } = addRmsNorm(pendingAdd[0], pendingAdd[1], `${p}.input_layernorm.weight`, spec.gemmaNorms, hiddenName(i)));
      pendingAdd = null;
    } else x = rmsNorm(h, `${p}.input_layernorm.weight`, H, spec.gemmaNorms);
    const residual = h;
    let q = g.o('Reshape', [linear(x, i, 'q_proj', spec.qkvBias), headsShape(nh)]); // [B,S,nh,hd]
    let k = g.o('Reshape', [linear(x, i, 'k_proj', spec.qkvBias), headsShape(kvh)]);
    const v = g.o('Reshape', [linear(x, i, 'v_proj', spec.qkvBias), headsShape(kvh)]);
    if (spec.qkNorm) {
      q = rmsNorm(q, `${p}.self_attn.q_norm.weight`, hd, spec.gemmaNorms);
      k = rmsNorm(k, `${p}.self_attn.k_norm.weight`, hd, spec.gemmaNorms);
    }
    const perm = { perm: [0, 2, 1, 3] };
    const r = ropeFor(layer.rope);
    const qh = applyRope(g.o('Transpose', [q], perm), r); // [B,nh,S,hd]
    const kh = applyRope(g.o('Transpose', [k], perm), r, newKvName(i, 'key')); // [B,kvh,S,hd], a graph output
    const vh = newKvName(i, 'value');
    g.opTo('Transpose', [v], [vh], perm);
    // Attention over the cache where it lies plus the new columns: no concatenation, so a step reads
    // the cache once (the two score products and the two context products) and copies none of it.
    const qg = g.o('Reshape', [qh, g.i64([0, kvh, -1, hd])]); // [B,kvh,g*S,hd]: one product per KV head
    const scale = { transB: 1, alpha: { float: spec.attnScale } };
    const sPast = g.o('FusedMatMul', [qg, pastName(i, 'key')], scale, `scores_past_${i}`, MS_DOMAIN); // [B,kvh,g*S,C]
    const sNew = g.o('FusedMatMul', [qg, kh], scale, `scores_new_${i}`, MS_DOMAIN); // [B,kvh,g*S,S]
    let scores = g.o('Reshape', [g.o('Concat', [sPast, sNew], { axis: 3 }), scores5Shape]); // [B,kvh,g,S,C+S]
    if (spec.attnSoftcap !== null) scores = softcap(scores, spec.attnSoftcap);
    scores = g.o('Add', [scores, maskFor(layer.slidingWindow)]);
    const probs = g.o('Reshape', [g.o('Softmax', [scores], { axis: -1 }), scores4Shape]); // [B,kvh,g*S,C+S]
    const pPast = g.o('Slice', [probs, ax(0), capDim, ax(3)]);
    const pNew = g.o('Slice', [probs, capDim, g.i64([Number.MAX_SAFE_INTEGER]), ax(3)]);
    const ctxPast = g.o('FusedMatMul', [pPast, pastName(i, 'value')], { transB: 1 }, `ctx_past_${i}`, MS_DOMAIN);
    const ctx = g.o('Add', [ctxPast, g.o('MatMul', [pNew, vh])]); // [B,kvh,g*S,hd]
    const ctx4 = g.o('Transpose', [g.o('Reshape', [ctx, g.i64([0, nh, -1, hd])])], perm); // [B,S,nh,hd]
    const attnIn = g.o('Reshape', [ctx4, g.i64([0, 0, nh * hd])]);
    let attnOut = linear(attnIn, i, 'o_proj', spec.oBias);
    if (spec.gemmaNorms) attnOut = rmsNorm(attnOut, `${p}.post_attention_layernorm.weight`, H, true);
    // MLP block
    const mlpNorm = spec.gemmaNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`;
    const { sum: residual2, normed: x2 } = addRmsNorm(residual, attnOut, mlpNorm, spec.gemmaNorms);
    const gate = linear(x2, i, 'gate_proj', spec.mlpBias);
    const up = linear(x2, i, 'up_proj', spec.mlpBias);
    const act = spec.activation === 'silu' ? g.o('Mul', [gate, g.o('Sigmoid', [gate])]) : g.o('Gelu', [gate], { approximate: 'tanh' });
    let mlpOut = linear(g.o('Mul', [act, up]), i, 'down_proj', spec.mlpBias);
    if (spec.gemmaNorms) mlpOut = rmsNorm(mlpOut, `${p}.post_feedforward_layernorm.weight`, H, true);
    if (!ablate.has(i) && !steer.has(i)) {
      pendingAdd = [residual2, mlpOut]; // added by the next norm
      continue;
    }
    h = g.o('Add', [residual2, mlpOut], {}, `layer_out_${i}`);
    // interventions on the layer output
    if (ablate.has(i)) {
      const d = g.o('Unsqueeze', [ablateInputName(i), ax(1)]); // [B,1,H]
      const proj = g.o('ReduceSum', [g.o('Mul', [h, d]), ax(-1)], { keepdims: 1 }); // [B,S,1]
      h = g.o('Sub', [h, g.o('Mul', [proj, d])]);
    }
    if (steer.has(i)) h = g.o('Add', [h, g.o('Unsqueeze', [steerInputName(i), ax(1)])]);
    // The next norm is the same fused kernel as without interventions (h + 0 = h), so that zero
    // steering/ablation gives the plain model bit for bit.
    pendingAdd = [h, g.o('ConstantOfShape', [g.o('Shape', [h])])];
  }
  const hn = pendingAdd ? addRmsNorm(pendingAdd[0], pendingAdd[1], 'model.norm.weight', spec.gemmaNorms, '').normed : rmsNorm(h, 'model.norm.weight', H, spec.gemmaNorms);
  g.opTo('Identity', [hn], [hiddenName(L)]);

  // ---- logits for positions logits_from..S-1
  const hs = g.o('Slice', [hn, 'logits_from', g.i64([Number.MAX_SAFE_INTEGER]), ax(1)]);
  const flat = g.o('Reshape', [hs, g.i64([-1, H])]);
  const lmName = spec.tieWordEmbeddings ? embName : 'lm_head.weight';
  let logits2d = quant ? matMulNBits(flat, lmName, spec.vocabSize, H, 'lm_head') : g.o('Gemm', [flat, weight(lmName, [spec.vocabSize, H])], { transB: 1 });
  if (spec.finalSoftcap !== null) logits2d = softcap(logits2d, spec.finalSoftcap);
  const outShape = g.o('Concat', [bDim, g.i64([-1]), g.i64([spec.vocabSize])], { axis: 0 });
  g.opTo('Reshape', [logits2d, outShape], ['logits']);

  g.output('logits', OnnxDtype.FLOAT, ['batch', 'seq_out', spec.vocabSize]);
  for (let i = 0; i < L; i++) {
    g.output(newKvName(i, 'key'), OnnxDtype.FLOAT, ['batch', kvh, 'seq', hd]);
    g.output(newKvName(i, 'value'), OnnxDtype.FLOAT, ['batch', kvh, 'seq', hd]);
  }
  for (let i = 0; i <= L; i++) g.output(hiddenName(i), OnnxDtype.FLOAT, ['batch', 'seq', H]);

  return {
    bytes: g.encode(`${spec.family}_decoder`),
    externalDataFolder: folder,
    inputNames: g.inputs.map((v) => v.name),
    outputNames: g.outputs.map((v) => v.name),
  };
}
