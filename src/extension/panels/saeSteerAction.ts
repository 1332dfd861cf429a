/**
 * "Steer with this feature…" in the Activations panel's SAE diff: asks the strength, copies the `steer-sae:` variant
 * (engine/sae/saeDirections) to the clipboard, and offers Run Prompt Set with base and that variant.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { saeVariantText } from '../../engine/sae/saeDirections';

/** Default strength: the demo organism's persona feature starts to show there (examples/README.md, SAE section). */
const DEFAULT_ALPHA = '32';

/** The SAE folder as the CLI would be given it from the workspace root (relative inside the workspace). */
function cliPath(dir: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir));
  return folder ? path.relative(folder.uri.fsPath, dir) || '.' : dir;
}

export async function steerWithSaeFeature(saeDir: string, feature: number, log: { info(m: string): void }): Promise<void> {
  const text = await vscode.window.showInputBox({
    title: `Organism Lab: steer with SAE feature #${feature}`,
    prompt: `α: the base model gets α × feature #${feature}'s decoder row (as stored, not normalized) added at the SAE's layer, at every position. Negative α steers away.`,
    value: DEFAULT_ALPHA,
    validateInput: (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? undefined : 'a number, e.g. 8 or -16'),
  });
  if (text === undefined) return;
  const alpha = Number(text);
  const forRun = saeVariantText(saeDir, feature, alpha);
  const forCli = saeVariantText(cliPath(saeDir), feature, alpha);
  await vscode.env.clipboard.writeText(forCli);
  log.info(`SAE steering variant copied: ${forCli}`);
  const choice = await vscode.window.showInformationMessage(
    `Copied the variant ${forCli} (use it with --variants base,…). Run a prompt set with base and this variant?`,
    'Run Prompt Set…',
  );
  if (choice === 'Run Prompt Set…') await vscode.commands.executeCommand('organismLab.runPromptSet', undefined, { variants: ['base', forRun] });
}
