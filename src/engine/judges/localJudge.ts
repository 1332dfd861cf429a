/**
 * The local judge: a model the engine loads scores answers with the same rule as the OpenAI judges,
 * but on its FULL next-token distribution (exact softmax over the whole vocabulary, not the top 20).
 * The filled template is sent as one user message through the model's chat template; the logits of
 * the first generated position are read; every token id whose text reads as an integer 0..high_score
 * votes with its probability.
 *
 * Forward passes run one at a time (onnxruntime-node's run blocks its thread anyway).
 */
import * as path from 'node:path';
import { ModelRunner, type ModelRunnerOptions } from '../runtime/modelRunner';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer';
import { LimitError, MAX_CHARS_PER_TOKEN, count } from '../limits/limits';
import { firstNonFinite, NonFiniteOutputError } from '../limits/finiteOutput';
import type { Judge, JudgeInput, JudgeOutput, TemplateSource } from './judgeInterface';
import { judgeId, type LocalJudgeSpec } from './judgesFile';
import { fillTemplate } from './prompts';
import { numberTokenTable, scoreFromLogits } from './scoring';

export interface LocalJudgeOptions {
  /** Resolve a relative `model` against this folder (the judges file's folder). */
  baseDir?: string;
  /** Tokenizer folder when the model folder has none. */
  tokenizerDir?: string;
  threads?: number;
  executionProvider?: 'cpu' | 'cuda';
  /** Weight precision, cache folder, memory preflight of the judge model (default f32). */
  runner?: Pick<ModelRunnerOptions, 'weights' | 'cacheFolder' | 'memory' | 'onWeightsDecision' | 'onQuantProgress' | 'signal' | 'threadSpinning'>;
}

export class LocalJudge implements Judge {
  readonly id: string;
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(
    spec: LocalJudgeSpec,
    private readonly templates: TemplateSource,
    readonly runner: ModelRunner,
    readonly tokenizer: TextTokenizer,
    readonly numberTokens: Map<number, number>,
    private readonly highScore: number,
  ) {
    this.id = judgeId(spec);
  }

  static async load(spec: LocalJudgeSpec, templates: TemplateSource, opts: LocalJudgeOptions = {}): Promise<LocalJudge> {
    const dir = path.resolve(opts.baseDir ?? '.', spec.model);
    const tokenizer = loadTokenizer(opts.tokenizerDir ?? dir);
    if (!tokenizer.hasChatTemplate) {
      throw new Error(`Local judge "${spec.name}": ${dir} has no chat template (tokenizer_config.json chat_template or chat_template.jinja); a judge needs an instruct model.`);
    }
    const runner = await ModelRunner.load(dir, { threads: opts.threads, executionProvider: opts.executionProvider, ...opts.runner });
    const highScore = spec.highScore ?? 100;
    const vocab = Math.min(tokenizer.vocabSize, runner.spec.vocabSize);
    const table = numberTokenTable(vocab, (id) => tokenizer.decode([id], { skipSpecialTokens: false }), highScore);
    if (table.size === 0) {
      await runner.dispose();
      throw new Error(`Local judge "${spec.name}": no token of ${dir}'s vocabulary reads as an integer 0..${highScore}; this model cannot answer with a score.`);
    }
    return new LocalJudge(spec, templates, runner, tokenizer, table, highScore);
  }

  metricsFor(questionId: string): string[] {
    return Object.keys(this.templates.templatesFor(questionId));
  }

  /** The first-position logits for a prompt (one user message through the chat template). */
  async nextTokenLogits(prompt: string): Promise<Float32Array> {
    // The judge prompt holds the sample's answer (run files are data): bounded by the model's context (issue 11).
    const budget = this.runner.spec.maxPositionEmbeddings;
    const tooLong = (what: string) => new LimitError(`Local judge ${this.id}: the judge prompt is ${what}, above the judge model's context of ${count(budget)} tokens (max_position_embeddings in ${this.runner.spec.configPath}); no score was computed. Use a judge model with a longer context or a shorter template.`);
    if (prompt.length > budget * MAX_CHARS_PER_TOKEN) throw tooLong(`${count(prompt.length)} characters`);
    const ids = this.tokenizer.encodeChat([{ role: 'user', content: prompt }]);
    if (ids.length > budget) throw tooLong(`${count(ids.length)} tokens`);
    const out = await this.runner.forward({
      inputIds: [ids],
      attentionMask: [ids.map(() => 1)],
      rows: [{ adapter: null, adapterScale: 0 }],
      lastLogitsOnly: true,
    });
    const V = out.logitsDims[2];
    const logits = out.logits.subarray(out.logits.length - V);
    // Never a judgement computed from NaN/Inf logits.
    const bad = firstNonFinite(logits, [1, 1, V]);
    if (bad) throw new NonFiniteOutputError(`Local judge ${this.id}: the judge model produced ${Number.isNaN(bad.value) ? 'NaN' : bad.value} logits; no score was written. Check its weights (organism-lab inspect ${this.runner.modelDir}).`);
    return logits;
  }

  judge(input: JudgeInput, metric: string, signal?: AbortSignal): Promise<JudgeOutput> {
    const run = async (): Promise<JudgeOutput> => {
      if (signal?.aborted) {
        const e = new Error('The judge run was cancelled.');
        e.name = 'AbortError';
        throw e;
      }
      const tpl = this.templates.templatesFor(input.questionId)[metric];
      if (tpl === undefined) throw new Error(`Judge ${this.id} has no prompt for metric "${metric}" on question ${input.questionId}.`);
      const logits = await this.nextTokenLogits(fillTemplate(tpl, input.question, input.answer));
      const s = scoreFromLogits(logits, this.numberTokens);
      let argmax = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i] > logits[argmax]) argmax = i;
      return {
        score: s.score === null ? null : (s.score * 100) / this.highScore,
        raw: { numeric_mass: s.numericMass, top_token: this.tokenizer.decode([argmax], { skipSpecialTokens: false }) },
      };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}
