/** Weight precisions a session can run at, and their parameters. */
import type { QuantBits } from './blockQuantize';

export const WEIGHT_PRECISIONS = ['f32', 'f16', 'int8', 'int4'] as const;
export type WeightPrecision = (typeof WEIGHT_PRECISIONS)[number];
/** What a user may ask for: a precision, or `auto` (f32 when it fits the memory budget, else int8, else int4). */
export type WeightsChoice = WeightPrecision | 'auto';
export const WEIGHTS_CHOICES: readonly WeightsChoice[] = ['auto', ...WEIGHT_PRECISIONS];

/** Block size of the int8/int4 quantization (onnxruntime's integer kernels are tuned for 32). */
export const DEFAULT_BLOCK_SIZE = 32;
/**
 * MatMulNBits accuracy_level: 4 = the activations are quantized to int8 per block inside the kernel, so
 * onnxruntime uses its integer (AVX512-VNNI / AVX2) kernels on CPU; 0/1 would dequantize to float32.
 */
export const CPU_ACCURACY_LEVEL = 4;

export function parseWeightsChoice(v: unknown, where = '--weights'): WeightsChoice {
  if (v === undefined || v === null || v === '') return 'auto';
  if (typeof v === 'string' && (WEIGHTS_CHOICES as readonly string[]).includes(v)) return v as WeightsChoice;
  throw new Error(`${where} must be one of ${WEIGHTS_CHOICES.join(', ')}; got ${JSON.stringify(v)}`);
}

export function quantBitsOf(p: WeightPrecision): QuantBits | null {
  return p === 'int8' ? 8 : p === 'int4' ? 4 : null;
}

/** The precision a run file was generated at (its header's `weights`; absent = f32: runs before precisions existed). */
export function runWeights(header: { weights?: unknown }): WeightsChoice {
  const w = header.weights;
  return typeof w === 'string' && (WEIGHT_PRECISIONS as readonly string[]).includes(w) ? (w as WeightsChoice) : 'f32';
}
