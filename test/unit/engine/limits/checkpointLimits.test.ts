// Issue 11 §2–3, checkpoint side: every bad checkpoint, config or adapter file is refused with a message
// naming the file and the field or tensor, in bounded time; inspect finds what load refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SafetensorsCheckpoint, SafetensorsFile } from '../../../../src/engine/checkpoint/safetensors';
import { encodeSafetensors, type WritableTensor } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { loadModelSpec, parseModelSpec } from '../../../../src/engine/checkpoint/modelSpec';
import { loadPeftAdapter, parseAdapterConfig } from '../../../../src/engine/checkpoint/peftAdapter';
import { scanFileNonFinite, structuralProblems } from '../../../../src/engine/checkpoint/integrity';
import { inspectCheckpoint } from '../../../../src/engine/backends/inspect';
import { stopRegexWorker } from '../../../../src/engine/limits/safeRegex';
import { goldenPath, goldenSkip } from '../../helpers/golden';

process.env.ORGANISM_LAB_SCAN_CACHE = ''; // no on-disk scan cache from tests
const tmp = mkdtempSync(path.join(tmpdir(), 'limits-ckpt-'));
test.after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await stopRegexWorker();
});
const skip = goldenSkip('llama/model/config.json', 'llama/lora_a/adapter_config.json');
const LLAMA = goldenPath('llama', 'model');

/** A copy of the golden llama model (F32) with its tensors changed by `edit`. */
function llamaCopy(name: string, edit: (t: Record<string, WritableTensor>) => void): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(LLAMA, 'config.json'), path.join(dir, 'config.json'));
  const st = SafetensorsFile.open(path.join(LLAMA, 'model.safetensors'));
  const tensors: Record<string, WritableTensor> = {};
  for (const [n, info] of st.tensors) tensors[n] = { dtype: 'F32', shape: info.shape, data: st.readFloat32(n) };
  edit(tensors);
  writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  return dir;
}

