// Loading a checkpoint from a Hugging Face cache snapshot (weight files are symlinks into ../../blobs):
// the graph's external data must point at the real files, and the logits must equal a direct load bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { commonAncestorDir, externalDataLayout } from '../../../../src/engine/graph/externalData';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const MODEL = path.join(GOLDEN, 'qwen2', 'model');

test('commonAncestorDir: deepest shared folder', () => {
  assert.equal(commonAncestorDir(['/a/b/c/x.bin', '/a/b/d/y.bin']), '/a/b');
  assert.equal(commonAncestorDir(['/a/b/x.bin']), '/a/b');
  assert.equal(commonAncestorDir(['/a/x', '/b/y']), '/');
  assert.equal(commonAncestorDir(['/a/bc/x', '/a/b/y']), '/a');
});

test('externalDataLayout: resolves symlinks and writes locations without ..', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ol-extdata-'));
  try {
    mkdirSync(path.join(root, 'blobs'));
    mkdirSync(path.join(root, 'snapshots', 'abc'), { recursive: true });
    for (const [blob, name] of [['h1', 'model-00001.safetensors'], ['h2', 'model-00002.safetensors']]) {
      copyFileSync(__filename, path.join(root, 'blobs', blob));
      symlinkSync(`../../blobs/${blob}`, path.join(root, 'snapshots', 'abc', name));
    }
    const files = ['model-00001.safetensors', 'model-00002.safetensors'].map((n) => path.join(root, 'snapshots', 'abc', n));
    const layout = externalDataLayout(files);
    assert.equal(layout.folder, realpathSync(path.join(root, 'blobs')));
    assert.equal(layout.location(files[0]), 'h1');
    assert.equal(layout.location(files[1]), 'h2');
    assert.throws(() => layout.location(path.join(root, 'other')), /not one of the checkpoint's weight files/);
    symlinkSync('../../blobs/missing', path.join(root, 'snapshots', 'abc', 'dangling.safetensors'));
    assert.throws(() => externalDataLayout([path.join(root, 'snapshots', 'abc', 'dangling.safetensors')]), /dangling\.safetensors: cannot resolve/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a model in an HF-cache snapshot loads and gives bit-identical logits', { skip: goldenSkip('qwen2/model') }, async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ol-hfcache-'));
  try {
    const snap = path.join(root, 'models--org--tiny', 'snapshots', 'abc');
    const blobs = path.join(root, 'models--org--tiny', 'blobs');
    mkdirSync(snap, { recursive: true });
    mkdirSync(blobs);
    for (const [i, name] of ['config.json', 'model.safetensors'].entries()) {
      copyFileSync(path.join(MODEL, name), path.join(blobs, `hash${i}`));
      symlinkSync(`../../blobs/hash${i}`, path.join(snap, name));
    }
    const ids = [[1, 5, 9, 2, 7]];
    const req = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), rows: [{ adapter: null, adapterScale: 0 }] };
    const direct = await ModelRunner.load(MODEL, { threads: 1 });
    const a = await direct.forward(req);
    await direct.dispose();
    const cached = await ModelRunner.load(snap, { threads: 1 });
    const b = await cached.forward(req);
    await cached.dispose();
    assert.ok(a.logits.length > 0);
    assert.equal(b.logits.length, a.logits.length);
    assert.deepEqual(Buffer.from(b.logits.buffer, b.logits.byteOffset, b.logits.byteLength), Buffer.from(a.logits.buffer, a.logits.byteOffset, a.logits.byteLength));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
