/**
 * The attention masks of the decoder graph. Attention runs over K = C + S key columns: the C columns of the
 * cache as it lies (the first P cached, the rest spare capacity), then the S new ones. Key column j < C is
 * column j of the cache; column C + s is new token s, at column P + s of the row. Spare columns, left padding
 * (attention_mask 0) and future positions are masked out, and a sliding layer also masks keys `window` or more
 * positions back. One additive mask [B,1,1,S,C+S] (0 or float32 min) per distinct window.
 */
import { GraphBuilder } from './graphBuilder';
import { pastName } from './ioNames';
import { OnnxDtype } from './onnxProto';

const FLOAT_MIN = -3.4028234663852886e38;

export class AttentionMasks {
  /** [1] S: new tokens of this forward. */
  readonly sDim: string;
  /** [1] C: columns of the cache as it lies. */
  readonly capDim: string;
  private readonly diff: string;
  private readonly allowedGlobal: string;
  private readonly zero: string;
  private readonly minVal: string;
  private readonly masks = new Map<number | null, string>();

  constructor(private readonly g: GraphBuilder, idsShape: string) {
    const ax = (...a: number[]): string => g.i64(a);
    const scalarOf = (v: string): string => g.o('Squeeze', [v, ax(0)]);
    this.sDim = g.o('Gather', [idsShape, ax(1)], { axis: 0 });
    const tDim = g.o('Gather', [g.o('Shape', ['attention_mask']), ax(1)], { axis: 0 });
    const pastDim = g.o('Sub', [tDim, this.sDim]); // [1] P
    this.capDim = g.o('Gather', [g.o('Shape', [pastName(0, 'key')]), ax(2)], { axis: 0 });
    const qpos = g.o('Range', [scalarOf(pastDim), scalarOf(tDim), g.i64([1], [])]); // [S]
    const kpos = g.o('Concat', [g.o('Range', [g.i64([0], []), scalarOf(this.capDim), g.i64([1], [])]), qpos], { axis: 0 }); // [C+S]
    this.diff = g.o('Sub', [g.o('Unsqueeze', [qpos, ax(1)]), g.o('Unsqueeze', [kpos, ax(0)])]); // [S,C+S]
    const causal = g.o('Unsqueeze', [g.o('GreaterOrEqual', [this.diff, g.i64([0], [])]), ax(0, 1, 2)]); // [1,1,1,S,C+S]
    const maskPast = g.o('Slice', ['attention_mask', ax(0), pastDim, ax(1)]); // [B,P]
    const maskPastPadded = g.o('Pad', [maskPast, g.o('Concat', [ax(0, 0, 0), g.o('Sub', [this.capDim, pastDim])], { axis: 0 })]); // [B,C], 0 on spare columns
    const maskNew = g.o('Slice', ['attention_mask', pastDim, tDim, ax(1)]); // [B,S]
    const keyMask = g.o('Concat', [maskPastPadded, maskNew], { axis: 1 }); // [B,C+S]
    const keyValid = g.o('Unsqueeze', [g.o('Cast', [keyMask], { to: OnnxDtype.BOOL }), ax(1, 2, 3)]); // [B,1,1,1,C+S]
    this.allowedGlobal = g.o('And', [causal, keyValid]);
    this.zero = g.scalar(0);
    this.minVal = g.scalar(FLOAT_MIN);
  }

  /** The additive mask for a layer with this sliding window (null = global attention). */
  forWindow(window: number | null): string {
    const hit = this.masks.get(window);
    if (hit) return hit;
    const g = this.g;
    let allowed = this.allowedGlobal;
    if (window !== null) {
      const inWindow = g.o('Unsqueeze', [g.o('Less', [this.diff, g.i64([window], [])]), g.i64([0, 1, 2])]);
      allowed = g.o('And', [allowed, inWindow]);
    }
    const m = g.o('Where', [allowed, this.zero, this.minVal], {}, `mask_${window ?? 'global'}`); // [B,1,1,S,C+S]
    this.masks.set(window, m);
    return m;
  }
}
