/** Logit soft-capping (Gemma): cap · tanh(x / cap), for attention scores and final logits. */
import type { GraphBuilder } from './graphBuilder';

export function softcap(g: GraphBuilder, x: string, cap: number): string {
  return g.o('Mul', [g.o('Tanh', [g.o('Div', [x, g.scalar(cap)])]), g.scalar(cap)]);
}
