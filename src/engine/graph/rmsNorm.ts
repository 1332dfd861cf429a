/**
 * RMSNorm nodes of the decoder graph: onnxruntime's SimplifiedLayerNormalization kernel, and the residual add
 * fused with the next norm (com.microsoft SkipSimplifiedLayerNormalization). The weight is scaled by
 * (normOffset + w) when the family stores norms around 0 (Gemma: 1 + w, folded at load).
 */
import type { ModelSpec } from '../checkpoint/modelSpec';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import type { GraphWeights } from './graphWeights';

export class RmsNormBuilder {
  constructor(
    private readonly g: GraphBuilder,
    private readonly weights: GraphWeights,
    private readonly spec: Pick<ModelSpec, 'rmsNormEps' | 'normOffset' | 'hiddenSize'>,
  ) {}

  private scale(wName: string, dim: number): string {
    const w = this.weights.f32(wName, [dim]);
    const offset = this.spec.normOffset;
    return offset !== 0 ? this.g.o('Add', [w, this.g.scalar(offset)], {}, `${wName}_plus${offset}`) : w;
  }

  /** RMSNorm of x over its last axis (`dim` wide) with the weight `wName`. */
  norm(x: string, wName: string, dim: number): string {
    return this.g.o('SimplifiedLayerNormalization', [x, this.scale(wName, dim)], { axis: -1, epsilon: { float: this.spec.rmsNormEps } });
  }

  /** a + b and RMSNorm(a + b) over the hidden axis as one node; `sumTo` names the sum output ('' = unused). */
  addNorm(a: string, b: string, wName: string, sumTo = this.g.fresh('residual')): { sum: string; normed: string } {
    const normed = this.g.fresh('norm');
    this.g.opTo('SkipSimplifiedLayerNormalization', [a, b, this.scale(wName, this.spec.hiddenSize)], [normed, '', '', sumTo], { epsilon: { float: this.spec.rmsNormEps } }, MS_DOMAIN);
    return { sum: sumTo, normed };
  }
}
