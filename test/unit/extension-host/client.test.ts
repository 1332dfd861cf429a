import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EngineHostClient, EngineHostExitedError, EngineRequestError } from '../../../src/extension/engine/client';
import { DEFAULT_SETTINGS } from '../../../src/engine/backends/local';
import { TEST_HOOKS_ENV } from '../../../src/engine/host/testHooks';
import { ENGINE_PROTOCOL_VERSION, EngineErrorCodes, EngineMethods, ProgressParams } from '../../../src/protocol/engineHost';

const here = __dirname;
const root = path.resolve(here, '../../..');

function client(hostModule: string, extra: Partial<ConstructorParameters<typeof EngineHostClient>[0]> = {}) {
  // Test hooks on: these tests crash the host on purpose with engine/debugCrash.
  return new EngineHostClient({ hostModule, execArgv: ['--import', 'tsx'], cwd: root, env: { [TEST_HOOKS_ENV]: '1' }, settings: () => ({ ...DEFAULT_SETTINGS, threads: 2 }), ...extra });
}

describe('engine host client against the real host process', () => {
  const exits: EngineHostExitedError[] = [];
  const c = client(path.join(root, 'src/engine/host/main.ts'), { onUnexpectedExit: (e) => exits.push(e) });
  after(() => c.stop());

  test('starts on first use, answers initialize and status with the settings it was given', async () => {
    const info = await c.start();
    assert.equal(info.protocolVersion, ENGINE_PROTOCOL_VERSION);
    assert.notEqual(info.pid, process.pid);
    const status = await c.request(EngineMethods.status);
    assert.equal(status.pid, info.pid);
    assert.equal(status.model, null);
    assert.equal(status.executionProvider, 'cpu');
    assert.ok(status.memory.rss > 1e6, `rss ${status.memory.rss}`);
  });

  test('bad input comes back as a clear error naming the folder', async () => {
    const missing = path.join(root, 'no-such-model-folder');
    await assert.rejects(c.request(EngineMethods.loadModel, { dir: missing }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.InvalidInput);
      assert.match(err.message, /no-such-model-folder/);
      return true;
    });
    await assert.rejects(c.request(EngineMethods.runPromptSet, { token: 't', promptSetPath: 'x', variants: [], sampling: { temperature: 0, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 4, stop: [] }, seed: 0, out: 'o' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.ok(err.isNoModelLoaded, err.message);
      assert.match(err.message, /Load Model/);
      return true;
    });
  });

  test('a crash fails the pending request with a clear message and the next request starts a fresh host', async () => {
    const before = (await c.start()).pid;
    await assert.rejects(c.request(EngineMethods.debugCrash, { exitCode: 7 }), (err: unknown) => {
      assert.ok(err instanceof EngineHostExitedError);
      assert.equal(err.exitCode, 7);
      assert.match(err.message, /exited with code 7/);
      assert.match(err.message, /next command starts a fresh engine host/);
      return true;
    });
    assert.equal(c.running, false);
    assert.equal(exits.length, 1);
    const status = await c.request(EngineMethods.status);
    assert.notEqual(status.pid, before);
    assert.equal(c.running, true);
  });

  test('SIGKILL (what the OOM killer sends) is reported as likely out of memory', async () => {
    await c.start();
    const pid = c.pid!;
    const pending = c.request(EngineMethods.status).then(() => c.request(EngineMethods.debugCrash, { exitCode: 0 }).catch(() => undefined));
    await pending;
    await c.start();
    const p2 = c.pid!;
    assert.notEqual(p2, pid);
    const waiting = new Promise<EngineHostExitedError>((resolve) => {
      const prev = exits.length;
      const timer = setInterval(() => {
        if (exits.length > prev) {
          clearInterval(timer);
          resolve(exits[exits.length - 1]);
        }
      }, 10);
    });
    process.kill(p2, 'SIGKILL');
    const err = await waiting;
    assert.equal(err.signal, 'SIGKILL');
    assert.equal(err.likelyOutOfMemory, true);
    assert.match(err.message, /out of memory/);
  });

  test('stop() shuts the host down without reporting a crash', async () => {
    await c.start();
    const n = exits.length;
    await c.stop();
    assert.equal(c.running, false);
    assert.equal(exits.length, n);
  });
});

