/**
 * The one webview-panel manager (the pattern of Inspect AI's VS Code extension): it owns the registry of open
 * panels of every type (Compare, Run report, Activations, Checkpoint inspector), restores each type after a
 * reload through the serializer it registers for it, and renders the one "could not be restored" page.
 *
 * A panel module describes its type once (PanelType: view type, key of a panel, title, how a session attaches
 * to a webview, how a saved state is read back) and gets a PanelRegistry back, through which it opens, finds
 * and reveals its panels. One panel per key (a run file's URI, a checkpoint folder): opening the key again
 * reveals it, and a restored duplicate is closed.
 */
import * as vscode from 'vscode';
import { htmlText } from '../engine/review/escape';

export interface PanelType<S extends vscode.Disposable, Saved> {
  viewType: string;
  /** As the user calls the panel: "Compare", "Run report", "Activations", "Checkpoint inspector". */
  name: string;
  /** The command that opens one again, by its title in the palette ("Organism Lab: Open Run Report"). */
  reopenWith: string;
  /** The key (run URI, folder) and state to restore a reloaded panel with; null when its saved state names nothing to show. */
  restorable(state: unknown): { key: string; saved: Saved } | null;
  title(key: string): string;
  /** Webview and panel options of a new panel. */
  options(): vscode.WebviewPanelOptions & vscode.WebviewOptions;
  /** The session behind a panel, new or restored (it fills the webview). `saved` is null for a new panel. */
  attach(panel: vscode.WebviewPanel, key: string, saved: Saved | null): S;
  /** The run file a panel of this type shows, for the run commands' "run in the active tab"; absent: not a run panel. */
  runOf?(key: string): vscode.Uri;
}

export interface OpenPanel<S> {
  key: string;
  panel: vscode.WebviewPanel;
  session: S;
}

/** The open panels of one type. */
export class PanelRegistry<S extends vscode.Disposable, Saved = unknown> {
  private readonly open = new Map<string, OpenPanel<S>>();

  constructor(
    readonly type: PanelType<S, Saved>,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get(key: string): OpenPanel<S> | undefined {
    return this.open.get(key);
  }

  /** The panel of this type that is the active editor tab, if one is. */
  active(): OpenPanel<S> | undefined {
    for (const entry of this.open.values()) if (entry.panel.active) return entry;
    return undefined;
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Reveals the panel of `key` (in `viewColumn`, else where it is) or opens a new one (in `viewColumn`, else the
   * active column) with `saved` as its starting state. `created` says which.
   */
  show(key: string, options: { viewColumn?: vscode.ViewColumn; saved?: Saved | null } = {}): OpenPanel<S> & { created: boolean } {
    const existing = this.open.get(key);
    if (existing) {
      existing.panel.reveal(options.viewColumn);
      return { ...existing, created: false };
    }
    const panel = vscode.window.createWebviewPanel(this.type.viewType, this.type.title(key), options.viewColumn ?? vscode.ViewColumn.Active, this.type.options());
    try {
      return { ...this.track(panel, key, options.saved ?? null), created: true };
    } catch (e) {
      panel.dispose();
      throw e;
    }
  }

  /**
   * The serializer's entry (VS Code calls it for each panel of this type it brings back after a reload; tests
   * call it with a panel they made): attaches a session when the saved state names something to show and no
   * panel shows it yet, closes the duplicate when one does, and shows the "could not be restored" page otherwise.
   */
  restore(panel: vscode.WebviewPanel, state: unknown): void {
    let found: { key: string; saved: Saved } | null = null;
    try {
      found = this.type.restorable(state);
    } catch (e) {
      this.log.warn(`${this.type.name}: the saved state of a panel could not be read: ${(e as Error).message}`);
    }
    if (!found) {
      this.log.warn(`${this.type.name}: a panel could not be restored (its saved state names nothing to show); showing a note instead.`);
      this.showNotRestored(panel);
      return;
    }
    if (this.open.has(found.key)) {
      panel.dispose(); // already open in another panel
      return;
    }
    panel.title = this.type.title(found.key);
    try {
      this.track(panel, found.key, found.saved);
    } catch (e) {
      this.log.error(`${this.type.name}: restoring the panel of ${found.key} failed: ${(e as Error).message}`);
      this.showNotRestored(panel);
    }
  }

  private showNotRestored(panel: vscode.WebviewPanel): void {
    panel.webview.options = { enableScripts: false, localResourceRoots: [] };
    panel.webview.html = notRestoredPage(this.type.name, this.type.reopenWith);
  }

  private track(panel: vscode.WebviewPanel, key: string, saved: Saved | null): OpenPanel<S> {
    const entry = { key, panel, session: this.type.attach(panel, key, saved) };
    this.open.set(key, entry);
    panel.onDidDispose(() => {
      entry.session.dispose();
      if (this.open.get(key) === entry) this.open.delete(key);
    });
    return entry;
  }

  /** The run file of this type's active panel, when this type shows runs. */
  activeRun(): vscode.Uri | undefined {
    const entry = this.type.runOf && this.active();
    return entry ? this.type.runOf!(entry.key) : undefined;
  }

  dispose(): void {
    for (const { panel } of [...this.open.values()]) panel.dispose();
    this.open.clear();
  }
}

/** The page a panel shows when its saved state names nothing to show (no scripts, no resources). */
function notRestoredPage(name: string, reopenWith: string): string {
  return `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><p>${htmlText(
    `This ${name} panel could not be restored. Open it again with "${reopenWith}".`,
  )}</p></body></html>`;
}

export class PanelManager implements vscode.Disposable {
  private readonly registries = new Map<string, PanelRegistry<vscode.Disposable>>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** Registers a panel type and its serializer (once per view type). */
  register<S extends vscode.Disposable, Saved>(type: PanelType<S, Saved>): PanelRegistry<S, Saved> {
    if (this.registries.has(type.viewType)) throw new Error(`the panel type ${type.viewType} is registered twice`);
    const registry = new PanelRegistry(type, this.log);
    this.disposables.push(vscode.window.registerWebviewPanelSerializer(type.viewType, { deserializeWebviewPanel: async (panel, state) => registry.restore(panel, state) }));
    this.registries.set(type.viewType, registry as unknown as PanelRegistry<vscode.Disposable>);
    return registry;
  }

  /** The registry of a view type (undefined before that type is registered). */
  registry(viewType: string): PanelRegistry<vscode.Disposable> | undefined {
    return this.registries.get(viewType);
  }

  /** The run file shown by the active tab, when that tab is a panel of a type that shows runs (Compare, Run report). */
  activeRun(): vscode.Uri | undefined {
    for (const registry of this.registries.values()) {
      const run = registry.activeRun();
      if (run) return run;
    }
    return undefined;
  }

  dispose(): void {
    for (const registry of this.registries.values()) registry.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.registries.clear();
  }
}
