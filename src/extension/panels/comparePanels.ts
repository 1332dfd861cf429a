/**
 * Compare panels: one per run file (opening it again reveals it), restored after a reload by the panel manager
 * from the state the page saved with setState (same run, same filters) or the newer copy the host kept.
 *
 * registerComparePanel(ctx) registers the view type with the panel manager and returns organismLab.compare for
 * the command registry. Other features open Compare through that command:
 *   vscode.commands.executeCommand('organismLab.compare', runFileUri, { focusSampleId })
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isCompareViewState, type CompareViewState } from '../../protocol/compare';
import { VIEW_TYPES } from '../../protocol/webviews';
import type { CommandTable } from '../commands/commandRegistry';
import { activeRunFile, isRunFileOrSay, pickRunFile } from '../commands/pickers';
import type { LabContext } from '../context';
import { uriFromArg } from '../run/args';
import { CompareSession, webviewOptions, type PanelDeps } from './compareSession';
import { CompareViewStateStore, newerViewState } from './compareViewStates';

export const COMPARE_COMMAND = 'organismLab.compare';

export interface OpenCompareOptions {
  /** Focus this sample (SampleRow.id) once the run is shown. */
  focusSampleId?: string;
  viewColumn?: vscode.ViewColumn;
}

const PICK_LABELS = { title: 'Organism Lab: Compare', placeHolder: 'Pick a run file to compare', openLabel: 'Compare' };

export function registerComparePanel(ctx: LabContext): CommandTable {
  const viewStates = new CompareViewStateStore(ctx.extension.workspaceState);
  const sessionDeps: PanelDeps = { extensionUri: ctx.extension.extensionUri, log: ctx.log, viewStates, engine: () => ctx.engine.client };
  const compares = ctx.panels.register<CompareSession, CompareViewState>({
    viewType: VIEW_TYPES.compare,
    name: 'Compare',
    reopenWith: 'Organism Lab: Compare',
    // The newer of the page's saved state and the state the host kept in workspaceState (the page's copy can lag a few seconds).
    restorable: (serialized) => {
      const stored = isCompareViewState(serialized) ? viewStates.get(vscode.Uri.parse(serialized.runUri).toString()) : null;
      const state = newerViewState(serialized, stored);
      const source = state !== null && state === stored && state !== serialized ? 'the host-kept state (newer)' : 'the page state';
      ctx.log.info(`Compare: restoring a panel from ${source}: ${JSON.stringify(state)?.slice(0, 500)}`);
      return state && { key: vscode.Uri.parse(state.runUri).toString(), saved: state };
    },
    title: (key) => `Compare: ${path.basename(vscode.Uri.parse(key).path)}`,
    options: () => ({ ...webviewOptions(ctx.extension.extensionUri), enableFindWidget: true }),
    attach: (panel, key, saved) => new CompareSession(panel.webview, vscode.Uri.parse(key), sessionDeps, saved, 'panel'),
    runOf: (key) => vscode.Uri.parse(key),
  });

  /** Opens (or reveals) the Compare panel of a run file; a run opened again gets the filters it had last time. */
  const show = (runUri: vscode.Uri, options: OpenCompareOptions) => {
    const key = runUri.toString();
    const shown = compares.show(key, { viewColumn: options.viewColumn, saved: viewStates.get(key) ?? null });
    if (options.focusSampleId) shown.session.focusSample(options.focusSampleId);
  };

  return {
    [COMPARE_COMMAND]: async (arg?: unknown, options?: unknown) => {
      try {
        const uri = uriFromArg(arg) ?? (await pickRunFile(PICK_LABELS, activeRunFile(ctx.panels)));
        if (!uri || !isRunFileOrSay(uri, 'compare')) return;
        const focus = (options as OpenCompareOptions | undefined)?.focusSampleId;
        show(uri, { focusSampleId: typeof focus === 'string' ? focus : undefined });
      } catch (e) {
        ctx.log.error(`Compare: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open Compare: ${(e as Error).message}`);
      }
    },
  };
}
