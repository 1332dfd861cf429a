/**
 * Running a prompt set (whole file or chosen questions) in the engine host: checks trust and the prompt set,
 * makes sure a model is loaded, offers to resume the prompt set's latest incomplete run (same questions, conditions,
 * model and adapters), else picks variants (a set with prompt conditions runs under all of them unless told), shows a cancellable progress notification (cancel → JSON-RPC
 * cancellation; finished samples stay in the run file), then offers Compare and the Run Report.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { defaultRunPath } from '../../engine/backends/workspaceDiscovery';
import { parseVariants } from '../../engine/jobs/variants';
import { parsePromptSet } from '../../engine/prompts/promptSet';
import { selectConditions } from '../../engine/prompts/conditions';
import { completenessText } from '../../engine/runs/completeness';
import { findResumableRun, runFileCompleteness, type ResumableRun } from '../../engine/runs/resumeCandidates';
import type { RunHeader, VariantSpec } from '../../engine/runs/schema';
import type { RemoteGenerationServer, RunPromptSetResult } from '../../protocol/engineJobs';
import { runSettings, serverSettings } from '../config';
import { apiKeyForRequest, settingSource } from '../commands/apiKeys';
import type { LabContext } from '../context';
import { requireTrust } from '../trust/trust';
import { errorMessage, showCommandError } from './args';
import { adapterFolderName, serveAdapterFolders } from './serverLoraOffer';

export interface RunOptions {
  /** Run only these questions. */
  questionIds?: string[];
  /** 'all' = base + every loaded adapter; 'base' = base only; names = those variants (adapter names, or steering/ablation items as on the CLI: steer-sae:DIR#F@L*A, …); undefined = ask when adapters are loaded. */
  variants?: 'all' | 'base' | string[];
  /** A prompt set with conditions: 'all' (the default) or these condition names. */
  conditions?: 'all' | string[];
  /** Run file to write (default: runs/<prompt set>-<timestamp>.run.jsonl next to the prompt set). */
  out?: string;
  samples?: number;
  maxNewTokens?: number;
  /** No notifications that wait for a click (tests, automation). */
  quiet?: boolean;
  /**
   * An incomplete earlier run of the same prompt set (and questions, model, adapters): 'ask' (the default unless
   * quiet) offers to resume it or start fresh; 'latest' resumes it without asking; 'new' (the default when quiet)
   * starts a new run file. Ignored when `out` is given.
   */
  resume?: 'ask' | 'latest' | 'new';
  /** Remote runs: adapter folders to run as variants (named after the folder, served under that name). */
  adapterFolders?: string[];
  /**
   * Remote runs: an adapter folder the server does not list: 'ask' (the default unless quiet) offers to load it
   * on the server; 'load' loads it without asking; 'never' (the default when quiet) fails the run.
   */
  loadOnServer?: 'ask' | 'load' | 'never';
}

const PICK_FOLDER = '$(folder-opened) Adapter folder…';

function variantsFor(names: string[], adapters: string[] = []): VariantSpec[] {
  const directional = /(^|[+=])(steer|ablate|meanablate|steer-sae|ablate-sae):/;
  return names.map((n) => (n === 'base' ? { name: 'base', adapter: null } : directional.test(n) ? parseVariants(n, adapters)[0] : { name: n, adapter: n, adapter_scale: 1 }));
}

/**
 * The variants to run, and (remote runs, `offerFolders`) adapter folders picked in the same list ("Adapter
 * folder…" opens a folder dialog); undefined when cancelled.
 */
