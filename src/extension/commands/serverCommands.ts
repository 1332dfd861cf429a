/** The generation server's API key (organismLab.backend "openai"): kept in SecretStorage, like the judge's. */
import * as vscode from 'vscode';
import type { LabContext } from '../context';

export const SERVER_API_KEY_SECRET = 'organismLab.server.apiKey';

/** Stores (or, given an empty value, removes) the generation server API key in SecretStorage. */
export async function setServerApiKeyCommand(ctx: LabContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'Organism Lab: API key for the generation server (organismLab.server.baseUrl)',
    prompt: 'Kept in VS Code SecretStorage; never written to settings, logs or run files. Leave empty to remove the stored key.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key.trim() === '') {
    await ctx.extension.secrets.delete(SERVER_API_KEY_SECRET);
    void vscode.window.setStatusBarMessage('Organism Lab: generation server API key removed', 4000);
  } else {
    await ctx.extension.secrets.store(SERVER_API_KEY_SECRET, key.trim());
    void vscode.window.setStatusBarMessage('Organism Lab: generation server API key stored', 4000);
  }
}
