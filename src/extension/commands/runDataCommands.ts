/**
 * Export and judge a run file. Both run in the engine host: the export (engine/exportRun) and judging
 * (engine/judgeRun, whatever the judge, so the host is the one writer of the run file). Here the format, the
 * comparator's sides and the output file are chosen; the judge is chosen, its API key read or asked for
 * (apiKeys.ts), and progress and cancellation shown.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { loadJudgesFile, type JudgeSpec } from '../../engine/judges/judgesFile';
import { EngineMethods } from '../../protocol/engineHost';
import { EXPORT_FORMATS, type ExportFormat } from '../../protocol/runExport';
import { section } from '../config';
import type { LabContext } from '../context';
import { apiKeyForJudge, judgesFileKeySource, judgeSettingUrl, type KeySource } from './apiKeys';
import { errorMessage, showCommandError, uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';
import { activeRunFile, pickRunFile } from './pickers';

const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', jsonl: 'jsonl', comparator: 'comparator.json' };

/**
 * The two arms an LLM Comparator export compares: `variant`, or `variant~condition` in a run with conditions.
 * The engine host reads them from the run's header (engine/runArms). Asked when the run has more than two arms
 * (`pair` answers it for commands and tests); undefined when dismissed.
 */
async function comparatorPair(ctx: LabContext, runPath: string, pair?: [string, string]): Promise<[string, string] | undefined> {
  if (pair) return pair;
  const { arms, withConditions } = await ctx.engine.client.request(EngineMethods.runArms, { runPath });
  if (arms.length <= 2) return arms.length === 2 ? [arms[0], arms[1]] : undefined;
  const pick = async (title: string, exclude?: string) =>
    (await vscode.window.showQuickPick(arms.filter((a) => a !== exclude), { title, placeHolder: withConditions ? 'variant~condition' : 'variant' })) ?? undefined;
  const a = await pick('LLM Comparator: side A (1/2)');
  if (!a) return undefined;
  const b = await pick(`LLM Comparator: side B, compared with ${a} (2/2)`, a);
  return b ? [a, b] : undefined;
}

export async function exportRunCommand(ctx: LabContext, arg?: unknown, opts: { format?: ExportFormat; out?: string; pair?: [string, string] } = {}): Promise<string | undefined> {
  if (!(await requireTrust('Export Run'))) return undefined;
  // The run in the active tab (its Run report, Compare panel or run-file editor) before asking.
  const run = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile({ title: 'Organism Lab: export which run?', openLabel: 'Export' }));
  if (!run) return undefined;
  const format =
    opts.format ??
    ((
      await vscode.window.showQuickPick(
        EXPORT_FORMATS.map((f) => ({ label: f, description: f === 'csv' ? 'one row per sample, one column per judge metric' : f === 'comparator' ? 'LLM Comparator JSON (two variants or variant~condition arms you pick)' : 'flat JSON lines' })),
        { title: 'Export format' },
      )
    )?.label as ExportFormat | undefined);
  if (!format) return undefined;
  let pair: [string, string] | undefined;
  if (format === 'comparator') {
    try {
      pair = await comparatorPair(ctx, run.fsPath, opts.pair);
    } catch (err) {
      void vscode.window.showErrorMessage(`Organism Lab: export failed: ${errorMessage(err)}`);
      return undefined;
    }
    if (!pair) return undefined;
  }
  const stem = run.fsPath.replace(/\.run\.jsonl$/, '');
  const out = opts.out ?? (await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(`${stem}.${EXTENSIONS[format]}`), title: `Export ${path.basename(run.fsPath)} as ${format}` }))?.fsPath;
  if (!out) return undefined;
  try {
    await ctx.engine.client.request(EngineMethods.exportRun, { runPath: run.fsPath, format, outPath: out, ...(pair ? { variantA: pair[0], variantB: pair[1] } : {}) });
    ctx.log.info(`exported ${run.fsPath} as ${format} → ${out}`);
    if (!opts.out) void vscode.window.showInformationMessage(`Organism Lab: exported ${path.basename(run.fsPath)} to ${path.basename(out)}.`);
    return out;
  } catch (err) {
    void vscode.window.showErrorMessage(`Organism Lab: export failed: ${errorMessage(err)}`);
    return undefined;
  }
}

