/** Export and judge a run file: thin calls into the engine's export and judge jobs (no model needed). */
import path from 'node:path';
import * as vscode from 'vscode';
import { judgeRun } from '../../engine/jobs/judgeRun';
import { loadJudgesFile, type JudgeSpec } from '../../engine/judges/judgesFile';
import { EXPORT_FORMATS, exportRun, type ExportFormat } from '../../engine/runs/export';
import { section } from '../config';
import type { LabContext } from '../context';
import { apiKeyForRequest, judgeSettingUrl, type KeySource } from './apiKeys';
import { errorMessage, showCommandError, uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';
import { DEFAULT_OPENAI_BASE_URL } from './keyOrigin';
import { activeRunFile, pickRunFile } from './pickers';

const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', jsonl: 'jsonl', comparator: 'comparator.json' };

export async function exportRunCommand(ctx: LabContext, arg?: unknown, opts: { format?: ExportFormat; out?: string } = {}): Promise<string | undefined> {
  if (!(await requireTrust('Export Run'))) return undefined;
  // The run in the active tab (its Run report, Compare panel or run-file editor) before asking.
  const run = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile({ title: 'Organism Lab: export which run?', openLabel: 'Export' }));
  if (!run) return undefined;
  const format =
    opts.format ??
    ((
      await vscode.window.showQuickPick(
        EXPORT_FORMATS.map((f) => ({ label: f, description: f === 'csv' ? 'one row per sample, one column per judge metric' : f === 'comparator' ? 'LLM Comparator JSON (base vs adapter)' : 'flat JSON lines' })),
        { title: 'Export format' },
      )
    )?.label as ExportFormat | undefined);
  if (!format) return undefined;
  const stem = run.fsPath.replace(/\.run\.jsonl$/, '');
  const out = opts.out ?? (await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(`${stem}.${EXTENSIONS[format]}`), title: `Export ${path.basename(run.fsPath)} as ${format}` }))?.fsPath;
  if (!out) return undefined;
  try {
    const result = await exportRun(run.fsPath, format, out);
    ctx.log.info(`exported ${run.fsPath} as ${format} → ${out}`);
    void result;
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
      for (const j of jf.judges) items.push({ label: j.name, description: `${j.type} · ${file}`, spec: j, baseDir: path.dirname(f.fsPath), source: { label: `judges file ${file}, judge '${j.name}'${j.type === 'openai' && !j.baseUrl ? ' (no base_url: the OpenAI default)' : ''}`, fromWorkspace: true } });
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
  let apiKey: string | undefined;
  if (spec.type === 'openai') {
    // Bound to the judge URL's origin: a judges file naming another host never gets a key stored for this one.
    let key: { apiKey?: string } | undefined;
    try {
      key = await apiKeyForRequest(ctx, 'judge', spec.baseUrl || DEFAULT_OPENAI_BASE_URL, chosen.source);
    } catch (err) {
      void showCommandError('Organism Lab: judging failed', err);
      return undefined;
    }
    if (!key) return undefined;
    apiKey = key.apiKey;
  }
  try {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Organism Lab: judging ${path.basename(run.fsPath)} with ${spec.name}`, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      // Throttled (a rule judge reports thousands of times a second) and always ending on the final count, so the
      // notification never stays behind at a stale "0/N" next to the finished message.
      let last = 0;
      let lastAt = 0;
      const report = (p: { done: number; total: number }) => {
        const now = Date.now();
        if (p.done < p.total && now - lastAt < 100) return;
        lastAt = now;
        const pct = p.total ? (100 * p.done) / p.total : 100;
        progress.report({ increment: pct - last, message: `${p.done} of ${p.total} scores (one per sample and metric)` });
        last = pct;
      };
      // A local-model judge needs a model: it runs in the engine host, never in the extension host.
      if (spec.type === 'local') {
        const r = await ctx.engine.judgeRunLocal({ runPath: run.fsPath, judge: spec, baseDir: chosen.baseDir }, report, abort.signal);
        report({ done: r.total, total: r.total });
        return r;
      }
      const r = await judgeRun(run.fsPath, spec, {
        signal: abort.signal,
        secrets: { apiKey },
        log: (m) => ctx.log.info(`[judge] ${m}`),
        onProgress: (p) => report(p),
      });
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