async function chooseVariants(adapters: string[], wanted: RunOptions['variants'], fileName: string, offerFolders = false): Promise<{ variants: VariantSpec[]; folders: string[] } | undefined> {
  const only = (variants: VariantSpec[]) => ({ variants, folders: [] });
  if (wanted === 'base') return only(variantsFor(['base']));
  if (wanted === 'all') return only(variantsFor(['base', ...adapters]));
  if (Array.isArray(wanted)) return only(variantsFor(wanted, adapters));
  if (adapters.length === 0 && !offerFolders) return only(variantsFor(['base']));
  const picks = await vscode.window.showQuickPick(
    [
      ...['base', ...adapters].map((n) => ({ label: n, description: n === 'base' ? 'no adapter' : 'adapter at scale 1', picked: true })),
      ...(offerFolders ? [{ label: PICK_FOLDER, description: 'a LoRA adapter folder; loaded on the server if it does not serve it', picked: false }] : []),
    ],
    { canPickMany: true, title: `Organism Lab: run ${fileName} — variants`, placeHolder: `Variants to run ${fileName} with (base and adapted rows of a sample share one random stream)` },
  );
  if (!picks || picks.length === 0) return undefined;
  let folders: string[] = [];
  if (picks.some((p) => p.label === PICK_FOLDER)) {
    const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: true, title: 'Organism Lab: LoRA adapter folders to run on the generation server', openLabel: 'Run These Adapters' });
    if (!uris?.length) return undefined;
    folders = uris.map((u) => u.fsPath);
  }
  return { variants: variantsFor(picks.filter((p) => p.label !== PICK_FOLDER).map((p) => p.label)), folders };
}

