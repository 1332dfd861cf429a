/**
 * "Steer with this feature…" in the Activations panel's SAE diff: asks the strength, copies the `steer-sae:` variant
 * (engine/sae/saeDirections) to the clipboard, and offers Run Prompt Set with base and that variant.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { testHooksEnabled } from '../../engine/host/testHooks';
import { saeVariantText } from '../../engine/sae/saeDirections';

/** Default strength: the demo organism's persona feature starts to show there (examples/README.md, SAE section). */
const DEFAULT_ALPHA = '32';
const RUN_PROMPT_SET = 'Run Prompt Set…';

/** How the action asks: the strength as typed (undefined: cancelled), and whether to run with the variant. */
export interface SaeSteerPrompts {
  alpha(feature: number): Thenable<string | undefined>;
  offerRun(message: string): Thenable<boolean>;
}

const vscodePrompts: SaeSteerPrompts = {
  alpha: (feature) =>
    vscode.window.showInputBox({
      title: `Organism Lab: steer with SAE feature #${feature}`,
      prompt: `α: the base model gets α × feature #${feature}'s decoder row (as stored, not normalized) added at the SAE's layer, at every position. Negative α steers away.`,
      value: DEFAULT_ALPHA,
      validateInput: (v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? undefined : 'a number, e.g. 8 or -16'),
    }),
  offerRun: (message) => vscode.window.showInformationMessage(message, RUN_PROMPT_SET).then((c) => c === RUN_PROMPT_SET),
};
let prompts = vscodePrompts;

/** Test hook (exported by activate() only with ORGANISM_LAB_TEST_HOOKS=1): answer the prompts; undefined restores the UI. */
export function setSaeSteerPromptsForTests(p: SaeSteerPrompts | undefined): void {
  if (!testHooksEnabled()) throw new Error('setSaeSteerPromptsForTests is a test hook (ORGANISM_LAB_TEST_HOOKS=1)');
  prompts = p ?? vscodePrompts;
}

/** The SAE folder as the CLI would be given it from the workspace root (relative inside the workspace). */
function cliPath(dir: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(dir));
  return folder ? path.relative(folder.uri.fsPath, dir) || '.' : dir;
}

export async function steerWithSaeFeature(saeDir: string, feature: number, log: { info(m: string): void }): Promise<void> {
  const text = await prompts.alpha(feature);
  if (text === undefined) return;
  const alpha = Number(text);
  if (text.trim() === '' || !Number.isFinite(alpha)) throw new Error(`the strength "${text}" is not a number`);
  const forRun = saeVariantText(saeDir, feature, alpha);
  const forCli = saeVariantText(cliPath(saeDir), feature, alpha);
  await vscode.env.clipboard.writeText(forCli);
  log.info(`SAE steering variant copied: ${forCli}`);
  const run = await prompts.offerRun(`Copied the variant ${forCli} (use it with --variants base,…). Run a prompt set with base and this variant?`);
  if (run) await vscode.commands.executeCommand('organismLab.runPromptSet', undefined, { variants: ['base', forRun] });
}
