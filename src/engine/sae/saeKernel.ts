/**
 * SAE encoding inside onnxruntime (a small graph, batched over tokens; never a JavaScript loop over d_sae).
 * The encoder is SAELens's:
 *   x' = normalize(x) − b_dec·[apply_b_dec_to_input]
 *   pre = x' W_enc + b_enc
 *   standard: relu(pre);  jumprelu: relu(pre)·[pre > threshold];  topk: relu of the k largest pre, 0 elsewhere
 * with normalize = identity (none, expected_average_only_in), x·sqrt(d_in)/‖x‖ (constant_norm_rescale) or
 * (x − mean)/(std + 1e-5) with the unbiased std (layer_norm).
 *
 * Two graphs over the same weights (external data in sae_weights.safetensors, cast to float32 in the graph):
 *  - encode: x [N, d_in] → acts [N, d_sae] (tests, steering by feature, top-activating tokens);
 *  - diff: x_ref, x_var [N, d_in] (the same tokens under the reference and the variant) → per-feature sums and
 *    active counts over the N rows for each side, and per row the k features whose activation changed most
 *    (ids, ref and var activations). A run-level diff then costs d_sae floats per batch in JavaScript.
 */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/graphBuilder';
import { OnnxDtype } from '../graph/onnxProto';
import type { SaeSpec } from './saeFolder';

function buildEncoder(g: GraphBuilder, spec: SaeSpec, x: string, tag: string, w: Record<string, string>): string {
  let h = x;
  if (spec.normalizeActivations === 'constant_norm_rescale') {
    const norm = g.o('ReduceL2', [h, g.i64([-1])], { keepdims: 1 }, `${tag}_norm`);
    h = g.o('Mul', [h, g.o('Div', [g.scalar(Math.sqrt(spec.dIn)), norm])], {}, `${tag}_rescaled`);
  } else if (spec.normalizeActivations === 'layer_norm') {
    const mu = g.o('ReduceMean', [h, g.i64([-1])], { keepdims: 1 });
    const c = g.o('Sub', [h, mu]);
    // torch.std is unbiased: sqrt(sum(c²) / (d_in − 1)).
    const ss = g.o('ReduceSum', [g.o('Mul', [c, c]), g.i64([-1])], { keepdims: 1 });
    const std = g.o('Sqrt', [g.o('Div', [ss, g.scalar(spec.dIn - 1)])]);
    h = g.o('Div', [c, g.o('Add', [std, g.scalar(1e-5)])], {}, `${tag}_ln`);
  }
  if (spec.applyBDecToInput) h = g.o('Sub', [h, w.b_dec], {}, `${tag}_centred`);
  const pre = g.o('Add', [g.o('MatMul', [h, w.W_enc]), w.b_enc], {}, `${tag}_pre`);
  const relu = g.o('Relu', [pre], {}, `${tag}_relu`);
  if (spec.architecture === 'standard') return relu;
  if (spec.architecture === 'jumprelu') {
    const mask = g.o('Cast', [g.o('Greater', [pre, w.threshold])], { to: OnnxDtype.FLOAT });
    return g.o('Mul', [relu, mask], {}, `${tag}_acts`);
  }
  // topk: scatter relu(top-k values of pre) into zeros.
  const [vals, idx] = g.op('TopK', [pre, g.i64([spec.k!])], { axis: -1, largest: 1, sorted: 1 }, 2, `${tag}_topk`);
  const zeros = g.o('Mul', [pre, g.scalar(0)]);
  return g.o('ScatterElements', [zeros, idx, g.o('Relu', [vals])], { axis: -1 }, `${tag}_acts`);
}

function weights(g: GraphBuilder, spec: SaeSpec): Record<string, string> {
  const folder = spec.dir;
  const w: Record<string, string> = {};
  const names = ['W_enc', 'b_enc', 'b_dec', ...(spec.threshold ? [spec.threshold.name] : [])];
  for (const name of names) {
    const range = spec.weights.byteRange(name);
    const raw = g.external(`sae.${name}`, range, folder, (file) => path.relative(folder, file));
    let v = range.dtype === 'F32' ? raw : g.o('Cast', [raw], { to: OnnxDtype.FLOAT }, `sae.${name}.f32`);
    if (spec.threshold && name === spec.threshold.name && spec.threshold.log) v = g.o('Exp', [v], {}, 'sae.threshold');
    w[spec.threshold && name === spec.threshold.name ? 'threshold' : name] = v;
  }
  return w;
}

async function session(g: GraphBuilder, spec: SaeSpec, name: string, threads?: number): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  if (threads !== undefined) {
    opts.intraOpNumThreads = threads;
    opts.interOpNumThreads = 1;
  }
  opts.extra = { session: { model_external_initializers_file_folder_path: spec.dir, intra_op: { allow_spinning: '0' } } };
  return ort.InferenceSession.create(g.encode(name), opts);
}

