/**
 * Inspect AI logs in the editor:
 *  - "Compare Two Inspect Logs…": two `.eval`/`.json` logs of the same dataset converted into one run file (in
 *    the workspace's .organism-lab/ folder or a folder the user picks) and opened in Compare, paired by sample id
 *    and epoch (engine/interop/inspectImport.ts);
 *  - "Export Run as Inspect Logs…": one `.eval` per variant (and condition) for `inspect view` and the Inspect
 *    extension (engine/interop/inspectWriter.ts).
 * Thin glue: the engine modules do the reading and writing.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { CommandTable } from './commandRegistry';
import { importInspectLogs } from '../../engine/interop/inspectImport';
import { exportRunToInspect } from '../../engine/interop/inspectWriter';
import type { LabContext } from '../context';
import { activeRunFile, pickRunFile } from './pickers';
import { errorMessage, uriFromArg } from '../run/args';
import { requireTrust } from '../trust/trust';

const LOG_FILTERS = { 'Inspect logs': ['eval', 'json'] };

function asPath(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (x instanceof vscode.Uri) return x.fsPath;
  return undefined;
}

async function pickLogs(given: string[]): Promise<string[] | undefined> {
  const logs = [...given];
  while (logs.length < 2) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: logs.length === 0,
      canSelectFiles: true,
      canSelectFolders: false,
      filters: LOG_FILTERS,
      title: logs.length === 0 ? 'Organism Lab: Compare Two Inspect Logs (pick two .eval or .json logs)' : `Organism Lab: the log to compare with ${path.basename(logs[0])}`,
      openLabel: 'Compare',
    });
    if (!picked?.length) return undefined;
    logs.push(...picked.map((u) => u.fsPath));
  }
  return logs;
}

async function pickOutputFolder(given: string | undefined): Promise<string | undefined> {
  if (given) return given;
  const ws = vscode.workspace.workspaceFolders?.[0];
  const here = ws ? path.join(ws.uri.fsPath, '.organism-lab') : undefined;
  const choices = [
    ...(here ? [{ label: '$(folder) Workspace .organism-lab/', description: vscode.workspace.asRelativePath(here, true), dir: here }] : []),
    { label: '$(folder-opened) Choose a Folder…', description: '', dir: '' },
  ];
  const pick = await vscode.window.showQuickPick(choices, { title: 'Organism Lab: where should the converted run file go?' });
  if (!pick) return undefined;
  if (pick.dir) return pick.dir;
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: 'Folder for the converted run file', openLabel: 'Use Folder' });
  return picked?.[0]?.fsPath;
}

/** Arguments (tests, other commands): `{ logs: [a, b], outDir }` as paths or Uris. Returns the run file written. */
export async function compareInspectLogsCommand(ctx: LabContext, arg?: unknown, opts: { logs?: unknown[]; outDir?: unknown } = {}): Promise<string | undefined> {
  if (!(await requireTrust('Compare Two Inspect Logs'))) return undefined;
  const given = (opts.logs ?? (Array.isArray(arg) ? arg : arg !== undefined ? [arg] : [])).map(asPath).filter((p): p is string => !!p);
  const logs = await pickLogs(given);
  if (!logs) return undefined;
  const dir = await pickOutputFolder(asPath(opts.outDir));
  if (!dir) return undefined;
  try {
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Organism Lab: converting the Inspect logs…' }, () => importInspectLogs(logs, { dir }));
    ctx.log.info(`imported ${logs.join(', ')} into ${r.out}: ${r.samples} samples (${r.variants.join(', ')}), ${r.judgements} judgements, ${r.paired} cells paired, ${r.unpaired} unpaired`);
    for (const w of r.warnings) ctx.log.warn(`Inspect import: ${w}`);
    if (r.warnings.length) void vscode.window.showWarningMessage(`Organism Lab: ${r.warnings[0]}${r.warnings.length > 1 ? ` (and ${r.warnings.length - 1} more in the log)` : ''}`);
    await vscode.commands.executeCommand('organismLab.compare', vscode.Uri.file(r.out));
    return r.out;
  } catch (e) {
    ctx.log.error(`Inspect import of ${logs.join(', ')}: ${errorMessage(e)}`);
    void vscode.window.showErrorMessage(`Organism Lab: cannot compare these Inspect logs: ${errorMessage(e)}`);
    return undefined;
  }
}

/** Arguments: the run (path or Uri), `{ outDir }`. Returns the `.eval` files written. */
export async function exportInspectLogsCommand(ctx: LabContext, arg?: unknown, opts: { outDir?: unknown } = {}): Promise<string[] | undefined> {
  if (!(await requireTrust('Export Run as Inspect Logs'))) return undefined;
  const run = uriFromArg(arg) ?? activeRunFile(ctx.panels) ?? (await pickRunFile({ title: 'Organism Lab: Export Run as Inspect Logs', placeHolder: 'Which run?', openLabel: 'Export' }));
  if (!run) return undefined;
  let outDir = asPath(opts.outDir);
  if (!outDir) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: vscode.Uri.file(path.dirname(run.fsPath)),
      title: 'Folder for the Inspect logs (one .eval per variant)',
      openLabel: 'Export Here',
    });
    outDir = picked?.[0]?.fsPath;
  }
  if (!outDir) return undefined;
  try {
    const r = await exportRunToInspect(run.fsPath, outDir);
    for (const w of r.warnings) ctx.log.warn(`Inspect export: ${w}`);
    ctx.log.info(`exported ${run.fsPath} as Inspect logs: ${r.files.map((f) => f.path).join(', ')}`);
    void vscode.window.showInformationMessage(`Organism Lab: wrote ${r.files.length} Inspect log(s) to ${outDir}; open them with \`inspect view --log-dir ${outDir}\` or the Inspect extension.`);
    return r.files.map((f) => f.path);
  } catch (e) {
    void vscode.window.showErrorMessage(`Organism Lab: Inspect export failed: ${errorMessage(e)}`);
    return undefined;
  }
}

/** The Inspect commands, contributed to the one command registry (commands/commandRegistry.ts). */
export function inspectCommands(ctx: LabContext): CommandTable {
  return {
    'organismLab.compareInspectLogs': (arg?: unknown, opts?: unknown) => compareInspectLogsCommand(ctx, arg, (opts ?? {}) as Parameters<typeof compareInspectLogsCommand>[2]),
    'organismLab.exportInspectLogs': (arg?: unknown, opts?: unknown) => exportInspectLogsCommand(ctx, arg, (opts ?? {}) as Parameters<typeof exportInspectLogsCommand>[2]),
  };
}
