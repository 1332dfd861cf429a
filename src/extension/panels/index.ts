/**
 * Registers every webview panel of Organism Lab: the Compare panel (+ its serializer), the
 * read-only run-file custom editor, the `organismLab.compare` command, and the Run report panel
 * (report.ts, with its own command and serializer).
 * Called once from extension.ts: activatePanels(context, { log }).
 *
 * Other features open Compare through the command:
 *   vscode.commands.executeCommand('organismLab.compare', runFileUri, { focusSampleId })
 */
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import { VIEW_TYPES } from '../../protocol/webviews';
import { ComparePanels, type OpenCompareOptions } from './comparePanels';
import { CompareViewStateStore } from './compareViewStates';
import { registerMechanismPanels } from './activationsPanel';
import { registerReportPanel } from './report';
import { registerRunFileEditor } from './runFileEditor';
import { activeRunFile, isRunFileOrSay, pickRunFile, registerActiveRunSource, runUriFromArgument } from './runFilePicker';

export const COMPARE_COMMAND = 'organismLab.compare';

/**
 * A panel that fails to register is logged and reported, and the other panels and features still activate; under
 * the test runner (ORGANISM_LAB_TEST_HOOKS=1) the failure is thrown, so activation and the extension suite fail.
 */
export function activatePanels(context: vscode.ExtensionContext, deps: { log: vscode.LogOutputChannel }): void {
  const failures: Error[] = [];
  const register = (name: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      failures.push(err);
      deps.log.error(`the ${name} panel failed to register: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Organism Lab: the ${name} panel failed to register (${err.message}); its commands are unavailable. See the Organism Lab log.`);
    }
  };
  let compare: ComparePanels | undefined;
  const compareRun = () => compare?.activeRunUri();
  register('Compare', () => (compare = registerCompare(context, deps)));
  context.subscriptions.push(registerActiveRunSource(compareRun));
  register('Run report', () => registerReportPanel(context, { log: deps.log, activeCompareRun: compareRun }));
  register('Activations and Checkpoint inspector', () => registerMechanismPanels(context, { log: deps.log, activeCompareRun: compareRun }));
  if (failures.length && testHooksEnabled()) throw new Error(`${failures.length} panel(s) failed to register: ${failures.map((f) => f.message).join('; ')}`);
}

/** The Compare panels, their serializer, the run-file editor and organismLab.compare. */
function registerCompare(context: vscode.ExtensionContext, deps: { log: vscode.LogOutputChannel }): ComparePanels {
  const panelDeps = { extensionUri: context.extensionUri, log: deps.log };
  const panels = new ComparePanels({ ...panelDeps, viewStates: new CompareViewStateStore(context.workspaceState) });
  context.subscriptions.push(
    panels,
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPES.compare, {
      deserializeWebviewPanel: async (panel, state) => panels.restore(panel, state),
    }),
    registerRunFileEditor(panelDeps),
    vscode.commands.registerCommand(COMPARE_COMMAND, async (arg?: unknown, options?: OpenCompareOptions) => {
      try {
        const uri = runUriFromArgument(arg) ?? (await pickRunFile(activeRunFile(), { title: 'Organism Lab: Compare', placeHolder: 'Pick a run file to compare', openLabel: 'Compare' }));
        if (!uri || !isRunFileOrSay(uri, 'compare')) return;
        panels.show(uri, { focusSampleId: typeof options?.focusSampleId === 'string' ? options.focusSampleId : undefined });
      } catch (e) {
        deps.log.error(`Compare: ${(e as Error).message}`);
        void vscode.window.showErrorMessage(`Organism Lab: could not open Compare: ${(e as Error).message}`);
      }
    }),
  );
  return panels;
}
