/**
 * Code review of prompt sets in the editor: "Diff Two Runs" (what a prompt-set change did to the results,
 * shown as the Markdown review report in VS Code's preview), "Compare Two Runs Side by Side" (the Compare
 * panel in two-run mode: the engine's diff on top, the paired samples of both runs side by side) and
 * "Export Review Report" (Markdown for a pull request, or one static HTML page). Thin glue over engine/review;
 * runs that cannot be paired are refused with the reason and a "Compare Anyway" button.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { readRunContent } from '../../engine/judges/runAccess';
import { buildReviewReport } from '../../engine/review/reviewReport';
import { renderMarkdownReport } from '../../engine/review/markdownReport';
import { renderHtmlReport } from '../../engine/review/htmlReport';
import { RunMismatchError } from '../../engine/review/runDiff';
import { VIEW_TYPES } from '../../protocol/webviews';
import { DEFAULT_FILTERS, type CompareViewState } from '../../protocol/compare';
import type { LabContext } from '../context';
import { CompareSession, webviewOptions } from '../panels/compareSession';
import { errorMessage, uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';
import { activeRunFile, pickRunFile } from './pickers';

export type ReviewFormat = 'md' | 'html';

/** Builds the report, asking once whether to compare runs that cannot be paired. Undefined = the user declined. */
async function reportText(runPath: string, againstPath: string | null, format: ReviewFormat, allowMismatch: boolean | undefined): Promise<string | undefined> {
  const run = await readRunContent(runPath);
  const against = againstPath ? await readRunContent(againstPath) : null;
  try {
    const report = buildReviewReport(run, against, { allowMismatch: allowMismatch ?? false });
    return format === 'md' ? renderMarkdownReport(report) : renderHtmlReport(report);
  } catch (e) {
    if (!(e instanceof RunMismatchError) || allowMismatch !== undefined) throw e;
    const choice = await vscode.window.showWarningMessage(
      `Organism Lab: ${path.basename(runPath)} and ${path.basename(againstPath ?? '')} cannot be paired: ${e.reasons.join('; ')}.`,
      { modal: true },
      'Compare Anyway',
    );
    if (choice !== 'Compare Anyway') return undefined;
    return reportText(runPath, againstPath, format, true);
  }
}

/**
 * Diff two runs (A = the earlier run, e.g. on main; B = this run): the review report opens in the Markdown
 * preview. Arguments (tests, other commands): `{ a, b, allowMismatch }` as paths or Uris. Returns the Markdown.
 */
export async function diffRunsCommand(ctx: LabContext, arg?: unknown, opts: { a?: unknown; b?: unknown; allowMismatch?: boolean } = {}): Promise<string | undefined> {
  const b = uriFromArg(opts.b) ?? uriFromArg(arg) ?? (await pickRunFile({ title: 'Organism Lab: Diff Two Runs (1/2)', placeHolder: 'The newer run (B), e.g. on your branch', openLabel: 'Use as B' }, activeRunFile(ctx.panels)));
  if (!b) return undefined;
  const a = uriFromArg(opts.a) ?? (await pickRunFile({ title: 'Organism Lab: Diff Two Runs (2/2)', placeHolder: `The earlier run (A) to compare ${path.basename(b.fsPath)} against, e.g. on main`, openLabel: 'Use as A' }));
  if (!a) return undefined;
  try {
    const md = await reportText(b.fsPath, a.fsPath, 'md', opts.allowMismatch);
    if (md === undefined) return undefined;
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: md });
    await vscode.window.showTextDocument(doc, { preview: true });
    await vscode.commands.executeCommand('markdown.showPreview', doc.uri).then(undefined, () => undefined);
    ctx.log.info(`diffed ${a.fsPath} (A) and ${b.fsPath} (B)`);
    return md;
  } catch (e) {
    void vscode.window.showErrorMessage(`Organism Lab: diff failed: ${errorMessage(e)}`);
    return undefined;
  }
}

/**
 * Compare two runs side by side: B (this run, e.g. on the branch) and A (the earlier run, e.g. on main) in one
 * Compare panel, paired by (question, paraphrase, sample, variant, condition), with the engine's run diff on top
 * (per question added / removed / reworded / unchanged, the rates in A and B and B − A with its interval). Runs that
 * cannot be paired show the reasons and a "Compare anyway" button in the panel. Arguments (tests, other commands):
 * `{ a, b }` as paths or Uris. Returns the panel.
 */
