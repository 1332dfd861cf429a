// The static server used to serve Inspect's log viewer and our logs: byte ranges (the viewer reads .eval zips
// by range), HEAD for the size, 404 outside the root, and the request record.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseByteRange, startStaticServer } from '../../harness/staticServer';

test('byte ranges: a-b, a-, -n, clamped ends, unsatisfiable and ignored forms', () => {
  assert.deepEqual(parseByteRange('bytes=0-3', 10), [0, 3]);
  assert.deepEqual(parseByteRange('bytes=4-', 10), [4, 9]);
  assert.deepEqual(parseByteRange('bytes=-3', 10), [7, 9]);
  assert.deepEqual(parseByteRange('bytes=-30', 10), [0, 9]);
  assert.deepEqual(parseByteRange('bytes=5-100', 10), [5, 9]);
  assert.equal(parseByteRange('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseByteRange('bytes=6-2', 10), 'unsatisfiable');
  assert.equal(parseByteRange('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseByteRange('bytes=0-1,4-5', 10), null);
  assert.equal(parseByteRange('items=0-1', 10), null);
});

test('the server answers ranges with 206 and Content-Range, HEAD with the size, and refuses paths outside its root', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'olab-static-'));
  mkdirSync(path.join(root, 'logs'));
  writeFileSync(path.join(root, 'logs', 'a b.eval'), '0123456789');
  writeFileSync(path.join(root, 'index.html'), '<p>hi</p>');
  writeFileSync(path.join(path.dirname(root), 'outside.txt'), 'secret');
  const server = await startStaticServer(root);
  try {
    const part = await fetch(`${server.url}/logs/a%20b.eval`, { headers: { Range: 'bytes=2-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 2-4/10');
    assert.equal(await part.text(), '234');
    const tail = await fetch(`${server.url}/logs/a%20b.eval`, { headers: { Range: 'bytes=-2' } });
    assert.equal(await tail.text(), '89');
    const head = await fetch(`${server.url}/logs/a%20b.eval`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10');
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    assert.equal((await fetch(`${server.url}/logs/a%20b.eval`, { headers: { Range: 'bytes=10-' } })).status, 416);
    const index = await fetch(`${server.url}/`);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await index.text(), '<p>hi</p>');
    assert.equal((await fetch(`${server.url}/..%2foutside.txt`)).status, 404);
    assert.equal((await fetch(`${server.url}/missing.json`)).status, 404);
    assert.deepEqual(server.requests[0], { method: 'GET', path: '/logs/a b.eval', range: 'bytes=2-4', status: 206 });
    assert.deepEqual(
      server.requests.map((r) => r.status),
      [206, 206, 200, 416, 200, 404, 404],
    );
  } finally {
    await server.close();
  }
});
