/** Status-bar item: loaded model, adapters, execution provider, memory of the engine host; click for actions. */
import path from 'node:path';
import * as vscode from 'vscode';
import { serverSettings } from '../config';
import type { LabContext } from '../context';
import type { EngineViewState } from '../engine/engineService';

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  return `${Math.round(n / 1024 ** 2)} MB`;
}

/** "<host>" of a server URL (the URL as given when it does not parse). */
function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host || baseUrl;
  } catch {
    return baseUrl;
  }
}

/** With `server` (organismLab.backend "openai"), prompt sets run there: the item says "server: <model> @ <host>". */
export function statusText(s: EngineViewState, server?: { model: string; baseUrl: string }): { text: string; tooltip: string } {
  if (server) {
    const job = s.job ? `$(sync~spin) ${s.job.done}/${s.job.total} · ` : '$(cloud) ';
    const tooltip = [
      `Prompt sets run on the generation server ${server.baseUrl || '(organismLab.server.baseUrl not set)'}, model ${server.model || '(organismLab.server.model not set)'} (organismLab.backend "openai").`,
      s.model ? `Loaded locally: ${s.model.dir}` : '',
      s.job ? `${s.job.title}: ${s.job.done}/${s.job.total}` : '',
      'Click for actions.',
    ]
      .filter(Boolean)
      .join('\n');
    return { text: `${job}server: ${server.model || '?'} @ ${hostOf(server.baseUrl) || '?'}`, tooltip };
  }
  const last = !s.model && s.lastSession ? s.lastSession : null;
  if (last && !s.job) {
    // Not loaded, but it will be on first use: say so instead of "no model" (issue 13 §3).
    const names = `${path.basename(last.model)}${last.adapters.length ? ` + ${last.adapters.join(', ')}` : ''}`;
    return {
      text: `$(history) ${names} · not loaded`,
      tooltip: [
        `Not loaded now: ${last.model}${last.adapters.length ? ` with adapter${last.adapters.length > 1 ? 's' : ''} ${last.adapters.join(', ')}` : ''}, loaded in this workspace before, loads again on first use (running a prompt set, a smoke test, loading an adapter).`,
        'Load Model… to use another model instead.',
        s.running ? `Execution provider: ${s.executionProvider}` : 'Engine host not started (it starts on first use).',
        'Click for actions.',
      ].join('\n'),
    };
  }
  if (!s.running) return { text: '$(beaker) Organism Lab', tooltip: 'Organism Lab: engine host not started (it starts on first use). Click for actions.' };
  const model = s.model ? `${path.basename(s.model.dir)}${s.model.weights ? ` (${s.model.weights})` : ''}` : 'no model';
  const adapters = s.adapters.length ? ` + ${s.adapters.map((a) => a.name).join(', ')}` : '';
  const mem = s.memory ? ` · ${formatBytes(s.memory.rss)}` : '';
  const job = s.job ? `$(sync~spin) ${s.job.done}/${s.job.total} · ` : '$(beaker) ';
  const tooltip = [
    `Model: ${s.model ? s.model.dir : 'none loaded'}`,
    s.model?.weights ? `Weights: ${s.model.weights}${s.model.weightsReason ? ` — ${s.model.weightsReason}` : ''} (organismLab.weights)` : '',
    `Adapters: ${s.adapters.map((a) => `${a.name} (r=${a.rank})`).join(', ') || 'none'}`,
    `Execution provider: ${s.executionProvider}`,
    s.memory ? `Engine host memory: ${formatBytes(s.memory.rss)} resident` : '',
    s.job ? `${s.job.title}: ${s.job.done}/${s.job.total}` : '',
    'Click for actions.',
  ]
    .filter(Boolean)
    .join('\n');
  return { text: `${job}${model}${adapters} · ${s.executionProvider.toUpperCase()}${mem}`, tooltip };
}

export function activateStatusBar(ctx: LabContext): vscode.StatusBarItem {
  const item = vscode.window.createStatusBarItem('organismLab.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Organism Lab';
  item.command = 'organismLab.showActions';
  const render = (s: EngineViewState) => {
    const server = serverSettings();
    const { text, tooltip } = statusText(s, server.backend === 'openai' ? { model: server.model, baseUrl: server.baseUrl } : undefined);
    item.text = text;
    item.tooltip = tooltip;
  };
  render(ctx.engine.state);
  item.show();
  ctx.extension.subscriptions.push(
    item,
    ctx.engine.onDidChange(render),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('organismLab.backend') || e.affectsConfiguration('organismLab.server')) render(ctx.engine.state);
    }),
  );
  return item;
}