export interface SaeDiffBlock {
  /** [d_sae] sums of activations over the block's rows, reference and variant. */
  sumRef: Float32Array;
  sumVar: Float32Array;
  /** [d_sae] rows where the feature is active (> 0). */
  activeRef: Float32Array;
  activeVar: Float32Array;
  /** [N, k] per row: the features whose activation changed most, and their activations. */
  topIds: BigInt64Array;
  topRef: Float32Array;
  topVar: Float32Array;
  k: number;
}

export class SaeKernel {
  private constructor(
    readonly spec: SaeSpec,
    private readonly encoder: ort.InferenceSession,
    private readonly differ: ort.InferenceSession,
  ) {}

  static async create(spec: SaeSpec, threads?: number): Promise<SaeKernel> {
    const ge = new GraphBuilder();
    ge.input('x', OnnxDtype.FLOAT, ['n', spec.dIn]);
    ge.opTo('Identity', [buildEncoder(ge, spec, 'x', 'enc', weights(ge, spec))], ['acts']);
    ge.output('acts', OnnxDtype.FLOAT, ['n', spec.dSae]);

    const gd = new GraphBuilder();
    gd.input('x_ref', OnnxDtype.FLOAT, ['n', spec.dIn]);
    gd.input('x_var', OnnxDtype.FLOAT, ['n', spec.dIn]);
    gd.input('k', OnnxDtype.INT64, [1]);
    const w = weights(gd, spec);
    const aRef = buildEncoder(gd, spec, 'x_ref', 'ref', w);
    const aVar = buildEncoder(gd, spec, 'x_var', 'var', w);
    const axis0 = gd.i64([0]);
    gd.opTo('ReduceSum', [aRef, axis0], ['sum_ref'], { keepdims: 0 });
    gd.opTo('ReduceSum', [aVar, axis0], ['sum_var'], { keepdims: 0 });
    const active = (a: string) => gd.o('Cast', [gd.o('Greater', [a, gd.scalar(0)])], { to: OnnxDtype.FLOAT });
    gd.opTo('ReduceSum', [active(aRef), axis0], ['active_ref'], { keepdims: 0 });
    gd.opTo('ReduceSum', [active(aVar), axis0], ['active_var'], { keepdims: 0 });
    const [, idx] = gd.op('TopK', [gd.o('Abs', [gd.o('Sub', [aVar, aRef])]), 'k'], { axis: -1, largest: 1, sorted: 1 }, 2);
    gd.opTo('Identity', [idx], ['top_ids']);
    gd.opTo('GatherElements', [aRef, idx], ['top_ref'], { axis: 1 });
    gd.opTo('GatherElements', [aVar, idx], ['top_var'], { axis: 1 });
    for (const o of ['sum_ref', 'sum_var', 'active_ref', 'active_var']) gd.output(o, OnnxDtype.FLOAT, [spec.dSae]);
    gd.output('top_ids', OnnxDtype.INT64, ['n', 'k']);
    gd.output('top_ref', OnnxDtype.FLOAT, ['n', 'k']);
    gd.output('top_var', OnnxDtype.FLOAT, ['n', 'k']);
    const [enc, diff] = await Promise.all([session(ge, spec, 'sae_encode', threads), session(gd, spec, 'sae_diff', threads)]);
    return new SaeKernel(spec, enc, diff);
  }

  /** x: [n, d_in] row-major → [n, d_sae]. */
  async encode(x: Float32Array, n: number): Promise<Float32Array> {
    if (x.length !== n * this.spec.dIn) throw new Error(`SAE encode: input is not [${n}, ${this.spec.dIn}]`);
    const out = await this.encoder.run({ x: new ort.Tensor('float32', x, [n, this.spec.dIn]) });
    return out.acts.data as Float32Array;
  }

  async diff(xRef: Float32Array, xVar: Float32Array, n: number, k: number): Promise<SaeDiffBlock> {
    const d = this.spec.dIn;
    if (xRef.length !== n * d || xVar.length !== n * d) throw new Error(`SAE diff: inputs are not [${n}, ${d}]`);
    const kk = Math.max(1, Math.min(k, this.spec.dSae));
    const out = await this.differ.run({
      x_ref: new ort.Tensor('float32', xRef, [n, d]),
      x_var: new ort.Tensor('float32', xVar, [n, d]),
      k: new ort.Tensor('int64', new BigInt64Array([BigInt(kk)]), [1]),
    });
    return {
      sumRef: out.sum_ref.data as Float32Array,
      sumVar: out.sum_var.data as Float32Array,
      activeRef: out.active_ref.data as Float32Array,
      activeVar: out.active_var.data as Float32Array,
      topIds: out.top_ids.data as BigInt64Array,
      topRef: out.top_ref.data as Float32Array,
      topVar: out.top_var.data as Float32Array,
      k: kk,
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.encoder.release(), this.differ.release()]);
  }
}
