/**
 * Rotary position embedding in the decoder graph: one cos/sin table per distinct RopeSpec (a family may rotate
 * sliding layers with their own base), one row [hd/2] per (batch row, position), [B*S, hd/2]; row b*S+s is
 * looked up by com.microsoft RotaryEmbedding through ropeRows [B,S].
 */
import type { RopeSpec } from '../checkpoint/modelSpec';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import { OnnxDtype } from './onnxProto';
import { ropeInvFreq } from './rope';

export interface RotaryTable {
  cos: string;
  sin: string;
}

export class RotaryTables {
  private readonly posF: string;
  private readonly ropeRows: string;
  private readonly tables = new Map<string, RotaryTable>();

  constructor(private readonly g: GraphBuilder, private readonly headDim: number) {
    this.posF = g.o('Unsqueeze', [g.o('Cast', ['position_ids'], { to: OnnxDtype.FLOAT }), g.i64([2])]); // [B,S,1]
    this.ropeRows = g.o('Reshape', [g.o('Range', [g.i64([0], []), g.o('Size', ['position_ids']), g.i64([1], [])]), g.o('Shape', ['position_ids'])]);
  }

  tableFor(rope: RopeSpec): RotaryTable {
    const key = JSON.stringify(rope);
    const hit = this.tables.get(key);
    if (hit) return hit;
    const g = this.g;
    const half = this.headDim / 2;
    const inv = g.f32(ropeInvFreq(rope, this.headDim), [half]);
    const freqs = g.o('Reshape', [g.o('Mul', [this.posF, inv]), g.i64([-1, half])]); // [B*S,hd/2]
    const r = { cos: g.o('Cos', [freqs], {}, 'rope_cos'), sin: g.o('Sin', [freqs], {}, 'rope_sin') };
    this.tables.set(key, r);
    return r;
  }

  /** Rotates the halves of x [B,n,S,hd] (transformers' rotate_half form) as one RotaryEmbedding node. */
  apply(x: string, r: RotaryTable, out = this.g.fresh('rope')): string {
    this.g.opTo('RotaryEmbedding', [x, this.ropeRows, r.cos, r.sin], [out], { interleaved: 0 }, MS_DOMAIN);
    return out;
  }
}
