/**
 * CodeLens above each question of a prompt set: run it alone, or with and without the loaded adapter(s); in a set
 * with prompt conditions, run it under every condition it takes (with and without the adapters).
 */
import * as vscode from 'vscode';
import { parsePromptSet, questionRanges } from '../../engine/prompts/promptSet';
import { questionConditions } from '../../engine/prompts/conditions';
import type { LabContext } from '../context';
import { isPromptSetDocument, PROMPT_SET_SELECTOR } from './promptSetDocuments';
import type { PromptSetReviewer } from '../review/promptSetReview';

export class PromptSetCodeLensProvider implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  private reviewer: PromptSetReviewer | undefined;

  refresh(): void {
    this.changed.fire();
  }

  /** Show "changed since <base> — run it" above the questions the prompt-set review marks. */
  attachReview(reviewer: PromptSetReviewer): vscode.Disposable {
    this.reviewer = reviewer;
    return reviewer.onDidChange(() => this.refresh());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!isPromptSetDocument(doc)) return [];
    let ranges: { id: string; line: number }[];
    let conditionsOf: Map<string, string[]>;
    try {
      const set = parsePromptSet(doc.fileName, doc.getText());
      ranges = questionRanges(set);
      conditionsOf = new Map(set.questions.map((q) => [q.id, questionConditions(q, set.conditions)?.map((c) => c.name) ?? []]));
    } catch {
      return [];
    }
    const lenses: vscode.CodeLens[] = [];
    if (ranges.length > 0) {
      lenses.push(new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), { title: `▶ Run all ${ranges.length} questions`, command: 'organismLab.runPromptSet', arguments: [doc.uri] }));
    }
    const review = this.reviewer?.get(doc.uri);
    for (const q of ranges) {
      const at = new vscode.Range(q.line - 1, 0, q.line - 1, 0);
      const change = review?.changes.find((c) => c.id === q.id);
      if (change && review) {
        lenses.push(
          new vscode.CodeLens(at, {
            title: `● ${change.kind === 'added' ? 'new' : 'changed'} since ${review.base} — run it`,
            command: 'organismLab.runQuestionWithAdapter',
            arguments: [doc.uri, q.id],
            tooltip: change.kind === 'added' ? `"${q.id}" is not in ${review.base}: run it with and without the adapter` : `"${q.id}" changed since ${review.base} (${change.what.join(', ')}): run it with and without the adapter`,
          }),
        );
      }
      const conds = conditionsOf.get(q.id) ?? [];
      if (conds.length) {
        lenses.push(
          new vscode.CodeLens(at, {
            title: `▶ Run under every condition (${conds.length})`,
            command: 'organismLab.runQuestionWithAdapter',
            arguments: [doc.uri, q.id, { conditions: 'all' }],
            tooltip: `Run "${q.id}" under ${conds.join(', ')}, on the base model and every loaded adapter (the rows of a sample share one seed)`,
          }),
        );
      }
      lenses.push(
        new vscode.CodeLens(at, { title: '▶ Run with and without adapter', command: 'organismLab.runQuestionWithAdapter', arguments: [doc.uri, q.id], tooltip: `Run "${q.id}" on the base model and every loaded adapter` }),
        new vscode.CodeLens(at, { title: '▶ Run this question', command: 'organismLab.runQuestion', arguments: [doc.uri, q.id], tooltip: `Run "${q.id}" on the base model` }),
      );
    }
    return lenses;
  }
}

export function activateCodeLens(ctx: LabContext): PromptSetCodeLensProvider {
  const provider = new PromptSetCodeLensProvider();
  ctx.extension.subscriptions.push(vscode.languages.registerCodeLensProvider(PROMPT_SET_SELECTOR, provider));
  return provider;
}