test('a header length one byte short (shifted weights) is refused: the tensors must cover the data section exactly', () => {
  const file = path.join(tmp, 'short.safetensors');
  const buf = encodeSafetensors({ w: { dtype: 'F32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) } });
  const len = buf.readBigUInt64LE(0);
  buf.writeBigUInt64LE(len - 1n, 0); // the header's padding byte now belongs to the data section
  writeFileSync(file, buf);
  assert.throws(() => SafetensorsFile.open(file), (e: Error) => e.message.includes(file) && /tensors cover 16 of the 17 bytes/.test(e.message) && /header length/.test(e.message));
});

test('a hole between tensors is refused, naming the tensor after it', () => {
  const h = Buffer.from(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(tmp, 'hole.safetensors');
  writeFileSync(file, Buffer.concat([len, h, Buffer.alloc(12)]));
  assert.throws(() => SafetensorsFile.open(file), /hole: bytes 4\.\.8 before tensor "b"/);
});

test('NaN/Inf weights are refused at open, naming the tensor; the scan reads F32, F16 and BF16 bit patterns', { skip }, () => {
  const dir = llamaCopy('nan-model', (t) => {
    (t['model.layers.1.mlp.up_proj.weight'].data as Float32Array)[5] = NaN;
  });
  assert.throws(() => SafetensorsCheckpoint.open(dir), (e: Error) => e.message.includes('"model.layers.1.mlp.up_proj.weight" holds 1 NaN and 0 Inf values (first at element 5)'));
  // Opening without the scan still works (inspect does its own, listing every tensor).
  assert.ok(SafetensorsCheckpoint.open(dir, { verifyFinite: false }));
  // Raw 16-bit patterns: BF16 +Inf 0x7f80, F16 NaN 0x7e00; finite values next to them are not counted.
  const raw = (dtype: string, words: number[]) => {
    const data = Buffer.alloc(words.length * 2);
    words.forEach((w, i) => data.writeUInt16LE(w, i * 2));
    const h = Buffer.from(JSON.stringify({ x: { dtype, shape: [words.length], data_offsets: [0, data.length] } }).padEnd(64));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const f = path.join(tmp, `${dtype}.safetensors`);
    writeFileSync(f, Buffer.concat([len, h, data]));
    return SafetensorsFile.open(f);
  };
  assert.deepEqual(scanFileNonFinite(raw('BF16', [0x3f80, 0x7f80, 0xff80, 0x7fc1, 0x7f7f])).map((t) => [t.nan, t.inf, t.first]), [[1, 2, 1]]);
  assert.deepEqual(scanFileNonFinite(raw('F16', [0x3c00, 0x7bff, 0x7e00])).map((t) => [t.nan, t.inf, t.first]), [[1, 0, 2]]);
  // Chunked reads give the same answer as one read (bounded memory).
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const big = scanFileNonFinite(st, { chunkBytes: 64 });
  assert.deepEqual(big.map((t) => [t.tensor, t.nan, t.first]), [['model.layers.1.mlp.up_proj.weight', 1, 5]]);
});

test('inspect finds everything load refuses: a missing tensor, a wrong shape, NaN weights', { skip }, async () => {
  const missing = llamaCopy('missing-model', (t) => {
    delete t['model.layers.2.self_attn.k_proj.weight'];
  });
  const r = await inspectCheckpoint(missing);
  assert.ok(r.problems.some((p) => p.includes('"model.layers.2.self_attn.k_proj.weight"') && p.includes('is missing')), r.problems.join('\n'));
  const shape = llamaCopy('shape-model', (t) => {
    t['model.norm.weight'] = { dtype: 'F32', shape: [63], data: new Float32Array(63) };
  });
  const spec = loadModelSpec(shape);
  assert.match(structuralProblems(spec, SafetensorsCheckpoint.open(shape))[0], /"model\.norm\.weight" has shape \[63\] but .* implies \[64\]/);
  const nan = llamaCopy('nan-model-2', (t) => {
    (t['lm_head.weight'].data as Float32Array)[0] = Infinity;
  });
  const rn = await inspectCheckpoint(nan);
  assert.ok(rn.problems.some((p) => p.includes('"lm_head.weight" holds 0 NaN and 1 Inf')), rn.problems.join('\n'));
  assert.equal(rn.model?.infCount, 1);
  // The untouched golden model has no problems.
  assert.deepEqual((await inspectCheckpoint(LLAMA)).problems, []);
});

const cfg = { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 3, intermediate_size: 128, vocab_size: 512 };

test('config.json: absurd sizes and out-of-range values are refused by field, before any allocation', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ num_hidden_layers: 1e12 }, /"num_hidden_layers" is 1000000000000, above the limit/],
    [{ vocab_size: 2 ** 40 }, /"vocab_size" is .* above the limit/],
    [{ rope_theta: -1 }, /"rope_theta" must be a number above 0/],
    [{ rope_theta: 0 }, /"rope_theta" must be a number above 0/],
    [{ rms_norm_eps: 0 }, /"rms_norm_eps" must be a number above 0 and below 1/],
    [{ rope_scaling: { rope_type: 'linear', factor: -8 } }, /rope_scaling: field "factor" must be a number above 0/],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 64 } }, /"high_freq_factor" \(1\) must be above "low_freq_factor" \(4\)/],
    [{ max_position_embeddings: 0 }, /"max_position_embeddings" must be a positive integer/],
    [{ max_position_embeddings: 1.5 }, /"max_position_embeddings" must be a positive integer/],
    [{ tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be true or false/],
    [{ eos_token_id: 9999 }, /"eos_token_id" must be a token id or a list of token ids in 0\.\.511/],
    [{ bos_token_id: 'x' }, /"bos_token_id" must be a token id/],
    [{ hidden_size: '64' }, /"hidden_size" must be a number/],
  ];
  for (const [extra, re] of bad) {
    const t0 = Date.now();
    assert.throws(() => parseModelSpec({ ...cfg, ...extra }, '/m/config.json'), (e: Error) => e.message.startsWith('/m/config.json') && re.test(e.message), JSON.stringify(extra));
    assert.ok(Date.now() - t0 < 100, `${JSON.stringify(extra)} took ${Date.now() - t0} ms`);
  }
  assert.equal(parseModelSpec({ ...cfg, gemma: 1, pad_token_id: -1 }, 'c.json').padTokenId, null, 'pad -1 = no pad (older configs)');
  assert.equal(parseModelSpec({ ...cfg, max_position_embeddings: 4096 }, 'c.json').maxPositionEmbeddings, 4096);
});

