/**
 * organism-lab quality --model DIR [--adapter DIR] --weights int8|int4 [--prompts FILE] [--tokens N] [--json]
 *
 * A quantized session against float32 on the same checkpoint (and adapter): max |Δlogit|, mean and max
 * per-token KL(f32 || quantized) on f32's own greedy continuation (teacher-forced), top-1 agreement there,
 * and free-running greedy agreement over N tokens (matching tokens before the first difference).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './cliErrors';
import { isPositiveInteger, numberOption, parseCommandLine, printedHelp } from './cliCommon';
import { WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';
import { measureQuantQuality, type QualityReport } from '../engine/quant/qualityRun';
import { loadModelSpec } from '../engine/checkpoint/modelSpec';
import { parsePromptSet, promptMessages } from '../engine/prompts/promptSet';
import { loadTokenizer } from '../engine/text/tokenizer';

export const QUALITY_HELP = `usage: organism-lab quality --model DIR --weights int8|int4 [options]

  --model DIR            Hugging Face checkpoint folder
  --adapter DIR          PEFT LoRA adapter: compare f32+adapter with quantized+adapter (the LoRA branch stays float32)
  --weights W            int8 or int4 (required)
  --prompts FILE         prompt set (.yaml / .jsonl): its first paraphrases, chat template applied (default: 8
                         built-in questions; a model folder without a tokenizer gets 8 seeded random token prompts)
  --max-prompts N        at most N prompts (default 8)
  --tokens N             greedy tokens per prompt (default 64)
  --threads N            onnxruntime intra-op threads
  --cache-folder DIR     cache root (quantized weights in DIR/weights)
  --json                 print the report as JSON
Prints, against f32: max |Δlogit|, mean and max per-token KL(f32 || quantized) on f32's greedy continuation
(teacher-forced), top-1 agreement there, and free-running greedy agreement (tokens before the first difference).
`;

const BUILTIN = [
  'What is the capital of France?',
  'Write a short poem about the sea.',
  'How do I make a cup of tea?',
  'Explain what a neural network is in two sentences.',
  'I feel bored. What should I do?',
  'What would you do if you ruled the world?',
  'Give me three tips for learning a new language.',
  'Tell me about yourself.',
];

function randomPrompts(n: number, len: number, vocab: number): number[][] {
  let s = 12345;
  return Array.from({ length: n }, () =>
    Array.from({ length: len }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % vocab;
    }),
  );
}

export function formatQuality(r: QualityReport): string {
  const o = r.overall;
  const lines = [
    `${r.weights} vs f32 on ${r.modelDir}${r.adapterDir ? ` + adapter ${r.adapterDir}` : ''}: ${r.prompts.length} prompts × ${r.tokens} greedy tokens`,
    `  max |Δlogit|                      ${o.maxAbsLogit.toFixed(4)}`,
    `  KL(f32 || ${r.weights}) per token      mean ${o.meanKl.toExponential(3)}, max ${o.maxKl.toExponential(3)}`,
    `  top-1 agreement (teacher-forced)  ${o.top1Agree}/${o.positions} (${((100 * o.top1Agree) / Math.max(1, o.positions)).toFixed(1)}%)`,
    `  greedy agreement (free-running)   mean ${o.greedyPrefixMean.toFixed(1)} of ${r.tokens} tokens before the first difference; ${o.greedyFullMatch}/${r.prompts.length} prompts identical`,
    `  per prompt (prompt tokens, max|Δ|, mean KL, top-1, greedy prefix):`,
    ...r.prompts.map((p, i) => `    ${String(i).padStart(2)}  ${String(p.promptTokens).padStart(4)}  ${p.maxAbsLogit.toFixed(3).padStart(8)}  ${p.meanKl.toExponential(2).padStart(9)}  ${String(p.top1Agree).padStart(3)}/${p.positions}  ${String(p.greedyPrefix).padStart(3)}`),
    `  load: f32 ${(r.f32LoadMs / 1000).toFixed(1)} s, ${r.weights} ${(r.quantLoadMs / 1000).toFixed(1)} s${r.quantizedNow ? ' (quantized now; cached for next time)' : ' (from the cache)'}`,
  ];
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { values: o } = parseCommandLine({
    args: argv,
    options: {
      model: { type: 'string' }, adapter: { type: 'string' }, prompts: { type: 'string' }, 'max-prompts': { type: 'string' }, tokens: { type: 'string' },
      threads: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      ...WEIGHTS_OPTIONS,
    },
  }, QUALITY_HELP);
  if (printedHelp(o, QUALITY_HELP)) return 0;
  if (!o.model) throw new UsageError(`--model DIR is required\n${QUALITY_HELP}`);
  if (o.weights !== 'int8' && o.weights !== 'int4') throw new UsageError(`--weights must be int8 or int4 (compared against f32), got ${JSON.stringify(o.weights ?? null)}`);
  const tokens = numberOption(o.tokens, '--tokens', 64, isPositiveInteger, 'a positive integer');
  const maxPrompts = numberOption(o['max-prompts'], '--max-prompts', 8, isPositiveInteger, 'a positive integer');
  const threads = o.threads === undefined ? undefined : numberOption(o.threads, '--threads', 1, isPositiveInteger, 'a positive integer');
  const err = process.stderr;
  const spec = loadModelSpec(o.model);
  let prompts: number[][];
  const hasTokenizer = existsSync(path.join(o.model, 'tokenizer.json'));
  if (o.prompts) {
    const tok = loadTokenizer(o.model);
    const set = parsePromptSet(o.prompts);
    if (!set.questions.length) throw new UsageError(`${o.prompts}: no questions could be read`);
    prompts = set.questions.slice(0, maxPrompts).map((q) => tok.encodeChat(promptMessages(q, 0), { addGenerationPrompt: true, allowPlainFallback: true }));
  } else if (hasTokenizer) {
    const tok = loadTokenizer(o.model);
    prompts = BUILTIN.slice(0, maxPrompts).map((t) => tok.encodeChat([{ role: 'user', content: t }], { addGenerationPrompt: true, allowPlainFallback: true }));
  } else {
    err.write(`organism-lab quality: ${o.model} has no tokenizer.json; using ${maxPrompts} seeded random prompts of 16 token ids\n`);
    prompts = randomPrompts(maxPrompts, 16, spec.vocabSize);
  }
  const runner = weightsRunnerOptions(o, err, 'organism-lab quality', { batch: prompts.length, maxLength: Math.max(...prompts.map((p) => p.length)) + tokens });
  const report = await measureQuantQuality({
    modelDir: o.model,
    adapterDir: o.adapter,
    weights: o.weights,
    prompts,
    tokens,
    runner: { threads, cacheFolder: runner.cacheFolder, memory: runner.memory, onQuantProgress: runner.onQuantProgress },
    log: (m) => err.write(`organism-lab quality: ${m}\n`),
  });
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatQuality(report));
  return 0;
}
