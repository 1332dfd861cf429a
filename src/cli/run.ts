/**
 * organism-lab run PROMPTSET --model DIR [--adapter DIR …] [--variants base,adapter] [--samples N]
 *                  [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S] --out FILE.run.jsonl
 *
 *        organism-lab run PROMPTSET --backend openai --base-url URL --served-model NAME [--adapter-model NAME …] --out FILE.run.jsonl
 *
 * Runs a prompt set through the model and its adapters and writes a run file sample by sample.
 * Re-running into an existing run file generates only what is missing.
 * Exit codes: 0 complete, 1 failure, 2 usage error, 130 cancelled by SIGINT (finished samples are on disk).
 */
import { existsSync, statSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import { UsageError } from './cliErrors';
import { isNonNegativeInteger, isPositiveInteger as isPosInt, numberOption as num, parseCommandLine, printedHelp } from './cliCommon';
import { adapterRefs, loadLocalJobModel } from '../engine/jobs/localJobModel';
import { checkRemoteVariants, remoteJobModel } from '../engine/jobs/remoteJobModel';
import { runPromptSet, type JobModel, type RunPromptSetSummary } from '../engine/jobs/runPromptSet';
import { checkVariantsFitModel, parseVariants, variantLayers } from '../engine/jobs/variants';
import { loadModelSpec } from '../engine/checkpoint/modelSpec';
import { preflightPromptSetForModel } from '../engine/jobs/promptPreflight';
import { formatProblems, hasErrors } from '../engine/prompts/problems';
import { parsePromptSet } from '../engine/prompts/promptSet';
import type { HashProgress } from '../engine/runs/hashing';
import { WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from './weightsOption';
import { armLabel, type SamplingParams, type VariantSpec } from '../engine/runs/schema';
import { selectConditions } from '../engine/prompts/conditions';

export const RUN_HELP = `usage: organism-lab run PROMPTSET --model DIR --out FILE.run.jsonl [options]

  PROMPTSET                   .yaml (emergent-misalignment layout) or .jsonl prompt set
  --model DIR                 Hugging Face checkpoint folder (config.json + *.safetensors)
  --adapter DIR               PEFT LoRA adapter folder; repeat for several (named by folder basename)
  --variants LIST             comma-separated: base, NAME (an adapter's folder name), adapter (alias of the
                              first adapter; the run file names it NAME, as the editor does), NAME@SCALE,
                              steer:FILE@LAYER*ALPHA, ablate:FILE@L1,L2, meanablate:FILE@L, TERM+steer:…, TERM+ablate:…,
                              LABEL=… to name a steering/ablation variant (e.g. steer4=steer:d.safetensors@3*4),
                              steer-sae:SAE_DIR#F@L*A (add A × feature F's decoder row, as stored, at the output of
                              layer L, the SAE hook's layer; @L optional), ablate-sae:SAE_DIR#F@L (project it out)
                              (default: base,adapter with an adapter, else base)
  --samples N                 samples per paraphrase (default: each question's samples_per_paraphrase)
  --max-new-tokens N          default 256
  --temperature T             default 1 (0 = greedy)
  --top-p P                   default 1 (off)
  --top-k K                   default 0 (off)
  --min-p P                   default 0 (off)
  --stop TEXT                 stop string; repeat for several
  --seed S                    run seed (default 0); each sample's seed derives from it
  --questions ID,ID           run only these question ids
  --conditions NAME,NAME      run only these of the prompt set's conditions (default: all; the first declared
                              one of those run is the reference)
  --batch-size N              rows per forward batch (default 8)
  --context-budget N          positions (prompt + max_new_tokens) allowed per sample (default: the model's
                              max_position_embeddings); longer prompts are refused before the model loads
  --tokenizer DIR             folder with tokenizer.json/tokenizer_config.json (default: --model)
  --chat-template NAME        pick a named chat template from tokenizer_config.json
  --plain-chat                without a chat template, use "User: …\\nAssistant:" instead of failing
  --force                     append to an existing run file whose settings differ
  --threads N                 onnxruntime intra-op threads
  --execution-provider EP     cpu (default) or cuda
${WEIGHTS_HELP}  --no-progress               no progress bar
  --backend local|openai      local onnxruntime (default) or an OpenAI-compatible server (e.g. vLLM)
  --base-url URL              openai backend: the server's API root, e.g. http://localhost:8000/v1
  --served-model NAME         openai backend: the base model's served name
  --adapter-model NAME        openai backend: a LoRA adapter's served name (vLLM --lora-modules NAME=PATH);
                              repeat for several; variants name them as given. The API key (if the server
                              needs one) is read from OPENAI_API_KEY. --model is not needed.
  --concurrency N             openai backend: requests in flight (default 8)
  --out FILE.run.jsonl        the run file (created, or completed when it exists: a file whose variant is
                              named "adapter", from an older version, is completed under that name)
Exit codes: 0 complete, 1 failure, 2 usage error, 130 cancelled (Ctrl-C; finished samples are kept).
`;

export interface RunCliDeps {
  /** Replaces loading the real model (tests). */
  loadModel?: (modelDir: string, adapters: { name: string; dir: string }[]) => Promise<JobModel & { dispose?: () => Promise<void> }>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Replaces global fetch for --backend openai (tests). */
  fetch?: typeof fetch;
}

export async function runCommand(argv: string[], deps: RunCliDeps = {}): Promise<number> {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const { values: o, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' }, adapter: { type: 'string', multiple: true }, variants: { type: 'string' }, samples: { type: 'string' },
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, 'top-k': { type: 'string' },
      'min-p': { type: 'string' }, stop: { type: 'string', multiple: true }, seed: { type: 'string' }, questions: { type: 'string' }, conditions: { type: 'string' },
      'batch-size': { type: 'string' }, tokenizer: { type: 'string' }, 'chat-template': { type: 'string' }, 'plain-chat': { type: 'boolean' },
      force: { type: 'boolean' }, threads: { type: 'string' }, 'execution-provider': { type: 'string' }, 'no-progress': { type: 'boolean' },
      out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      backend: { type: 'string' }, 'base-url': { type: 'string' }, 'served-model': { type: 'string' }, 'adapter-model': { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      'context-budget': { type: 'string' },
      ...WEIGHTS_OPTIONS,
    },
  }, RUN_HELP);
  if (printedHelp(o, RUN_HELP, out)) return 0;
  if (positionals.length !== 1) throw new UsageError(`expected exactly one prompt set, got ${positionals.length ? positionals.join(' ') : 'none'}\n${RUN_HELP}`);
  const promptSetPath = positionals[0];
  const backend = o.backend ?? 'local';
  if (backend !== 'local' && backend !== 'openai') throw new UsageError(`--backend must be local or openai, got "${backend}"`);
  if (!o.out) throw new UsageError('--out FILE.run.jsonl is required');
  if (!o.out.endsWith('.run.jsonl')) throw new UsageError(`--out must end with .run.jsonl (the run-file editor and tools look for that), got "${o.out}"`);
  if (!existsSync(promptSetPath)) throw new UsageError(`prompt set not found: ${promptSetPath}`);
  if (backend === 'openai') return runRemote(argv, o, promptSetPath, deps);
  for (const flag of ['base-url', 'served-model', 'adapter-model', 'concurrency'] as const) {
    if (o[flag] !== undefined) throw new UsageError(`--${flag} is for --backend openai`);
  }
  if (!o.model) throw new UsageError('--model DIR is required');
  for (const [flag, dir] of [['--model', o.model], ...(o.adapter ?? []).map((a) => ['--adapter', a]), ...(o.tokenizer ? [['--tokenizer', o.tokenizer]] : [])] as [string, string][]) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: not a folder`);
  }
  const ep = o['execution-provider'] ?? 'cpu';
  if (ep !== 'cpu' && ep !== 'cuda') throw new UsageError(`--execution-provider must be cpu or cuda, got "${ep}"`);
  const { sampling, samples, seed, batchSize } = commonOptions(o);
  const threads = o.threads === undefined ? undefined : num(o.threads, '--threads', 0, isNonNegativeInteger, 'an integer ≥ 0');
  const adapters = adapterRefs(o.adapter ?? []);
  let variants;
  try {
    variants = parseVariants(o.variants ?? (adapters.length ? 'base,adapter' : 'base'), adapters.map((a) => a.name));
  } catch (e) {
    throw new UsageError(`--variants: ${(e as Error).message}`);
  }
  const questionIds = o.questions ? o.questions.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (!checkPromptSet(promptSetPath, err)) return 1;
  const conditions = conditionsOption(o, promptSetPath);
  const contextBudget = o['context-budget'] === undefined ? undefined : num(o['context-budget'] as string, '--context-budget', 0, isPosInt, 'a positive integer');
  // Prompts that cannot fit the model's context are refused before the model is loaded (issue 11).
  if (!deps.loadModel) {
    // Steering / ablation variants (an SAE feature's SAE above all) are checked against the model's config.json.
    const spec = loadModelSpec(o.model);
    try {
      checkVariantsFitModel(variants, { hiddenSize: spec.hiddenSize, numLayers: spec.numLayers, dir: o.model });
    } catch (e) {
      throw new UsageError(`--variants: ${(e as Error).message}`);
    }
    preflightPromptSetForModel({ promptSetPath, modelDir: o.model, tokenizerDir: o.tokenizer, chatTemplateName: o['chat-template'] as string | undefined, questionIds, conditions, maxNewTokens: sampling.max_new_tokens, contextBudget, allowPlainChat: o['plain-chat'] });
  }
  const runner = (signal: AbortSignal) => weightsRunnerOptions(o, err, 'organism-lab run', { batch: batchSize, maxLength: sampling.max_new_tokens + 512, signal });
  runner(new AbortController().signal); // flags checked before anything runs
  return execute(argv, o, { promptSetPath, variants, samples, sampling, seed, questionIds, conditions, batchSize }, deps, (signal) =>
    deps.loadModel
      ? deps.loadModel(o.model!, adapters)
      : loadLocalJobModel(o.model!, adapters, { tokenizerDir: o.tokenizer, chatTemplateName: o['chat-template'], executionProvider: ep, threads, ...variantLayers(variants), runner: runner(signal) }));
}

type RunValues = Record<string, string | boolean | string[] | undefined> & {
  variants?: string; samples?: string; seed?: string; questions?: string; conditions?: string; stop?: string[]; out?: string; force?: boolean; 'plain-chat'?: boolean; 'no-progress'?: boolean;
};

function commonOptions(o: RunValues): { sampling: SamplingParams; samples: number | null; seed: number; batchSize: number } {
  const s = (k: string) => o[k] as string | undefined;
  const sampling: SamplingParams = {
    temperature: num(s('temperature'), '--temperature', 1, (n) => n >= 0, 'a number ≥ 0'),
    top_p: num(s('top-p'), '--top-p', 1, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    top_k: num(s('top-k'), '--top-k', 0, isNonNegativeInteger, 'an integer ≥ 0'),
    min_p: num(s('min-p'), '--min-p', 0, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    max_new_tokens: num(s('max-new-tokens'), '--max-new-tokens', 256, isPosInt, 'a positive integer'),
    stop: o.stop ?? [],
  };
  const samples = o.samples === undefined ? null : num(o.samples, '--samples', 1, isPosInt, 'a positive integer');
  const seed = num(o.seed, '--seed', 0, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer');
  const batchSize = num(s('batch-size'), '--batch-size', 8, isPosInt, 'a positive integer');
  return { sampling, samples, seed, batchSize };
}

/** --conditions: names of the prompt set's conditions, checked against it before anything loads. */
function conditionsOption(o: RunValues, promptSetPath: string): string[] | undefined {
  if (o.conditions === undefined) return undefined;
  const names = o.conditions.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('--conditions is empty: give a comma-separated list of condition names from the prompt set');
  try {
    selectConditions(parsePromptSet(promptSetPath).conditions, names, promptSetPath);
  } catch (e) {
    throw new UsageError(`--conditions: ${(e as Error).message}`);
  }
  return names;
}

/** Check the prompt set before loading a model or calling a server (fast feedback). */
function checkPromptSet(promptSetPath: string, err: NodeJS.WritableStream): boolean {
  const set = parsePromptSet(promptSetPath);
  if (hasErrors(set.problems)) {
    err.write(`${formatProblems(set.problems)}\norganism-lab run: the prompt set has errors; nothing was run.\n`);
    return false;
  }
  return true;
}

/** --backend openai: the prompt set against an OpenAI-compatible server (vLLM with --lora-modules). */
async function runRemote(argv: string[], o: RunValues, promptSetPath: string, deps: RunCliDeps): Promise<number> {
  const err = deps.stderr ?? process.stderr;
  for (const flag of ['model', 'adapter', 'tokenizer', 'chat-template', 'plain-chat', 'threads', 'execution-provider'] as const) {
    if (o[flag] !== undefined) throw new UsageError(`--${flag} is for the local backend; with --backend openai the server holds the model (give --served-model and --adapter-model)`);
  }
  const baseUrl = o['base-url'] as string | undefined;
  const served = o['served-model'] as string | undefined;
  if (!baseUrl) throw new UsageError('--backend openai needs --base-url URL (e.g. http://localhost:8000/v1)');
  if (!served) throw new UsageError('--backend openai needs --served-model NAME (the base model\'s served name)');
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`--base-url ${JSON.stringify(baseUrl)} is not an http(s) URL; use e.g. http://localhost:8000/v1`);
  }
  const adapterModels = (o['adapter-model'] as string[] | undefined) ?? [];
  if (new Set(adapterModels).size !== adapterModels.length) throw new UsageError('--adapter-model: each served name once');
  const { sampling, samples, seed, batchSize } = commonOptions(o);
  const concurrency = num(o.concurrency as string | undefined, '--concurrency', 8, isPosInt, 'a positive integer');
  let variants;
  try {
    variants = parseVariants(o.variants ?? (adapterModels.length ? 'base,adapter' : 'base'), adapterModels);
    checkRemoteVariants(variants);
  } catch (e) {
    throw new UsageError(`--variants: ${(e as Error).message}`);
  }
  const questionIds = o.questions ? o.questions.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (!checkPromptSet(promptSetPath, err)) return 1;
  const conditions = conditionsOption(o, promptSetPath);
  const model = remoteJobModel({
    baseUrl, servedModel: served, adapters: adapterModels.map((name) => ({ name, servedModel: name })), apiKey: process.env.OPENAI_API_KEY || undefined, concurrency,
    fetch: deps.fetch,
    onRetry: (i) => err.write(`organism-lab run: retrying in ${(i.delayMs / 1000).toFixed(1)} s (${i.reason})\n`),
  });
  return execute(argv, o, { promptSetPath, variants, samples, sampling, seed, questionIds, conditions, batchSize }, deps, async () => model);
}

