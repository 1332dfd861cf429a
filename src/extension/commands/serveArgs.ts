/**
 * The pure part of the serve commands (./serveCommands): the `organism-lab serve` command line for the
 * loaded model and adapters, and the URL the server prints once it listens. No vscode import (unit-tested).
 */
import type { EngineSettings, LoadedAdapterInfo, LoadedModelInfo } from '../../protocol/engineJobs';

/** The CLI arguments that serve this model and these adapters (each under its variant name) on loopback. */
export function serveCliArgs(model: Pick<LoadedModelInfo, 'dir'>, adapters: Pick<LoadedAdapterInfo, 'name' | 'dir'>[], port: number, settings: Partial<EngineSettings> = {}): string[] {
  const args = ['serve', '--model', model.dir, '--host', '127.0.0.1', '--port', String(port)];
  for (const a of adapters) args.push('--adapter', `${a.name}=${a.dir}`);
  if (settings.executionProvider) args.push('--execution-provider', settings.executionProvider);
  if (settings.threads && settings.threads > 0) args.push('--threads', String(settings.threads));
  if (settings.weights) args.push('--weights', settings.weights);
  if (settings.cacheFolder) args.push('--cache-folder', settings.cacheFolder);
  return args;
}

/** The base URL the CLI prints on stdout once it listens (http://127.0.0.1:PORT/v1), or null. */
export function servedUrl(stdout: string): string | null {
  const m = /^(https?:\/\/\S+\/v1)\s*$/m.exec(stdout);
  return m ? m[1] : null;
}
