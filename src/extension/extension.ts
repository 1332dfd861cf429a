/**
 * Organism Lab's entry point: an ordered list of feature activations. Nothing here loads a model; the engine
 * host process starts on the first command that needs it. Activation time is measured and logged.
 */
import * as vscode from 'vscode';
import { activateCodeLens } from './codelens/promptSetCodeLens';
import { activatePromptSetReview } from './review/promptSetReview';
import { isPromptSetDocument } from './codelens/promptSetDocuments';
import { activateCommands } from './commands/registerCommands';
import { createContext, LabContext } from './context';
import { activateDiagnostics } from './diagnostics/promptSetDiagnostics';
import { activateHovers } from './hovers/questionHover';
import { activatePanels } from './panels/index';
import { activateStatusBar } from './statusBar/statusBar';
import { setKeyPromptsForTests, type KeyPrompts } from './commands/apiKeys';
import { setLoraOfferPromptForTests, type LoraOfferPrompt } from './run/serverLoraOffer';
import { setSaeSteerPromptsForTests, type SaeSteerPrompts } from './panels/saeSteerAction';
import { sendActivationsMessageForTests } from './panels/activationsPanel';
import { withTestHooks } from './testHooks';
import { activateTrust, setTrustOverrideForTests } from './trust/trust';
import { activateViews, LabViews } from './views/activateViews';

/** Test-only hooks: exported only when the test runner sets ORGANISM_LAB_TEST_HOOKS=1 (src/extension/testHooks.ts). */
export interface OrganismLabTestHooks {
  /** Pretend the workspace is (un)trusted; undefined restores the real state. */
  setTrustOverride: (trusted: boolean | undefined) => void;
  /** Answer the API-key prompts (input boxes, confirmations); undefined restores the real UI. */
  setKeyPrompts: (prompts: KeyPrompts | undefined) => void;
  /** Answer the "Load it on the server" offer of a remote run's adapter folder; undefined restores the modal. */
  setLoraOfferPrompt: (prompt: LoraOfferPrompt | undefined) => void;
  /** Answer the Activations panel's "Steer…" prompts (strength, run offer); undefined restores the UI. */
  setSaeSteerPrompts: (prompts: SaeSteerPrompts | undefined) => void;
  /** Hand a message to a run's open Activations panel as its page would post it; false when none is open. */
  sendActivationsMessage: (runUri: vscode.Uri, message: unknown) => Promise<boolean>;
}

/** What activate() returns: used by the extension test suite (and other extensions, if ever). */
export interface OrganismLabApi {
  ctx: LabContext;
  views: LabViews;
  activationMs: number;
  /** Hooks for the extension test suite (its bundle has its own copies of these modules); absent in normal use. */
  testing?: OrganismLabTestHooks;
}

function activateEditorContext(ctx: LabContext): void {
  const set = (e: vscode.TextEditor | undefined) => void vscode.commands.executeCommand('setContext', 'organismLab.isPromptSet', !!e && isPromptSetDocument(e.document));
  set(vscode.window.activeTextEditor);
  ctx.extension.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(set));
}

let active: LabContext | undefined;

export function activate(context: vscode.ExtensionContext): OrganismLabApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Organism Lab', { log: true });
  context.subscriptions.push(log);
  const ctx = createContext(context, log);
  active = ctx;

  activateTrust(ctx);
  activateStatusBar(ctx);
  const views = activateViews(ctx);
  const review = activatePromptSetReview(ctx);
  activateCommands(ctx, [...activatePanels(ctx), review.commands]);
  const codeLens = activateCodeLens(ctx);
  context.subscriptions.push(codeLens.attachReview(review.reviewer));
  activateDiagnostics(ctx);
  activateHovers(ctx);
  activateEditorContext(ctx);

  const activationMs = performance.now() - started;
  log.info(`Organism Lab ${context.extension.packageJSON.version} activated in ${activationMs.toFixed(1)} ms (engine host not started; it starts on first use)`);
  return withTestHooks<OrganismLabApi, OrganismLabTestHooks>({ ctx, views, activationMs }, () => {
    log.warn(`test hooks are on (ORGANISM_LAB_TEST_HOOKS=1): for the test suites only`);
    return {
      setTrustOverride: setTrustOverrideForTests,
      setKeyPrompts: setKeyPromptsForTests,
      setLoraOfferPrompt: setLoraOfferPromptForTests,
      setSaeSteerPrompts: setSaeSteerPromptsForTests,
      sendActivationsMessage: (runUri, message) => sendActivationsMessageForTests(ctx, runUri, message),
    };
  });
}

/** Asks the engine host to leave (it is killed after a timeout; it also leaves on its own when this process goes). */
export function deactivate(): Promise<void> | undefined {
  const ctx = active;
  active = undefined;
  return ctx?.engine.shutdown();
}
