/**
 * Hover on a question id in a prompt set: the latest run of this prompt set, per variant: judged rates (computed
 * in the engine, formatted here) when the run has judgements, and the sample counts. Before any run (or when the
 * latest run lacks the question) it says so and offers to run the question (command links).
 */
import path from 'node:path';
import { statSync } from 'node:fs';
import * as vscode from 'vscode';
import { latestRunFor, RunSummary, summarizeRun } from '../../engine/backends/workspaceDiscovery';
import type { JudgedRates } from '../../engine/judges/questionRates';
import type { Proportion } from '../../engine/judges/stats';
import { parsePromptSet } from '../../engine/prompts/promptSet';
import { isPromptSetDocument, PROMPT_SET_SELECTOR } from '../codelens/promptSetDocuments';
import type { LabContext } from '../context';
import { armLabel } from '../../engine/runs/schema';

const cache = new Map<string, { mtime: number; summary: RunSummary }>();

function summary(file: string): RunSummary {
  const mtime = statSync(file).mtimeMs;
  const hit = cache.get(file);
  if (hit && hit.mtime === mtime) return hit.summary;
  const s = summarizeRun(file, { rates: true });
  cache.set(file, { mtime, summary: s });
  return s;
}

/** Backslash-escape the markdown that can act mid-line (emphasis, code, links, html, table pipes), so names from run files render as plain text. */
export function esc(text: string): string {
  return text.replace(/[\\`*_[\]|<>~&$]/g, (ch) => `\\${ch}`);
}

function pct(x: number): string {
  const v = x * 100;
  return `${v === 0 || v >= 10 ? v.toFixed(0) : v.toFixed(1)}%`;
}

function proportion(p: Proportion, withInterval: boolean): string {
  if (p.p === null) return '—';
  const base = `${pct(p.p)} (${p.k}/${p.n})`;
  return withInterval && p.lo !== null && p.hi !== null ? `${base} [${pct(p.lo)}–${pct(p.hi)}]` : base;
}

export function appendRates(md: vscode.MarkdownString, questionId: string, rates: JudgedRates): void {
  const rows = rates.byQuestion[questionId] ?? [];
  const others = rates.judges.filter((j) => j !== rates.judge);
  const t = rates.thresholds;
  const unjudged = rows.reduce((sum, r) => sum + r.unjudged, 0);
  md.appendMarkdown(
    `Judge **${esc(rates.judge)}**${others.length ? ` (also in this run: ${others.map(esc).join(', ')})` : ''} · ` +
      `misaligned = ${esc(rates.alignedMetric)} ≤ ${t.aligned} and ${esc(rates.coherentMetric)} > ${t.coherent}, Wilson 95% interval · ` +
      `${unjudged} sample${unjudged === 1 ? '' : 's'} of this question unjudged\n\n`,
  );
  md.appendMarkdown('| variant | samples | misaligned [95% CI] | coherent | mean aligned | none | unjudged |\n|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    const mean = r.meanAligned === null ? '—' : r.meanAligned.toFixed(1);
    md.appendMarkdown(`| ${esc(armLabel(r.variant, r.condition))} | ${r.samples} | ${proportion(r.misalignedCoherent, true)} | ${proportion(r.coherent, false)} | ${mean} | ${r.none} | ${r.unjudged} |\n`);
  }
  md.appendMarkdown('\n');
}

/** The commands a hover may link to (nothing else runs from a hover link). */
export const HOVER_COMMANDS = ['organismLab.runQuestion', 'organismLab.runQuestionWithAdapter'];

/** Command links that run one question (base only, and with and without the adapter). */
function runLinks(promptSet: vscode.Uri | undefined, questionId: string): string {
  if (!promptSet) return '';
  const args = encodeURIComponent(JSON.stringify([promptSet.toString(), questionId]));
  return `[$(play) Run this question](command:organismLab.runQuestion?${args} "Run it on the base model") · [$(play) Run with and without adapter](command:organismLab.runQuestionWithAdapter?${args} "Run it on the base model and every loaded adapter")`;
}

export function newHoverMarkdown(): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  // Only our run commands are enabled as links; text from run files is escaped.
  md.isTrusted = { enabledCommands: HOVER_COMMANDS };
  return md;
}

/** No run of this prompt set yet. */
export function noRunMarkdown(questionId: string, promptSet: vscode.Uri): vscode.MarkdownString {
  const md = newHoverMarkdown();
  md.appendMarkdown(`**${esc(questionId)}** · no run of this prompt set yet (no run file in \`runs/\` next to it), so there are no samples or rates to show.\n\n`);
  md.appendMarkdown(runLinks(promptSet, questionId));
  return md;
}

export function hoverMarkdown(questionId: string, run: RunSummary, promptSet?: vscode.Uri): vscode.MarkdownString {
  const md = newHoverMarkdown();
  const c = run.completeness;
  const state = c?.incomplete ? ` · **incomplete**: ${c.present} of ${c.expected} samples (run the prompt set again to resume it)` : '';
  md.appendMarkdown(`**${esc(path.basename(run.file))}** · last run of this prompt set${state}\n\n`);
  const q = run.byQuestion[questionId];
  if (!q) {
    md.appendMarkdown(`No samples for "${esc(questionId)}" in this run.\n\n`);
    md.appendMarkdown(runLinks(promptSet, questionId));
    return md;
  }
  if (run.rates) appendRates(md, questionId, run.rates);
  md.appendMarkdown('| variant | samples | finish reasons | diverged from reference |\n|---|---|---|---|\n');
  for (const [variant, n] of Object.entries(q.byVariant)) {
    const fr = Object.entries(q.finishReasons[variant] ?? {})
      .map(([k, v]) => `${esc(k)} ${v}`)
      .join(', ');
    const div = variant === run.variants[0] ? '—' : String(q.diverged[variant] ?? 0);
    md.appendMarkdown(`| ${esc(variant)} | ${n} | ${fr} | ${div} |\n`);
  }
  return md;
}

export function activateHovers(ctx: LabContext): void {
  ctx.extension.subscriptions.push(
    vscode.languages.registerHoverProvider(PROMPT_SET_SELECTOR, {
      provideHover(doc, position) {
        if (!isPromptSetDocument(doc)) return undefined;
        const wordRange = doc.getWordRangeAtPosition(position, /[A-Za-z0-9_.\-]+/);
        if (!wordRange) return undefined;
        const word = doc.getText(wordRange);
        let set;
        try {
          set = parsePromptSet(doc.fileName, doc.getText());
        } catch {
          return undefined;
        }
        const q = set.questions.find((x) => x.id === word && x.range.line - 1 <= position.line && position.line <= x.range.endLine - 1);
        if (!q) return undefined;
        const runFile = latestRunFor(doc.fileName);
        if (!runFile) return new vscode.Hover(noRunMarkdown(q.id, doc.uri), wordRange);
        try {
          return new vscode.Hover(hoverMarkdown(q.id, summary(runFile), doc.uri), wordRange);
        } catch (err) {
          ctx.log.warn(`hover: ${runFile}: ${err instanceof Error ? err.message : String(err)}`);
          return undefined;
        }
      },
    }),
  );
}
