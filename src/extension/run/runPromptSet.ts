/**
 * Running a prompt set (whole file or chosen questions) in the engine host: checks trust and the prompt set,
 * makes sure a model is loaded, picks variants, shows a cancellable progress notification (cancel → JSON-RPC
 * cancellation; finished samples stay in the run file), then offers Compare.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { defaultRunPath } from '../../engine/backends/workspaceDiscovery';
import { parsePromptSet } from '../../engine/prompts/promptSet';
import type { VariantSpec } from '../../engine/runs/schema';
import type { RemoteGenerationServer, RunPromptSetResult } from '../../protocol/engineHost';
import { runSettings, serverSettings } from '../config';
import { apiKeyForRequest, settingSource } from '../commands/apiKeys';
import type { LabContext } from '../context';
import { requireTrust } from '../trust/trust';
import { errorMessage, showCommandError } from './args';

export interface RunOptions {
  /** Run only these questions. */
  questionIds?: string[];
  /** 'all' = base + every loaded adapter; 'base' = base only; names = those variants; undefined = ask when adapters are loaded. */
  variants?: 'all' | 'base' | string[];
  /** Run file to write (default: runs/<prompt set>-<timestamp>.run.jsonl next to the prompt set). */
  out?: string;
  samples?: number;
  maxNewTokens?: number;
  /** No notifications that wait for a click (tests, automation). */
  quiet?: boolean;
}

function variantsFor(names: string[]): VariantSpec[] {
  return names.map((n) => (n === 'base' ? { name: 'base', adapter: null } : { name: n, adapter: n, adapter_scale: 1 }));
}

async function chooseVariants(adapters: string[], wanted: RunOptions['variants']): Promise<VariantSpec[] | undefined> {
  if (wanted === 'base') return variantsFor(['base']);
  if (wanted === 'all') return variantsFor(['base', ...adapters]);
  if (Array.isArray(wanted)) return variantsFor(wanted);
  if (adapters.length === 0) return variantsFor(['base']);
  const picks = await vscode.window.showQuickPick(
    ['base', ...adapters].map((n) => ({ label: n, description: n === 'base' ? 'no adapter' : 'adapter at scale 1', picked: true })),
    { canPickMany: true, title: 'Organism Lab: variants to run', placeHolder: 'Base and adapted rows of a sample share one random stream' },
  );
  if (!picks || picks.length === 0) return undefined;
  return variantsFor(picks.map((p) => p.label));
}

/** Loads a model if none is loaded (the previous one, the default one, or one the user picks). */
export async function ensureModelLoaded(ctx: LabContext, quiet = false): Promise<boolean> {
  if (await ctx.engine.ensureModel()) return true;
  if (quiet) throw new Error('No model is loaded and organismLab.defaultModel is not set.');
  const choice = await vscode.window.showInformationMessage('Organism Lab: no model is loaded. Load one first.', 'Load Model…');
  if (choice !== 'Load Model…') return false;
  await vscode.commands.executeCommand('organismLab.loadModel');
  return ctx.engine.state.model !== null;
}

