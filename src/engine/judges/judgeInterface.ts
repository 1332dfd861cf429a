/**
 * What every judge backend implements (rule, OpenAI-compatible, local model), and where a model judge's
 * templates come from. Its own module so the backends (judges.ts, localJudge.ts) depend on it, not on each other.
 */
import { DEFAULT_JUDGE_PROMPTS, type PromptSetJudgePrompts } from './prompts';

export interface JudgeInput {
  sampleId: string;
  questionId: string;
  question: string;
  answer: string;
}

export interface JudgeOutput {
  score: number | null;
  raw: unknown;
}

export interface Judge {
  /** Written in judgement rows, e.g. "rule:demo-rules", "openai:gpt-4o". */
  readonly id: string;
  /** The metrics this judge scores for a question. */
  metricsFor(questionId: string): string[];
  judge(input: JudgeInput, metric: string, signal?: AbortSignal): Promise<JudgeOutput>;
  /** Release what the judge holds (a loaded model). */
  dispose?(): Promise<void>;
}

/** Where templates come from: the judge's own prompts, else the prompt set's judge_prompts, else our defaults. */
export class TemplateSource {
  constructor(
    private readonly own: Record<string, string> | undefined,
    private readonly promptSet: PromptSetJudgePrompts | undefined,
  ) {}

  templatesFor(questionId: string): Record<string, string> {
    if (this.own && Object.keys(this.own).length) return this.own;
    const ps = this.promptSet?.get(questionId);
    if (ps && Object.keys(ps).length) return ps;
    return DEFAULT_JUDGE_PROMPTS as Record<string, string>;
  }
}

