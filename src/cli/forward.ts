/**
 * organism-lab forward --model DIR [--adapter DIR] [--adapter-scale S]
 *                      [--steer FILE.safetensors --steer-layer L [--steer-scale A] [--steer-tensor NAME]]
 *                      --input IN.json --out OUT.safetensors [--threads N] [--execution-provider cpu|cuda]
 *
 * IN.json:  {"input_ids": [[...], ...], "attention_mask": [[...], ...]}  (left padding; attention_mask
 *           defaults to all ones; optional "position_ids", default cumsum(mask)-1 with padding = 1).
 * OUT:      logits [B,S,V] and hidden_states [L+1,B,S,H], float32, with the meaning of transformers'
 *           output_hidden_states (0 = embeddings, i = output of layer i-1, L = last layer after the final norm).
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from './cliErrors';
import { numberOption, parseCommandLine, printedHelp } from './cliCommon';
import { WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';
import { ModelRunner } from '../engine/runtime/modelRunner';
import { loadModelSpec, type ModelSpec } from '../engine/checkpoint/modelSpec';
import { FORWARD_LIMITS, LimitError, contextBudget, count } from '../engine/limits/limits';
import { assertFiniteOutput } from '../engine/limits/finiteOutput';
import { SafetensorsFile } from '../engine/checkpoint/safetensors';
import { writeSafetensors } from '../engine/checkpoint/safetensorsWriter';
import type { RowVariant } from '../engine/runtime/generationTypes';

export const FORWARD_HELP = `usage: organism-lab forward --model DIR --input IN.json --out OUT.safetensors [options]

  --model DIR                 Hugging Face checkpoint folder (config.json + *.safetensors)
  --adapter DIR               PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)
  --adapter-scale S           multiplies the adapter's own scale (default 1; 0 = base model)
  --steer FILE.safetensors    steering vector file; with --steer-layer L, adds A·v to layer L's output
  --steer-layer L             decoder layer (0-based) whose output is steered
  --steer-scale A             steering strength (default 1)
  --steer-tensor NAME         tensor in the steer file (default: "layer.L", "layers.L", "L", or its only tensor)
  --input IN.json             {"input_ids": [[...]], "attention_mask": [[...]]} (left padded)
  --out OUT.safetensors       gets logits [B,S,V] and hidden_states [L+1,B,S,H], float32
  --threads N                 onnxruntime intra-op threads
  --execution-provider EP     cpu (default) or cuda
${WEIGHTS_HELP}  --context-budget N          longest sequence accepted (default: the model's max_position_embeddings)
Limits: at most ${FORWARD_LIMITS.maxBatch} rows, ${count(FORWARD_LIMITS.maxBatchTokens)} tokens (rows × length) and
${count(FORWARD_LIMITS.maxOutputValues)} output values (logits + hidden states); logits or hidden states holding
NaN/Inf are reported and not written.
Exit codes: 0 ok, 2 usage error, 1 failure.
`;

/** A problem in a file's content (IN.json, the steering file): exit 1 naming the file and field, not a usage error (2). */
export class ForwardInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwardInputError';
  }
}

const num = (v: string | undefined, flag: string, fallback: number, integer = false): number =>
  numberOption(v, flag, fallback, integer ? Number.isInteger : () => true, integer ? 'an integer' : 'a number');

function intMatrix(v: unknown, field: string, file: string): number[][] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))) {
    throw new ForwardInputError(`${file}: "${field}" must be a non-empty list of lists of integers`);
  }
  return v as number[][];
}

/** Largest IN.json read (a file this large is not a forward batch we could run anyway). */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * Everything a forward input can ask for, checked against the model's config before the model is loaded:
 * sequence length (context budget), rows, rows × length, output size, token ids, mask values, positions.
 */
