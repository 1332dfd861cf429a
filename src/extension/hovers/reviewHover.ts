/**
 * Hover on the id of a question that changed since the review base (prompt-set review): the last rates of its
 * OLD text (at the merge-base) and of its NEW text, each from the newest run file in `runs/` next to the prompt
 * set whose recorded messages for that question are that text (engine/review/questionTextRuns), with the same
 * rate table as the question hover. Registered by the review module beside the question hover; VS Code shows
 * both.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { questionConditions } from '../../engine/prompts/conditions';
import { parsePromptSet } from '../../engine/prompts/promptSet';
import type { PromptSetChanges } from '../../engine/prompts/promptSetChanges';
import type { PromptQuestion } from '../../engine/prompts/types';
import { digestRun, lastRunWithText, questionTextKeys, runFilesNextTo, sameQuestionText, type RunDigest } from '../../engine/review/questionTextRuns';
import type { ConditionSpec } from '../../engine/runs/schema';
import { readRun } from '../../engine/runs/reader';
import { isPromptSetDocument, PROMPT_SET_SELECTOR } from '../codelens/promptSetDocuments';
import type { LabContext } from '../context';
import { appendRates, esc, newHoverMarkdown } from './questionHover';

/** What the hover needs of a prompt-set review (PromptSetReview). */
export interface ReviewForHover extends PromptSetChanges {
  base: string;
  mergeBase: string;
  baseText: string | null;
}

const digests = new Map<string, { mtimeMs: number; digest: RunDigest }>();

/** The digests of the run files next to a prompt set, re-read only when a file's modification time changed. */
function runDigests(promptSetPath: string, warn: (m: string) => void): RunDigest[] {
  const out: RunDigest[] = [];
  for (const { file, mtimeMs } of runFilesNextTo(promptSetPath)) {
    const hit = digests.get(file);
    if (hit && hit.mtimeMs === mtimeMs) {
      out.push(hit.digest);
      continue;
    }
    try {
      const digest = digestRun(file, readRun(file), mtimeMs);
      digests.set(file, { mtimeMs, digest });
      out.push(digest);
    } catch (e) {
      warn(`review hover: ${file}: ${(e as Error).message}`);
    }
  }
  return out;
}

function quoted(q: PromptQuestion): string {
  const text = q.messages ? q.messages.filter((m) => m.role === 'user').map((m) => m.content).join(' / ') : q.paraphrases[0] ?? '';
  const one = text.replace(/\s+/g, ' ').trim();
  return `"${esc(one.length > 120 ? `${one.slice(0, 119)}…` : one)}"`;
}

function appendTextRuns(md: vscode.MarkdownString, label: string, q: PromptQuestion, conditions: ConditionSpec[] | undefined, run: RunDigest | null, promptSetDir: string): void {
  const under = questionConditions(q, conditions);
  md.appendMarkdown(`**${label}**: ${quoted(q)}${under ? ` under conditions ${under.map((c) => esc(c.name)).join(', ')}` : ''}\n\n`);
  if (!run) {
    md.appendMarkdown(`No run file in \`runs/\` holds this text yet.\n\n`);
    return;
  }
  md.appendMarkdown(`Last run with it: \`${esc(path.relative(promptSetDir, run.file))}\` (created ${esc(run.createdAt)})\n\n`);
  if (run.rates && run.rates.byQuestion[q.id]?.length) appendRates(md, q.id, run.rates);
  else md.appendMarkdown('Not judged yet: judge the run to see its rates.\n\n');
}

/**
 * The hover text for a changed question: old and new text with the last rates of each (pure given the digests).
 * A text is the question's messages under each prompt condition it runs under (`conditions`: each version's
 * declared conditions), so a question whose only change is a condition's has old and new runs of its own.
 */
export function reviewRatesMarkdown(review: ReviewForHover, oldQ: PromptQuestion, newQ: PromptQuestion, runs: RunDigest[], promptSetDir: string, conditions: { old?: ConditionSpec[]; new?: ConditionSpec[] } = {}): vscode.MarkdownString {
  const md = newHoverMarkdown();
  const change = review.changes.find((c) => c.id === newQ.id);
  md.appendMarkdown(`**${esc(newQ.id)}** · changed since ${esc(review.base)} (merge-base ${esc(review.mergeBase.slice(0, 8))})${change?.what.length ? `: ${change.what.map(esc).join(', ')}` : ''}\n\n`);
  const oldKeys = questionTextKeys(oldQ, conditions.old);
  const newKeys = questionTextKeys(newQ, conditions.new);
  if (sameQuestionText(oldKeys, newKeys)) {
    md.appendMarkdown('The messages the model sees did not change, so the same runs hold the old and the new text.\n\n');
    appendTextRuns(md, 'Text (old = new)', newQ, conditions.new, lastRunWithText(runs, newQ.id, newKeys), promptSetDir);
    return md;
  }
  appendTextRuns(md, 'Old text', oldQ, conditions.old, lastRunWithText(runs, oldQ.id, oldKeys), promptSetDir);
  appendTextRuns(md, 'New text', newQ, conditions.new, lastRunWithText(runs, newQ.id, newKeys), promptSetDir);
  return md;
}

/** Register the hover; `reviewOf` returns the document's latest review (undefined/null: none). */
export function registerReviewHover(ctx: LabContext, reviewOf: (uri: vscode.Uri) => ReviewForHover | null | undefined): vscode.Disposable {
  return vscode.languages.registerHoverProvider(PROMPT_SET_SELECTOR, {
    provideHover(doc, position) {
      if (!isPromptSetDocument(doc)) return undefined;
      const review = reviewOf(doc.uri);
      if (!review || review.baseText === null) return undefined;
      const wordRange = doc.getWordRangeAtPosition(position, /[A-Za-z0-9_.\-]+/);
      if (!wordRange) return undefined;
      const word = doc.getText(wordRange);
      const change = review.changes.find((c) => c.kind === 'changed' && c.id === word && c.line - 1 <= position.line && position.line <= c.endLine - 1);
      if (!change) return undefined;
      try {
        const newSet = parsePromptSet(doc.fileName, doc.getText());
        const oldSet = parsePromptSet(doc.fileName, review.baseText);
        const newQ = newSet.questions.find((q) => q.id === word);
        const oldQ = oldSet.questions.find((q) => q.id === word);
        if (!newQ || !oldQ) return undefined;
        const runs = runDigests(doc.fileName, (m) => ctx.log.warn(m));
        return new vscode.Hover(reviewRatesMarkdown(review, oldQ, newQ, runs, path.dirname(doc.fileName), { old: oldSet.conditions, new: newSet.conditions }), wordRange);
      } catch (err) {
        ctx.log.warn(`review hover: ${doc.fileName}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
    },
  });
}
