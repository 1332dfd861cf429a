// The built ONNX model: no graph input has an initializer (ORT would drop its feed), weights are external
// data at the safetensors byte ranges, sharded checkpoints work, and mismatched weights are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, copyFileSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildDecoderGraph } from '../../../../src/engine/graph/decoderGraph';
import { ModelProtoType, DATA_LOCATION_EXTERNAL, OnnxDtype } from '../../../../src/engine/graph/onnxProto';
import { loadModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { SafetensorsCheckpoint, SafetensorsFile } from '../../../../src/engine/checkpoint/safetensors';
import { encodeSafetensors, WritableTensor } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { ensureQuantizedWeights } from '../../../../src/engine/quant/quantCache';
import { goldenPath, goldenSkip } from '../../helpers/golden';

const GOLDEN = goldenPath();
const skip = goldenSkip('qwen2', 'llama', 'mistral');
const tmp = mkdtempSync(path.join(tmpdir(), 'graph-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Decoded {
  graph: {
    input: { name: string }[];
    output: { name: string }[];
    initializer: { name: string; dataType: number; dataLocation?: number; externalData: { key: string; value: string }[] }[];
    node: { opType: string; input: string[] }[];
  };
}

test('graph inputs never have initializers; weights are external data at their byte ranges', { skip }, () => {
  const dir = path.join(GOLDEN, 'qwen2', 'model');
  const spec = loadModelSpec(dir);
  const ckpt = SafetensorsCheckpoint.open(dir);
  const g = buildDecoderGraph({ spec, checkpoint: ckpt, lora: [{ layer: 1, module: 'down_proj', rank: 3 }], steerLayers: [1], ablateLayers: [0] });
  const m = ModelProtoType.toObject(ModelProtoType.decode(g.bytes), { longs: Number, defaults: true }) as unknown as Decoded;
  const inits = new Set(m.graph.initializer.map((i) => i.name));
  for (const i of m.graph.input) assert.ok(!inits.has(i.name), `input ${i.name} also has an initializer`);
  assert.ok(g.inputNames.includes('lora.1.down_proj.A') && g.inputNames.includes('lora.1.down_proj.scale'));
  assert.ok(g.inputNames.includes('steer.1') && g.inputNames.includes('ablate.0'));
  assert.ok(g.outputNames.includes('hidden_states.3') && g.outputNames.includes('new_key_values.2.value') && g.inputNames.includes('past_key_values.2.value'));
  let external = 0;
  for (const init of m.graph.initializer) {
    if (init.dataLocation !== DATA_LOCATION_EXTERNAL) continue;
    external++;
    const kv = Object.fromEntries(init.externalData.map((e) => [e.key, e.value]));
    const r = ckpt.byteRange(init.name);
    assert.equal(kv.location, 'model.safetensors');
    assert.equal(Number(kv.offset), r.offset);
    assert.equal(Number(kv.length), r.length);
    assert.equal(init.dataType, OnnxDtype.BFLOAT16, 'qwen2 golden weights are BF16 on disk');
  }
  assert.equal(external, ckpt.names().length, 'every checkpoint tensor is an external initializer');
  // No weight bytes inside the model itself: the proto stays small.
  assert.ok(g.bytes.length < 64 * 1024, `model proto is ${g.bytes.length} bytes`);
  assert.ok(m.graph.node.some((n) => n.opType === 'Cast'), 'BF16 weights are cast to float32 in the graph');
});

test('a sharded checkpoint gives the same logits as the single file', { skip }, async () => {
  const src = path.join(GOLDEN, 'llama', 'model');
  const st = SafetensorsFile.open(path.join(src, 'model.safetensors'));
  const names = [...st.tensors.keys()].sort();
  const shards: Record<string, WritableTensor>[] = [{}, {}];
  const weightMap: Record<string, string> = {};
  names.forEach((n, i) => {
    const k = i % 2;
    shards[k][n] = { dtype: 'F32', shape: st.info(n).shape, data: st.readFloat32(n) };
    weightMap[n] = `model-0000${k + 1}-of-00002.safetensors`;
  });
  const dir = path.join(tmp, 'sharded');
  mkdirSync(dir);
  shards.forEach((s, k) => writeFileSync(path.join(dir, `model-0000${k + 1}-of-00002.safetensors`), encodeSafetensors(s)));
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  copyFileSync(path.join(src, 'config.json'), path.join(dir, 'config.json'));
  const req = { inputIds: [[3, 9, 27, 81]], attentionMask: [[1, 1, 1, 1]], rows: [{ adapter: null, adapterScale: 0 }] };
  const a = await ModelRunner.load(src, { threads: 1 });
  const b = await ModelRunner.load(dir, { threads: 1 });
  assert.deepEqual((await b.forward(req)).logits, (await a.forward(req)).logits);
  await a.dispose();
  await b.dispose();
});

test('weights that do not fit the config are named', { skip }, async () => {
  const dir = path.join(tmp, 'mismatch');
  mkdirSync(dir);
  copyFileSync(path.join(GOLDEN, 'mistral', 'model', 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const cfg = JSON.parse(readFileSync(path.join(GOLDEN, 'mistral', 'model', 'config.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 256 }));
  await assert.rejects(ModelRunner.load(dir), /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[128, 64\] but .*config\.json implies \[256, 64\]/);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 4 }));
  await assert.rejects(ModelRunner.load(dir), /tensor "model\.layers\.3\.input_layernorm\.weight" is missing from the checkpoint/);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'phi3' }));
  await assert.rejects(ModelRunner.load(dir), /model_type "phi3" is not supported \(supported: qwen2, qwen3, llama, mistral, gemma2, gemma3_text\)/);
});

test('int8/int4: a tied embedding is one copy of blocks in the quantized file, read by the lookup and the LM head', { skip }, async () => {
  const dir = path.join(GOLDEN, 'qwen2', 'model');
  const spec = loadModelSpec(dir);
  assert.equal(spec.tieWordEmbeddings, true);
  const ckpt = SafetensorsCheckpoint.open(dir);
  for (const bits of [8, 4] as const) {
    const q = await ensureQuantizedWeights(spec, ckpt, { bits, blockSize: 32, cacheFolder: path.join(tmp, 'quant') });
    assert.ok(![...q.weights.tensors.keys()].some((n) => n.startsWith('lm_head')), 'no LM head of its own in the cache file');
    const g = buildDecoderGraph({ spec, checkpoint: ckpt, quant: { bits, blockSize: 32, accuracyLevel: 4, weights: q.weights } });
    const m = ModelProtoType.toObject(ModelProtoType.decode(g.bytes), { longs: Number, defaults: true }) as unknown as Decoded;
    const where = (name: string): string => {
      const init = m.graph.initializer.find((i) => i.name === name);
      assert.ok(init, `initializer ${name}`);
      return JSON.stringify(init.externalData);
    };
    const lookup = m.graph.node.find((n) => n.opType === 'GatherBlockQuantized');
    const head = m.graph.node.find((n) => n.opType === 'MatMulNBits' && n.input[1] === 'model.embed_tokens.weight.qweight');
    assert.ok(lookup && head, 'the lookup and the tied LM head');
    assert.equal(lookup.input[2], head.input[2], 'one scales initializer');
    assert.equal(where(lookup.input[0]), where(head.input[1]), 'the same bytes of the same file');
    const range = q.weights.byteRange('model.embed_tokens.weight.qweight');
    assert.equal(range.length, (spec.vocabSize * spec.hiddenSize * bits) / 8);
    // every initializer is read by a node (onnxruntime warns about, and drops, the others)
    const read = new Set(m.graph.node.flatMap((n) => n.input));
    assert.deepEqual(m.graph.initializer.map((i) => i.name).filter((n) => !read.has(n)), [], 'unused initializers');
    // a layer's q/k/v and gate/up are one product each: 4 per layer, plus the LM head
    const products = m.graph.node.filter((n) => n.opType === 'MatMulNBits');
    assert.equal(products.length, spec.numLayers * 4 + 1);
    const qkv = products.find((n) => n.input[1] === 'model.layers.0.self_attn.q_proj.weight.qweight+2');
    assert.ok(qkv, 'layer 0 q/k/v as one initializer');
    const qkvRange = JSON.parse(where(qkv.input[1])) as { key: string; value: string }[];
    const length = Number(qkvRange.find((e) => e.key === 'length')!.value);
    const kvOut = spec.numKvHeads * spec.headDim;
    assert.equal(length, ((spec.numHeads * spec.headDim + 2 * kvOut) * spec.hiddenSize * bits) / 8, 'q, k and v blocks in one range');
  }
});