export function checkForwardInput(file: string, spec: ModelSpec, ids: number[][], mask: number[][], pos: number[][] | undefined, budget?: number): void {
  const B = ids.length;
  const S = ids[0].length;
  const maxLen = contextBudget(spec.maxPositionEmbeddings, budget);
  if (S > maxLen) {
    throw new LimitError(`${file}: "input_ids" rows are ${count(S)} tokens long, above the context budget of ${count(maxLen)} (max_position_embeddings in ${spec.configPath}${budget ? ', or --context-budget' : ''}); shorten the sequences`);
  }
  if (B > FORWARD_LIMITS.maxBatch) throw new LimitError(`${file}: "input_ids" has ${count(B)} rows, above the limit of ${count(FORWARD_LIMITS.maxBatch)} per forward call; split the batch into several files`);
  if (B * S > FORWARD_LIMITS.maxBatchTokens) {
    throw new LimitError(`${file}: "input_ids" is ${count(B)} rows × ${count(S)} tokens = ${count(B * S)} tokens, above the limit of ${count(FORWARD_LIMITS.maxBatchTokens)} per forward call; split the batch`);
  }
  const outValues = B * S * (spec.vocabSize + (spec.numLayers + 1) * spec.hiddenSize);
  if (outValues > FORWARD_LIMITS.maxOutputValues) {
    throw new LimitError(`${file}: ${count(B)} rows × ${count(S)} tokens would write ${count(outValues)} float32 values (logits ${B}×${S}×${spec.vocabSize} and hidden states ${spec.numLayers + 1}×${B}×${S}×${spec.hiddenSize}), above the limit of ${count(FORWARD_LIMITS.maxOutputValues)}; use fewer rows or shorter sequences`);
  }
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < S; t++) {
      const id = ids[b][t];
      if (id < 0 || id >= spec.vocabSize) throw new ForwardInputError(`${file}: input_ids[${b}][${t}] = ${id} is outside the vocabulary 0..${spec.vocabSize - 1} (vocab_size in ${spec.configPath})`);
      const m = mask[b][t];
      if (m !== 0 && m !== 1) throw new ForwardInputError(`${file}: attention_mask[${b}][${t}] = ${m}; the mask holds 1 for real tokens and 0 for padding, nothing else`);
      if (pos) {
        const p = pos[b][t];
        if (p < 0 || p >= maxLen) throw new ForwardInputError(`${file}: position_ids[${b}][${t}] = ${p} is outside 0..${maxLen - 1} (the context budget)`);
      }
    }
    if (mask[b][S - 1] !== 1) throw new ForwardInputError(`${file}: attention_mask row ${b} does not end with a real token (1); rows are LEFT-padded, so every row's last position must be 1`);
  }
}