export async function compareTwoRunsCommand(ctx: LabContext, arg?: unknown, opts: { a?: unknown; b?: unknown } = {}): Promise<vscode.WebviewPanel | undefined> {
  const b =
    uriFromArg(opts.b) ??
    uriFromArg(arg) ??
    (await pickRunFile({ title: 'Organism Lab: Compare Two Runs Side by Side (1/2)', placeHolder: 'This run (B), e.g. on your branch', openLabel: 'Use as B' }, activeRunFile(ctx.panels)));
  if (!b) return undefined;
  const a =
    uriFromArg(opts.a) ??
    (await pickRunFile({
      title: 'Organism Lab: Compare Two Runs Side by Side (2/2)',
      placeHolder: `The earlier run (A) to show beside ${path.basename(b.fsPath)}, e.g. on main`,
      openLabel: 'Use as A',
    }));
  if (!a) return undefined;
  if (a.toString() === b.toString()) {
    void vscode.window.showWarningMessage(`Organism Lab: pick two different run files (both were ${path.basename(a.fsPath)}).`);
    return undefined;
  }
  const panel = vscode.window.createWebviewPanel(VIEW_TYPES.compare, `Compare: ${path.basename(a.fsPath)} ↔ ${path.basename(b.fsPath)}`, vscode.ViewColumn.Active, {
    ...webviewOptions(ctx.extension.extensionUri),
    enableFindWidget: true,
  });
  const viewState: CompareViewState = { version: 1, runUri: b.toString(), filters: DEFAULT_FILTERS, focusedSampleId: null, againstUri: a.toString() };
  // Restored after a reload by the Compare serializer from the page's saved state, which carries againstUri.
  const session = new CompareSession(panel.webview, b, { extensionUri: ctx.extension.extensionUri, log: ctx.log, engine: () => ctx.engine.client }, viewState, 'panel');
  panel.onDidDispose(() => session.dispose());
  ctx.log.info(`compare side by side: ${a.fsPath} (A) and ${b.fsPath} (B)`);
  return panel;
}

/** Export the active (or picked) run's review report, optionally against an earlier run. Returns the output path. */
export async function exportReviewReportCommand(
  ctx: LabContext,
  arg?: unknown,
  opts: { format?: ReviewFormat; against?: unknown; out?: string; allowMismatch?: boolean } = {},
): Promise<string | undefined> {
  if (!(await requireTrust('Export Review Report'))) return undefined;
  const run = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile({ title: 'Organism Lab: Export Review Report', placeHolder: 'Which run?', openLabel: 'Export' }));
  if (!run) return undefined;
  const format =
    opts.format ??
    ((
      await vscode.window.showQuickPick(
        [
          { label: 'md' as const, description: 'Markdown for a pull-request comment or a CI job summary' },
          { label: 'html' as const, description: 'one self-contained HTML page (no network, no script)' },
        ],
        { title: `Export review report of ${path.basename(run.fsPath)}` },
      )
    )?.label);
  if (!format) return undefined;
  let against: vscode.Uri | undefined = uriFromArg(opts.against);
  if (opts.against === undefined) {
    const mode = await vscode.window.showQuickPick(
      [{ label: 'This run only' }, { label: 'Against an earlier run…', description: 'adds what changed: questions added, removed, reworded, with paired rates' }],
      { title: 'Compare against another run?' },
    );
    if (!mode) return undefined;
    if (mode.label !== 'This run only') {
      against = await pickRunFile({ title: 'Organism Lab: the earlier run (A)', placeHolder: 'e.g. the run on main', openLabel: 'Compare against' });
      if (!against) return undefined;
    }
  }
  const out = opts.out ?? run.fsPath.replace(/\.run\.jsonl$/, '') + `.review.${format}`;
  try {
    const text = await reportText(run.fsPath, against?.fsPath ?? null, format, opts.allowMismatch);
    if (text === undefined) return undefined;
    const tmp = `${out}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, text, 'utf8');
    await fsp.rename(tmp, out);
    ctx.log.info(`review report ${run.fsPath}${against ? ` against ${against.fsPath}` : ''} → ${out}`);
    if (!opts.out) {
      void vscode.window.showInformationMessage(`Organism Lab: wrote ${path.basename(out)}.`, 'Open').then((c) => {
        if (c !== 'Open') return;
        if (format === 'md') void vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(out));
        else void vscode.env.openExternal(vscode.Uri.file(out));
      });
    }
    return out;
  } catch (e) {
    void vscode.window.showErrorMessage(`Organism Lab: review report failed: ${errorMessage(e)}`);
    return undefined;
  }
}
