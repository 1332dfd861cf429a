/**
 * The one place that registers Organism Lab's commands with VS Code. Every feature contributes a CommandTable
 * (command id → handler): the core commands (registerCommands.ts), the serve and inspect commands, each webview
 * panel module (panels/*: Compare, Run report, Activations, Checkpoint inspector) and the prompt-set review
 * (review/promptSetReview.ts: organismLab.reviewPromptSet). activateCommands hands them all here once; an id
 * contributed twice is an error, not a silent override. No module calls vscode.commands.registerCommand itself.
 */
import * as vscode from 'vscode';

/** A command's handler: its arguments come from VS Code (menus, palette, other extensions, tests) untyped. */
export type CommandHandler = (...args: unknown[]) => unknown;
export type CommandTable = Readonly<Record<string, CommandHandler>>;

export function registerCommandTables(subscriptions: vscode.Disposable[], tables: readonly CommandTable[]): void {
  const seen = new Set<string>();
  for (const table of tables) {
    for (const [id, handler] of Object.entries(table)) {
      if (seen.has(id)) throw new Error(`the command ${id} is contributed twice`);
      seen.add(id);
      subscriptions.push(vscode.commands.registerCommand(id, handler));
    }
  }
}
