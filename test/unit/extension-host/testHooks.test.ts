/** Test-only hooks are absent unless the test runner sets ORGANISM_LAB_TEST_HOOKS=1 (issue 11 §6). */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import { createMessageConnection, ErrorCodes, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import type { EngineBackend } from '../../../src/engine/backends/types';
import { serve } from '../../../src/engine/host/server';
import { TEST_HOOKS_ENV, testHooksEnabled } from '../../../src/engine/host/testHooks';
import { withTestHooks } from '../../../src/extension/testHooks';
import { EngineMethods } from '../../../src/protocol/engineHost';

const backend = { settings: { executionProvider: 'cpu', threads: 1, cacheFolder: '' }, model: null, adapters: [], configure: () => undefined, dispose: async () => undefined } as unknown as EngineBackend;

/** An engine host server and a client over in-memory streams; `exits` records what engine/debugCrash asked for. */
function pair(options: { testHooks?: boolean } = {}) {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = createMessageConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  const client = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  const exits: number[] = [];
  serve(server, backend, { ...options, exit: (code) => exits.push(code) });
  server.listen();
  client.listen();
  return { client, exits, dispose: () => (client.dispose(), server.dispose()) };
}

describe('test hooks', () => {
  const saved = process.env[TEST_HOOKS_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[TEST_HOOKS_ENV];
    else process.env[TEST_HOOKS_ENV] = saved;
  });

  test('are on only for ORGANISM_LAB_TEST_HOOKS=1 exactly', () => {
    assert.equal(testHooksEnabled({ [TEST_HOOKS_ENV]: '1' }), true);
    for (const v of [undefined, '', '0', 'true', 'yes']) assert.equal(testHooksEnabled({ [TEST_HOOKS_ENV]: v }), false, String(v));
  });

  test("the extension's exports have no `testing` key without them, and the hooks with them", () => {
    let built = 0;
    const hooks = () => (built++, { setTrustOverride: () => undefined });
    const product = withTestHooks({ activationMs: 1 }, hooks, {});
    assert.deepEqual(Object.keys(product), ['activationMs']);
    assert.equal('testing' in product, false);
    assert.equal(built, 0, 'the hooks are not even built');
    const tested = withTestHooks({ activationMs: 1 }, hooks, { [TEST_HOOKS_ENV]: '1' });
    assert.equal(typeof tested.testing?.setTrustOverride, 'function');
  });

  test('the engine host does not serve engine/debugCrash without them (method not found; it keeps serving)', async () => {
    delete process.env[TEST_HOOKS_ENV];
    const p = pair();
    try {
      await assert.rejects(p.client.sendRequest(EngineMethods.debugCrash, { exitCode: 3 }), (err: unknown) => {
        assert.ok(err instanceof ResponseError);
        assert.equal(err.code, ErrorCodes.MethodNotFound);
        return true;
      });
      assert.deepEqual(p.exits, []);
      const status = await p.client.sendRequest(EngineMethods.status);
      assert.equal(status.pid, process.pid);
    } finally {
      p.dispose();
    }
  });

  test('with ORGANISM_LAB_TEST_HOOKS=1 (or testHooks: true) engine/debugCrash exits with the asked code', async () => {
    process.env[TEST_HOOKS_ENV] = '1';
    for (const p of [pair(), pair({ testHooks: true })]) {
      try {
        void p.client.sendRequest(EngineMethods.debugCrash, { exitCode: 7 }).catch(() => undefined);
        for (let i = 0; i < 100 && p.exits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(p.exits, [7]);
      } finally {
        p.dispose();
      }
    }
    // An explicit testHooks: false wins over the environment.
    const off = pair({ testHooks: false });
    try {
      await assert.rejects(off.client.sendRequest(EngineMethods.debugCrash, { exitCode: 3 }), /Unhandled method|not found/i);
    } finally {
      off.dispose();
    }
  });
});
