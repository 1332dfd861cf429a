/**
 * "Organism Lab: Serve the Loaded Organism" and "Organism Lab: Stop Serving": an OpenAI-compatible endpoint
 * (vLLM's conventions, adapters as model names) over the model and adapters the engine host has loaded, for
 * Inspect AI, the EM scripts or another window's remote backend.
 *
 * The server is the bundled CLI (`dist/cli.js serve`, engine/serve/server.ts) in its own Node process on
 * 127.0.0.1, with the engine settings (execution provider, threads, weights, cache folder). The extension
 * host only starts it, shows its URL and stops it. It loads its own copy of the weights: the engine host keeps
 * its session for runs and analyses, so serving needs the memory of a second session.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import * as vscode from 'vscode';
import { engineSettings } from '../config';
import type { CommandTable } from './commandRegistry';
import type { LabContext } from '../context';
import { requireTrust } from '../trust/trust';
import { serveCliArgs, servedUrl } from './serveArgs';

class ServeProcess implements vscode.Disposable {
  child: ChildProcess | null = null;
  url: string | null = null;

  stop(): boolean {
    if (!this.child) return false;
    this.child.kill('SIGTERM');
    this.child = null;
    this.url = null;
    return true;
  }

  dispose(): void {
    this.stop();
  }
}

async function serveOrganism(ctx: LabContext, proc: ServeProcess): Promise<void> {
  if (!(await requireTrust('serve the loaded organism'))) return;
  const { model, adapters } = ctx.engine.state;
  if (!model) {
    void vscode.window.showInformationMessage('Organism Lab: load a model first ("Organism Lab: Load Model…"); the server serves the loaded model and adapters.');
    return;
  }
  if (proc.child) {
    const pick = await vscode.window.showInformationMessage(`Organism Lab is already serving at ${proc.url ?? '(starting)'}.`, 'Copy URL', 'Restart');
    if (pick === 'Copy URL' && proc.url) await vscode.env.clipboard.writeText(proc.url);
    if (pick !== 'Restart') return;
    proc.stop();
  }
  const portText = await vscode.window.showInputBox({
    title: 'Organism Lab: serve on port (127.0.0.1)',
    value: '8000',
    validateInput: (v) => (/^\d+$/.test(v) && Number(v) <= 65535 ? null : 'a port number 0..65535 (0 = any free port)'),
  });
  if (portText === undefined) return;
  const s = engineSettings();
  const args = serveCliArgs(model, adapters, Number(portText), { ...s, cacheFolder: s.cacheFolder || ctx.extension.globalStorageUri.fsPath });
  const cli = ctx.extension.asAbsolutePath(path.join('dist', 'cli.js'));
  ctx.log.info(`serve: starting ${cli} ${args.join(' ')}`);
  const child = fork(cli, args, { cwd: ctx.extension.extensionPath, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  proc.child = child;
  let out = '';
  let errTail = '';
  const started = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const url = servedUrl(out);
      if (url) resolve(url);
    });
    child.stderr?.on('data', (c: Buffer) => {
      const text = c.toString('utf8');
      errTail = (errTail + text).slice(-2000);
      for (const line of text.split('\n')) if (line.trim()) ctx.log.info(`serve: ${line}`);
    });
    child.once('exit', (code) => {
      if (proc.child === child) {
        proc.child = null;
        proc.url = null;
      }
      reject(new Error(`the server exited (code ${code}): ${errTail.trim().split('\n').slice(-3).join(' ')}`));
    });
    child.once('error', reject);
  });
  try {
    const url = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Organism Lab: loading ${path.basename(model.dir)} into the server…` }, () => started);
    proc.url = url;
    const names = [path.basename(model.dir), ...adapters.map((a) => a.name)];
    const pick = await vscode.window.showInformationMessage(`Organism Lab is serving ${names.join(', ')} at ${url} (OpenAI-compatible; model names as listed).`, 'Copy URL', 'Stop');
    if (pick === 'Copy URL') await vscode.env.clipboard.writeText(url);
    if (pick === 'Stop') proc.stop();
  } catch (e) {
    proc.stop();
    void vscode.window.showErrorMessage(`Organism Lab: serving failed: ${(e as Error).message}`);
  }
}

/** The serve commands (activateCommands registers them); the server process they share stops with the extension. */
export function serveCommands(ctx: LabContext): CommandTable {
  const proc = new ServeProcess();
  ctx.extension.subscriptions.push(proc);
  return {
    'organismLab.serveOrganism': () => serveOrganism(ctx, proc),
    'organismLab.stopServing': () => {
      if (!proc.stop()) void vscode.window.setStatusBarMessage('Organism Lab: not serving', 3000);
    },
  };
}