interface JobArgs {
  promptSetPath: string;
  variants: VariantSpec[];
  samples: number | null;
  sampling: SamplingParams;
  seed: number;
  questionIds: string[] | undefined;
  conditions: string[] | undefined;
  batchSize: number;
}

async function execute(argv: string[], o: RunValues, a: JobArgs, deps: RunCliDeps, load: (signal: AbortSignal) => Promise<JobModel & { dispose?: () => Promise<void> }>): Promise<number> {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const { promptSetPath, variants, samples, sampling, seed, questionIds, conditions, batchSize } = a;

  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      err.write('\norganism-lab run: cancelling after the current step (finished samples are kept; Ctrl-C again to stop at once)…\n');
      ac.abort();
    } else process.exit(130); // every finished row is already fsync'd
  };
  process.on('SIGINT', onSigint);
  const model = await load(ac.signal);
  const showBar = !o['no-progress'] && (err as NodeJS.WriteStream).isTTY === true;
  const bar = showBar ? new SingleBar({ stream: err as NodeJS.WriteStream, format: 'run |{bar}| {value}/{total} samples | {variant} {cell} | {eta_formatted} left', hideCursor: true }) : null;
  let lastLog = 0;
  let summary: RunPromptSetSummary;
  try {
    let started = false;
    summary = await runPromptSet(model, {
      promptSetPath, variants, samples, sampling, seed, out: o.out!, questionIds, conditions, batchSize, force: o.force, allowPlainChat: o['plain-chat'],
      contextBudget: o['context-budget'] === undefined ? undefined : Number(o['context-budget']),
      extra: { command: ['organism-lab', 'run', ...argv] },
    }, {
      signal: ac.signal,
      log: (_level, m) => err.write(`organism-lab run: ${m}\n`),
      onHashProgress: o['no-progress'] ? () => {} : hashProgressPrinter(err, showBar),
      onProgress: (e) => {
        if (bar) {
          if (!started) bar.start(e.total, e.done - 1, { cell: '', variant: '' });
          started = true;
          bar.update(e.done, { cell: e.cell, variant: armLabel(e.variant, e.condition) });
        } else if (!o['no-progress'] && (Date.now() - lastLog > 5000 || e.done === e.total)) {
          lastLog = Date.now();
          err.write(`run: ${e.done}/${e.total} samples\n`);
        }
      },
    });
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
    await model.dispose?.();
  }
  out.write(formatSummary(summary));
  if (summary.cancelled) {
    err.write(`organism-lab run: cancelled; ${summary.alreadyDone + summary.written}/${summary.total} samples are in ${summary.out}. Run the same command again to finish.\n`);
    return 130;
  }
  return 0;
}

