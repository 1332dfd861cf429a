/**
 * The decoder graph's weights: each stored tensor once as an external initializer (the checkpoint's safetensors,
 * or with `quant` the quantized cache file of ../quant/quantCache, which then holds every weight), its float32
 * value (a Cast folded at load for F16/BF16), and the weight-only quantized matrix product.
 */
import type { ModelSpec } from '../checkpoint/modelSpec';
import type { ByteRange, SafetensorsCheckpoint, SafetensorsFile } from '../checkpoint/safetensors';
import type { QuantBits } from '../quant/blockQuantize';
import { f16Name, qscalesName, qweightName } from '../quant/quantCache';
import { externalDataLayout, ExternalDataLayout } from './externalData';
import { GraphBuilder, MS_DOMAIN } from './graphBuilder';
import { OnnxDtype } from './onnxProto';

/** Weight-only quantized weights: every matrix as MatMulNBits blocks (4/8) or float16 (16), read from `weights`. */
export interface QuantizedGraphWeights {
  bits: QuantBits | 16;
  blockSize: number;
  accuracyLevel: number;
  weights: SafetensorsFile;
}

export class GraphWeights {
  private readonly layout: ExternalDataLayout;
  private readonly rawCache = new Map<string, string>();
  private readonly f32Cache = new Map<string, string>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly spec: ModelSpec,
    private readonly ckpt: SafetensorsCheckpoint,
    readonly quant: QuantizedGraphWeights | undefined,
  ) {
    // Real paths: checkpoints in the Hugging Face cache are symlinks into ../../blobs (see ./externalData).
    this.layout = externalDataLayout(quant ? [quant.weights.file] : ckpt.files.map((f) => f.file));
  }

  /** Folder against which the external-data locations resolve. */
  get folder(): string {
    return this.layout.folder;
  }

  /** The stored tensor as an external initializer (its own dtype). */
  raw(name: string): string {
    let v = this.rawCache.get(name);
    if (!v) this.rawCache.set(name, (v = this.external(name, this.quant ? this.quant.weights.byteRange(name) : this.ckpt.byteRange(name))));
    return v;
  }

  /** An initializer named `name` over the given bytes of a weight file (a second view of stored bytes). */
  external(name: string, range: ByteRange): string {
    return this.g.external(name, range, this.layout.folder, this.layout.location);
  }

  /** Whether the checkpoint stores the tensor as float32 (checkpoint weights only). */
  storedAsF32(name: string): boolean {
    return this.ckpt.info(name).dtype === 'F32';
  }

  /** float32 value of a weight (shape and dtype checked). */
  f32(name: string, shape: number[]): string {
    const hit = this.f32Cache.get(name);
    if (hit) return hit;
    const { spec, ckpt, quant, g } = this;
    const info = quant ? quant.weights.info(name) : ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${ckpt.fileOf(name).file}: tensor "${name}" has shape [${info.shape.join(', ')}] but ${spec.configPath} implies [${shape.join(', ')}]; the weights do not belong to this config`);
    }
    if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
      throw new Error(`${ckpt.fileOf(name).file}: tensor "${name}" has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    }
    const init = this.raw(name);
    const out = info.dtype === 'F32' ? init : g.o('Cast', [init], { to: OnnxDtype.FLOAT }, `${name}_f32`);
    this.f32Cache.set(name, out);
    return out;
  }

  /** A [N, K] matrix's MatMulNBits blocks and scales in the quantized weights file (shape checked). */
  quantized(name: string, N: number, K: number): { B: string; scales: string } {
    this.checkQuantizedShape(name, N, K);
    return { B: this.raw(qweightName(name)), scales: this.raw(qscalesName(name)) };
  }

  private checkF16Shape(name: string, N: number, K: number): void {
    const quant = this.requireQuant();
    const ws = quant.weights.info(f16Name(name)).shape;
    if (ws.join() !== [N, K].join()) throw new Error(`${quant.weights.file}: "${f16Name(name)}" has shape [${ws.join(', ')}], expected [${N}, ${K}]; delete the file to make it again`);
  }

  private checkQuantizedShape(name: string, N: number, K: number): void {
    const quant = this.requireQuant();
    const kb = Math.ceil(K / quant.blockSize);
    const bs = quant.weights.info(qweightName(name)).shape;
    if (bs.join() !== [N, kb, (quant.blockSize * quant.bits) / 8].join()) throw new Error(`${quant.weights.file}: "${qweightName(name)}" has shape [${bs.join(', ')}], expected [${N}, ${kb}, ${(quant.blockSize * quant.bits) / 8}]; delete the file to quantize again`);
  }

  /** x [..., K] times the transposed [N, K] weight `name`, quantized (MatMulNBits) or in float16. */
  matMulQuantized(x: string, name: string, N: number, K: number, hint: string): string {
    const quant = this.requireQuant();
    const g = this.g;
    if (quant.bits === 16) {
      // f16: the matrix product in float16 (the CUDA provider's tensor cores), activations float32 around it
      this.checkF16Shape(name, N, K);
      const w16 = this.raw(f16Name(name));
      const x16 = g.o('Cast', [x], { to: OnnxDtype.FLOAT16 }, `${hint}_in16`);
      return g.o('Cast', [g.o('FusedMatMul', [x16, w16], { transB: 1 }, `${hint}_f16`, MS_DOMAIN)], { to: OnnxDtype.FLOAT }, hint);
    }
    const q = this.quantized(name, N, K);
    return g.o('MatMulNBits', [x, q.B, q.scales], { K, N, bits: quant.bits, block_size: quant.blockSize, accuracy_level: quant.accuracyLevel }, hint, MS_DOMAIN);
  }

  /** x [..., K] times the transposed [N, K] weight `name`: quantized when the graph is, else float32 FusedMatMul. */
  matMulTransposed(x: string, name: string, N: number, K: number, hint: string): string {
    // FusedMatMul with transB reads the [out, in] weight as stored (no transposed copy is folded at
    // load) and takes [B,S,in] as it is (no reshapes to 2-D and back around a Gemm).
    return this.quant ? this.matMulQuantized(x, name, N, K, hint) : this.g.o('FusedMatMul', [x, this.f32(name, [N, K])], { transB: 1 }, hint, MS_DOMAIN);
  }

  /**
   * x [..., K] times the transposed weights of several [N_i, K] matrices stored adjacently in the quantized file
   * (a group of ../quant/quantCache: packed blocks one after the other, then scales; f16: rows one after the
   * other): ONE product over [ΣN, K] read as one initializer per range (nothing copied at load), output
   * [..., ΣN] with the members' columns in order. `bias` (float32 [ΣN]) is added by the product itself.
   */
  matMulQuantizedGroup(x: string, names: string[], Ns: number[], K: number, bias: string | null, hint: string): string {
    const quant = this.requireQuant();
    const g = this.g;
    const N = Ns.reduce((a, b) => a + b, 0);
    const span = (tensorNames: string[], shape: number[]): string => {
      const ranges = tensorNames.map((n) => quant.weights.byteRange(n));
      ranges.forEach((r, i) => {
        if (i > 0 && (r.file !== ranges[i - 1].file || r.offset !== ranges[i - 1].offset + ranges[i - 1].length)) {
          throw new Error(`${quant.weights.file}: "${tensorNames[i]}" does not follow "${tensorNames[i - 1]}" in the file, as this format version lays a group out; delete the file to quantize again`);
        }
      });
      const length = ranges.reduce((a, r) => a + r.length, 0);
      return this.external(`${tensorNames[0]}+${tensorNames.length - 1}`, { ...ranges[0], length, shape });
    };
    if (quant.bits === 16) {
      names.forEach((n, i) => this.checkF16Shape(n, Ns[i], K));
      const w16 = span(names.map(f16Name), [N, K]);
      const x16 = g.o('Cast', [x], { to: OnnxDtype.FLOAT16 }, `${hint}_in16`);
      const y = g.o('Cast', [g.o('FusedMatMul', [x16, w16], { transB: 1 }, `${hint}_f16`, MS_DOMAIN)], { to: OnnxDtype.FLOAT }, hint);
      return bias ? g.o('Add', [y, bias]) : y;
    }
    names.forEach((n, i) => this.checkQuantizedShape(n, Ns[i], K));
    const kb = Math.ceil(K / quant.blockSize);
    const B = span(names.map(qweightName), [N, kb, (quant.blockSize * quant.bits) / 8]);
    const scales = span(names.map(qscalesName), [N, kb]);
    const inputs = bias ? [x, B, scales, '', '', bias] : [x, B, scales];
    return g.o('MatMulNBits', inputs, { K, N, bits: quant.bits, block_size: quant.blockSize, accuracy_level: quant.accuracyLevel }, hint, MS_DOMAIN);
  }

  private requireQuant(): QuantizedGraphWeights {
    if (!this.quant) throw new Error('quantized weight asked of a float32 graph');
    return this.quant;
  }
}
