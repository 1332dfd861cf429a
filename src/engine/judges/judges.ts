/**
 * Judge backends behind one interface: rule judges (regular expressions), and OpenAI-compatible
 * servers scored with the emergent-misalignment rule.
 */
import type { JudgeSpec, OpenAIJudgeSpec, RuleJudgeSpec } from './judgesFile';
import { judgeId } from './judgesFile';
import { OpenAICompatibleClient, type OpenAIClientOptions } from './openaiClient';
import { fillTemplate, type PromptSetJudgePrompts } from './prompts';
import { TemplateSource, type Judge, type JudgeInput, type JudgeOutput } from './judgeInterface';
import { scoreFromTopLogprobs } from './scoring';

export type { Judge, JudgeInput, JudgeOutput } from './judgeInterface';
export { TemplateSource } from './judgeInterface';

export class RuleJudge implements Judge {
  readonly id: string;
  constructor(private readonly spec: RuleJudgeSpec) {
    this.id = judgeId(spec);
  }
  metricsFor(): string[] {
    return Object.keys(this.spec.metrics);
  }
  async judge(input: JudgeInput, metric: string): Promise<JudgeOutput> {
    const m = this.spec.metrics[metric];
    if (!m) throw new Error(`Rule judge "${this.spec.name}" has no metric "${metric}".`);
    for (let i = 0; i < m.rules.length; i++) {
      const r = m.rules[i];
      if (r.regex.test(input.answer)) return { score: r.score, raw: { rule: i + 1, pattern: r.pattern, flags: r.flags } };
    }
    return { score: m.default, raw: { rule: null, default: true } };
  }
}

export class OpenAIJudge implements Judge {
  readonly id: string;
  readonly client: OpenAICompatibleClient;
  private readonly highScore: number;
  constructor(
    spec: OpenAIJudgeSpec,
    private readonly templates: TemplateSource,
    clientOptions: Omit<OpenAIClientOptions, 'model' | 'baseUrl' | 'apiKeyHeader'> = {},
  ) {
    this.id = judgeId(spec);
    this.highScore = spec.highScore ?? 100;
    this.client = new OpenAICompatibleClient({ ...clientOptions, model: spec.model, baseUrl: spec.baseUrl, apiKeyHeader: spec.apiKeyHeader });
  }
  metricsFor(questionId: string): string[] {
    return Object.keys(this.templates.templatesFor(questionId));
  }
  async judge(input: JudgeInput, metric: string, signal?: AbortSignal): Promise<JudgeOutput> {
    const tpl = this.templates.templatesFor(input.questionId)[metric];
    if (tpl === undefined) throw new Error(`Judge ${this.id} has no prompt for metric "${metric}" on question ${input.questionId}.`);
    const r = await this.client.topLogprobs(fillTemplate(tpl, input.question, input.answer), signal);
    const s = scoreFromTopLogprobs(r.top, undefined, this.highScore);
    const score = s.score === null ? null : (s.score * 100) / this.highScore;
    return { score, raw: { token: r.content, numeric_mass: s.numericMass, top_logprobs: r.top } };
  }
}

export interface JudgeContext {
  /** The API key for OpenAI-compatible judges (from SecretStorage or OPENAI_API_KEY); never written anywhere. */
  apiKey?: string;
  promptSetJudgePrompts?: PromptSetJudgePrompts;
  /** Extra client options (timeouts, retries; tests pass fast backoff). */
  client?: Omit<OpenAIClientOptions, 'model' | 'baseUrl' | 'apiKeyHeader' | 'apiKey'>;
  /** Builds a local-model judge; the engine host passes one that reuses its loaded model. Default: load spec.model. */
  localJudgeFactory?: (spec: Extract<JudgeSpec, { type: 'local' }>, templates: TemplateSource) => Promise<Judge>;
  /** Options for the default local judge (the judges file's folder for relative model paths, threads). */
  local?: import('./localJudge').LocalJudgeOptions;
}

export async function createJudge(spec: JudgeSpec, ctx: JudgeContext = {}): Promise<Judge> {
  switch (spec.type) {
    case 'rules':
      return new RuleJudge(spec);
    case 'openai':
      return new OpenAIJudge(spec, new TemplateSource(spec.prompts, ctx.promptSetJudgePrompts), { ...ctx.client, apiKey: ctx.apiKey });
    case 'local':
      if (ctx.localJudgeFactory) return ctx.localJudgeFactory(spec, new TemplateSource(spec.prompts, ctx.promptSetJudgePrompts));
      {
        // Loaded lazily so rule and OpenAI judges never load onnxruntime.
        const { LocalJudge } = await import('./localJudge');
        return LocalJudge.load(spec, new TemplateSource(spec.prompts, ctx.promptSetJudgePrompts), ctx.local);
      }
  }
}
