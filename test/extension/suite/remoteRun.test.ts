import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunPromptSetResult } from '../../../src/protocol/engineHost';
import { statusText } from '../../../src/extension/statusBar/statusBar';
import { api, workspaceFolder } from './helpers';

/** organismLab.backend "openai": Run Prompt Set against a fake OpenAI-compatible server started here (no model loaded). */
suite('running a prompt set on a generation server', function () {
  let server: Server | null = null;
  let baseUrl = '';
  const models: string[] = [];
  const out = () => path.join(workspaceFolder(), 'prompts/runs/tiny-remote-suite.run.jsonl');
  const cfg = () => vscode.workspace.getConfiguration('organismLab');
  const keys = ['backend', 'server.baseUrl', 'server.model', 'server.adapters'];

  suiteSetup(async function () {
    if (!vscode.workspace.isTrusted) this.skip();
    server = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        const body = JSON.parse(data);
        models.push(body.model);
        if (body.model !== 'srv-base' && body.model !== 'srv-narrow') {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"no such model"}}');
          return;
        }
        const toks = ['Hi', body.model === 'srv-narrow' ? ' there' : ' you'];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: toks.join('') }, logprobs: { content: toks.map((t) => ({ token: t, logprob: -1 })) }, finish_reason: 'stop', stop_reason: null }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        }));
      });
    });
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    await cfg().update('backend', 'openai', vscode.ConfigurationTarget.Global);
    await cfg().update('server.baseUrl', baseUrl, vscode.ConfigurationTarget.Global);
    await cfg().update('server.adapters', { 'demo-narrow-r1': 'srv-narrow' }, vscode.ConfigurationTarget.Global);
  });

  suiteTeardown(async () => {
    for (const k of keys) await cfg().update(k, undefined, vscode.ConfigurationTarget.Global);
    rmSync(out(), { force: true });
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  test('a missing organismLab.server.model is named', async () => {
    await cfg().update('server.model', undefined, vscode.ConfigurationTarget.Global);
    await assert.rejects(
      Promise.resolve(vscode.commands.executeCommand('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), { variants: 'all', out: out(), quiet: true })),
      /organismLab\.server\.model is empty/,
    );
  });

  test('base and the served adapter are written to the run file with backend "openai" in the header', async () => {
    await cfg().update('server.model', 'srv-base', vscode.ConfigurationTarget.Global);
    rmSync(out(), { force: true });
    const result = await vscode.commands.executeCommand<RunPromptSetResult>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), {
      variants: 'all',
      out: out(),
      samples: 1,
      maxNewTokens: 4,
      quiet: true,
    });
    assert.ok(result, 'runPromptSet returned nothing (see the Organism Lab log)');
    assert.equal(result.cancelled, false);
    assert.ok(existsSync(out()));
    const [header, ...rows] = readFileSync(out(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(header.backend, { kind: 'openai', base_url: baseUrl, model: 'srv-base' });
    assert.equal(result.written, rows.length);
    assert.deepEqual(new Set(rows.map((r) => r.variant)), new Set(['base', 'demo-narrow-r1']));
    for (const r of rows) assert.equal(r.completion, r.variant === 'base' ? 'Hi you' : 'Hi there');
    assert.deepEqual(new Set(models), new Set(['srv-base', 'srv-narrow']));
  });

  test('a steering variant is refused; the status text names the server', async () => {
    const a = await api();
    await assert.rejects(
      a.ctx.engine.runPromptSet(
        {
          promptSetPath: path.join(workspaceFolder(), 'prompts/tiny.yaml'),
          variants: [{ name: 'steer4', adapter: null, steer: { file: 'd.safetensors', layer: 1, alpha: 4 } }],
          samples: 1,
          sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] },
          seed: 0,
          out: out(),
          batchSize: 4,
          server: { baseUrl, servedModel: 'srv-base', adapters: [] },
        },
        () => {},
      ),
      /steering and ablation need the local backend/,
    );
    const t = statusText(a.ctx.engine.state, { model: 'srv-base', baseUrl });
    assert.match(t.text, new RegExp(`server: srv-base @ 127\\.0\\.0\\.1:\\d+`));
  });
});
