/**
 * A decoder layer's linear module in the graph: the (possibly quantized) projection, its bias, and the LoRA
 * branch fed by the graph inputs lora.{L}.{module}.A / .B / .scale (float32 on the layer's input, QLoRA
 * semantics; per-row scales so base and adapted rows share one batch).
 */
import { linearParent, linearShape, LinearModule, ModelSpec } from '../checkpoint/modelSpec';
import { GraphBuilder, Dim } from './graphBuilder';
import type { GraphWeights } from './graphWeights';
import { loraInputName } from './ioNames';
import { OnnxDtype } from './onnxProto';

export interface LoraSlot {
  layer: number;
  module: LinearModule;
  /** Total rank of all loaded adapters for this module (their A/B concatenated). */
  rank: number;
}

export class LinearBuilder {
  private readonly slots = new Map<string, LoraSlot>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly weights: GraphWeights,
    private readonly spec: ModelSpec,
    lora: LoraSlot[],
  ) {
    for (const s of lora) {
      if (s.layer < 0 || s.layer >= spec.numLayers) throw new Error(`LoRA slot for layer ${s.layer} is outside the model's ${spec.numLayers} layers`);
      this.slots.set(`${s.layer}.${s.module}`, s);
    }
  }

  /** Declares the LoRA inputs of every slot: A [R,in], B [out,R], scale [B,R]. */
  declareLoraInputs(): void {
    for (const s of this.slots.values()) {
      const [out, inn] = linearShape(this.spec, s.module);
      const input = (part: 'A' | 'B' | 'scale', dims: Dim[]) => this.g.input(loraInputName(s.layer, s.module, part), OnnxDtype.FLOAT, dims);
      input('A', [s.rank, inn]);
      input('B', [out, s.rank]);
      input('scale', ['batch', s.rank]);
    }
  }

  /** x [B,S,in] through layer `layer`'s `module`: [B,S,out]. */
  apply(x: string, layer: number, module: LinearModule, hasBias: boolean): string {
    const g = this.g;
    const prefix = `model.layers.${layer}.${linearParent(module)}.${module}`;
    const [out, inn] = linearShape(this.spec, module);
    let y = this.weights.matMulTransposed(x, `${prefix}.weight`, out, inn, `${module}_${layer}`);
    if (hasBias) y = g.o('Add', [y, this.weights.f32(`${prefix}.bias`, [out])]);
    return this.withLora(x, y, layer, module);
  }

  /**
   * x through modules that read the same input (a layer's q/k/v, or gate/up): [B,S,out_i] each. In a quantized
   * graph they are ONE product over the group's adjacent weights, split after it (each LoRA branch is added to
   * its own module's part); in float32 one product per module, as `apply`.
   */
  applyGroup(x: string, layer: number, modules: readonly LinearModule[], hasBias: boolean): string[] {
    if (!this.weights.quant || modules.length === 1) return modules.map((m) => this.apply(x, layer, m, hasBias));
    const g = this.g;
    const prefixes = modules.map((m) => `model.layers.${layer}.${linearParent(m)}.${m}`);
    const outs = modules.map((m) => linearShape(this.spec, m)[0]);
    const inn = linearShape(this.spec, modules[0])[1];
    const bias = hasBias ? g.o('Concat', prefixes.map((p, i) => this.weights.f32(`${p}.bias`, [outs[i]])), { axis: 0 }) : null;
    const y = this.weights.matMulQuantizedGroup(x, prefixes.map((p) => `${p}.weight`), outs, inn, bias, `${modules.join('_')}_${layer}`);
    return g.op('Split', [y, g.i64(outs)], { axis: -1 }, modules.length).map((part, i) => this.withLora(x, part, layer, modules[i]));
  }

  private withLora(x: string, y: string, layer: number, module: LinearModule): string {
    const g = this.g;
    if (this.slots.has(`${layer}.${module}`)) {
      const A = loraInputName(layer, module, 'A');
      const B = loraInputName(layer, module, 'B');
      const scale = loraInputName(layer, module, 'scale');
      const xa = g.o('MatMul', [x, g.o('Transpose', [A], { perm: [1, 0] })]);
      const xs = g.o('Mul', [xa, g.o('Unsqueeze', [scale, g.i64([1])])]);
      const yl = g.o('MatMul', [xs, g.o('Transpose', [B], { perm: [1, 0] })]);
      y = g.o('Add', [y, yl], {}, `${module}_${layer}_lora`);
    }
    return y;
  }
}