export async function runPromptSetFile(ctx: LabContext, file: vscode.Uri, options: RunOptions = {}): Promise<RunPromptSetResult | undefined> {
  if (!(await requireTrust('Run Prompt Set'))) return undefined;
  const name = path.basename(file.fsPath);
  // Unsaved edits would not be what the engine host reads.
  const open = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file.fsPath);
  if (open?.isDirty) await open.save();
  const set = parsePromptSet(file.fsPath);
  const errors = set.problems.filter((p) => p.severity === 'error');
  if (errors.length) {
    const first = errors[0];
    const msg = `Organism Lab: ${name} has ${errors.length} error(s); fix them before running (first: line ${first.line}: ${first.message}).`;
    if (options.quiet) throw new Error(msg);
    const choice = await vscode.window.showErrorMessage(msg, 'Show Problems');
    if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
    return undefined;
  }
  let server: RemoteGenerationServer | undefined;
  if (serverSettings().backend === 'openai') {
    try {
      server = await generationServer(ctx);
      if (!server) return undefined; // the API-key prompt was cancelled
    } catch (err) {
      if (options.quiet) throw err;
      void vscode.window.showErrorMessage(`Organism Lab: ${errorMessage(err)}`, 'Open Settings').then((c) => c && vscode.commands.executeCommand('workbench.action.openSettings', 'organismLab.server'));
      return undefined;
    }
  }
  if (!server && !(await ensureModelLoaded(ctx, options.quiet))) return undefined;
  const adapterNames = server ? server.adapters.map((a) => a.name) : ctx.engine.state.adapters.map((a) => a.name);
  const variants = await chooseVariants(adapterNames, options.variants);
  if (!variants) return undefined;
  const settings = runSettings();
  const out = options.out ?? defaultRunPath(file.fsPath);
  const request = {
    promptSetPath: file.fsPath,
    variants,
    samples: options.samples ?? settings.samples,
    sampling: { ...settings.sampling, max_new_tokens: options.maxNewTokens ?? settings.sampling.max_new_tokens },
    seed: settings.seed,
    out,
    questionIds: options.questionIds,
    batchSize: settings.batchSize,
    ...(server ? { server } : {}),
  };
  const what = options.questionIds?.length === 1 ? `question "${options.questionIds[0]}"` : name;
  ctx.log.info(`run ${what}: variants ${variants.map((v) => v.name).join(', ')}${server ? ` on ${server.servedModel} @ ${server.baseUrl}` : ''} → ${out}`);
  let result: RunPromptSetResult;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Organism Lab: running ${what}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        let last = 0;
        return ctx.engine.runPromptSet(
          request,
          (p) => {
            const pct = p.total > 0 ? (100 * p.done) / p.total : 0;
            progress.report({ increment: pct - last, message: `${p.done}/${p.total} samples${p.questionId ? ` · ${p.questionId}` : ''}${p.variant ? ` · ${p.variant}` : ''}` });
            last = pct;
          },
          abort.signal,
        );
      },
    );
  } catch (err) {
    ctx.log.error(`run ${what} failed: ${errorMessage(err)}`);
    if (options.quiet) throw err;
    void showCommandError(`Organism Lab: running ${what} failed`, err, 'Show Log').then((c) => c && ctx.log.show());
    return undefined;
  }
  const secs = (result.elapsedMs / 1000).toFixed(1);
  ctx.log.info(`run ${what}: ${result.written} samples written (${result.total} in the file when complete) in ${secs}s${result.cancelled ? ', cancelled' : ''}`);
  for (const w of result.warnings) ctx.log.warn(w);
  ctx.refreshViews();
  if (!options.quiet) {
    const text = result.cancelled
      ? `Organism Lab: run cancelled after ${result.written} samples; they are in ${path.basename(result.out)}.`
      : `Organism Lab: ${result.written} samples written to ${path.basename(result.out)} in ${secs}s.`;
    void vscode.window.showInformationMessage(text, 'Open Compare', 'Open Run File').then((choice) => {
      if (choice === 'Open Compare') void vscode.commands.executeCommand('organismLab.compare', vscode.Uri.file(result.out));
      if (choice === 'Open Run File') void vscode.commands.executeCommand('organismLab.openRun', vscode.Uri.file(result.out));
    });
  }
  return result;
}

/**
 * organismLab.backend "openai": the server from organismLab.server.* and the key stored for its origin (asked for
 * when there is none; undefined when that prompt is cancelled). Throws when a required setting is missing (the
 * message names it and how to set it); the engine host checks the rest.
 */
async function generationServer(ctx: LabContext): Promise<RemoteGenerationServer | undefined> {
  const s = serverSettings();
  const how = 'Set it in Settings (search "organismLab.server"), or set organismLab.backend to "local" to run the loaded model.';
  if (!s.baseUrl) throw new Error(`organismLab.backend is "openai" but organismLab.server.baseUrl is empty: give the server's API root, e.g. http://localhost:8000/v1. ${how}`);
  if (!s.model) throw new Error(`organismLab.backend is "openai" but organismLab.server.model is empty: give the base model's served name (vLLM --served-model-name). ${how}`);
  const key = await apiKeyForRequest(ctx, 'server', s.baseUrl, settingSource('organismLab.server.baseUrl'));
  if (!key) return undefined;
  const { apiKey } = key;
  return {
    baseUrl: s.baseUrl,
    servedModel: s.model,
    adapters: Object.entries(s.adapters).map(([name, servedModel]) => ({ name, servedModel })),
    ...(apiKey ? { apiKey } : {}),
    concurrency: s.concurrency,
  };
}
