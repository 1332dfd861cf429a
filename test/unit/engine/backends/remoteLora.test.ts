/**
 * Runtime LoRA on a generation server (engine/backends/remoteLora.ts) against a real `organism-lab serve` on
 * loopback: listing models, loading an adapter folder the server was not started with (then generating with it),
 * and the refusal of a server without runtime loading, which says how to enable it (vLLM's environment variable).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureLoraServed, listServerModels, loadLoraAdapter, RuntimeLoraRefusedError } from '../../../../src/engine/backends/remoteLora';
import type { RunningServer } from '../../../../src/engine/serve/server';
import { DEMO_R1 as R1, DEMO_R8 as R8, ORGANISMS, startDemoServer, type DemoServer } from '../serve/serveChild';

let demo: DemoServer;
let open: RunningServer;
let closed: RunningServer;

before(async () => {
  demo = await startDemoServer([{ name: 'demo-narrow-r1', dir: R1 }], { enableRuntimeLora: true }, {});
  [open, closed] = demo.servers;
});

after(async () => {
  await demo?.close();
});

test('lists the base and its adapters, each adapter with its parent', async () => {
  const models = await listServerModels(closed.baseUrl);
  assert.deepEqual(models.map((m) => [m.id, m.parent]), [['demo-base', null], ['demo-narrow-r1', 'demo-base']]);
});

test('an adapter the server does not list is loaded at run time, then served', async () => {
  const listed = await ensureLoraServed(open.baseUrl, 'demo-narrow-r1', R1);
  assert.equal(listed.loaded, false);
  const r = await ensureLoraServed(open.baseUrl, 'r8', R8);
  assert.equal(r.loaded, true);
  assert.deepEqual(r.models.map((m) => m.id), ['demo-base', 'demo-narrow-r1', 'r8']);
  const res = await fetch(`${open.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'r8', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, seed: 1 }) });
  assert.equal(res.status, 200);
  // A folder that is not an adapter: the server's reason, and where the path is read.
  await assert.rejects(loadLoraAdapter(open.baseUrl, 'nope', join(ORGANISMS, 'missing-adapter')), /did not load adapter "nope" .*HTTP 400: lora_path .* is not a folder on the server.*server's machine/);
});

test('a server without runtime loading: the refusal names the endpoint and how to enable it (VLLM_ALLOW_RUNTIME_LORA_UPDATING)', async () => {
  await assert.rejects(ensureLoraServed(closed.baseUrl, 'r8-other', R8), (e: Error) => {
    assert.ok(e instanceof RuntimeLoraRefusedError, String(e));
    assert.ok(e.message.includes(`${closed.baseUrl}/load_lora_adapter`), e.message);
    assert.match(e.message, /HTTP 404/);
    assert.match(e.message, /VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
    assert.match(e.message, /--enable-runtime-lora/);
    return true;
  });
  // vLLM without the variable has no such route at all: FastAPI's {"detail": "Not Found"}.
  const vllmLike = (async () => new Response('{"detail":"Not Found"}', { status: 404 })) as typeof fetch;
  await assert.rejects(loadLoraAdapter('http://127.0.0.1:1/v1', 'x', '/a', { fetch: vllmLike }), /HTTP 404: Not Found\).*VLLM_ALLOW_RUNTIME_LORA_UPDATING/);
  await assert.rejects(listServerModels('http://127.0.0.1:1/v1', { timeoutMs: 2000 }), /Cannot reach the generation server at http:\/\/127\.0\.0\.1:1\/v1\/models/);
});
