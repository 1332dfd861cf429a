/** A decoder layer's gated MLP in the graph: down(act(gate(x)) · up(x)), with SiLU or tanh-approximated GELU. */
import type { ModelSpec } from '../checkpoint/modelSpec';
import type { GraphBuilder } from './graphBuilder';
import type { LinearBuilder } from './linear';

export function mlpBlock(g: GraphBuilder, spec: ModelSpec, linears: LinearBuilder, x: string, i: number): string {
  const [gate, up] = linears.applyGroup(x, i, ['gate_proj', 'up_proj'], spec.mlpBias);
  const act = spec.activation === 'silu' ? g.o('Mul', [gate, g.o('Sigmoid', [gate])]) : g.o('Gelu', [gate], { approximate: 'tanh' });
  return linears.apply(g.o('Mul', [act, up]), i, 'down_proj', spec.mlpBias);
}
