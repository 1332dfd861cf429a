/** Prompt sets, normalized from the emergent-misalignment YAML layout or JSONL. Types only. */
import type { ChatMessage, ConditionSpec } from '../runs/schema';

export type ProblemSeverity = 'error' | 'warning';

/** One validation finding, 1-based line/column (end exclusive), for the editor's diagnostics. */
export interface PromptProblem {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: ProblemSeverity;
  code: string;
  message: string;
}

export interface SourceRange {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface PromptQuestion {
  id: string;
  /** e.g. free_form, free_form_judge_0_100, free_form_judge. */
  type?: string;
  /** The user turns. For a JSONL `messages` question: the content of its last user message. */
  paraphrases: string[];
  /** A JSONL `messages` question: the whole conversation, sent as is (system included). */
  messages?: ChatMessage[];
  samplesPerParaphrase: number;
  system?: string;
  judge?: string;
  /** metric → template with {question} and {answer}. */
  judgePrompts: Record<string, string>;
  /** Prompt conditions: absent = every declared condition, false = opted out, a list = that subset. */
  conditions?: string[] | false;
  /** Per-condition field overrides (a null field clears the condition's own). */
  conditionOverrides?: Record<string, Partial<Record<'user_prefix' | 'user_suffix' | 'user_template' | 'system' | 'system_append', string | null>>>;
  /** Values of user_template placeholders other than {user}. */
  vars?: Record<string, string>;
  /** Fields this tool does not know, kept verbatim. */
  extra: Record<string, unknown>;
  /** Where the question is in the file (the whole list item / JSONL line). */
  range: SourceRange;
}

export interface PromptSet {
  path: string;
  format: 'yaml' | 'jsonl';
  /** sha256 (hex) of the file's bytes. */
  hash: string;
  questions: PromptQuestion[];
  /** Declared prompt conditions in order (the first is the reference); absent when the set declares none. */
  conditions?: ConditionSpec[];
  problems: PromptProblem[];
}
