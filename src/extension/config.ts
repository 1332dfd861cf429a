/** Reads the organismLab.* settings into the shapes the engine host expects. */
import path from 'node:path';
import * as vscode from 'vscode';
import type { EngineSettings } from '../protocol/engineJobs';
import type { SamplingParams } from '../engine/runs/schema';

export function section(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('organismLab');
}

export function engineSettings(): EngineSettings {
  const c = section();
  return {
    executionProvider: c.get<'cpu' | 'cuda'>('executionProvider', 'cpu'),
    threads: c.get<number>('threads', 0),
    cacheFolder: c.get<string>('cacheFolder', ''),
    weights: c.get<'auto' | 'f32' | 'f16' | 'int8' | 'int4'>('weights', 'auto'),
    maxMemoryMB: c.get<number>('engine.maxMemoryMB', 0),
    threadSpinning: c.get<boolean>('engine.threadSpinning', false),
    batchSize: c.get<number>('batchSize', 16),
  };
}

export function samplingSettings(): SamplingParams {
  const c = section();
  return {
    temperature: c.get<number>('temperature', 1),
    top_p: c.get<number>('topP', 1),
    top_k: 0,
    min_p: 0,
    max_new_tokens: c.get<number>('maxNewTokens', 128),
    stop: [],
  };
}

export interface RunSettings {
  sampling: SamplingParams;
  seed: number;
  samples: number | null;
  batchSize: number;
}

export function runSettings(): RunSettings {
  const c = section();
  return { sampling: samplingSettings(), seed: c.get<number>('seed', 0), samples: c.get<number | null>('samples', null), batchSize: c.get<number>('batchSize', 16) };
}

/** A settings path: absolute as is, relative to the first workspace folder otherwise; '' → undefined. */
export function resolveSettingPath(p: string | undefined): string | undefined {
  if (!p || !p.trim()) return undefined;
  if (path.isAbsolute(p)) return p;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, p) : undefined;
}

export function defaultModel(): string | undefined {
  return resolveSettingPath(section().get<string>('defaultModel', ''));
}

export function defaultAdapters(): string[] {
  return section()
    .get<string[]>('defaultAdapters', [])
    .map((p) => resolveSettingPath(p))
    .filter((p): p is string => !!p);
}

export function engineExecArgv(): string[] {
  const mb = section().get<number>('engine.maxMemoryMB', 0);
  return mb > 0 ? [`--max-old-space-size=${Math.floor(mb)}`] : [];
}

export type GenerationBackend = 'local' | 'openai';

/** organismLab.backend and organismLab.server.*: where Run Prompt Set generates (values as typed; the engine host checks them). */
export interface ServerSettings {
  backend: GenerationBackend;
  baseUrl: string;
  model: string;
  /** variant/adapter name → served LoRA name */
  adapters: Record<string, string>;
  concurrency: number;
}

export function serverSettings(): ServerSettings {
  const c = section();
  const adapters = c.get<Record<string, unknown>>('server.adapters', {}) ?? {};
  return {
    backend: c.get<string>('backend', 'local') === 'openai' ? 'openai' : 'local',
    baseUrl: (c.get<string>('server.baseUrl', '') ?? '').trim(),
    model: (c.get<string>('server.model', '') ?? '').trim(),
    adapters: Object.fromEntries(Object.entries(adapters).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)])),
    concurrency: c.get<number>('server.concurrency', 8),
  };
}
