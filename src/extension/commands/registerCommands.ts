/**
 * Organism Lab's commands: the core ones are defined here; the serve commands (serveCommands.ts) and the panel
 * commands (compare, openRunReport, openActivations, saeDiff, inspectCheckpoint: contributed by panels/*, through
 * activatePanels) and the prompt-set review's (reviewPromptSet) join them, and activateCommands registers them all at
 * once (commandRegistry.ts). There are no
 * stand-ins for panel commands: a panel that fails to register is an error, and fails the extension test suite.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { LoadedAdapterInfo, LoadedModelInfo, SmokeTestResult } from '../../protocol/engineJobs';
import { isPromptSetDocument } from '../codelens/promptSetDocuments';
import type { LabContext } from '../context';
import { errorMessage, showCommandError, uriFromArg } from '../run/args';
import { ensureModelLoaded, runPromptSetFile, RunOptions } from '../run/runPromptSet';
import { requireTrust } from '../trust/trust';
import { exportRunCommand, judgeRunCommand } from './runDataCommands';
import { compareTwoRunsCommand, diffRunsCommand, exportReviewReportCommand } from './reviewCommands';
import { setJudgeApiKeyCommand, setServerApiKeyCommand } from './apiKeys';
import { registerCommandTables, type CommandTable } from './commandRegistry';
import { pickFolder, pickPromptSet, pickRunFile } from './pickers';
import { weightsCacheCommand } from './weightsCacheCommand';
import { serveCommands } from './serveCommands';
import { inspectCommands } from './inspectCommands';

async function withBusy<T>(title: string, fn: () => Promise<T>): Promise<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, fn);
}

async function loadModel(ctx: LabContext, arg?: unknown): Promise<LoadedModelInfo | undefined> {
  if (!(await requireTrust('Load Model'))) return undefined;
  const uri = uriFromArg(arg) ?? (await pickFolder('model', 'Organism Lab: load which model?'));
  if (!uri) return undefined;
  try {
    // Cancellable: a first load at int8/int4 quantizes the checkpoint into the cache folder (progress in MB read).
    const info = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Organism Lab: loading ${path.basename(uri.fsPath)}`, cancellable: true },
      async (progress, cancel) => {
        const ac = new AbortController();
        cancel.onCancellationRequested(() => ac.abort());
        let last = 0;
        return ctx.engine.loadModel(
          uri.fsPath,
          (p) => {
            if (!p.total) return;
            const pct = (100 * p.done) / p.total;
            progress.report({ message: `${p.message ?? 'quantizing'} (${Math.floor(pct)}%, ${p.done}/${p.total} MB)`, increment: pct - last });
            last = pct;
          },
          ac.signal,
        );
      },
    );
    ctx.log.info(`loaded model ${info.dir} (${info.modelType}, ${info.numLayers} layers${info.weights ? `, weights ${info.weights}` : ''}) in ${info.loadMs} ms${info.weightsReason ? `; ${info.weightsReason}` : ''}`);
    void vscode.window.setStatusBarMessage(`Organism Lab: loaded ${path.basename(info.dir)} (${info.modelType}) in ${(info.loadMs / 1000).toFixed(1)}s`, 5000);
    return info;
  } catch (err) {
    if (/quantization cancelled|cancel/i.test(errorMessage(err))) {
      // the user stopped a first-load quantization: nothing was written to the cache, the previous model stays
      ctx.log.info(`load model ${uri.fsPath}: cancelled (${errorMessage(err)})`);
      void vscode.window.setStatusBarMessage('Organism Lab: loading cancelled; nothing was cached', 5000);
      return undefined;
    }
    ctx.log.error(`load model ${uri.fsPath}: ${errorMessage(err)}`);
    void showCommandError(`Organism Lab: could not load ${uri.fsPath}`, err);
    return undefined;
  }
}

async function loadAdapter(ctx: LabContext, arg?: unknown): Promise<LoadedAdapterInfo | undefined> {
  if (!(await requireTrust('Load Adapter'))) return undefined;
  if (!(await ensureModelLoaded(ctx))) return undefined;
  const uri = uriFromArg(arg) ?? (await pickFolder('adapter', 'Organism Lab: load which adapter?'));
  if (!uri) return undefined;
  try {
    // checkpoint-N of a training run: name it after the run, so several steps can be loaded side by side.
    const step = /^checkpoint-(\d+)$/.exec(path.basename(uri.fsPath));
    const name = step ? `${path.basename(path.dirname(uri.fsPath)).replace(/[^A-Za-z0-9_.+-]/g, '_')}-step${step[1]}` : undefined;
    const info = await withBusy(`Organism Lab: loading adapter ${name ?? path.basename(uri.fsPath)}…`, () => ctx.engine.loadAdapter(uri.fsPath, name));
    ctx.log.info(`loaded adapter ${info.name} from ${info.dir} (r=${info.rank}, alpha=${info.alpha}, targets ${info.targetModules.join(', ')})`);
    void vscode.window.setStatusBarMessage(`Organism Lab: adapter ${info.name} loaded`, 5000);
    return info;
  } catch (err) {
    ctx.log.error(`load adapter ${uri.fsPath}: ${errorMessage(err)}`);
    void showCommandError(`Organism Lab: could not load adapter ${uri.fsPath}`, err);
    return undefined;
  }
}

async function unloadAdapter(ctx: LabContext, arg?: unknown): Promise<void> {
  const name = typeof arg === 'string' ? arg : (arg as { adapterName?: string } | undefined)?.adapterName;
  const pick = name ?? (await vscode.window.showQuickPick(ctx.engine.state.adapters.map((a) => a.name), { title: 'Unload which adapter?' }));
  if (!pick) return;
  try {
    await ctx.engine.unloadAdapter(pick);
  } catch (err) {
    void showCommandError('Organism Lab', err);
  }
}

function promptSetFromEditor(): vscode.Uri | undefined {
  const doc = vscode.window.activeTextEditor?.document;
  return doc && isPromptSetDocument(doc) ? doc.uri : undefined;
}

async function runPromptSetCommand(ctx: LabContext, arg?: unknown, options?: RunOptions) {
  const given = uriFromArg(arg);
  const fromEditor = given ? undefined : promptSetFromEditor();
  const uri = given ?? fromEditor ?? (await pickPromptSet());
  if (!uri) return undefined;
  // From the palette with a prompt set in the active editor: say which file runs (the variant picker names it too).
  if (fromEditor) {
    ctx.log.info(`Run Prompt Set: the active editor's prompt set ${uri.fsPath}`);
    void vscode.window.setStatusBarMessage(`Organism Lab: Run Prompt Set uses the active editor's ${path.basename(uri.fsPath)}`, 8000);
  }
  return runPromptSetFile(ctx, uri, options);
}

async function runQuestion(ctx: LabContext, withAdapter: boolean, arg?: unknown, questionId?: unknown, options?: RunOptions) {
  const uri = uriFromArg(arg) ?? promptSetFromEditor();
  if (!uri || typeof questionId !== 'string') {
    void vscode.window.showErrorMessage('Organism Lab: run a single question from the CodeLens above it in a prompt-set file.');
    return undefined;
  }
  if (withAdapter) {
    if (!(await requireTrust('Run Question'))) return undefined;
    if (!(await ensureModelLoaded(ctx, options?.quiet))) return undefined;
    if (ctx.engine.state.adapters.length === 0) {
      const choice = options?.quiet ? undefined : await vscode.window.showInformationMessage('Organism Lab: no adapter is loaded, so only the base model would run.', 'Load Adapter…', 'Run Base Only');
      if (choice === 'Load Adapter…') {
        if (!(await loadAdapter(ctx))) return undefined;
      } else if (choice !== 'Run Base Only' && !options?.quiet) return undefined;
    }
  }
  return runPromptSetFile(ctx, uri, { variants: withAdapter ? 'all' : 'base', ...options, questionIds: [questionId] });
}

function formatSmoke(r: SmokeTestResult, model: string): string {
  const lines = [`Organism Lab smoke test — ${model}`, `prompt: ${r.prompt}`, `greedy, ${(r.elapsedMs / 1000).toFixed(2)}s`, ''];
  for (const row of r.rows) {
    const div = row.divergenceIndex === undefined ? '' : row.divergenceIndex === null ? ' · identical to base' : ` · diverges from base at token ${row.divergenceIndex}`;
    lines.push(`── ${row.variant} (${row.tokens} tokens, ${row.finishReason}${div})`, row.completion, '');
  }
  return lines.join('\n');
}

async function smokeTest(ctx: LabContext, options?: { quiet?: boolean; maxNewTokens?: number }): Promise<SmokeTestResult | undefined> {
  if (!(await requireTrust('Smoke Test'))) return undefined;
  if (!(await ensureModelLoaded(ctx, options?.quiet))) return undefined;
  try {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Organism Lab: smoke test', cancellable: true }, (_p, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return ctx.engine.smokeTest({ maxNewTokens: options?.maxNewTokens }, abort.signal);
    });
    const text = formatSmoke(result, ctx.engine.state.model?.dir ?? '');
    ctx.log.info(text);
    // Model output is untrusted: shown as plain text, never rendered.
    if (!options?.quiet) await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' }), { preview: true });
    return result;
  } catch (err) {
    if (options?.quiet) throw err;
    void showCommandError('Organism Lab: smoke test failed', err);
    return undefined;
  }
}

async function openRun(arg?: unknown): Promise<void> {
  const uri = uriFromArg(arg) ?? (await pickRunFile({ title: 'Organism Lab: open which run?', openLabel: 'Open' }));
  if (!uri) return;
  try {
    await vscode.commands.executeCommand('vscode.openWith', uri, 'organismLab.runFile');
  } catch {
    await vscode.commands.executeCommand('vscode.open', uri);
  }
}

async function showActions(ctx: LabContext): Promise<void> {
  const s = ctx.engine.state;
  const actions: { label: string; command: string; description?: string }[] = [
    { label: '$(database) Load Model…', command: 'organismLab.loadModel', description: s.model ? `loaded: ${path.basename(s.model.dir)}` : undefined },
    { label: '$(layers) Load Adapter…', command: 'organismLab.loadAdapter', description: s.adapters.map((a) => a.name).join(', ') || undefined },
    { label: '$(play) Run Prompt Set…', command: 'organismLab.runPromptSet' },
    { label: '$(beaker) Smoke Test', command: 'organismLab.smokeTest' },
    { label: '$(split-horizontal) Compare a Run…', command: 'organismLab.compare' },
    ...(s.job ? [{ label: '$(debug-stop) Stop Running Job', command: 'organismLab.stop', description: `${s.job.done}/${s.job.total}` }] : []),
    { label: '$(debug-restart) Restart Engine Host', command: 'organismLab.restartEngine' },
    { label: '$(output) Show Log', command: 'organismLab.showLog' },
  ];
  const pick = await vscode.window.showQuickPick(actions, { title: 'Organism Lab' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}

/** Registers the core commands, the serve and inspect commands and `contributed` (the panels' and the prompt-set review's), once each. */
export function activateCommands(ctx: LabContext, contributed: readonly CommandTable[]): void {
  const core: CommandTable = {
    'organismLab.loadModel': (arg) => loadModel(ctx, arg),
    'organismLab.loadAdapter': (arg) => loadAdapter(ctx, arg),
    'organismLab.unloadAdapter': (arg) => unloadAdapter(ctx, arg),
    'organismLab.runPromptSet': (arg, options) => runPromptSetCommand(ctx, arg, options as RunOptions | undefined),
    'organismLab.runQuestion': (arg, id, options) => runQuestion(ctx, false, arg, id, options as RunOptions | undefined),
    'organismLab.runQuestionWithAdapter': (arg, id, options) => runQuestion(ctx, true, arg, id, options as RunOptions | undefined),
    'organismLab.smokeTest': (options) => smokeTest(ctx, options as { quiet?: boolean } | undefined),
    'organismLab.openRun': (arg) => openRun(arg),
    'organismLab.exportRun': (arg, options) => exportRunCommand(ctx, arg, (options ?? {}) as Parameters<typeof exportRunCommand>[2]),
    'organismLab.diffRuns': (arg, options) => diffRunsCommand(ctx, arg, (options ?? {}) as Parameters<typeof diffRunsCommand>[2]),
    'organismLab.compareTwoRuns': (arg, options) => compareTwoRunsCommand(ctx, arg, (options ?? {}) as Parameters<typeof compareTwoRunsCommand>[2]),
    'organismLab.exportReviewReport': (arg, options) => exportReviewReportCommand(ctx, arg, (options ?? {}) as Parameters<typeof exportReviewReportCommand>[2]),
    'organismLab.judgeRun': (arg, options) => judgeRunCommand(ctx, arg, (options ?? {}) as Parameters<typeof judgeRunCommand>[2]),
    'organismLab.setJudgeApiKey': () => setJudgeApiKeyCommand(ctx),
    'organismLab.setServerApiKey': () => setServerApiKeyCommand(ctx),
    'organismLab.weightsCache': (options) => weightsCacheCommand(ctx, options as { clear?: boolean } | undefined),
    'organismLab.stop': () => {
      if (!ctx.engine.stopJob()) void vscode.window.setStatusBarMessage('Organism Lab: nothing is running', 3000);
    },
    'organismLab.restartEngine': () =>
      withBusy('Organism Lab: restarting the engine host…', () => ctx.engine.restart()).catch((err) => void showCommandError('Organism Lab: restart failed', err)),
    'organismLab.showActions': () => showActions(ctx),
    'organismLab.showLog': () => ctx.log.show(),
    'organismLab.refreshViews': () => ctx.refreshViews(),
  };
  registerCommandTables(ctx.extension.subscriptions, [core, serveCommands(ctx), inspectCommands(ctx), ...contributed]);
}
