/**
 * One decoder-only transformer graph for every supported family, assembled from the attention (./attention),
 * MLP (./mlp), RMSNorm (./rmsNorm), linear/LoRA (./linear) and embedding/LM-head (./embedding) builders. Family
 * differences reach it only as resolved ModelSpec values (../checkpoint/familyTraits holds them per family).
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
import type { ModelSpec } from '../checkpoint/modelSpec';
import type { SafetensorsCheckpoint } from '../checkpoint/safetensors';
import { AttentionBuilder } from './attention';
import { embedTokens, lmHead } from './embedding';
import { GraphBuilder } from './graphBuilder';
import { GraphWeights, QuantizedGraphWeights } from './graphWeights';
import { ablateInputName, hiddenName, newKvName, pastName, steerInputName } from './ioNames';
import { LinearBuilder, LoraSlot } from './linear';
import { mlpBlock } from './mlp';
import { OnnxDtype } from './onnxProto';
import { RmsNormBuilder } from './rmsNorm';

export type { LoraSlot } from './linear';
export { loraInputName, steerInputName, ablateInputName, pastName, newKvName, hiddenName } from './ioNames';

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
  quant?: QuantizedGraphWeights;
}

export interface DecoderGraph {
  bytes: Uint8Array;
  /** Folder against which external-data locations resolve (the deepest folder holding the weight files' real paths). */
  externalDataFolder: string;
  inputNames: string[];
  outputNames: string[];
}

export function buildDecoderGraph(opts: DecoderGraphOptions): DecoderGraph {
  const { spec } = opts;
  const g = new GraphBuilder();
  const weights = new GraphWeights(g, spec, opts.checkpoint, opts.quant);
  const { hiddenSize: H, numKvHeads: kvh, headDim: hd, numLayers: L } = spec;
  const linears = new LinearBuilder(g, weights, spec, opts.lora ?? []);
  const steer = new Set(opts.steerLayers ?? []);
  const ablate = new Set(opts.ablateLayers ?? []);
  for (const l of [...steer, ...ablate]) {
    if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`steering/ablation layer ${l} is outside 0..${L - 1}`);
  }

  // ---- inputs
  g.input('input_ids', OnnxDtype.INT64, ['batch', 'seq']);
  g.input('attention_mask', OnnxDtype.INT64, ['batch', 'total']);
  g.input('position_ids', OnnxDtype.INT64, ['batch', 'seq']);
  g.input('logits_from', OnnxDtype.INT64, [1]);
  for (let i = 0; i < L; i++) {
    g.input(pastName(i, 'key'), OnnxDtype.FLOAT, ['batch', kvh, 'capacity', hd]);
    g.input(pastName(i, 'value'), OnnxDtype.FLOAT, ['batch', kvh, hd, 'capacity']); // V^T: the context product reads it with transB
  }
  linears.declareLoraInputs();
  for (const l of [...ablate].sort((a, b) => a - b)) g.input(ablateInputName(l), OnnxDtype.FLOAT, ['batch', H]);
  for (const l of [...steer].sort((a, b) => a - b)) g.input(steerInputName(l), OnnxDtype.FLOAT, ['batch', H]);

  // ---- the builders
  const idsShape = g.o('Shape', ['input_ids']);
  const bDim = g.o('Gather', [idsShape, g.i64([0])], { axis: 0 }); // [1]
  const norms = new RmsNormBuilder(g, weights, spec);
  const attention = new AttentionBuilder(g, spec, linears, norms, idsShape, bDim);

  let h = embedTokens(g, spec, weights);
  g.opTo('Identity', [h], [hiddenName(0)]);

  /** The previous layer's residual add when it is left to be fused with the next norm (no intervention on that layer). */
  let pendingAdd: [string, string] | null = null;
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    // attention block
    let x: string;
    if (pendingAdd) {
      ({ sum: h, normed: x } = norms.addNorm(pendingAdd[0], pendingAdd[1], `${p}.input_layernorm.weight`, hiddenName(i)));
      pendingAdd = null;
    } else x = norms.norm(h, `${p}.input_layernorm.weight`, H);
    const residual = h;
    let attnOut = attention.block(x, i);
    if (spec.sandwichNorms) attnOut = norms.norm(attnOut, `${p}.post_attention_layernorm.weight`, H);
    // MLP block
    const mlpNorm = spec.sandwichNorms ? `${p}.pre_feedforward_layernorm.weight` : `${p}.post_attention_layernorm.weight`;
    const { sum: residual2, normed: x2 } = norms.addNorm(residual, attnOut, mlpNorm);
    let mlpOut = mlpBlock(g, spec, linears, x2, i);
    if (spec.sandwichNorms) mlpOut = norms.norm(mlpOut, `${p}.post_feedforward_layernorm.weight`, H);
    if (!ablate.has(i) && !steer.has(i)) {
      pendingAdd = [residual2, mlpOut]; // added by the next norm
      continue;
    }
    h = g.o('Add', [residual2, mlpOut], {}, `layer_out_${i}`);
    // interventions on the layer output
    if (ablate.has(i)) {
      const d = g.o('Unsqueeze', [ablateInputName(i), g.i64([1])]); // [B,1,H]
      const proj = g.o('ReduceSum', [g.o('Mul', [h, d]), g.i64([-1])], { keepdims: 1 }); // [B,S,1]
      h = g.o('Sub', [h, g.o('Mul', [proj, d])]);
    }
    if (steer.has(i)) h = g.o('Add', [h, g.o('Unsqueeze', [steerInputName(i), g.i64([1])])]);
    // The next norm is the same fused kernel as without interventions (h + 0 = h), so that zero
    // steering/ablation gives the plain model bit for bit.
    pendingAdd = [h, g.o('ConstantOfShape', [g.o('Shape', [h])])];
  }
  const hn = pendingAdd ? norms.addNorm(pendingAdd[0], pendingAdd[1], 'model.norm.weight', '').normed : norms.norm(h, 'model.norm.weight', H);
  g.opTo('Identity', [hn], [hiddenName(L)]);

  // ---- logits for positions logits_from..S-1
  const hs = g.o('Slice', [hn, 'logits_from', g.i64([Number.MAX_SAFE_INTEGER]), g.i64([1])]);
  const flat = g.o('Reshape', [hs, g.i64([-1, H])]);
  const logits2d = lmHead(g, spec, weights, flat);
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
    externalDataFolder: weights.folder,
    inputNames: g.inputs.map((v) => v.name),
    outputNames: g.outputs.map((v) => v.name),
  };
}
