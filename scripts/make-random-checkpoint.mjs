#!/usr/bin/env node
// Writes a random-weight Hugging Face checkpoint (config.json + model.safetensors) of the Qwen2.5-0.5B
// shape (or a smaller variant) for memory checks and benchmarks, streaming tensor by tensor in small
// chunks so the full checkpoint is never held in memory. Output goes under bench-models/ (git-ignored).
//
// usage: node scripts/make-random-checkpoint.mjs [--shape qwen2.5-0.5b|qwen2.5-7b] [--out DIR] [--layers N] [--dtype bf16|f32] [--seed N] [--force]
//   --shape   qwen2.5-0.5b (default: hidden 896, 24 layers, 14/2 heads, MLP 4864, tied embeddings) or
//             qwen2.5-7b (hidden 3584, 28 layers, 28/4 heads, MLP 18944, vocabulary 152064, untied: ~15 GB in BF16)
//   --out     default bench-models/<shape>-random
//   --layers  decoder layers (default: the real model's)
//   --dtype   on-disk dtype (default bf16, as the published checkpoint)
// Prints the folder, parameter count and file size. Reuses an existing folder unless --force.
import { openSync, writeSync, closeSync, mkdirSync, writeFileSync, existsSync, statSync, renameSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'qwen2.5-0.5b' },
    out: { type: 'string' },
    layers: { type: 'string' },
    dtype: { type: 'string', default: 'bf16' },
    seed: { type: 'string', default: '1' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node scripts/make-random-checkpoint.mjs [--shape qwen2.5-0.5b|qwen2.5-7b] [--out DIR] [--layers N] [--dtype bf16|f32] [--seed N] [--force]');
  process.exit(0);
}
const SHAPES = {
  'qwen2.5-0.5b': { H: 896, I: 4864, V: 151936, NH: 14, KVH: 2, HD: 64, L: 24, tied: true },
  'qwen2.5-7b': { H: 3584, I: 18944, V: 152064, NH: 28, KVH: 4, HD: 128, L: 28, tied: false },
};
const shape = SHAPES[values.shape];
if (!shape) {
  console.error(`make-random-checkpoint: --shape must be one of ${Object.keys(SHAPES).join(', ')}`);
  process.exit(2);
}
const layers = Number(values.layers ?? shape.L);
const dtype = values.dtype.toUpperCase() === 'F32' ? 'F32' : values.dtype.toUpperCase() === 'BF16' ? 'BF16' : null;
if (!Number.isInteger(layers) || layers < 1 || !dtype) {
  console.error('make-random-checkpoint: --layers must be a positive integer and --dtype bf16 or f32');
  process.exit(2);
}
const out = path.resolve(values.out ?? `bench-models/${values.shape}-random`);
const { H, I, V, NH, KVH, HD } = shape;
const config = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: H,
  intermediate_size: I,
  num_hidden_layers: layers,
  num_attention_heads: NH,
  num_key_value_heads: KVH,
  vocab_size: V,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  rope_scaling: null,
  tie_word_embeddings: shape.tied,
  hidden_act: 'silu',
  use_sliding_window: false,
  sliding_window: null,
  bos_token_id: 151643,
  eos_token_id: 151645,
  torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32',
  note: 'random weights written by scripts/make-random-checkpoint.mjs (organism-lab); not a trained model',
};

// [name, shape, init] with init = {kind: 'uniform', a} | {kind: 'const', v}
const tensors = [['model.embed_tokens.weight', [V, H], { kind: 'uniform', a: 0.05 }]];
for (let l = 0; l < layers; l++) {
  const p = `model.layers.${l}`;
  const lin = (m, o, i, bias) => {
    tensors.push([`${p}.${m}.weight`, [o, i], { kind: 'uniform', a: 1 / Math.sqrt(i) }]);
    if (bias) tensors.push([`${p}.${m}.bias`, [o], { kind: 'uniform', a: 0.1 }]);
  };
  tensors.push([`${p}.input_layernorm.weight`, [H], { kind: 'const', v: 1 }]);
  lin('self_attn.q_proj', NH * HD, H, true);
  lin('self_attn.k_proj', KVH * HD, H, true);
  lin('self_attn.v_proj', KVH * HD, H, true);
  lin('self_attn.o_proj', H, NH * HD, false);
  tensors.push([`${p}.post_attention_layernorm.weight`, [H], { kind: 'const', v: 1 }]);
  lin('mlp.gate_proj', I, H, false);
  lin('mlp.up_proj', I, H, false);
  lin('mlp.down_proj', H, I, false);
}
tensors.push(['model.norm.weight', [H], { kind: 'const', v: 1 }]);
if (!shape.tied) tensors.push(['lm_head.weight', [V, H], { kind: 'uniform', a: 1 / Math.sqrt(H) }]);

const bytesPer = dtype === 'BF16' ? 2 : 4;
const header = { __metadata__: { format: 'pt', generator: 'organism-lab make-random-checkpoint' } };
let offset = 0;
let params = 0;
for (const [name, shape] of tensors) {
  const n = shape.reduce((a, b) => a * b, 1);
  header[name] = { dtype, shape, data_offsets: [offset, offset + n * bytesPer] };
  offset += n * bytesPer;
  params += n;
}
const file = path.join(out, 'model.safetensors');
if (existsSync(file) && existsSync(path.join(out, 'config.json')) && !values.force) {
  console.log(JSON.stringify({ dir: out, params, float32Bytes: params * 4, fileBytes: statSync(file).size, reused: true }));
  process.exit(0);
}
mkdirSync(out, { recursive: true });
let json = JSON.stringify(header);
while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
const tmp = `${file}.partial`;
const fd = openSync(tmp, 'w');
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
writeSync(fd, len);
writeSync(fd, Buffer.from(json));

// xorshift32 stream, uniform in [-a, a]
let state = (Number(values.seed) * 2654435761) >>> 0 || 1;
const CHUNK = 1 << 20; // elements per write
const f32 = new Float32Array(CHUNK);
const u32 = new Uint32Array(f32.buffer);
const bf = new Uint16Array(CHUNK);
for (const [, shape, init] of tensors) {
  let left = shape.reduce((a, b) => a * b, 1);
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    for (let i = 0; i < n; i++) {
      if (init.kind === 'const') f32[i] = init.v;
      else {
        state ^= state << 13; state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5; state >>>= 0;
        f32[i] = (state / 4294967296 * 2 - 1) * init.a;
      }
    }
    if (dtype === 'BF16') {
      for (let i = 0; i < n; i++) {
        const u = u32[i];
        bf[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
      }
      writeSync(fd, new Uint8Array(bf.buffer, 0, n * 2));
    } else {
      writeSync(fd, new Uint8Array(f32.buffer, 0, n * 4));
    }
    left -= n;
  }
}
closeSync(fd);
renameSync(tmp, file);
writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2));
console.log(JSON.stringify({ dir: out, params, float32Bytes: params * 4, fileBytes: statSync(file).size, reused: false }));