function adapterDir(name: string, config: unknown, tensors?: Record<string, WritableTensor>): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'adapter_config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  if (tensors) writeFileSync(path.join(dir, 'adapter_model.safetensors'), encodeSafetensors(tensors));
  else copyFileSync(goldenPath('llama', 'lora_a', 'adapter_model.safetensors'), path.join(dir, 'adapter_model.safetensors'));
  return dir;
}

test('adapter_config.json: null, non-finite or absurd values and bad types are refused by field', { skip }, () => {
  const good = JSON.parse(readFileSync(goldenPath('llama', 'lora_a', 'adapter_config.json'), 'utf8'));
  const spec = loadModelSpec(LLAMA);
  const cases: [unknown, RegExp][] = [
    ['null', /expected a JSON object .* got null/],
    ['[1]', /expected a JSON object .* got a list/],
    [{ ...good, lora_alpha: 1e308 }, /"lora_alpha" must be a finite number with \|lora_alpha\| ≤ 1000000, got 1e\+308/],
    [{ ...good, alpha_pattern: { down_proj: 1e308 } }, /"alpha_pattern\.down_proj" must be a finite number/],
    [{ ...good, rank_pattern: { down_proj: 'big' } }, /"rank_pattern\.down_proj" must be a positive integer/],
    [{ ...good, r: 1e9 }, /"r" must be a positive integer up to 65536/],
    [{ ...good, use_rslora: 'yes' }, /"use_rslora" must be true or false/],
    [{ ...good, layers_to_transform: -1 }, /"layers_to_transform" must be a layer index/],
    [{ ...good, layers_to_transform: 1.5 }, /"layers_to_transform" must be a layer index/],
    [{ ...good, layers_pattern: 5 }, /"layers_pattern" must be a string or a list of strings/],
    [{ ...good, target_modules: '(unclosed' }, /target_modules: invalid regular expression/],
  ];
  cases.forEach(([c, re], i) => {
    const dir = adapterDir(`bad-adapter-${i}`, c);
    assert.throws(() => loadPeftAdapter(dir, spec), (e: Error) => e.message.includes(path.join(dir, 'adapter_config.json')) && re.test(e.message), `${JSON.stringify(c)}: ${re}`);
    assert.throws(() => parseAdapterConfig(path.join(dir, 'adapter_config.json')), re);
  });
});

test('adapter_config.json: a catastrophic target_modules regex cannot hang loading (linear-time matcher)', { skip }, () => {
  const good = JSON.parse(readFileSync(goldenPath('llama', 'lora_a', 'adapter_config.json'), 'utf8'));
  const spec = loadModelSpec(LLAMA);
  const dir = adapterDir('redos', { ...good, target_modules: '([a-z_.0-9]+)+X' });
  const t0 = Date.now();
  assert.throws(() => loadPeftAdapter(dir, spec), /match no module|does not map to a targeted module/);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  // A real PEFT regex still matches as re.fullmatch does.
  const ok = adapterDir('regex-ok', { ...good, target_modules: '.*\\.1\\.mlp\\.down_proj', layers_to_transform: null });
  assert.equal(loadPeftAdapter(ok, spec).modules.length, 1);
});

