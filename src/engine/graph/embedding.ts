/**
 * The token embedding and the LM head of the decoder graph. The LM head is the embedding matrix itself when
 * the model ties them (tie_word_embeddings), else lm_head.weight.
 */
import type { ModelSpec } from '../checkpoint/modelSpec';
import { qscalesName, qweightName, f16Name } from '../quant/quantCache';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import type { GraphWeights } from './graphWeights';
import { OnnxDtype } from './onnxProto';
import { softcap } from './softcap';

export const EMBEDDING_WEIGHT = 'model.embed_tokens.weight';

/** input_ids [B,S] → embeddings [B,S,H] (float32, scaled when the family scales them). */
export function embedTokens(g: GraphBuilder, spec: ModelSpec, weights: GraphWeights): string {
  const H = spec.hiddenSize;
  const quant = weights.quant;
  const name = EMBEDDING_WEIGHT;
  // The lookup gathers from the stored tensor and casts only the gathered rows, so the float32 copy of a
  // BF16/F16 embedding exists once (for the tied lm_head, if any), not once per consumer.
  let h: string;
  if (quant && quant.bits === 16) {
    h = g.o('Cast', [g.o('Gather', [weights.raw(f16Name(name)), 'input_ids'], { axis: 0 }, 'embeds_f16')], { to: OnnxDtype.FLOAT }, 'embeds');
  } else if (quant) {
    // GatherBlockQuantized reads the MatMulNBits bytes as uint8 [V, H·bits/8] with scales [V, kBlocks]. A tied
    // LM head's blocks are these same bytes of the cache file (one copy on disk), under a second initializer
    // name on purpose: onnxruntime maps external data and only the looked-up rows become resident, while the
    // LM head's MatMulNBits prepacks its own copy and releases its mapping. Giving the lookup the LM head's
    // initializer itself (GatherBlockQuantized accepts the [V, kBlocks, blob] layout with quantize_axis 2, and
    // the logits were identical) keeps that whole mapping resident beside the packed copy: peak RSS of the
    // 0.5B bench shape +136 MB at int8, +68 MB at int4 (onnxruntime-node 1.30, measured 2026-12-06).
    const scales = weights.raw(qscalesName(name));
    if (H % quant.blockSize !== 0) throw new Error(`hidden size ${H} is not a multiple of the quantization block size ${quant.blockSize}`);
    const range = quant.weights.byteRange(qweightName(name));
    const data = weights.external(`${name}.gather`, { ...range, shape: [spec.vocabSize, (H * quant.bits) / 8] });
    h = g.o('GatherBlockQuantized', [data, 'input_ids', scales], { gather_axis: 0, quantize_axis: 1, block_size: quant.blockSize, bits: quant.bits }, 'embeds', MS_DOMAIN);
  } else {
    const f32 = weights.f32(name, [spec.vocabSize, H]); // shape/dtype check
    const stored = weights.storedAsF32(name) ? f32 : weights.raw(name);
    h = g.o('Gather', [stored, 'input_ids'], { axis: 0 }, 'embeds_raw');
    if (stored !== f32) h = g.o('Cast', [h], { to: OnnxDtype.FLOAT }, 'embeds');
  }
  if (spec.embeddingScale !== null) h = g.o('Mul', [h, g.scalar(spec.embeddingScale)]);
  return h;
}

/** Final hidden states flat [N,H] → logits [N,V] (soft-capped when the family caps them). */
export function lmHead(g: GraphBuilder, spec: ModelSpec, weights: GraphWeights, flat: string): string {
  const name = spec.tieWordEmbeddings ? EMBEDDING_WEIGHT : 'lm_head.weight';
  const V = spec.vocabSize;
  const H = spec.hiddenSize;
  const logits = weights.quant ? weights.matMulQuantized(flat, name, V, H, 'lm_head') : g.o('Gemm', [flat, weights.f32(name, [V, H])], { transB: 1 });
  return spec.finalSoftcap !== null ? softcap(g, logits, spec.finalSoftcap) : logits;
}
