/**
 * A decoder layer's self-attention in the graph: q/k/v projections, optional q/k RMSNorm, rotary, grouped-query
 * scores against the KV cache where it lies plus the S new columns, optional soft-capping, the layer's mask,
 * softmax, context and o_proj. The new keys (after rotary) and values are graph outputs that the caller
 * appends to its cache, so no step copies the cache.
 *
 * Inputs per layer: past_key_values.{i}.key [B,kvh,C,hd] and .value [B,kvh,hd,C] (V transposed).
 */
import type { ModelSpec } from '../checkpoint/modelSpec';
import { AttentionMasks } from './attentionMask';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import { newKvName, pastName } from './ioNames';
import type { LinearBuilder } from './linear';
import type { RmsNormBuilder } from './rmsNorm';
import { RotaryTables } from './rotary';
import { softcap } from './softcap';

export class AttentionBuilder {
  private readonly masks: AttentionMasks;
  private readonly rotary: RotaryTables;
  private readonly scores5Shape: string;
  private readonly scores4Shape: string;

  /** `idsShape`: Shape(input_ids); `bDim`: [1] batch size. */
  constructor(
    private readonly g: GraphBuilder,
    private readonly spec: ModelSpec,
    private readonly linears: LinearBuilder,
    private readonly norms: RmsNormBuilder,
    idsShape: string,
    bDim: string,
  ) {
    this.masks = new AttentionMasks(g, idsShape);
    this.rotary = new RotaryTables(g, spec.headDim);
    // Scores [B,kvh,g*S,C+S] viewed as [B,kvh,g,S,C+S] (for the [B,1,1,S,C+S] mask) and back.
    const kDim = g.o('Add', [this.masks.capDim, this.masks.sDim]);
    this.scores5Shape = g.o('Concat', [bDim, g.i64([spec.numKvHeads, spec.numHeads / spec.numKvHeads]), this.masks.sDim, kDim], { axis: 0 });
    this.scores4Shape = g.o('Concat', [bDim, g.i64([spec.numKvHeads, -1]), kDim], { axis: 0 });
  }

  /** Attention of layer `i` over its normed input x [B,S,H]: o_proj's output [B,S,H]. */
  block(x: string, i: number): string {
    const { g, spec, linears, norms, rotary } = this;
    const nh = spec.numHeads;
    const kvh = spec.numKvHeads;
    const hd = spec.headDim;
    const layer = spec.layers[i];
    const p = `model.layers.${i}`;
    const headsShape = (n: number): string => g.i64([0, 0, n, hd]);
    const [qp, kp, vp] = linears.applyGroup(x, i, ['q_proj', 'k_proj', 'v_proj'], spec.qkvBias);
    let q = g.o('Reshape', [qp, headsShape(nh)]); // [B,S,nh,hd]
    let k = g.o('Reshape', [kp, headsShape(kvh)]);
    const v = g.o('Reshape', [vp, headsShape(kvh)]);
    if (spec.qkNorm) {
      q = norms.norm(q, `${p}.self_attn.q_norm.weight`, hd);
      k = norms.norm(k, `${p}.self_attn.k_norm.weight`, hd);
    }
    const perm = { perm: [0, 2, 1, 3] };
    const r = rotary.tableFor(layer.rope);
    const qh = rotary.apply(g.o('Transpose', [q], perm), r); // [B,nh,S,hd]
    const kh = rotary.apply(g.o('Transpose', [k], perm), r, newKvName(i, 'key')); // [B,kvh,S,hd], a graph output
    const vh = newKvName(i, 'value');
    g.opTo('Transpose', [v], [vh], perm);
    // Attention over the cache where it lies plus the new columns: no concatenation, so a step reads
    // the cache once (the two score products and the two context products) and copies none of it.
    const qg = g.o('Reshape', [qh, g.i64([0, kvh, -1, hd])]); // [B,kvh,g*S,hd]: one product per KV head
    const scale = { transB: 1, alpha: { float: spec.attnScale } };
    const sPast = g.o('FusedMatMul', [qg, pastName(i, 'key')], scale, `scores_past_${i}`, MS_DOMAIN); // [B,kvh,g*S,C]
    const sNew = g.o('FusedMatMul', [qg, kh], scale, `scores_new_${i}`, MS_DOMAIN); // [B,kvh,g*S,S]
    let scores = g.o('Reshape', [g.o('Concat', [sPast, sNew], { axis: 3 }), this.scores5Shape]); // [B,kvh,g,S,C+S]
    if (spec.attnSoftcap !== null) scores = softcap(g, scores, spec.attnSoftcap);
    scores = g.o('Add', [scores, this.masks.forWindow(layer.slidingWindow)]);
    const probs = g.o('Reshape', [g.o('Softmax', [scores], { axis: -1 }), this.scores4Shape]); // [B,kvh,g*S,C+S]
    const capDim = this.masks.capDim;
    const pPast = g.o('Slice', [probs, g.i64([0]), capDim, g.i64([3])]);
    const pNew = g.o('Slice', [probs, capDim, g.i64([Number.MAX_SAFE_INTEGER]), g.i64([3])]);
    const ctxPast = g.o('FusedMatMul', [pPast, pastName(i, 'value')], { transB: 1 }, `ctx_past_${i}`, MS_DOMAIN);
    const ctx = g.o('Add', [ctxPast, g.o('MatMul', [pNew, vh])]); // [B,kvh,g*S,hd]
    const ctx4 = g.o('Transpose', [g.o('Reshape', [ctx, g.i64([0, nh, -1, hd])])], perm); // [B,S,nh,hd]
    const attnIn = g.o('Reshape', [ctx4, g.i64([0, 0, nh * hd])]);
    return linears.apply(attnIn, i, 'o_proj', spec.oBias);
  }
}