/** Serves the adapter folders on the server (./serverLoraOffer) and appends their variants; undefined when declined or failed (reported unless quiet). */
async function withAdapterFolders(ctx: LabContext, server: RemoteGenerationServer, variants: VariantSpec[], folders: string[], options: RunOptions): Promise<{ server: RemoteGenerationServer; variants: VariantSpec[] } | undefined> {
  if (folders.length === 0) return { server, variants };
  let served: RemoteGenerationServer | undefined;
  try {
    served = await serveAdapterFolders(ctx, server, folders, options.loadOnServer ?? (options.quiet ? 'never' : 'ask'));
  } catch (err) {
    ctx.log.error(`adapter folders on ${server.baseUrl}: ${errorMessage(err)}`);
    if (options.quiet) throw err;
    void showCommandError('Organism Lab: the generation server cannot run the adapter folder', err, 'Open Settings').then((c) => c && vscode.commands.executeCommand('workbench.action.openSettings', 'organismLab.server'));
    return undefined;
  }
  if (!served) return undefined;
  const names = new Set(variants.map((v) => v.name));
  const added = folders.map(adapterFolderName).filter((n) => !names.has(n));
  return { server: served, variants: [...variants, ...variantsFor(added)] };
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
  let conditions: string[] | undefined;
  try {
    conditions = selectConditions(set.conditions, options.conditions === 'all' ? undefined : options.conditions, name)?.map((c) => c.name);
  } catch (err) {
    if (options.quiet) throw err;
    void vscode.window.showErrorMessage(`Organism Lab: ${errorMessage(err)}`);
    return undefined;
  }
  const sameConditions = (h: RunHeader) => JSON.stringify(h.conditions?.map((c) => c.name) ?? null) === JSON.stringify(conditions ?? null);
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
  const resumeMode = options.out ? 'new' : options.resume ?? (options.quiet ? 'new' : 'ask');
  let resume: ResumableRun | null = null;
  if (resumeMode !== 'new') {
    try {
      resume = findResumableRun(file.fsPath, { questionIds: options.questionIds, accept: (h) => sameOrganism(h, ctx, server) && sameConditions(h) });
    } catch (err) {
      ctx.log.warn(`looking for an incomplete run of ${name}: ${errorMessage(err)}`);
    }
    if (resume && resumeMode === 'ask') {
      const choice = await askResume(name, resume);
      if (choice === undefined) return undefined;
      if (choice === 'new') resume = null;
    }
  }
  const chosen = resume ? { variants: resume.header.variants, folders: [] } : await chooseVariants(adapterNames, options.variants, name, !!server && !options.quiet && options.variants === undefined);
  if (!chosen) return undefined;
  let variants = chosen.variants;
  const folders = resume ? [] : [...(options.adapterFolders ?? []), ...chosen.folders];
  if (server && folders.length) {
    const withFolders = await withAdapterFolders(ctx, server, variants, folders, options);
    if (!withFolders) return undefined;
    ({ server, variants } = withFolders);
  } else if (folders.length) {
    const msg = 'Adapter folders for a run are loaded on the generation server (organismLab.backend "openai"); with the local backend, load them with "Organism Lab: Load Adapter…".';
    if (options.quiet) throw new Error(msg);
    void vscode.window.showErrorMessage(`Organism Lab: ${msg}`);
    return undefined;
  }
  const settings = runSettings();
  const out = resume?.file ?? options.out ?? defaultRunPath(file.fsPath);
  // Resuming: the run's own settings (its header), so the missing samples are the ones it planned.
  const headerSamples = resume?.header.extra?.samples;
  const request = {
    promptSetPath: file.fsPath,
    variants,
    samples: resume ? (typeof headerSamples === 'number' ? headerSamples : null) : options.samples ?? settings.samples,
    sampling: resume ? resume.header.sampling : { ...settings.sampling, max_new_tokens: options.maxNewTokens ?? settings.sampling.max_new_tokens },
    seed: resume ? resume.header.seed : settings.seed,
    out,
    questionIds: options.questionIds,
    // Every declared condition unless a subset was asked for (a resumed run: the conditions in its header).
    ...(conditions && options.conditions !== undefined && options.conditions !== 'all' ? { conditions } : {}),
    batchSize: settings.batchSize,
    ...(server ? { server } : {}),
  };
  const what = options.questionIds?.length === 1 ? `question "${options.questionIds[0]}"` : name;
  ctx.log.info(`run ${what}: variants ${variants.map((v) => v.name).join(', ')}${conditions ? ` × conditions ${conditions.join(', ')}` : ''}${server ? ` on ${server.servedModel} @ ${server.baseUrl}` : ''} → ${out}${resume ? ` (resuming: ${completenessText(resume.completeness)})` : ''}`);
  let result: RunPromptSetResult;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Organism Lab: ${resume ? 'resuming' : 'running'} ${what}`, cancellable: true },
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
    let state = '';
    try {
      state = ` (${completenessText(runFileCompleteness(result.out))})`;
    } catch {
      /* the file is read again by Compare / the Report, which say what is wrong */
    }
    const text = result.cancelled
      ? `Organism Lab: run of ${what} cancelled after ${result.written} new samples; ${path.basename(result.out)} keeps them${state}. Run the prompt set again to resume it.`
      : `Organism Lab: run of ${what} finished: ${result.written} samples written to ${path.basename(result.out)} in ${secs}s${state}.`;
    void vscode.window.showInformationMessage(text, 'Open Compare', 'Open Report').then((choice) => {
      if (choice === 'Open Compare') void vscode.commands.executeCommand('organismLab.compare', vscode.Uri.file(result.out));
      if (choice === 'Open Report') void vscode.commands.executeCommand('organismLab.openRunReport', vscode.Uri.file(result.out));
    });
  }
  return result;
}

/** A run header made by the organism that would run now (local: same model and adapter folders; remote: same served names). */
function sameOrganism(h: RunHeader, ctx: LabContext, server: RemoteGenerationServer | undefined): boolean {
  const adapters = (list: { name: string; path: string }[]) => JSON.stringify(list.map((a) => [a.name, a.path]).sort());
  if (server) {
    return h.backend?.kind === 'openai' && h.model.path === server.servedModel && JSON.stringify(h.adapters.map((a) => a.name).sort()) === JSON.stringify(server.adapters.map((a) => a.name).sort());
  }
  const model = ctx.engine.state.model;
  if (!model || h.backend?.kind === 'openai') return false;
  return path.resolve(h.model.path) === path.resolve(model.dir) && adapters(h.adapters.map((a) => ({ name: a.name, path: path.resolve(a.path) }))) === adapters(ctx.engine.state.adapters.map((a) => ({ name: a.name, path: path.resolve(a.dir) })));
}

/** 'resume' / 'new', undefined when dismissed. */
async function askResume(fileName: string, r: ResumableRun): Promise<'resume' | 'new' | undefined> {
  const created = r.header.created_at ? new Date(r.header.created_at).toLocaleString() : '';
  const pick = await vscode.window.showQuickPick(
    [
      { label: `$(debug-continue) Resume ${path.basename(r.file)}`, description: completenessText(r.completeness), detail: `Generates only the missing samples, with that run's variants (${r.header.variants.map((v) => v.name).join(', ')}), sampling and seed${created ? `; started ${created}` : ''}.`, id: 'resume' as const },
      { label: '$(add) Start a new run', description: 'a new run file', detail: 'Pick variants; the settings in effect now.', id: 'new' as const },
    ],
    { title: `Organism Lab: ${fileName} has an incomplete run`, placeHolder: `Resume the incomplete run of ${fileName}, or start a new one?`, ignoreFocusOut: true },
  );
  return pick?.id;
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