describe('engine host client: progress and cancellation (scripted backend)', () => {
  const c = client(path.join(here, 'fixtures/fakeHost.ts'));
  after(() => c.stop());
  const sampling = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] };

  test('progress notifications reach the job that asked, in order', async () => {
    const seen: ProgressParams[] = [];
    const token = c.newJobToken('run');
    const result = await c.job(EngineMethods.runPromptSet, { token, promptSetPath: 'p.yaml', variants: [{ name: 'base' }], sampling, seed: 1, out: 'o.run.jsonl' }, (p) => seen.push(p));
    assert.equal(result.written, 10);
    assert.equal(result.cancelled, false);
    assert.ok(seen.length >= 1);
    assert.ok(seen.every((p) => p.token === token));
    assert.deepEqual(
      seen.map((p) => p.done),
      [...seen.map((p) => p.done)].sort((a, b) => a - b),
    );
  });

  test('aborting the signal cancels the job over JSON-RPC; finished work is reported', async () => {
    const controller = new AbortController();
    const token = c.newJobToken('run');
    const result = await c.job(
      EngineMethods.runPromptSet,
      { token, promptSetPath: 'p.yaml', variants: [{ name: 'base' }], sampling, seed: 1, out: 'o.run.jsonl', questionIds: ['a', 'b', 'c', 'd', 'e'] },
      (p) => {
        if (p.done === 3) controller.abort();
      },
      controller.signal,
    );
    assert.equal(result.cancelled, true);
    assert.ok(result.written >= 3 && result.written < 50, `written ${result.written}`);
  });

  test('a second job, or swapping the model, while one runs is refused as busy', async () => {
    const a = c.job(EngineMethods.runPromptSet, { token: 'a', promptSetPath: 'p', variants: [], sampling, seed: 0, out: 'o' }, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(c.request(EngineMethods.loadModel, { dir: '/fake/other' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.Busy);
      assert.match(err.message, /Cannot load a model while runPromptSet is running/);
      return true;
    });
    await assert.rejects(c.job(EngineMethods.runPromptSet, { token: 'b', promptSetPath: 'p', variants: [], sampling, seed: 0, out: 'o' }, () => undefined), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.Busy);
      return true;
    });
    await a;
  });

  test('an unexpected backend failure is an internal error with its message, and the host keeps serving', async () => {
    await assert.rejects(c.request(EngineMethods.smokeTest, { token: 's' }), (err: unknown) => {
      assert.ok(err instanceof EngineRequestError);
      assert.equal(err.code, EngineErrorCodes.Internal);
      assert.match(err.message, /boom/);
      return true;
    });
    const info = await c.request(EngineMethods.loadModel, { dir: '/fake/model' });
    assert.equal(info.modelType, 'fake');
  });
});

describe('engine host client: a host that runs out of V8 heap', () => {
  test('is reported as out of memory, with the advice to lower the batch size or raise the limit', async () => {
    const exits: EngineHostExitedError[] = [];
    const c = client(path.join(here, 'fixtures/oomHost.ts'), { execArgv: ['--import', 'tsx', '--max-old-space-size=32'], onUnexpectedExit: (e) => exits.push(e) });
    await c.start();
    await assert.rejects(c.request(EngineMethods.status), (err: unknown) => {
      assert.ok(err instanceof EngineHostExitedError, String(err));
      assert.equal(err.likelyOutOfMemory, true, err.message);
      assert.match(err.message, /ran out of memory/);
      assert.match(err.message, /organismLab\.batchSize/);
      return true;
    });
    assert.equal(exits.length, 1);
    assert.equal(c.running, false);
  });
});

describe('engine host client: a missing host module', () => {
  test('fails with a message that says to build, and starts nothing', async () => {
    const c = client(path.join(root, 'dist/no-such-engineHost.js'));
    await assert.rejects(c.request(EngineMethods.status), /does not exist: build the extension \(npm run build\)/);
    assert.equal(c.running, false);
  });
});
