/**
 * Workspace trust: in an untrusted workspace only viewing run files works. Everything that runs code or loads
 * files as models goes through `requireTrust`, which explains why and offers to manage trust.
 */
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import type { LabContext } from '../context';

export const MANAGE_TRUST = 'Manage Workspace Trust';

let override: boolean | undefined;

/**
 * Test hook: pretend the workspace is (un)trusted; undefined restores the real state. Exported by activate() only
 * under the test runner, and refused without ORGANISM_LAB_TEST_HOOKS=1 even if reached some other way.
 */
export function setTrustOverrideForTests(value: boolean | undefined): void {
  if (!testHooksEnabled()) throw new Error('setTrustOverrideForTests is a test hook (ORGANISM_LAB_TEST_HOOKS=1)');
  override = value;
}

export function isTrusted(): boolean {
  return override ?? vscode.workspace.isTrusted;
}

/**
 * True when the workspace is trusted; otherwise tells the user what needs trust (without waiting for them to
 * answer: the command ends at once) and returns false.
 */
export async function requireTrust(action: string): Promise<boolean> {
  if (isTrusted()) return true;
  void vscode.window
    .showWarningMessage(
      `Organism Lab: "${action}" needs a trusted workspace (it loads model files and runs them). In an untrusted workspace you can still open and read run files.`,
      MANAGE_TRUST,
    )
    .then((choice) => {
      if (choice === MANAGE_TRUST) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}

export function activateTrust(ctx: LabContext): void {
  const set = () => void vscode.commands.executeCommand('setContext', 'organismLab.trusted', vscode.workspace.isTrusted);
  set();
  ctx.extension.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      set();
      ctx.log.info('workspace trust granted: running features enabled');
    }),
  );
}
