/**
 * A remote run with an adapter folder the generation server does not list: the extension offers "Load it on the
 * server" (naming the adapter and the server URL), the engine host loads it with /v1/load_lora_adapter, and the
 * run proceeds with it; declined, nothing runs; a server that does not load adapters at run time is refused with
 * a message naming VLLM_ALLOW_RUNTIME_LORA_UPDATING. Against real `organism-lab serve` processes (dist/cli.js) on
 * loopback, one started with --enable-runtime-lora and one without; the offer is answered through the test hooks.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunPromptSetResult } from '../../../src/protocol/engineJobs';
import { servedUrl } from '../../../src/extension/commands/serveArgs';
import type { LoraOffer } from '../../../src/extension/run/serverLoraOffer';
import { api, repoRoot, testHooks, workspaceFolder } from './helpers';

interface Served {
  baseUrl: string;
  child: ChildProcess;
}

/** `organism-lab serve --model demo-base` on 127.0.0.1, any free port; resolves with its base URL once it listens. */
function serve(extra: string[]): Promise<Served> {
  const root = repoRoot();
  const child = fork(path.join(root, 'dist/cli.js'), ['serve', '--model', path.join(root, 'examples/organisms/demo-base'), '--host', '127.0.0.1', '--port', '0', '--threads', '1', ...extra], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const url = servedUrl(out);
      if (url) resolve({ baseUrl: url, child });
    });
    child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-2000)));
    child.once('exit', (code) => reject(new Error(`organism-lab serve exited (code ${code}): ${err}`)));
  });
}

async function servedModels(baseUrl: string): Promise<string[]> {
  const r = (await (await fetch(`${baseUrl}/models`)).json()) as { data: { id: string }[] };
  return r.data.map((m) => m.id);
}

suite('remote run: an adapter folder the server does not serve is offered to be loaded on it', function () {
  this.timeout(120_000);
  let open: Served | undefined;
  let closed: Served | undefined;
  const offers: LoraOffer[] = [];
  let answer = true;
  const R8 = () => path.join(repoRoot(), 'examples/organisms/demo-narrow-r8');
  const out = () => path.join(workspaceFolder(), 'prompts/runs/tiny-remote-lora-suite.run.jsonl');
  const cfg = () => vscode.workspace.getConfiguration('organismLab');
  const run = (extra: Record<string, unknown> = {}) =>
    vscode.commands.executeCommand<RunPromptSetResult | undefined>('organismLab.runPromptSet', vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml')), {
      variants: 'base', adapterFolders: [R8()], loadOnServer: 'ask', out: out(), samples: 1, maxNewTokens: 3, quiet: true, ...extra,
    });

  suiteSetup(async function () {
    if (!vscode.workspace.isTrusted || !existsSync(path.join(repoRoot(), 'examples/organisms/demo-base/config.json'))) this.skip();
    [open, closed] = await Promise.all([serve(['--enable-runtime-lora']), serve([])]);
    const hooks = await testHooks();
    // No API key for these loopback servers (an empty answer is remembered as "no key" for the origin).
    hooks.setKeyPrompts({ input: () => Promise.resolve(''), confirm: () => Promise.resolve(undefined) });
    hooks.setLoraOfferPrompt((o) => {
      offers.push(o);
      return Promise.resolve(answer);
    });
    await cfg().update('backend', 'openai', vscode.ConfigurationTarget.Global);
    await cfg().update('server.model', 'demo-base', vscode.ConfigurationTarget.Global);
    await cfg().update('server.adapters', {}, vscode.ConfigurationTarget.Global);
  });

  setup(() => {
    offers.length = 0;
    answer = true;
    rmSync(out(), { force: true });
  });

  suiteTeardown(async () => {
    for (const k of ['backend', 'server.baseUrl', 'server.model', 'server.adapters']) await cfg().update(k, undefined, vscode.ConfigurationTarget.Global);
    const lab = await api();
    lab.testing?.setKeyPrompts(undefined);
    lab.testing?.setLoraOfferPrompt(undefined);
    for (const s of [open, closed]) {
      if (!s) continue;
      await lab.ctx.extension.secrets.delete(`organismLab.apiKey:server:${new URL(s.baseUrl).origin}`);
      s.child.kill('SIGTERM');
    }
    rmSync(out(), { force: true });
  });

  test('declined: nothing is loaded and nothing runs', async () => {
    await cfg().update('server.baseUrl', open!.baseUrl, vscode.ConfigurationTarget.Global);
    answer = false;
    assert.equal(await run(), undefined);
    assert.equal(offers.length, 1);
    assert.equal(existsSync(out()), false);
    assert.deepEqual(await servedModels(open!.baseUrl), ['demo-base']);
  });

  test('accepted: the offer names the adapter and the server URL; the server loads the folder and the run uses it', async () => {
    await cfg().update('server.baseUrl', open!.baseUrl, vscode.ConfigurationTarget.Global);
    const result = await run();
    assert.ok(result && !result.cancelled, 'the run did not finish (see the Organism Lab log)');
    assert.equal(offers.length, 1);
    assert.equal(offers[0].adapter, 'demo-narrow-r8');
    assert.equal(offers[0].serverUrl, open!.baseUrl);
    assert.ok(offers[0].message.includes('"demo-narrow-r8"') && offers[0].message.includes(open!.baseUrl), offers[0].message);
    assert.deepEqual(await servedModels(open!.baseUrl), ['demo-base', 'demo-narrow-r8']);
    const [header, ...rows] = readFileSync(out(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(header.backend.kind, 'openai');
    assert.deepEqual(new Set(rows.map((r: { variant: string }) => r.variant)), new Set(['base', 'demo-narrow-r8']));
    // Now listed: a second run does not ask again.
    rmSync(out(), { force: true });
    assert.ok(await run());
    assert.equal(offers.length, 1);
  });

  test('a server without runtime LoRA loading: the refusal names VLLM_ALLOW_RUNTIME_LORA_UPDATING; without leave to load, the run says the server does not serve it', async () => {
    await cfg().update('server.baseUrl', closed!.baseUrl, vscode.ConfigurationTarget.Global);
    await assert.rejects(Promise.resolve(run()), /does not load LoRA adapters at run time.*VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
    assert.equal(offers.length, 1);
    assert.equal(existsSync(out()), false);
    await assert.rejects(Promise.resolve(run({ loadOnServer: undefined })), /does not serve the adapter "demo-narrow-r8" \(it lists demo-base\)/);
    assert.equal(offers.length, 1, 'quiet without loadOnServer never asks');
  });
});