function readSteerVector(file: string, layer: number, tensor: string | undefined, hidden: number): Float32Array {
  const st = SafetensorsFile.open(file);
  const names = [...st.tensors.keys()];
  let name = tensor;
  if (name === undefined) name = [`layer.${layer}`, `layers.${layer}`, String(layer)].find((n) => st.has(n)) ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) throw new ForwardInputError(`${file}: cannot tell which tensor is the steering vector for layer ${layer} (tensors: ${names.join(', ')}); pass --steer-tensor NAME`);
  const info = st.info(name);
  const n = info.shape.reduce((a, b) => a * b, 1);
  if (n !== hidden || info.shape.filter((d) => d !== 1).length > 1) throw new Error(`${file}: tensor "${name}" has shape [${info.shape.join(', ')}], expected [${hidden}] (the model's hidden size)`);
  return st.readFloat32(name);
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string' },
      'adapter-scale': { type: 'string' },
      steer: { type: 'string' },
      'steer-layer': { type: 'string' },
      'steer-scale': { type: 'string' },
      'steer-tensor': { type: 'string' },
      input: { type: 'string' },
      out: { type: 'string' },
      threads: { type: 'string' },
      'execution-provider': { type: 'string' },
      ...WEIGHTS_OPTIONS,
      'context-budget': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }, FORWARD_HELP);
  if (printedHelp(values, FORWARD_HELP)) return 0;
  for (const req of ['model', 'input', 'out'] as const) if (!values[req]) throw new UsageError(`--${req} is required\n${FORWARD_HELP}`);
  if (values['adapter-scale'] !== undefined && !values.adapter) throw new UsageError('--adapter-scale needs --adapter');
  if ((values.steer === undefined) !== (values['steer-layer'] === undefined)) throw new UsageError('--steer and --steer-layer go together');
  if ((values['steer-scale'] !== undefined || values['steer-tensor'] !== undefined) && !values.steer) throw new UsageError('--steer-scale/--steer-tensor need --steer');
  const ep = values['execution-provider'] ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new UsageError(`--execution-provider must be cpu or cuda, got "${ep}"`);
  const adapterScale = num(values['adapter-scale'], '--adapter-scale', 1);
  const steerLayer = values.steer ? num(values['steer-layer'], '--steer-layer', 0, true) : null;
  const steerScale = num(values['steer-scale'], '--steer-scale', 1);
  const threads = values.threads === undefined ? undefined : num(values.threads, '--threads', 1, true);
  const budget = values['context-budget'] === undefined ? undefined : numberOption(values['context-budget'], '--context-budget', 1, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');

  const inFile = values.input!;
  let input: Record<string, unknown>;
  let size = 0;
  try {
    size = statSync(inFile).size;
  } catch {
    // reported by the read below
  }
  if (size > MAX_INPUT_BYTES) throw new LimitError(`${inFile}: the input is ${count(size)} bytes, above the limit of ${count(MAX_INPUT_BYTES)}; split the batch into several files`);
  try {
    input = JSON.parse(readFileSync(inFile, 'utf8'));
  } catch (e) {
    throw new ForwardInputError(`${inFile}: cannot read JSON input (${(e as Error).message})`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ForwardInputError(`${inFile}: expected a JSON object {"input_ids": [[...]], "attention_mask": [[...]]}`);
  const ids = intMatrix(input.input_ids, 'input_ids', inFile);
  const S = ids[0].length;
  if (S === 0) throw new ForwardInputError(`${inFile}: "input_ids" rows are empty; give at least one token id per row`);
  if (ids.some((r) => r.length !== S)) throw new ForwardInputError(`${inFile}: every "input_ids" row must have the same length (left-pad them)`);
  const mask = input.attention_mask === undefined ? ids.map((r) => r.map(() => 1)) : intMatrix(input.attention_mask, 'attention_mask', inFile);
  if (mask.length !== ids.length || mask.some((r) => r.length !== S)) throw new ForwardInputError(`${inFile}: "attention_mask" must have the shape of "input_ids" [${ids.length}, ${S}]`);
  const pos = input.position_ids === undefined ? undefined : intMatrix(input.position_ids, 'position_ids', inFile);
  if (pos && (pos.length !== ids.length || pos.some((r) => r.length !== S))) throw new ForwardInputError(`${inFile}: "position_ids" must have the shape of "input_ids" [${ids.length}, ${S}]`);

  if (steerLayer !== null && steerLayer < 0) throw new UsageError(`--steer-layer must be >= 0`);
  // Everything the input asks for is checked against the config before the model is loaded (issue 11).
  checkForwardInput(inFile, loadModelSpec(values.model!), ids, mask, pos, budget);
  const runner = await ModelRunner.load(values.model!, {
    executionProvider: ep,
    threads,
    ...weightsRunnerOptions(values, process.stderr, 'organism-lab forward', { batch: ids.length, maxLength: S }),
    adapters: values.adapter ? [{ name: 'adapter', dir: values.adapter }] : [],
    steerLayers: steerLayer !== null ? [steerLayer] : [],
  });
  try {
    const spec = runner.spec;
    if (steerLayer !== null && steerLayer >= spec.numLayers) throw new UsageError(`--steer-layer ${steerLayer} is outside the model's layers 0..${spec.numLayers - 1}`);
    const vector = values.steer ? readSteerVector(values.steer, steerLayer!, values['steer-tensor'], spec.hiddenSize) : null;
    const row: RowVariant = {
      adapter: values.adapter ? 'adapter' : null,
      adapterScale: values.adapter ? adapterScale : 0,
      steer: vector ? { vector, layer: steerLayer!, strength: steerScale } : null,
    };
    const out = await runner.forward({ inputIds: ids, attentionMask: mask, positionIds: pos, rows: ids.map(() => row), outputHiddenStates: true });
    // Never write outputs computed from NaN/Inf without saying so: refuse, naming row and position.
    const realMask = (b: number, t: number) => mask[b][t] === 1;
    assertFiniteOutput(out.logits, out.logitsDims, 'logits', realMask, `${values.out} (not written)`);
    out.hiddenStates!.forEach((h, i) => assertFiniteOutput(h, [ids.length, S, spec.hiddenSize], `hidden_states[${i}]`, realMask, `${values.out} (not written)`));
    const B = ids.length;
    const H = spec.hiddenSize;
    const L = spec.numLayers;
    const hidden = new Float32Array((L + 1) * B * S * H);
    out.hiddenStates!.forEach((h, i) => hidden.set(h, i * B * S * H));
    writeSafetensors(
      values.out!,
      {
        logits: { dtype: 'F32', shape: out.logitsDims, data: out.logits },
        hidden_states: { dtype: 'F32', shape: [L + 1, B, S, H], data: hidden },
      },
      { producer: 'organism-lab forward', model: runner.modelDir, adapter: values.adapter ?? '', adapter_scale: String(row.adapterScale) },
    );
    process.stderr.write(`wrote ${values.out}: logits [${out.logitsDims.join(', ')}], hidden_states [${L + 1}, ${B}, ${S}, ${H}]\n`);
    return 0;
  } finally {
    await runner.dispose();
  }
}
