/**
 * Registers every webview panel of Organism Lab with the one panel manager (ctx.panels: registry of open panels,
 * serializers, the "could not be restored" page): Compare, Run report, Activations and the Checkpoint inspector,
 * plus the read-only run-file custom editor. Returns the panels' commands for the command registry
 * (commands/registerCommands.ts registers them with every other command).
 */
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import type { CommandTable } from '../commands/commandRegistry';
import type { LabContext } from '../context';
import { registerActivationsPanel } from './activationsPanel';
import { registerComparePanel } from './comparePanels';
import { registerInspectorPanel } from './inspectorPanel';
import { registerReportPanel } from './report';
import { registerRunFileEditor } from './runFileEditor';

/**
 * A panel that fails to register is logged and reported (its commands are then missing), and the other panels and
 * features still activate; under the test runner (ORGANISM_LAB_TEST_HOOKS=1) the failure is thrown, so activation
 * and the extension suite fail.
 */
export function activatePanels(ctx: LabContext): CommandTable[] {
  const failures: Error[] = [];
  const tables: CommandTable[] = [];
  const register = (name: string, fn: () => CommandTable | void) => {
    try {
      const table = fn();
      if (table) tables.push(table);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      failures.push(err);
      ctx.log.error(`the ${name} panel failed to register: ${err.stack ?? err.message}`);
      void vscode.window.showErrorMessage(`Organism Lab: the ${name} panel failed to register (${err.message}); its commands are unavailable. See the Organism Lab log.`);
    }
  };
  register('Compare', () => registerComparePanel(ctx));
  register('run-file editor', () => void ctx.extension.subscriptions.push(registerRunFileEditor({ extensionUri: ctx.extension.extensionUri, log: ctx.log, engine: () => ctx.engine.client })));
  register('Run report', () => registerReportPanel(ctx));
  register('Activations', () => registerActivationsPanel(ctx));
  register('Checkpoint inspector', () => registerInspectorPanel(ctx));
  if (failures.length && testHooksEnabled()) throw new Error(`${failures.length} panel(s) failed to register: ${failures.map((f) => f.message).join('; ')}`);
  return tables;
}