test('NaN/Inf in an adapter\'s LoRA matrices is refused at load, naming the tensor', { skip }, () => {
  const good = JSON.parse(readFileSync(goldenPath('llama', 'lora_a', 'adapter_config.json'), 'utf8'));
  const st = SafetensorsFile.open(goldenPath('llama', 'lora_a', 'adapter_model.safetensors'));
  const tensors: Record<string, WritableTensor> = {};
  for (const [n, info] of st.tensors) tensors[n] = { dtype: 'F32', shape: info.shape, data: st.readFloat32(n) };
  const bName = [...st.tensors.keys()].find((n) => n.includes('lora_B'))!;
  (tensors[bName].data as Float32Array)[3] = NaN;
  const dir = adapterDir('nan-adapter', good, tensors);
  assert.throws(() => loadPeftAdapter(dir, loadModelSpec(LLAMA)), (e: Error) => e.message.includes(`"${bName}" holds 1 NaN and 0 Inf values (first at element 3)`));
});

test('inspect: num_hidden_layers 1e12 and an adapter_config.json of null are problems naming the field, in bounded time and memory', { skip }, async () => {
  const dir = path.join(tmp, 'huge-layers');
  mkdirSync(dir, { recursive: true });
  const cfgJson = JSON.parse(readFileSync(path.join(LLAMA, 'config.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfgJson, num_hidden_layers: 1e12 }));
  copyFileSync(path.join(LLAMA, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  const rss0 = process.memoryUsage().rss;
  const t0 = Date.now();
  const r = await inspectCheckpoint(dir);
  assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  assert.ok(process.memoryUsage().rss - rss0 < 200e6);
  assert.ok(r.problems.some((p) => /"num_hidden_layers" is 1000000000000, above the limit of 1024/.test(p)), r.problems.join('\n'));
  const nullDir = adapterDir('null-adapter', 'null');
  const { cliMain } = await import('../../../../src/cli/main');
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    assert.equal(await cliMain(['inspect', nullDir]), 1, 'a problem loading would refuse: exit 1');
  } finally {
    process.stdout.write = write;
  }
  assert.match(out, /problem: .*adapter_config\.json: expected a JSON object .* got null/);
  assert.ok(!/Cannot read properties/.test(out));
});

test('the NaN/Inf scan result is cached on disk by file identity, and a changed file is scanned again', async () => {
  const { clearScanCache, scanCacheFolder } = await import('../../../../src/engine/checkpoint/finiteScan');
  const cacheDir = path.join(tmp, 'scan-cache');
  process.env.ORGANISM_LAB_SCAN_CACHE = cacheDir;
  try {
    assert.equal(scanCacheFolder(), cacheDir);
    const f = path.join(tmp, 'cached.safetensors');
    writeFileSync(f, encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) } }));
    assert.deepEqual(scanFileNonFinite(SafetensorsFile.open(f)), []);
    clearScanCache(); // memory cache gone: the disk entry answers
    assert.deepEqual(scanFileNonFinite(SafetensorsFile.open(f)), []);
    const { readdirSync } = await import('node:fs');
    assert.equal(readdirSync(cacheDir).length, 1);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(f, encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: Float32Array.from([1, NaN, 3]) } })); // same size, new mtime
    assert.deepEqual(scanFileNonFinite(SafetensorsFile.open(f)).map((t) => [t.tensor, t.nan, t.first]), [['w', 1, 1]]);
  } finally {
    process.env.ORGANISM_LAB_SCAN_CACHE = '';
  }
});

test('safetensors __metadata__ must map strings to strings', () => {
  const h = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt', n: 5 }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(tmp, 'meta.safetensors');
  writeFileSync(file, Buffer.concat([len, h, Buffer.alloc(4)]));
  assert.throws(() => SafetensorsFile.open(file), /__metadata__\["n"\] is 5; the format's metadata maps strings to strings/);
});