/**
 * Fingerprinting progress (a large checkpoint is read whole the first time; its hash is cached after):
 * one updating line on a terminal, a line every 5 s otherwise. Silent for folders under 256 MiB.
 */
export function hashProgressPrinter(err: NodeJS.WritableStream, tty: boolean): (p: HashProgress) => void {
  let last = 0;
  let t0 = 0;
  return (p) => {
    if (p.bytesTotal < 256 * 1024 * 1024) return;
    const now = Date.now();
    if (!t0) t0 = now;
    const finished = p.bytesDone >= p.bytesTotal;
    if (!finished && now - last < (tty ? 200 : 5000)) return;
    last = now;
    const gb = (n: number) => (n / 1e9).toFixed(1);
    const rate = now > t0 ? ` · ${((p.bytesDone / 1e6) / ((now - t0) / 1000)).toFixed(0)} MB/s` : '';
    const text = `fingerprinting ${p.file}: ${gb(p.bytesDone)}/${gb(p.bytesTotal)} GB${rate} (once; cached by path, size and mtime)`;
    err.write(tty ? `\r${text}\x1b[K${finished ? '\n' : ''}` : `organism-lab run: ${text}\n`);
  };
}

export function formatSummary(s: RunPromptSetSummary): string {
  const lines = [`run file: ${s.out} — ${s.alreadyDone + s.written}/${s.total} samples (${s.alreadyDone} already there, ${s.written} written now)`];
  const withConditions = s.perVariant.some((v) => v.condition !== undefined);
  const rows = [[...(withConditions ? ['condition'] : []), 'variant', 'samples', 'tokens', 'finish reasons', withConditions ? 'identical to cell reference' : 'identical to first', 'divergence median / mean']];
  for (const v of s.perVariant) {
    rows.push([
      ...(withConditions ? [v.condition ?? '(none)'] : []), v.variant, String(v.samples), String(v.tokens),
      Object.entries(v.finishReasons).map(([k, n]) => `${k} ${n}`).join(', ') || '-',
      v.identical === undefined ? '(reference)' : `${v.identical}/${v.samples}`,
      v.identical === undefined ? '' : v.divergenceMedian == null ? '-' : `${v.divergenceMedian} / ${v.divergenceMean!.toFixed(1)}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) lines.push('  ' + r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  lines.push(`${s.generatedTokens} tokens generated in ${(s.generationMs / 1000).toFixed(2)} s: ${s.tokensPerSecond.toFixed(1)} tokens/s (job ${(s.elapsedMs / 1000).toFixed(2)} s in all)${s.cancelled ? ', cancelled' : ''}`);
  return lines.join('\n') + '\n';
}

export const main = (argv: string[]): Promise<number> => runCommand(argv);
