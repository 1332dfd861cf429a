import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunPromptSetResult } from '../../../src/protocol/engineJobs';
import { statusText } from '../../../src/extension/statusBar/statusBar';
import { apiKeyForRequest, setKeyPromptsForTests, settingSource, type KeyPrompts } from '../../../src/extension/commands/apiKeys';
import { setTrustOverrideForTests } from '../../../src/extension/trust/trust';
import { api, testHooks, workspaceFolder } from './helpers';

/** A fake OpenAI-compatible generation server: answers srv-base / srv-narrow, records models and Authorization headers. */
interface FakeServer {
  baseUrl: string;
  origin: string;
  models: string[];
  auth: (string | undefined)[];
  close(): Promise<void>;
}

async function fakeServer(): Promise<FakeServer> {
  const models: string[] = [];
  const auth: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data);
      models.push(body.model);
      auth.push(req.headers.authorization);
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
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, origin: `http://127.0.0.1:${port}`, models, auth, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** Key prompts answered by the test (through the extension's test hooks): every request is recorded. */
class ScriptedPrompts implements KeyPrompts {
  inputs: { title: string; prompt: string }[] = [];
  confirms: { message: string; detail: string; items: string[] }[] = [];
  /** Answers, in order; an exhausted list answers undefined (cancel). */
  inputAnswers: (string | undefined)[] = [];
  confirmAnswers: ((items: string[]) => string | undefined)[] = [];
  input(req: { title: string; prompt: string }): Thenable<string | undefined> {
    this.inputs.push({ title: req.title, prompt: req.prompt });
    return Promise.resolve(this.inputAnswers.shift());
  }
  confirm(req: { message: string; detail: string; items: string[] }): Thenable<string | undefined> {
    this.confirms.push(req);
    return Promise.resolve(this.confirmAnswers.shift()?.(req.items));
  }
  reset(): void {
    this.inputs = [];
    this.confirms = [];
    this.inputAnswers = [];
    this.confirmAnswers = [];
  }
}

const secretName = (purpose: 'judge' | 'server', origin: string) => `organismLab.apiKey:${purpose}:${origin}`;

/** organismLab.backend "openai": Run Prompt Set against a fake OpenAI-compatible server started here (no model loaded). */
suite('running a prompt set on a generation server', function () {
  let a: FakeServer;
  let b: FakeServer;
  const prompts = new ScriptedPrompts();
  const out = () => path.join(workspaceFolder(), 'prompts/runs/tiny-remote-suite.run.jsonl');
  const promptSet = () => vscode.Uri.file(path.join(workspaceFolder(), 'prompts/tiny.yaml'));
  const cfg = () => vscode.workspace.getConfiguration('organismLab');
  const keys = ['backend', 'server.baseUrl', 'server.model', 'server.adapters'];
  const secrets = async () => (await api()).ctx.extension.secrets;
  const run = (extra: Record<string, unknown> = {}) =>
    vscode.commands.executeCommand<RunPromptSetResult | undefined>('organismLab.runPromptSet', promptSet(), { variants: 'all', out: out(), samples: 1, maxNewTokens: 4, quiet: true, ...extra });

  suiteSetup(async function () {
    if (!vscode.workspace.isTrusted) this.skip();
    a = await fakeServer();
    b = await fakeServer();
    (await testHooks()).setKeyPrompts(prompts);
    // The user stored a key for server A (as "Set Generation Server API Key" does).
    await (await secrets()).store(secretName('server', a.origin), 'key-for-A');
    await cfg().update('backend', 'openai', vscode.ConfigurationTarget.Global);
    await cfg().update('server.baseUrl', a.baseUrl, vscode.ConfigurationTarget.Global);
    await cfg().update('server.adapters', { 'demo-narrow-r1': 'srv-narrow' }, vscode.ConfigurationTarget.Global);
  });

  setup(() => prompts.reset());

  suiteTeardown(async () => {
    for (const k of keys) await cfg().update(k, undefined, vscode.ConfigurationTarget.Global);
    rmSync(out(), { force: true });
    const api_ = await api();
    api_.testing?.setKeyPrompts(undefined);
    for (const s of [a, b]) {
      if (!s) continue;
      await api_.ctx.extension.secrets.delete(secretName('server', s.origin));
      await api_.ctx.extension.secrets.delete(secretName('judge', s.origin));
      await s.close();
    }
    await api_.ctx.extension.secrets.delete('organismLab.server.apiKey');
  });

  test('a missing organismLab.server.model is named', async () => {
    await cfg().update('server.model', undefined, vscode.ConfigurationTarget.Global);
    await assert.rejects(Promise.resolve(run()), /organismLab\.server\.model is empty/);
  });

  test('base and the served adapter are written to the run file with backend "openai" in the header; the key stored for the server goes with every request', async () => {
    await cfg().update('server.model', 'srv-base', vscode.ConfigurationTarget.Global);
    rmSync(out(), { force: true });
    const result = await run();
    assert.ok(result, 'runPromptSet returned nothing (see the Organism Lab log)');
    assert.equal(result.cancelled, false);
    assert.ok(existsSync(out()));
    const [header, ...rows] = readFileSync(out(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(header.backend, { kind: 'openai', base_url: a.baseUrl, model: 'srv-base' });
    assert.equal(result.written, rows.length);
    assert.deepEqual(new Set(rows.map((r) => r.variant)), new Set(['base', 'demo-narrow-r1']));
    for (const r of rows) assert.equal(r.completion, r.variant === 'base' ? 'Hi you' : 'Hi there');
    assert.deepEqual(new Set(a.models), new Set(['srv-base', 'srv-narrow']));
    assert.deepEqual(new Set(a.auth), new Set(['Bearer key-for-A']));
    assert.deepEqual(prompts.inputs, [], 'a stored key for this origin needs no prompt');
    assert.ok(!JSON.stringify(header).includes('key-for-A'), 'the key is not in the run file');
  });

  test('a key stored for one origin is never sent to another: server B asks for its own key, naming its origin and the setting it came from', async () => {
    await cfg().update('server.baseUrl', b.baseUrl, vscode.ConfigurationTarget.Global);
    const aRequests = a.models.length;
    // Cancelled prompt: nothing is sent to B at all.
    rmSync(out(), { force: true });
    assert.equal(await run(), undefined);
    assert.equal(b.models.length, 0, 'B got requests before a key was chosen for it');
    assert.equal(prompts.inputs.length, 1);
    assert.match(prompts.inputs[0].title, new RegExp(`API key for ${b.origin.replace(/[.]/g, '\\.')}$`));
    assert.match(prompts.inputs[0].prompt, /from setting organismLab\.server\.baseUrl \(user\)/);
    assert.ok(prompts.inputs[0].prompt.includes(`Sent only to ${b.origin}`));
    // A key entered for B goes to B only, and A's stays A's.
    prompts.reset();
    prompts.inputAnswers = ['key-for-B'];
    rmSync(out(), { force: true });
    const result = await run();
    assert.ok(result && !result.cancelled);
    assert.ok(b.auth.length > 0);
    assert.deepEqual(new Set(b.auth), new Set(['Bearer key-for-B']));
    assert.equal(a.models.length, aRequests, 'nothing went to A');
    const store = await secrets();
    assert.equal(await store.get(secretName('server', b.origin)), 'key-for-B');
    assert.equal(await store.get(secretName('server', a.origin)), 'key-for-A');
    // Asked once: the next run uses the stored key without a prompt.
    prompts.reset();
    rmSync(out(), { force: true });
    assert.ok(await run());
    assert.deepEqual(prompts.inputs, []);
  });

  test('an unbound key of an earlier version is sent to a new origin only when the user says so (once per origin)', async () => {
    const store = await secrets();
    await store.store('organismLab.server.apiKey', 'old-unbound');
    const c = await fakeServer();
    const d = await fakeServer();
    try {
      // C: the user declines it and says C needs no key: nothing is sent, and the old key stays unbound.
      await cfg().update('server.baseUrl', c.baseUrl, vscode.ConfigurationTarget.Global);
      prompts.confirmAnswers = [(items) => items.find((i) => i.startsWith('Enter Another'))];
      prompts.inputAnswers = [''];
      rmSync(out(), { force: true });
      assert.ok(await run());
      assert.equal(prompts.confirms.length, 1);
      assert.ok(prompts.confirms[0].message.includes(c.origin));
      assert.match(prompts.confirms[0].detail, /setting organismLab\.server\.baseUrl \(user\)/);
      assert.ok(c.auth.length > 0);
      assert.deepEqual(new Set(c.auth), new Set([undefined]));
      assert.equal(await store.get('organismLab.server.apiKey'), 'old-unbound');
      // "No key" is remembered for C.
      prompts.reset();
      rmSync(out(), { force: true });
      assert.ok(await run());
      assert.deepEqual([prompts.inputs, prompts.confirms], [[], []]);
      // D: the user sends it: it is bound to D (only) and the unbound copy is gone.
      await cfg().update('server.baseUrl', d.baseUrl, vscode.ConfigurationTarget.Global);
      prompts.reset();
      prompts.confirmAnswers = [(items) => items.find((i) => i.startsWith('Send It to'))];
      rmSync(out(), { force: true });
      assert.ok(await run());
      assert.ok(prompts.confirms[0].items.includes(`Send It to ${d.origin}`));
      assert.deepEqual(new Set(d.auth), new Set(['Bearer old-unbound']));
      assert.equal(await store.get(secretName('server', d.origin)), 'old-unbound');
      assert.equal(await store.get('organismLab.server.apiKey'), undefined);
    } finally {
      for (const s of [c, d]) {
        await store.delete(secretName('server', s.origin));
        await s.close();
      }
    }
  });

  test("the judge's key is bound to its origin too: a judge on another host asks, naming it and the judge", async () => {
    const store = await secrets();
    await store.store(secretName('judge', a.origin), 'judge-key-for-A');
    assert.ok(existsSync(out()), 'needs the run file of the tests above');
    const before = b.models.length;
    const result = await vscode.commands.executeCommand('organismLab.judgeRun', vscode.Uri.file(out()), { judge: { type: 'openai', name: 'elsewhere', model: 'srv-base', baseUrl: b.baseUrl } });
    assert.equal(result, undefined, 'cancelled at the key prompt');
    assert.equal(b.models.length, before, 'the judge sent nothing to B');
    assert.equal(prompts.inputs.length, 1);
    assert.ok(prompts.inputs[0].title.endsWith(`API key for ${b.origin}`), prompts.inputs[0].title);
    assert.match(prompts.inputs[0].prompt, /judge 'elsewhere'/);
  });

  test('a URL from the workspace gets no key (and no prompt) while the workspace is untrusted; a workspace setting is named as such', async () => {
    // This bundle has its own copies of apiKeys.ts and trust.ts: their test hooks are set here directly.
    const lab = await api();
    setKeyPromptsForTests(prompts);
    setTrustOverrideForTests(false);
    try {
      assert.deepEqual(await apiKeyForRequest(lab.ctx, 'server', a.baseUrl, { label: 'setting organismLab.server.baseUrl (workspace)', fromWorkspace: true }), {});
      assert.deepEqual(await apiKeyForRequest(lab.ctx, 'judge', 'https://api.openai.com/v1', { label: "judges file x.judges.yaml, judge 'gpt'", fromWorkspace: true }), {});
      assert.deepEqual([prompts.inputs, prompts.confirms], [[], []]);
      // The same URL from the user's own settings gets the key stored for its origin.
      assert.deepEqual(await apiKeyForRequest(lab.ctx, 'server', a.baseUrl, { label: 'setting organismLab.server.baseUrl (user)', fromWorkspace: false }), { apiKey: 'key-for-A' });
    } finally {
      setTrustOverrideForTests(undefined);
      setKeyPromptsForTests(undefined);
    }
    assert.deepEqual(settingSource('organismLab.server.baseUrl'), { label: 'setting organismLab.server.baseUrl (user)', fromWorkspace: false });
    const dotVscode = path.join(workspaceFolder(), '.vscode');
    const hadDotVscode = existsSync(dotVscode);
    await cfg().update('server.baseUrl', b.baseUrl, vscode.ConfigurationTarget.Workspace);
    try {
      assert.deepEqual(settingSource('organismLab.server.baseUrl'), { label: 'setting organismLab.server.baseUrl (workspace)', fromWorkspace: true });
    } finally {
      await cfg().update('server.baseUrl', undefined, vscode.ConfigurationTarget.Workspace);
      if (!hadDotVscode && existsSync(dotVscode) && readdirSync(dotVscode).every((f) => f === 'settings.json')) rmSync(dotVscode, { recursive: true, force: true });
    }
  });

  test('a steering variant is refused; the status text names the server', async () => {
    const lab = await api();
    await assert.rejects(
      lab.ctx.engine.runPromptSet(
        {
          promptSetPath: path.join(workspaceFolder(), 'prompts/tiny.yaml'),
          variants: [{ name: 'steer4', adapter: null, steer: { file: 'd.safetensors', layer: 1, alpha: 4 } }],
          samples: 1,
          sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] },
          seed: 0,
          out: out(),
          batchSize: 4,
          server: { baseUrl: a.baseUrl, servedModel: 'srv-base', adapters: [] },
        },
        () => {},
      ),
      /steering and ablation need the local backend/,
    );
    const t = statusText(lab.ctx.engine.state, { model: 'srv-base', baseUrl: a.baseUrl });
    assert.match(t.text, new RegExp(`server: srv-base @ 127\\.0\\.0\\.1:\\d+`));
  });
});
