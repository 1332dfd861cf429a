/**
 * `organism-lab serve` as a process, started with the command line the extension's "Serve the Loaded
 * Organism" builds (src/extension/commands/serveArgs.ts): it prints its URL on stdout, serves the base and the
 * adapter under its variant name, and exits 0 on SIGTERM. Usage errors exit 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { serveCliArgs, servedUrl } from '../../../../src/extension/commands/serveArgs';
import { DEMO_BASE, DEMO_R1, ROOT, spawnServe } from './serveChild';

test('serveCliArgs and servedUrl', () => {
  assert.deepEqual(serveCliArgs({ dir: '/m' }, [{ name: 'a', dir: '/x' }], 0, { executionProvider: 'cpu', threads: 2, weights: 'f32', cacheFolder: '/c' }), [
    'serve', '--model', '/m', '--host', '127.0.0.1', '--port', '0', '--adapter', 'a=/x', '--execution-provider', 'cpu', '--threads', '2', '--weights', 'f32', '--cache-folder', '/c',
  ]);
  assert.equal(servedUrl('noise\nhttp://127.0.0.1:4321/v1\n'), 'http://127.0.0.1:4321/v1');
  assert.equal(servedUrl('http://127.0.0.1:43'), null);
});

test('the serve process: URL on stdout, base and adapter served, exit 0 on SIGTERM', async () => {
  const serve = await spawnServe({ adapters: [{ name: 'narrow', dir: DEMO_R1 }] });
  try {
    const models = (await (await fetch(`${serve.url}/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(models.data.map((m) => m.id), ['demo-base', 'narrow']);
    const r = await fetch(`${serve.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'narrow', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 1 }) });
    assert.equal(r.status, 200);
  } finally {
    assert.equal(await serve.stop(), 0, serve.stderr());
  }
  const bad = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--model', DEMO_BASE, '--port', 'x'], { cwd: ROOT, stdio: 'ignore' });
  assert.equal(await new Promise((resolve) => bad.once('exit', resolve)), 2);
});