/** "judged x.run.jsonl with J: 1440 scores written (one per sample and metric); 0 were there already, 0 failed." */
export function judgedMessage(fileName: string, r: { judge: string; judged: number; skipped: number; failed: unknown[]; cancelled: boolean }): string {
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return (
    `Organism Lab: ${r.cancelled ? 'judging cancelled' : 'judged'} ${fileName} with ${r.judge}: ${n(r.judged, 'score', 'scores')} written (one per sample and metric)` +
    `; ${r.skipped} ${r.skipped === 1 ? 'was' : 'were'} there already${r.failed.length ? `, ${r.failed.length} failed (see the log; judging again retries them)` : ''}.`
  );
}

interface ChosenJudge {
  spec: JudgeSpec;
  /** The judges file's folder (a local judge's relative model path is resolved against it). */
  baseDir?: string;
  /** Where the judge (and so its base URL) came from: named when its API key is asked for. */
  source: KeySource;
}

async function chooseJudge(ctx: LabContext): Promise<ChosenJudge | undefined> {
  const files = await vscode.workspace.findFiles('**/*.judges.{yaml,yml}', '{**/node_modules/**,**/.git/**}', 200);
  const items: { label: string; description: string; spec: JudgeSpec; baseDir?: string; source: KeySource }[] = [];
  for (const f of files) {
    try {
      const jf = await loadJudgesFile(f.fsPath);
      const file = vscode.workspace.asRelativePath(f);
      for (const j of jf.judges) items.push({ label: j.name, description: `${j.type} · ${file}`, spec: j, baseDir: path.dirname(f.fsPath), source: judgesFileKeySource(file, j) });
    } catch (err) {
      ctx.log.warn(`judges file ${f.fsPath}: ${errorMessage(err)}`);
    }
  }
  const c = section();
  const model = c.get<string>('judge.model', 'gpt-4o-2024-08-06');
  const fromSettings = judgeSettingUrl();
  items.push({ label: model, description: `openai-compatible · ${fromSettings.baseUrl} (settings)`, spec: { type: 'openai', name: model, model, baseUrl: c.get<string>('judge.baseUrl') || undefined }, source: fromSettings.source });
  const pick = await vscode.window.showQuickPick(items, { title: 'Organism Lab: judge with', placeHolder: 'Judges from *.judges.yaml files, or the OpenAI-compatible judge in settings' });
  return pick && { spec: pick.spec, baseDir: pick.baseDir, source: pick.source };
}

export async function judgeRunCommand(ctx: LabContext, arg?: unknown, opts: { judge?: JudgeSpec; baseDir?: string } = {}): Promise<unknown> {
  if (!(await requireTrust('Judge Run'))) return undefined;
  const run = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile({ title: 'Organism Lab: judge which run?', openLabel: 'Judge' }));
  if (!run) return undefined;
  const chosen = opts.judge ? { spec: opts.judge, baseDir: opts.baseDir, source: { label: `judge '${opts.judge.name}' given to organismLab.judgeRun`, fromWorkspace: false } } : await chooseJudge(ctx);
  if (!chosen) return undefined;
  const spec = chosen.spec;
  let key: { apiKey?: string } | undefined;
  try {
    key = await apiKeyForJudge(ctx, spec, chosen.source);
  } catch (err) {
    void showCommandError('Organism Lab: judging failed', err);
    return undefined;
  }
  if (!key) return undefined; // the key prompt was cancelled
  const apiKey = key.apiKey;
  try {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Organism Lab: judging ${path.basename(run.fsPath)} with ${spec.name}`, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      // The host sends progress at most every 100 ms; the notification ends on the final count, so it never stays
      // behind at a stale "0/N" next to the finished message.
      let last = 0;
      const report = (p: { done: number; total: number }) => {
        const pct = p.total ? (100 * p.done) / p.total : 100;
        progress.report({ increment: pct - last, message: `${p.done} of ${p.total} scores (one per sample and metric)` });
        last = pct;
      };
      const r = await ctx.engine.judgeRun({ runPath: run.fsPath, judge: spec, baseDir: chosen.baseDir, apiKey }, report, abort.signal);
      report({ done: r.total, total: r.total });
      return r;
    });
    ctx.log.info(`judged ${run.fsPath} with ${result.judge}: ${result.judged} judged, ${result.skipped} already done, ${result.failed.length} failed${result.cancelled ? ', cancelled' : ''}`);
    if (!opts.judge) {
      void vscode.window.showInformationMessage(judgedMessage(path.basename(run.fsPath), result), 'Open Report').then((c) => {
        if (c) void vscode.commands.executeCommand('organismLab.openRunReport', run);
      });
    }
    return result;
  } catch (err) {
    void showCommandError('Organism Lab: judging failed', err);
    return undefined;
  }
}
