/**
 * The engine host's engine/serverLora (engine/host/serverLoraJob.ts) against a real `organism-lab serve` on
 * loopback: "is it listed" without loading, loading an adapter folder, and the refusal of a server without
 * runtime loading reaching the client as an Unsupported error that names VLLM_ALLOW_RUNTIME_LORA_UPDATING.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineErrorCodes } from '../../../../src/protocol/engineHost';
import { toResponseError } from '../../../../src/engine/host/server';
import { runServerLora } from '../../../../src/engine/host/serverLoraJob';
import type { RunningServer } from '../../../../src/engine/serve/server';
import { DEMO_R8 as R8, startDemoServer, type DemoServer } from '../serve/serveChild';

let demo: DemoServer;
let open: RunningServer;
let closed: RunningServer; // shares the model with `open`, so it lists what `open` loaded

before(async () => {
  demo = await startDemoServer([], { enableRuntimeLora: true }, {});
  [open, closed] = demo.servers;
});

after(async () => {
  await demo?.close();
});

test('load: false only says whether the adapter is listed; load: true loads the folder, then it is listed', async () => {
  const before = await runServerLora({ baseUrl: open.baseUrl, name: 'r8', loraPath: R8, load: false });
  assert.deepEqual(before, { listed: false, loaded: false, models: ['demo-base'] });
  const loaded = await runServerLora({ baseUrl: open.baseUrl, name: 'r8', loraPath: R8, load: true });
  assert.deepEqual(loaded, { listed: true, loaded: true, models: ['demo-base', 'r8'] });
  const again = await runServerLora({ baseUrl: open.baseUrl, name: 'r8', loraPath: R8, load: true });
  assert.equal(again.loaded, false);
});

test('a server without runtime loading: an Unsupported error naming VLLM_ALLOW_RUNTIME_LORA_UPDATING; an unreachable one: InvalidInput naming the URL', async () => {
  await assert.rejects(runServerLora({ baseUrl: closed.baseUrl, name: 'r8-other', loraPath: R8, load: true }), (e: unknown) => {
    const re = toResponseError(e);
    assert.equal(re.code, EngineErrorCodes.Unsupported);
    assert.match(re.message, /does not load LoRA adapters at run time .*VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
    return true;
  });
  await assert.rejects(runServerLora({ baseUrl: 'http://127.0.0.1:1/v1', name: 'r8', loraPath: R8, load: false }), (e: unknown) => {
    const re = toResponseError(e);
    assert.equal(re.code, EngineErrorCodes.InvalidInput);
    assert.match(re.message, /Cannot reach the generation server at http:\/\/127\.0\.0\.1:1\/v1\/models/);
    return true;
  });
  await assert.rejects(runServerLora({ baseUrl: open.baseUrl, name: ' ', loraPath: R8, load: true }), /needs a served name/);
});
