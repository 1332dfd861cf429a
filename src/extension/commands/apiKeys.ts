/** API keys kept in SecretStorage (the judge's and the generation server's): the shared "set key" prompt. */
import * as vscode from 'vscode';
import type { LabContext } from '../context';

export const SERVER_API_KEY_SECRET = 'organismLab.server.apiKey';

/** Asks for an API key and stores it under `secret` in SecretStorage; an empty value removes the stored key. */
export async function storeApiKeyFromInput(ctx: LabContext, secret: string, title: string, what: string): Promise<void> {
  const key = await vscode.window.showInputBox({
    title,
    prompt: 'Kept in VS Code SecretStorage; never written to settings, logs or run files. Leave empty to remove the stored key.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key.trim() === '') {
    await ctx.extension.secrets.delete(secret);
    void vscode.window.setStatusBarMessage(`Organism Lab: ${what} API key removed`, 4000);
  } else {
    await ctx.extension.secrets.store(secret, key.trim());
    void vscode.window.setStatusBarMessage(`Organism Lab: ${what} API key stored`, 4000);
  }
}

/** The generation server's API key (organismLab.backend "openai"). */
export function setServerApiKeyCommand(ctx: LabContext): Promise<void> {
  return storeApiKeyFromInput(ctx, SERVER_API_KEY_SECRET, 'Organism Lab: API key for the generation server (organismLab.server.baseUrl)', 'generation server');
}
