/** The one object every feature's activateX() receives (rust-analyzer's Ctx pattern). */
import * as vscode from 'vscode';
import { EngineService } from './engine/engineService';
import { PanelManager } from './panelManager';

export interface LabContext {
  extension: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  engine: EngineService;
  /** Every open webview panel (Compare, Run report, Activations, Checkpoint inspector), by type. */
  panels: PanelManager;
  /** Fired when the set of workspace artefacts (checkpoints, prompt sets, runs) may have changed. */
  refreshViews: () => void;
  onDidRequestRefresh: vscode.Event<void>;
}

export function createContext(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel): LabContext {
  const engine = new EngineService(extension, log);
  const panels = new PanelManager(log);
  const refresh = new vscode.EventEmitter<void>();
  extension.subscriptions.push(engine, panels, refresh);
  return { extension, log, engine, panels, refreshViews: () => refresh.fire(), onDidRequestRefresh: refresh.event };
}
