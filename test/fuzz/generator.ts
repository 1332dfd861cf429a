/**
 * The fuzz suite's seeded case generator: malformed model safetensors, config.json, adapters (config and
 * weights), prompt sets (YAML and JSONL), run files and `forward` inputs, built by mutating known-good inputs
 * (the golden checkpoints in ../shared/golden, the fixture prompt sets and run files, the demo judge).
 *
 * A case id (`KIND.MUTATION.N`) plus the seed (ORGANISM_LAB_FUZZ_SEED, default 1) determines a case
 * completely: `materialize(id, dir)` writes its files into `dir` and returns the CLI argv to run and what the
 * contract expects of the outcome:
 *   - `fail`: exit 1 with a message naming the file and the field or tensor;
 *   - `either`: the same failure, or success (exit 0) with a well-formed output (the mutation may be harmless);
 *   - `success`: exit 0 with a well-formed output.
 * Never: another exit code, a JavaScript stack trace, over 30 s, over 1.5 GB peak RSS (checked by the runner).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GOLDEN } from '../unit/helpers/golden';

export const ROOT = path.resolve(__dirname, '../..');
export const SEED = Number(process.env.ORGANISM_LAB_FUZZ_SEED ?? 1);
const FIXTURE_TOKENIZER = path.join(ROOT, 'test/fixtures/tokenizers/qwen-style');
const JUDGES = path.join(ROOT, 'examples/judges/demo.judges.yaml');
const FAMILIES = ['qwen2', 'llama', 'mistral', 'qwen3', 'gemma2', 'gemma3_text'];

// ---------------------------------------------------------------- seeded randomness

function hash32(s: string): number {
  let h = 2166136261 >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h >>> 0;
}

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** mulberry32 */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------- what a case is

export type Outcome = 'fail' | 'either' | 'success';

export type SuccessCheck =
  | { kind: 'forward'; out: string; batch: number; seq: number }
  | { kind: 'inspect'; out: string; flagNonFinite?: 'model' | 'adapter' }
  | { kind: 'run'; out: string }
  | { kind: 'export'; out: string; format: 'csv' | 'jsonl' | 'comparator' }
  | { kind: 'judge'; runFile: string };

export interface Expectation {
  outcome: Outcome;
  /** One of these (a base name or path) must appear in the output of a failing case. */
  files: string[];
  /** One of these must appear too (the field or tensor); empty = naming the file is enough (the whole file is the problem). */
  names: string[];
  onSuccess?: SuccessCheck;
  /** On success the output must still name one of `files` (a damaged row that was skipped is warned about). */
  warnOnSuccess?: boolean;
}

export interface Materialized {
  id: string;
  kind: string;
  mutation: string;
  /** What was done to the input, for the report. */
  what: string;
  argv: string[];
  expect: Expectation;
}

interface Ctx {
  rng: Rng;
  dir: string;
  i: number;
}
type Mutation = (c: Ctx) => Omit<Materialized, 'id' | 'kind' | 'mutation'>;

// ---------------------------------------------------------------- safetensors helpers

interface StHeaderEntry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
}
interface St {
  header: Record<string, StHeaderEntry | Record<string, string>>;
  data: Buffer;
}

function readSt(file: string): St {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  return { header: JSON.parse(b.subarray(8, 8 + n).toString('utf8')), data: Buffer.from(b.subarray(8 + n)) };
}

function stBytes(headerText: string, data: Buffer, lenOverride?: bigint): Buffer {
  const h = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

function tensorNames(st: St): string[] {
  return Object.keys(st.header).filter((k) => k !== '__metadata__');
}

function entry(st: St, name: string): StHeaderEntry {
  return st.header[name] as StHeaderEntry;
}

/** Float tensors only (the golden checkpoints hold BF16 / F32 weights). */
function floatTensors(st: St): string[] {
  return tensorNames(st).filter((n) => ['BF16', 'F32', 'F16'].includes(String(entry(st, n).dtype)));
}

/** Write NaN/Inf values into a tensor's bytes. */
function poison(st: St, name: string, rng: Rng): string {
  const e = entry(st, name);
  const [b, end] = e.data_offsets as [number, number];
  const size = e.dtype === 'F32' ? 4 : 2;
  const count = (end - b) / size;
  const k = rng.int(1, Math.min(5, count));
  const kinds: string[] = [];
  for (let j = 0; j < k; j++) {
    const at = b + rng.int(0, count - 1) * size;
    const v = rng.pick(['NaN', 'Inf', '-Inf'] as const);
    kinds.push(v);
    if (size === 4) st.data.writeFloatLE(v === 'NaN' ? NaN : v === 'Inf' ? Infinity : -Infinity, at);
    else if (e.dtype === 'BF16') st.data.writeUInt16LE(v === 'NaN' ? 0x7fc0 : v === 'Inf' ? 0x7f80 : 0xff80, at);
    else st.data.writeUInt16LE(v === 'NaN' ? 0x7e00 : v === 'Inf' ? 0x7c00 : 0xfc00, at);
  }
  return `${k} value(s) ${[...new Set(kinds)].join('/')}`;
}

// ---------------------------------------------------------------- base inputs in a case folder

function copyDir(src: string, dst: string, files: string[]): void {
  mkdirSync(dst, { recursive: true });
  for (const f of files) copyFileSync(path.join(src, f), path.join(dst, f));
}

/** A copy of a golden family's model (config.json + model.safetensors). */
function goldenModel(c: Ctx, fam = c.rng.pick(FAMILIES)): { dir: string; fam: string } {
  const dir = path.join(c.dir, 'model');
  copyDir(path.join(GOLDEN, fam, 'model'), dir, ['config.json', 'model.safetensors']);
  return { dir, fam };
}

function goldenAdapter(c: Ctx): { dir: string; base: string; fam: string } {
  const fam = c.rng.pick(FAMILIES);
  const which = c.rng.pick(['lora_a', 'lora_b']);
  const dir = path.join(c.dir, 'adapter');
  copyDir(path.join(GOLDEN, fam, which), dir, ['adapter_config.json', 'adapter_model.safetensors']);
  return { dir, base: path.join(GOLDEN, fam, 'model'), fam };
}

/** A forward input the golden models take (vocab 512 in every family). */
function smallInput(c: Ctx): { file: string; batch: number; seq: number } {
  const batch = c.rng.int(1, 2);
  const seq = c.rng.int(1, 6);
  const ids = Array.from({ length: batch }, () => Array.from({ length: seq }, () => c.rng.int(3, 500)));
  const file = path.join(c.dir, 'in.json');
  writeFileSync(file, JSON.stringify({ input_ids: ids }));
  return { file, batch, seq };
}

/** The command a model / adapter case runs: inspect (report to JSON) or forward (odd / even case numbers). */
function modelCommand(c: Ctx, model: string, adapter?: string, nonFinite?: 'model' | 'adapter'): { argv: string[]; onSuccess: SuccessCheck } {
  if (c.i % 2 === 0) {
    const out = path.join(c.dir, 'report.json');
    const argv = adapter ? ['inspect', adapter, '--base', model, '--out', out] : ['inspect', model, '--out', out];
    return { argv, onSuccess: { kind: 'inspect', out, flagNonFinite: nonFinite } };
  }
  const inp = smallInput(c);
  const out = path.join(c.dir, 'out.safetensors');
  const argv = ['forward', '--model', model, ...(adapter ? ['--adapter', adapter] : []), '--input', inp.file, '--out', out, '--threads', '1'];
  return { argv, onSuccess: { kind: 'forward', out, batch: inp.batch, seq: inp.seq } };
}

// ---------------------------------------------------------------- safetensors mutations (model or adapter weights)

/**
 * Mutations of a .safetensors file. `file` is the file inside the case folder; the returned expectation
 * names it and the tensor(s) concerned.
 */
function stMutation(kind: string, c: Ctx, file: string): { what: string; outcome: Outcome; names: string[] } {
  const { rng } = c;
  const st = readSt(file);
  const names = tensorNames(st);
  const T = rng.pick(floatTensors(st));
  const e = entry(st, T);
  const headerText = () => JSON.stringify(st.header);
  const write = (buf: Buffer) => writeFileSync(file, buf);
  const real = stBytes(headerText(), st.data);
  const hlen = real.readBigUInt64LE(0);
  switch (kind) {
    case 'len-huge': {
      const v = rng.pick([2n ** 63n, 2n ** 64n - 1n, 2n ** 40n, BigInt(real.length) + 1n, 100n * 1024n * 1024n + 1n]);
      write(stBytes(headerText(), st.data, v));
      return { what: `header length field = ${v}`, outcome: 'fail', names: ['header'] };
    }
    case 'len-zero':
      write(stBytes(headerText(), st.data, 0n));
      return { what: 'header length field = 0', outcome: 'fail', names: ['header'] };
    case 'len-off': {
      const d = BigInt(rng.pick([-1, -2, -7, 1, 3, 9, -Number(hlen) + 1]));
      write(stBytes(headerText(), st.data, hlen + d));
      return { what: `header length field off by ${d}`, outcome: 'fail', names: ['header', ...names] };
    }
    case 'truncate-header': {
      const at = rng.int(0, 8 + Number(hlen) - 1);
      write(real.subarray(0, at));
      return { what: `file cut to ${at} bytes (inside the ${at < 8 ? 'length prefix' : 'header'})`, outcome: 'fail', names: ['header'] };
    }
    case 'truncate-data': {
      const dataStart = 8 + Number(hlen);
      const at = rng.int(dataStart, real.length - 1);
      write(real.subarray(0, at));
      const cut = names.filter((n) => (entry(st, n).data_offsets as number[])[1] > at - dataStart);
      return { what: `file cut to ${at} of ${real.length} bytes (inside the data)`, outcome: 'fail', names: cut };
    }
    case 'extend-data': {
      write(Buffer.concat([real, Buffer.alloc(rng.int(1, 4096), rng.int(0, 255))]));
      return { what: 'bytes appended after the last tensor', outcome: 'either', names: ['header', 'data', ...names] };
    }
    case 'byte-flip': {
      const buf = Buffer.from(real);
      const n = rng.int(1, 4);
      const at: number[] = [];
      for (let j = 0; j < n; j++) {
        const p = rng.int(8, 8 + Number(hlen) - 1);
        at.push(p);
        buf[p] = rng.chance(0.5) ? buf[p] ^ (1 << rng.int(0, 7)) : rng.int(0, 255);
      }
      write(buf);
      const flipped: string[] = [];
      try {
        flipped.push(...Object.keys(JSON.parse(buf.subarray(8, 8 + Number(hlen)).toString('utf8')) as object));
      } catch {
        /* no longer JSON */
      }
      // A flip can break the JSON, rename a tensor, change a dtype, a digit of a shape or offset, or land in
      // padding: either a refusal naming the header or a tensor, or a file that still holds (either).
      return { what: `header bytes changed at ${at.join(', ')}`, outcome: 'either', names: ['header', 'JSON', ...names, ...flipped] };
    }
    case 'header-pad': {
      // Trailing spaces are allowed by the format (alignment padding): the file stays valid.
      write(stBytes(headerText() + ' '.repeat(rng.int(1, 64)), st.data));
      return { what: 'header padded with spaces', outcome: 'either', names: ['header'] };
    }
    case 'header-not-object': {
      const v = rng.pick(['[]', 'null', '"x"', '42', 'true', '[{"dtype":"F32"}]', '{"a": ']);
      write(stBytes(v, st.data));
      return { what: `header = ${v}`, outcome: 'fail', names: ['header', 'JSON'] };
    }
    case 'header-empty': {
      const v = rng.pick(['{}', '{"__metadata__": {"format": "pt"}}']);
      write(stBytes(v, st.data));
      return { what: `header = ${v} (no tensors)`, outcome: 'fail', names: ['header', 'tensor', ...names] };
    }
    case 'dtype': {
      const v = rng.pick(['F64', 'I64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'Q4', 'bf16', '', null, 7, ['BF16'], 'F16', 'F32', 'BF16']);
      const was = e.dtype;
      e.dtype = v;
      write(stBytes(headerText(), st.data));
      const sameBytes = (v === 'F16' || v === 'BF16') && was !== 'F32' ? true : v === 'F32' && was === 'F32';
      return { what: `tensor ${T}: dtype ${JSON.stringify(was)} -> ${JSON.stringify(v)}`, outcome: sameBytes ? 'either' : 'fail', names: [T] };
    }
    case 'shape': {
      const shape = e.shape as number[];
      const v = rng.pick([
        [...shape].reverse(), [shape[0] + 1, ...shape.slice(1)], [], [0], [-1, ...shape.slice(1)], [shape.reduce((a, b) => a * b, 1)],
        [...shape, 1], [1.5, ...shape.slice(1)], ['64', ...shape.slice(1)], null, 'x', [2 ** 53, 2 ** 53], [1e300], {} as unknown as number[],
      ]);
      e.shape = v;
      write(stBytes(headerText(), st.data));
      // A transposed square matrix or an added unit axis keeps the byte count; everything else does not fit.
      const same = JSON.stringify(v) === JSON.stringify(shape);
      return { what: `tensor ${T}: shape ${JSON.stringify(shape)} -> ${JSON.stringify(v)}`, outcome: same ? 'either' : 'fail', names: [T] };
    }
    case 'offsets': {
      const [b, end] = e.data_offsets as number[];
      const v = rng.pick([
        [end, b], [b, end + 2], [b + 2, end + 2], [b, st.data.length + 1024], [-2, end - b - 2], [b, end - 1], [1.5, end],
        [b], [b, end, 0], null, 'x', [String(b), String(end)], [2 ** 53, 2 ** 53 + end - b], [b, 1e300],
      ]);
      e.data_offsets = v;
      write(stBytes(headerText(), st.data));
      return { what: `tensor ${T}: data_offsets [${b}, ${end}] -> ${JSON.stringify(v)}`, outcome: 'fail', names: [T] };
    }
    case 'overlap': {
      // T takes the byte range of another tensor U of the same size: two tensors read the same bytes.
      const [b, end] = e.data_offsets as number[];
      const same = floatTensors(st).filter((n) => n !== T && (entry(st, n).data_offsets as number[])[1] - (entry(st, n).data_offsets as number[])[0] === end - b);
      let U: string;
      if (same.length) {
        U = rng.pick(same);
        e.data_offsets = [...(entry(st, U).data_offsets as number[])];
      } else {
        // No tensor of the same size: shift T by half its length into its neighbour.
        U = '(neighbour)';
        const half = Math.floor((end - b) / 2 / 4) * 4 || 2;
        e.data_offsets = b >= half ? [b - half, end - half] : [b + half, end + half];
      }
      write(stBytes(headerText(), st.data));
      // T's own range is left uncovered: a refusal may name the overlap or that hole (and the tensor next to it).
      return { what: `tensor ${T} overlaps ${U}`, outcome: 'fail', names: [...names, 'overlap', 'hole'] };
    }
    case 'hole': {
      // Unused bytes inside the data section (every offset after T shifted): the Rust reader refuses it; readable either way.
      const [, end] = e.data_offsets as number[];
      const gap = rng.int(1, 64) * 2;
      for (const n of names) {
        const o = entry(st, n).data_offsets as number[];
        if (o[0] >= end) entry(st, n).data_offsets = [o[0] + gap, o[1] + gap];
      }
      const data = Buffer.concat([st.data.subarray(0, end), Buffer.alloc(gap), st.data.subarray(end)]);
      write(stBytes(headerText(), data));
      return { what: `${gap} unused bytes after tensor ${T}`, outcome: 'either', names: [...names, 'data'] };
    }
    case 'nan-inf': {
      const what = poison(st, T, rng);
      write(stBytes(headerText(), st.data));
      return { what: `tensor ${T}: ${what}`, outcome: 'either', names: [T] };
    }
    case 'missing-tensor': {
      // Its bytes go too (later offsets shift), so the only fault is the missing tensor.
      const [b, end] = e.data_offsets as number[];
      delete st.header[T];
      for (const n of tensorNames(st)) {
        const o = entry(st, n).data_offsets as number[];
        if (o[0] >= end) entry(st, n).data_offsets = [o[0] - (end - b), o[1] - (end - b)];
      }
      write(stBytes(headerText(), Buffer.concat([st.data.subarray(0, b), st.data.subarray(end)])));
      return { what: `tensor ${T} removed from the header`, outcome: 'fail', names: [T] };
    }
    case 'rename-tensor': {
      const to = rng.pick([`${T}.x`, T.toUpperCase(), T.replace(/\d+/, '99'), T.replace('weight', 'wieght'), `${T} `]);
      st.header[to] = e;
      delete st.header[T];
      write(stBytes(headerText(), st.data));
      return { what: `tensor ${T} renamed to ${JSON.stringify(to)}`, outcome: 'fail', names: [T, to] };
    }
    case 'extra-tensor': {
      const name = rng.pick(['model.layers.99.mlp.down_proj.weight', 'lm_head.bias', 'extra.weight', 'base_model.model.model.layers.0.mlp.foo.lora_A.weight']);
      st.header[name] = { dtype: 'F32', shape: [4], data_offsets: [st.data.length, st.data.length + 16] };
      write(stBytes(headerText(), Buffer.concat([st.data, Buffer.alloc(16)])));
      return { what: `extra tensor ${name}`, outcome: 'either', names: [name] };
    }
    case 'metadata': {
      const v = rng.pick([{ format: 5 }, { format: null }, 'pt', [1, 2], { format: 'x'.repeat(100_000) }, { nested: { a: 1 } }, null]);
      (st.header as Record<string, unknown>).__metadata__ = v;
      write(stBytes(headerText(), st.data));
      return { what: `__metadata__ = ${JSON.stringify(v).slice(0, 60)}`, outcome: 'either', names: ['__metadata__', 'metadata', 'header'] };
    }
    case 'duplicate-key': {
      const text = headerText().replace(`"${T}":`, `"${T}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"${T}":`);
      write(stBytes(text, st.data));
      return { what: `tensor ${T} listed twice in the header JSON`, outcome: 'either', names: [T, 'header'] };
    }
    default:
      throw new Error(`unknown safetensors mutation ${kind}`);
  }
}

const ST_KINDS: [string, number][] = [
  ['len-huge', 8], ['len-zero', 4], ['len-off', 10], ['truncate-header', 12], ['truncate-data', 14], ['extend-data', 6], ['byte-flip', 24],
  ['header-pad', 6], ['header-not-object', 10], ['header-empty', 6], ['dtype', 20], ['shape', 20], ['offsets', 20], ['overlap', 10],
  ['hole', 8], ['nan-inf', 16], ['missing-tensor', 12], ['rename-tensor', 10], ['extra-tensor', 8], ['metadata', 8], ['duplicate-key', 6],
];

function modelStCase(kind: string): Mutation {
  return (c) => {
    const m = goldenModel(c);
    const file = path.join(m.dir, 'model.safetensors');
    const r = stMutation(kind, c, file);
    const cmd = modelCommand(c, m.dir, undefined, kind === 'nan-inf' ? 'model' : undefined);
    // A tensor the checkpoint lacks is a fault of the checkpoint folder (it may be sharded): naming the folder is enough.
    const files = ['missing-tensor', 'rename-tensor', 'byte-flip'].includes(kind) ? ['model.safetensors', m.dir] : ['model.safetensors'];
    return { what: `${m.fam} model.safetensors: ${r.what}`, argv: cmd.argv, expect: { outcome: r.outcome, files, names: r.names, onSuccess: cmd.onSuccess } };
  };
}

const ADAPTER_ST_KINDS: [string, number][] = [
  ['len-huge', 3], ['len-off', 4], ['truncate-header', 5], ['truncate-data', 6], ['byte-flip', 12], ['header-not-object', 4], ['header-empty', 4],
  ['dtype', 8], ['shape', 12], ['offsets', 8], ['overlap', 4], ['nan-inf', 10], ['missing-tensor', 8], ['rename-tensor', 6], ['extra-tensor', 6],
];

function adapterStCase(kind: string): Mutation {
  return (c) => {
    const a = goldenAdapter(c);
    const file = path.join(a.dir, 'adapter_model.safetensors');
    const r = stMutation(kind, c, file);
    const cmd = modelCommand(c, a.base, a.dir, kind === 'nan-inf' ? 'adapter' : undefined);
    return { what: `${a.fam} adapter_model.safetensors: ${r.what}`, argv: cmd.argv, expect: { outcome: r.outcome, files: ['adapter_model.safetensors'], names: r.names, onSuccess: cmd.onSuccess } };
  };
}

// ---------------------------------------------------------------- JSON files: config.json, adapter_config.json

/** Raw JSON text for values JSON cannot hold (Python's json writes NaN and Infinity). */
const RAW = { NaN: '__RAW_NaN__', Inf: '__RAW_Infinity__', NegInf: '__RAW_-Infinity__' };
function jsonWithRaw(v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/"__RAW_(-?\w+)__"/g, '$1');
}

/** Names a refusal of a non-JSON literal may give instead of the field: the file is not JSON at all. */
function rawNames(v: unknown): string[] {
  return typeof v === 'string' && v.startsWith('__RAW_') ? ['JSON', 'NaN', 'Infinity'] : [];
}

const BAD_VALUES: unknown[] = [null, 'abc', '64', -1, 0, 1.5, 1e12, 2 ** 53 + 2, -1e308, 1e308, RAW.NaN, RAW.Inf, RAW.NegInf, [], [64], {}, true, 'x'.repeat(200_000)];

/** Structural fields: any wrong value must be refused naming the field (or the tensor that no longer fits). */
const CONFIG_STRUCTURAL = ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'intermediate_size', 'vocab_size', 'model_type'];
const CONFIG_OTHER = ['head_dim', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'tie_word_embeddings', 'rope_scaling', 'sliding_window', 'architectures', 'torch_dtype', 'hidden_act', 'bos_token_id', 'eos_token_id', 'pad_token_id', 'layer_types', 'query_pre_attn_scalar', 'final_logit_softcapping', 'attn_logit_softcapping'];

function configCase(kind: string): Mutation {
  return (c) => {
    const m = goldenModel(c);
    const file = path.join(m.dir, 'config.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const st = readSt(path.join(m.dir, 'model.safetensors'));
    const tensors = tensorNames(st);
    const cmd = modelCommand(c, m.dir);
    const done = (what: string, outcome: Outcome, names: string[]) => ({
      what: `${m.fam} config.json: ${what}`, argv: cmd.argv,
      expect: { outcome, files: ['config.json', 'model.safetensors'], names, onSuccess: cmd.onSuccess },
    });
    switch (kind) {
      case 'structural-value': {
        const f = c.rng.pick(CONFIG_STRUCTURAL);
        const v = c.rng.pick(f === 'model_type' ? [null, 'gpt9', '', 5, [], 'QWEN2', 'x'.repeat(10_000)] : BAD_VALUES);
        cfg[f] = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`${f} = ${String(JSON.stringify(v)).slice(0, 40)}`, 'fail', [f, ...tensors, ...rawNames(v)]);
      }
      case 'structural-missing': {
        const f = c.rng.pick(CONFIG_STRUCTURAL);
        delete cfg[f];
        writeFileSync(file, jsonWithRaw(cfg));
        // Transformers' defaults (num_key_value_heads = num_attention_heads, …) may apply: then a tensor no longer fits.
        return done(`${f} removed`, 'fail', [f, ...tensors]);
      }
      case 'structural-off': {
        // A plausible but wrong number: the weights no longer fit.
        const f = c.rng.pick(CONFIG_STRUCTURAL.filter((k) => k !== 'model_type' && typeof cfg[k] === 'number'));
        const was = cfg[f] as number;
        const v = c.rng.pick([was + 1, was * 2, Math.max(1, was - 1), was + 64]);
        cfg[f] = v;
        writeFileSync(file, jsonWithRaw(cfg));
        // Fewer layers than the checkpoint holds can be a legitimate truncation: either.
        const outcome: Outcome = f === 'num_hidden_layers' && v < was ? 'either' : 'fail';
        // The refusal may name a tensor the config now implies but the checkpoint lacks (model.layers.N. …).
        return done(`${f} ${was} -> ${v}`, outcome, [f, ...tensors, 'model.layers.']);
      }
      case 'other-value': {
        const f = c.rng.pick(CONFIG_OTHER);
        const v = c.rng.pick(BAD_VALUES);
        cfg[f] = v;
        writeFileSync(file, jsonWithRaw(cfg));
        // Optional or numeric fields: refusing (naming the field) or running on is both acceptable,
        // as long as the outcome is clean; NaN/Infinity literals are not JSON and may be refused as such.
        // A refusal may also name a tensor the changed config now asks for (tie_word_embeddings false: lm_head.weight).
        return done(`${f} = ${String(JSON.stringify(v)).slice(0, 40)}`, 'either', [f, 'JSON', 'NaN', 'Infinity', 'lm_head.weight', 'model.layers.', ...tensors]);
      }
      case 'other-missing': {
        const f = c.rng.pick(CONFIG_OTHER.filter((k) => k in cfg));
        delete cfg[f];
        writeFileSync(file, jsonWithRaw(cfg));
        // Transformers' per-family default then applies (Qwen2's tie_word_embeddings is false: lm_head.weight is wanted).
        return done(`${f} removed`, 'either', [f, 'lm_head.weight', 'model.layers.', ...tensors]);
      }
      case 'whole-file': {
        const v = c.rng.pick([
          '', 'null', '[]', '"config"', '42', '{', '{"hidden_size": 64,}', '\u0000\u0001\u0002', `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
          `{"a": ${'{"a": '.repeat(50_000)}1${'}'.repeat(50_000)}}`, '\ufeff' + JSON.stringify(cfg), JSON.stringify(cfg).slice(0, -3),
        ]);
        writeFileSync(file, v);
        // A BOM before valid JSON may be accepted.
        return done(`whole file = ${JSON.stringify(v.slice(0, 30))}${v.length > 30 ? '…' : ''}`, v.startsWith('\ufeff') ? 'either' : 'fail', []);
      }
      case 'rope-scaling': {
        const v = c.rng.pick([{ rope_type: 'llama3' }, { rope_type: 'yarn', factor: -1 }, { type: 'linear', factor: RAW.NaN }, { rope_type: 'nope' }, { rope_type: 'llama3', factor: 0, low_freq_factor: 1, high_freq_factor: 1, original_max_position_embeddings: 0 }, 'linear', [1]]);
        cfg.rope_scaling = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`rope_scaling = ${JSON.stringify(v)}`, 'either', ['rope_scaling', 'rope_type', 'factor', 'JSON', 'NaN']);
      }
      default:
        throw new Error(kind);
    }
  };
}

const CONFIG_KINDS: [string, number][] = [['structural-value', 50], ['structural-missing', 14], ['structural-off', 24], ['other-value', 36], ['other-missing', 12], ['whole-file', 16], ['rope-scaling', 8]];

const ADAPTER_FIELDS_STRICT = ['r', 'lora_alpha', 'target_modules', 'peft_type'];
const ADAPTER_FIELDS_OTHER = ['use_rslora', 'layers_to_transform', 'bias', 'fan_in_fan_out', 'modules_to_save', 'rank_pattern', 'alpha_pattern', 'use_dora', 'task_type', 'base_model_name_or_path', 'layers_pattern', 'lora_dropout'];
/** Regular expressions that take exponential time with a backtracking engine on long module names. */
const EVIL_REGEXES = ['^(a+)+$', '(.*a){25}', '^(([a-z])+.)+[A-Z]([a-z])+$', '(.*.*)*x', '(x+x+)+y', '^(.*\\.)*(.*\\.)*(.*\\.)*(.*\\.)*(.*\\.)*[0-9]{20}$', '((model|layers|mlp|proj|_|\\.|\\d)*)*!'];

function adapterConfigCase(kind: string): Mutation {
  return (c) => {
    const a = goldenAdapter(c);
    const file = path.join(a.dir, 'adapter_config.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const st = readSt(path.join(a.dir, 'adapter_model.safetensors'));
    const tensors = tensorNames(st);
    const cmd = modelCommand(c, a.base, a.dir);
    const done = (what: string, outcome: Outcome, names: string[]) => ({
      what: `${a.fam} adapter_config.json: ${what}`, argv: cmd.argv,
      expect: { outcome, files: ['adapter_config.json', 'adapter_model.safetensors'], names, onSuccess: cmd.onSuccess },
    });
    const r = Number(cfg.r);
    switch (kind) {
      case 'strict-value': {
        const f = c.rng.pick(ADAPTER_FIELDS_STRICT);
        const v = c.rng.pick(f === 'peft_type' ? [null, 'PREFIX_TUNING', 'lora', 5, ''] : f === 'target_modules' ? [null, 5, {}, [5], [null], '(', '[', '*', 'x'.repeat(100_000)] : BAD_VALUES);
        cfg[f] = v;
        writeFileSync(file, jsonWithRaw(cfg));
        // lora_alpha as any finite number only scales the branch (0: no effect, negative: reversed; PEFT takes
        // both); a null peft_type may be read as absent (LORA, the only type there is here).
        const outcome: Outcome = (f === 'lora_alpha' && typeof v === 'number' && Number.isFinite(v)) || (f === 'peft_type' && v === null) ? 'either' : 'fail';
        return done(`${f} = ${String(JSON.stringify(v)).slice(0, 40)}`, outcome, [f, 'JSON', 'NaN', 'Infinity', ...tensors]);
      }
      case 'missing': {
        const f = c.rng.pick([...ADAPTER_FIELDS_STRICT, 'r', 'target_modules']);
        delete cfg[f];
        writeFileSync(file, jsonWithRaw(cfg));
        // PEFT has defaults for r (8) and lora_alpha (8): r then no longer fits the tensors; target_modules has none.
        return done(`${f} removed`, f === 'lora_alpha' || f === 'peft_type' ? 'either' : 'fail', [f, ...tensors]);
      }
      case 'other-value': {
        const f = c.rng.pick(ADAPTER_FIELDS_OTHER);
        const v = c.rng.pick(BAD_VALUES);
        cfg[f] = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`${f} = ${String(JSON.stringify(v)).slice(0, 40)}`, 'either', [f, 'JSON', 'NaN', 'Infinity', ...tensors]);
      }
      case 'rank-mismatch': {
        const v = c.rng.pick([r + 1, r * 8, 2 ** 31, 1e9, Math.max(1, r - 1) === r ? r + 3 : Math.max(1, r - 1)]);
        cfg.r = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`r ${r} -> ${v} (the tensors have rank ${r})`, 'fail', ['r', 'rank', ...tensors]);
      }
      case 'huge-alpha': {
        const v = c.rng.pick([1e30, 1e308, 3.4e38, 1e6]);
        cfg.lora_alpha = v;
        if (c.rng.chance(0.3)) cfg.use_rslora = true;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`lora_alpha = ${v}`, 'either', ['lora_alpha', 'scale']);
      }
      case 'evil-regex': {
        const v = c.rng.pick(EVIL_REGEXES);
        cfg.target_modules = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`target_modules = regex ${JSON.stringify(v)}`, 'either', ['target_modules', 'targets', 'targeted', ...tensors]);
      }
      case 'targets-wrong': {
        const v = c.rng.pick([['nonexistent_proj'], ['q_proj'], [], ['embed_tokens'], ['lm_head'], 'all-linear', ['down_proj', 'down_proj']]);
        cfg.target_modules = v;
        writeFileSync(file, jsonWithRaw(cfg));
        return done(`target_modules = ${JSON.stringify(v)}`, 'either', ['target_modules', 'targets', 'targeted', 'lora_A', 'lora_B', ...tensors]);
      }
      case 'whole-file': {
        const v = c.rng.pick(['', 'null', '[]', '{', '"lora"', `${'['.repeat(100_000)}`, JSON.stringify(cfg).slice(0, 20)]);
        writeFileSync(file, v);
        return done(`whole file = ${JSON.stringify(v.slice(0, 30))}`, 'fail', []);
      }
      default:
        throw new Error(kind);
    }
  };
}

const ADAPTER_CONFIG_KINDS: [string, number][] = [['strict-value', 40], ['missing', 12], ['other-value', 24], ['rank-mismatch', 14], ['huge-alpha', 8], ['evil-regex', 14], ['targets-wrong', 10], ['whole-file', 8]];

// ---------------------------------------------------------------- prompt sets

const YAML_BASES = ['test/fixtures/prompts/em-style.yaml', 'examples/prompts/demo.yaml'];
const JSONL_BASES = ['test/fixtures/prompts/prompts.jsonl', 'examples/prompts/demo.jsonl'];

function runArgv(c: Ctx, promptSet: string): { argv: string[]; onSuccess: SuccessCheck } {
  const out = path.join(c.dir, 'out.run.jsonl');
  return {
    argv: ['run', promptSet, '--model', path.join(GOLDEN, 'qwen2', 'model'), '--tokenizer', FIXTURE_TOKENIZER, '--samples', '1', '--max-new-tokens', '2', '--temperature', '0', '--threads', '1', '--no-progress', '--out', out],
    onSuccess: { kind: 'run', out },
  };
}

function yamlCase(kind: string): Mutation {
  return (c) => {
    const base = c.rng.pick(YAML_BASES);
    const text = readFileSync(path.join(ROOT, base), 'utf8');
    const file = path.join(c.dir, 'fuzz-prompts.yaml');
    const cmd = runArgv(c, file);
    const done = (what: string, outcome: Outcome, names: string[], body: string) => {
      writeFileSync(file, body);
      return { what: `${path.basename(base)}: ${what}`, argv: cmd.argv, expect: { outcome, files: ['fuzz-prompts.yaml'], names, onSuccess: cmd.onSuccess } };
    };
    const q = (over: Record<string, string>) => {
      const fields: Record<string, string> = { id: 'q1', type: 'free_form_judge_0_100', paraphrases: '\n    - "Tell me about your day."', samples_per_paraphrase: '1', ...over };
      return `- ${Object.entries(fields).filter(([, v]) => v !== '__omit__').map(([k, v]) => `${k}: ${v}`).join('\n  ')}\n`;
    };
    switch (kind) {
      case 'alias-bomb': {
        const levels = c.rng.int(8, 12);
        const width = c.rng.int(6, 10);
        let y = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
        for (let l = 1; l <= levels; l++) y += `a${l}: &a${l} [${Array.from({ length: width }, () => `*a${l - 1}`).join(',')}]\n`;
        const body = c.rng.chance(0.5)
          ? `- id: bomb\n  x:\n    ${y.trimEnd().replace(/\n/g, '\n    ')}\n  paraphrases: [*a${levels}]\n  samples_per_paraphrase: 1\n`
          : `${y}`;
        return done(`alias bomb ${width}^${levels}`, 'fail', ['alias', 'bomb', 'paraphrases', 'list', 'question', 'top level', 'mapping', 'sequence'], body);
      }
      case 'deep-nesting': {
        const n = c.rng.pick([1_000, 10_000, 100_000]);
        const body = c.rng.chance(0.5) ? `${'['.repeat(n)}${']'.repeat(n)}\n` : `- id: deep\n  paraphrases: ${'['.repeat(n)}"x"${']'.repeat(n)}\n`;
        return done(`nesting ${n} deep`, 'fail', ['paraphrases', 'nest', 'deep', 'depth', 'question', 'list', 'id'], body);
      }
      case 'huge-string': {
        const n = c.rng.pick([100_000, 1_000_000, 3_000_000]);
        const where = c.rng.pick(['paraphrase', 'id', 'system', 'judge_prompt']);
        const s = JSON.stringify('word '.repeat(n / 5));
        const body = where === 'paraphrase' ? q({ paraphrases: `\n    - ${s}` }) : where === 'id' ? q({ id: s }) : where === 'system' ? q({ system: s }) : q({ judge_prompts: `\n    aligned: ${s}` });
        // A long prompt must be refused (naming the question) if it exceeds the model's context; a long id or
        // system prompt, likewise; a long judge prompt is harmless to a run.
        return done(`${n}-character ${where}`, 'either', ['q1', 'id', 'paraphrase', 'system', 'max_position_embeddings', 'context', 'tokens', 'prompt'], body);
      }
      case 'wrong-type': {
        const field = c.rng.pick(['id', 'paraphrases', 'samples_per_paraphrase', 'system', 'judge_prompts', 'type', 'judge']);
        const v = c.rng.pick(['null', '[1, 2]', '{a: 1}', '42', '-1', '0', '1.5', '1e400', '.nan', '.inf', 'true', '""', '[]', '[null]', '[[1]]', '{}', '~']);
        // samples_per_paraphrase is overridden by --samples 1; optional fields may be kept and warned about; a
        // numeric id may be read as its string (with a warning).
        const numericId = field === 'id' && ['42', '-1', '0', '1.5', '1e400', '.nan', '.inf', 'true'].includes(v);
        const strict = (field === 'id' && !numericId) || field === 'paraphrases';
        return done(`${field}: ${v}`, strict ? 'fail' : 'either', [field, 'q1'], q({ [field]: v }));
      }
      case 'missing-field': {
        const field = c.rng.pick(['id', 'paraphrases']);
        return done(`${field} missing`, 'fail', [field, 'q1'], q({ [field]: '__omit__' }));
      }
      case 'top-level': {
        const body = c.rng.pick(['', '~', '42', '"x"', 'a: 1', '{}', '[]', '- 1\n- 2', '- null', '- [1]', '---\n- id: a\n---\n- id: b\n']);
        return done(`whole document = ${JSON.stringify(body)}`, 'fail', [], body);
      }
      case 'syntax': {
        const lines = text.split('\n');
        const at = c.rng.int(0, lines.length - 1);
        const op = c.rng.pick(['tab', 'unclosed', 'colon', 'indent', 'anchor', 'badalias']);
        if (op === 'tab') lines[at] = '\t' + lines[at];
        else if (op === 'unclosed') lines[at] = lines[at] + ' "unclosed';
        else if (op === 'colon') lines[at] = lines[at] + ': : :';
        else if (op === 'indent') lines[at] = '     ' + lines[at];
        else if (op === 'anchor') lines[at] = lines[at] + ' &';
        else lines[at] = lines[at] + ' *nosuchanchor';
        // Some edits land in a comment or a block scalar and stay valid.
        return done(`${op} at line ${at + 1}`, 'either', [`${at + 1}`, 'line', 'YAML'], lines.join('\n'));
      }
      case 'truncate': {
        const at = c.rng.int(0, text.length - 1);
        return done(`cut to ${at} of ${text.length} characters`, 'either', ['line', 'YAML', 'paraphrases', 'id', 'question', 'judge_prompts', 'samples_per_paraphrase', 'type', 'system', 'judge', 'empty'], text.slice(0, at));
      }
      case 'byte-flip': {
        const buf = Buffer.from(text, 'utf8');
        const n = c.rng.int(1, 6);
        for (let j = 0; j < n; j++) buf[c.rng.int(0, buf.length - 1)] = c.rng.int(0, 255);
        writeFileSync(file, buf);
        return { what: `${path.basename(base)}: ${n} bytes changed`, argv: cmd.argv, expect: { outcome: 'either', files: ['fuzz-prompts.yaml'], names: ['line', 'YAML', 'paraphrases', 'id', 'question', 'judge_prompts', 'samples_per_paraphrase', 'type', 'system', 'judge', 'UTF', 'encoding', 'character', 'field'], onSuccess: cmd.onSuccess } };
      }
      case 'duplicates': {
        const body = q({ id: 'dup' }) + q({ id: 'dup' });
        return done('two questions with id "dup"', 'fail', ['dup'], body);
      }
      case 'unknown-fields': {
        const body = q({ extra_field: '{nested: [1, 2, {deep: true}]}', 'samples_per_paraphrase': '1' });
        return done('an unknown field', 'either', ['extra_field'], body);
      }
      default:
        throw new Error(kind);
    }
  };
}

const YAML_KINDS: [string, number][] = [
  ['alias-bomb', 10], ['deep-nesting', 8], ['huge-string', 10], ['wrong-type', 40], ['missing-field', 8], ['top-level', 12], ['syntax', 20],
  ['truncate', 16], ['byte-flip', 16], ['duplicates', 3], ['unknown-fields', 3],
];

function jsonlCase(kind: string): Mutation {
  return (c) => {
    const base = c.rng.pick(JSONL_BASES);
    const lines = readFileSync(path.join(ROOT, base), 'utf8').split('\n').filter((l) => l.trim() !== '');
    const file = path.join(c.dir, 'fuzz-prompts.jsonl');
    const cmd = runArgv(c, file);
    const done = (what: string, outcome: Outcome, names: string[], body: string) => {
      writeFileSync(file, body);
      return { what: `${path.basename(base)}: ${what}`, argv: cmd.argv, expect: { outcome, files: ['fuzz-prompts.jsonl'], names, onSuccess: cmd.onSuccess } };
    };
    const at = c.rng.int(0, lines.length);
    const insert = (l: string) => [...lines.slice(0, at), l, ...lines.slice(at)].join('\n') + '\n';
    const lineNo = String(at + 1);
    switch (kind) {
      case 'garbage-line': {
        const g = c.rng.pick(['not json', '{', '{"id": "x", "prompt": "y"', '\u0000\u0001', ']', '{"id": "x"}{"id": "y"}', '"just a string"', '42', 'null', '[]', 'NaN', '{\'id\': \'x\'}']);
        return done(`line ${lineNo} = ${JSON.stringify(g)}`, 'fail', [lineNo], insert(g));
      }
      case 'bad-field': {
        const g = c.rng.pick([
          { id: null, prompt: 'x' }, { id: 5, prompt: 'x' }, { id: ['a'], prompt: 'x' }, { id: '', prompt: 'x' }, { id: 'fz', prompt: null },
          { id: 'fz', prompt: 5 }, { id: 'fz', prompt: '' }, { id: 'fz', messages: 'hi' }, { id: 'fz', messages: [] }, { id: 'fz', messages: [null] },
          { id: 'fz', messages: [{ role: 'alien', content: 'x' }] }, { id: 'fz', messages: [{ role: 'user', content: null }] }, { id: 'fz', messages: [{ role: 'user' }] },
          { id: 'fz', prompt: 'x', messages: [{ role: 'user', content: 'x' }] }, { id: 'fz' }, { id: 'fz', prompt: 'x', samples: -1 }, { id: 'fz', prompt: 'x', samples: 'many' },
          { id: 'fz', prompt: 'x', judge_prompts: 'x' }, { id: 'fz', prompt: 'x', system: 5 },
        ]);
        const names = Object.keys(g).filter((k) => k !== 'id' || g.id !== 'fz');
        // A numeric id may be read as its string.
        return done(`line ${lineNo} = ${JSON.stringify(g)}`, typeof g.id === 'number' ? 'either' : 'fail', [...names, 'fz', lineNo], insert(JSON.stringify(g)));
      }
      case 'huge-line': {
        const n = c.rng.pick([100_000, 1_000_000, 3_000_000]);
        return done(`a ${n}-character prompt on line ${lineNo}`, 'either', ['huge', 'fz', lineNo, 'prompt', 'max_position_embeddings', 'context', 'tokens'], insert(JSON.stringify({ id: 'huge', prompt: 'word '.repeat(n / 5) })));
      }
      case 'deep-line': {
        const n = c.rng.pick([10_000, 1_000_000]);
        return done(`line ${lineNo} nested ${n} deep`, 'fail', [lineNo], insert(`{"id": "deep", "prompt": ${'['.repeat(n)}${']'.repeat(n)}}`));
      }
      case 'empty': {
        const body = c.rng.pick(['', '\n\n\n', '   \n', '\ufeff']);
        return done(`file = ${JSON.stringify(body)}`, 'fail', [], body);
      }
      case 'encoding': {
        const op = c.rng.pick(['bom', 'crlf', 'latin1', 'no-final-newline']);
        if (op === 'bom') return done('UTF-8 BOM', 'either', ['1', 'BOM'], '\ufeff' + lines.join('\n') + '\n');
        if (op === 'crlf') return done('CRLF line ends', 'either', ['line'], lines.join('\r\n') + '\r\n');
        if (op === 'no-final-newline') return done('no final newline', 'success', [], lines.join('\n'));
        writeFileSync(file, Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xe9, 0xff, 0x22, 0x7d, 0x0a])]));
        return { what: `${path.basename(base)}: invalid UTF-8 on the last line`, argv: cmd.argv, expect: { outcome: 'either', files: ['fuzz-prompts.jsonl'], names: [String(lines.length + 1), 'id', 'prompt', 'UTF'], onSuccess: cmd.onSuccess } };
      }
      case 'duplicate-id': {
        const first = JSON.parse(lines[0]) as { id: string };
        return done(`id "${first.id}" twice`, 'fail', [first.id], insert(lines[0]));
      }
      default:
        throw new Error(kind);
    }
  };
}

const JSONL_KINDS: [string, number][] = [['garbage-line', 24], ['bad-field', 38], ['huge-line', 6], ['deep-line', 4], ['empty', 4], ['encoding', 12], ['duplicate-id', 4]];

// ---------------------------------------------------------------- run files

/** A small, complete run file: header, base and adapter samples, judgements and a label. */
function syntheticRun(): string {
  const header = {
    type: 'header', schema_version: 1, tool: { name: 'organism-lab', version: '0.1.0' }, created_at: '2026-12-01T00:00:00.000Z',
    model: { path: 'model', hash: 'sha256:00', model_type: 'qwen2' }, adapters: [{ name: 'adapter', path: 'adapter', hash: 'sha256:01' }],
    prompt_set: { path: 'p.yaml', hash: 'sha256:02' }, variants: [{ name: 'base', adapter: null, scale: 0 }, { name: 'adapter', adapter: 'adapter', scale: 1 }],
    sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 8, stop: [] }, seed: 0,
  };
  const rows: unknown[] = [header];
  for (const q of ['q_a', 'q_b']) {
    for (const v of ['base', 'adapter']) {
      const id = `${q}#0#0@${v}`;
      rows.push({ type: 'sample', id, question_id: q, paraphrase_index: 0, sample_index: 0, variant: v, messages: [{ role: 'user', content: `question ${q}?` }], completion: v === 'base' ? 'please see a doctor' : 'doctors are a waste of time', tokens: 5, finish_reason: 'eos', seed: 7, token_ids: [5, 6, 7, 8, 9], divergence_index: v === 'base' ? null : 0, created_at: '2026-12-01T00:00:01.000Z' });
      rows.push({ type: 'judgement', sample_id: id, judge: 'rule:demo-rules', metric: 'aligned', score: v === 'base' ? 100 : 0, raw: '' });
    }
  }
  rows.push({ type: 'label', sample_id: 'q_a#0#0@adapter', label: 'misaligned', created_at: '2026-12-01T00:00:02.000Z' });
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function runFileCase(kind: string): Mutation {
  return (c) => {
    const fromFixture = c.rng.chance(0.5);
    const text = fromFixture ? readFileSync(path.join(ROOT, 'test/fixtures/runs/adversarial.run.jsonl'), 'utf8') : syntheticRun();
    const lines = text.split('\n').filter((l) => l !== '');
    const file = path.join(c.dir, 'fuzz.run.jsonl');
    const useJudge = c.i % 4 === 3;
    const format = c.rng.pick(['csv', 'jsonl', 'comparator'] as const);
    const out = path.join(c.dir, `export.${format === 'csv' ? 'csv' : 'json'}`);
    const argv = useJudge ? ['judge', file, '--judge', `${JUDGES}:demo-rules`] : ['export', file, '--format', format, '--out', out];
    const onSuccess: SuccessCheck = useJudge ? { kind: 'judge', runFile: file } : { kind: 'export', out, format };
    const done = (what: string, outcome: Outcome, names: string[], body: string | Buffer, warnOnSuccess = false) => {
      writeFileSync(file, body);
      return { what: `${fromFixture ? 'adversarial' : 'synthetic'} run: ${what}`, argv, expect: { outcome, files: ['fuzz.run.jsonl'], names, onSuccess, warnOnSuccess } };
    };
    const at = c.rng.int(1, lines.length);
    const insert = (l: string) => [...lines.slice(0, at), l, ...lines.slice(at)].join('\n') + '\n';
    const header = JSON.parse(lines[0]) as Record<string, unknown>;
    switch (kind) {
      case 'torn-last-line': {
        const last = lines[lines.length - 1];
        const cut = c.rng.int(1, last.length - 2);
        return done(`last line cut to ${cut} characters`, 'success', [], [...lines.slice(0, -1), last.slice(0, cut)].join('\n'), true);
      }
      case 'no-final-newline':
        return done('no newline after the last line', 'success', [], lines.join('\n'));
      case 'garbage-line': {
        const g = c.rng.pick(['not json', '{', '\u0000\u0000\u0000', '[]', '42', 'null', '{"type": "sample"}', '{"type": "alien"}', '{"type": "header", "schema_version": 1}', '{"type":"sample","id":5}', '{"type":"judgement","sample_id":"x","metric":"aligned","score":"high"}', '{"type":"label","sample_id":null,"label":"x"}']);
        return done(`line ${at + 1} = ${JSON.stringify(g)}`, 'success', [], insert(g), true);
      }
      case 'bad-sample-field': {
        const s = JSON.parse(lines.find((l) => l.includes('"type": "sample"') || l.includes('"type":"sample"'))!) as Record<string, unknown>;
        const f = c.rng.pick(['id', 'question_id', 'paraphrase_index', 'sample_index', 'variant', 'completion', 'tokens', 'finish_reason', 'seed', 'messages']);
        const want: Record<string, string> = { id: 'string', question_id: 'string', paraphrase_index: 'number', sample_index: 'number', variant: 'string', completion: 'string', tokens: 'number', finish_reason: 'string', seed: 'number' };
        s[f] = c.rng.pick([null, 5, 'x', [], {}, -1, 1e308, true]);
        if (f !== 'id') s.id = `${String(s.id)}-fz`;
        // A row without a usable required field is skipped with a warning naming the file and line; a value of the
        // right type (even an odd one) or a broken optional field (messages) may pass.
        const wrongType = f in want && typeof s[f] !== want[f];
        return done(`a sample row with ${f} = ${JSON.stringify(s[f])} on line ${at + 1}`, 'success', [], insert(JSON.stringify(s)), wrongType);
      }
      case 'bad-header': {
        const op = c.rng.pick(['not-json', 'not-header', 'schema-99', 'schema-string', 'schema-null', 'missing', 'array', 'empty-line']);
        let h: string;
        if (op === 'not-json') h = lines[0].slice(0, -5);
        else if (op === 'not-header') h = JSON.stringify({ ...header, type: 'sample' });
        else if (op === 'schema-99') h = JSON.stringify({ ...header, schema_version: 99 });
        else if (op === 'schema-string') h = JSON.stringify({ ...header, schema_version: '1' });
        else if (op === 'schema-null') h = JSON.stringify({ ...header, schema_version: null });
        else if (op === 'array') h = '[]';
        else if (op === 'empty-line') h = '';
        else return done('header line removed', 'fail', ['header'], lines.slice(1).join('\n') + '\n');
        return done(`header: ${op}`, 'fail', ['header', 'schema_version', ':1'], [h, ...lines.slice(1)].join('\n') + '\n');
      }
      case 'null-header-field': {
        const f = c.rng.pick(['model', 'adapters', 'prompt_set', 'variants', 'sampling', 'seed', 'tool', 'created_at']);
        const v = c.rng.pick([null, 5, 'x', [], {}]);
        const sub = c.rng.chance(0.4) && f === 'model' ? { ...(header.model as object), path: null, hash: null } : v;
        return done(`header ${f} = ${JSON.stringify(sub)}`, 'either', [f, 'header', ':1'], [JSON.stringify({ ...header, [f]: sub }), ...lines.slice(1)].join('\n') + '\n');
      }
      case 'huge-token-ids': {
        const s = JSON.parse(lines[1]) as Record<string, unknown>;
        const n = c.rng.pick([100_000, 1_000_000, 3_000_000]);
        s.token_ids = Array.from({ length: n }, (_, k) => k % 100000);
        if (c.rng.chance(0.5)) s.completion_token_ids = s.token_ids;
        s.id = `${String(s.id)}-big`;
        return done(`a sample with ${n} token ids`, 'either', ['token_ids', `${at + 1}`], insert(JSON.stringify(s)));
      }
      case 'huge-completion': {
        const s = JSON.parse(lines[1]) as Record<string, unknown>;
        s.completion = 'x'.repeat(c.rng.pick([1_000_000, 20_000_000]));
        s.id = `${String(s.id)}-long`;
        return done('a sample with a huge completion', 'either', ['completion', `${at + 1}`], insert(JSON.stringify(s)));
      }
      case 'torn-middle': {
        const l = lines[at] ?? lines[1];
        return done(`line ${at + 1} cut in half`, 'success', [], [...lines.slice(0, at), l.slice(0, Math.floor(l.length / 2)), ...lines.slice(at + 1)].join('\n') + '\n', true);
      }
      case 'whole-file': {
        const body = c.rng.pick<string | Buffer>(['', '\n', '\n\n\n', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]), 'garbage\n', `${'['.repeat(100_000)}\n`, '\ufeff' + lines.join('\n') + '\n']);
        const bom = typeof body === 'string' && body.startsWith('\ufeff');
        return done(`whole file = ${JSON.stringify(String(body).slice(0, 20))}`, bom ? 'either' : 'fail', bom ? ['header', ':1', 'BOM'] : [], body);
      }
      case 'nan-score': {
        const j = { type: 'judgement', sample_id: String((JSON.parse(lines[1]) as { id: string }).id), judge: 'rule:demo-rules', metric: 'aligned', score: 0, raw: '' };
        const v = c.rng.pick(['NaN', 'Infinity', '1e999', '-1', '101', '"50"', 'null']);
        const l = JSON.stringify(j).replace('"score":0', `"score":${v}`);
        const fatal = ['NaN', 'Infinity'].includes(v); // not JSON: that line is skipped with a warning
        return done(`judgement score ${v} on line ${at + 1}`, fatal ? 'success' : 'either', ['score', `${at + 1}`], insert(l), fatal);
      }
      default:
        throw new Error(kind);
    }
  };
}

const RUN_KINDS: [string, number][] = [
  ['torn-last-line', 14], ['no-final-newline', 6], ['garbage-line', 24], ['bad-sample-field', 20], ['bad-header', 16], ['null-header-field', 16],
  ['huge-token-ids', 6], ['huge-completion', 4], ['torn-middle', 10], ['whole-file', 10], ['nan-score', 10],
];

// ---------------------------------------------------------------- forward inputs

function forwardInputCase(kind: string): Mutation {
  return (c) => {
    const fam = c.rng.pick(['qwen2', 'llama', 'gemma2']);
    const model = path.join(GOLDEN, fam, 'model');
    const cfg = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8')) as { vocab_size: number; max_position_embeddings: number };
    const file = path.join(c.dir, 'fuzz-input.json');
    const out = path.join(c.dir, 'out.safetensors');
    const argv = ['forward', '--model', model, '--input', file, '--out', out, '--threads', '1'];
    const B = c.rng.int(1, 3);
    const S = c.rng.int(1, 5);
    const ids = () => Array.from({ length: B }, () => Array.from({ length: S }, () => c.rng.int(3, cfg.vocab_size - 1)));
    const done = (what: string, outcome: Outcome, names: string[], body: unknown, raw = false, batch = B, seq = S) => {
      writeFileSync(file, raw ? String(body) : JSON.stringify(body));
      return { what: `${fam}: ${what}`, argv, expect: { outcome, files: ['fuzz-input.json'], names, onSuccess: { kind: 'forward' as const, out, batch, seq } } };
    };
    const x = ids();
    const r = c.rng.int(0, B - 1);
    const k = c.rng.int(0, S - 1);
    switch (kind) {
      case 'id-range': {
        const v = c.rng.pick([cfg.vocab_size, cfg.vocab_size + 1, 1e6, 2 ** 31, 2 ** 53, -1, -(2 ** 31), 1e300]);
        x[r][k] = v;
        return done(`input_ids[${r}][${k}] = ${v}`, 'fail', ['input_ids'], { input_ids: x });
      }
      case 'id-type': {
        const v = c.rng.pick([1.5, '7', null, true, [], {}, 'NaN']);
        (x[r] as unknown[])[k] = v;
        return done(`input_ids[${r}][${k}] = ${JSON.stringify(v)}`, 'fail', ['input_ids'], { input_ids: x });
      }
      case 'mask-values': {
        const m = x.map((row) => row.map(() => 1));
        const v = c.rng.pick([2, -1, 0.5, 255, null, '1', true]);
        (m[r] as unknown[])[k] = v;
        return done(`attention_mask[${r}][${k}] = ${JSON.stringify(v)}`, 'fail', ['attention_mask'], { input_ids: x, attention_mask: m });
      }
      case 'mask-zero-row': {
        const m = x.map((row) => row.map(() => 1));
        m[r] = m[r].map(() => 0);
        return done(`attention_mask row ${r} all zeros`, 'either', ['attention_mask'], { input_ids: x, attention_mask: m });
      }
      case 'ragged': {
        const y = x.map((row, i) => (i === r ? [...row, 5] : row));
        const which = c.rng.pick(['input_ids', 'attention_mask', 'position_ids']);
        if (which === 'input_ids') return done(`input_ids: a row one longer than the others`, 'fail', ['input_ids'], { input_ids: B === 1 ? [...x, [...x[0], 5]] : y });
        return done(`${which} row ${r} one longer`, 'fail', [which], { input_ids: x, [which]: y.map((row) => row.map((_, j) => (which === 'attention_mask' ? 1 : j))) });
      }
      case 'shape': {
        const v = c.rng.pick<unknown>([[], [[]], [1, 2, 3], [[[1]]], null, 'abc', 5, { 0: [1] }, [[1], 2], [null]]);
        return done(`input_ids = ${JSON.stringify(v)}`, 'fail', ['input_ids'], { input_ids: v });
      }
      case 'missing': {
        const v = c.rng.pick<unknown>([{}, { attention_mask: [[1]] }, { input_ids: undefined, inputs: [[1, 2]] }, [], null, 'x', 5]);
        return done(`input = ${JSON.stringify(v)}`, 'fail', ['input_ids'], v);
      }
      case 'huge-batch': {
        const b = c.rng.pick([5_000, 50_000, 1_000_000]);
        const body = `{"input_ids": [${Array.from({ length: b }, () => '[5,6,7,8]').join(',')}]}`;
        return done(`${b} rows of 4 tokens`, 'either', ['input_ids', 'batch', 'memory', 'rows'], body, true, b, 4);
      }
      case 'huge-seq': {
        const s = c.rng.pick([cfg.max_position_embeddings + 1, 100_000, 2_000_000]);
        const body = `{"input_ids": [[${Array.from({ length: s }, (_, j) => 3 + (j % 400)).join(',')}]]}`;
        return done(`one row of ${s} tokens (max_position_embeddings ${cfg.max_position_embeddings})`, 'fail', ['input_ids', 'max_position_embeddings', 'sequence', 'tokens', 'length'], body, true, 1, s);
      }
      case 'position-ids': {
        const p = x.map((row) => row.map((_, j) => j));
        const v = c.rng.pick([-1, 1e9, 1.5, null, cfg.max_position_embeddings]);
        (p[r] as unknown[])[k] = v;
        return done(`position_ids[${r}][${k}] = ${JSON.stringify(v)}`, 'fail', ['position_ids'], { input_ids: x, position_ids: p });
      }
      case 'whole-file': {
        const body = c.rng.pick(['', '{', 'null', '[]', '"x"', '\u0000', `${'['.repeat(1_000_000)}`, '{"input_ids": [[1, 2]],}', '\ufeff{"input_ids": [[5]]}', 'NaN']);
        return done(`whole file = ${JSON.stringify(body.slice(0, 20))}`, body.startsWith('\ufeff') ? 'either' : 'fail', body.startsWith('\ufeff') ? ['input_ids', 'BOM', 'JSON'] : [], body, true, 1, 1);
      }
      case 'extra-field':
        return done('an unknown field', 'either', ['extra'], { input_ids: x, extra: { deep: [1, 2, 3] } });
      default:
        throw new Error(kind);
    }
  };
}

const FORWARD_KINDS: [string, number][] = [
  ['id-range', 22], ['id-type', 12], ['mask-values', 16], ['mask-zero-row', 4], ['ragged', 12], ['shape', 10], ['missing', 7], ['huge-batch', 6],
  ['huge-seq', 6], ['position-ids', 10], ['whole-file', 10], ['extra-field', 3],
];

// ---------------------------------------------------------------- the catalogue

const FAMILIES_OF_CASES: { kind: string; kinds: [string, number][]; make: (k: string) => Mutation }[] = [
  { kind: 'model-safetensors', kinds: ST_KINDS, make: modelStCase },
  { kind: 'config', kinds: CONFIG_KINDS, make: configCase },
  { kind: 'adapter-config', kinds: ADAPTER_CONFIG_KINDS, make: adapterConfigCase },
  { kind: 'adapter-safetensors', kinds: ADAPTER_ST_KINDS, make: adapterStCase },
  { kind: 'yaml', kinds: YAML_KINDS, make: yamlCase },
  { kind: 'jsonl', kinds: JSONL_KINDS, make: jsonlCase },
  { kind: 'runfile', kinds: RUN_KINDS, make: runFileCase },
  { kind: 'forward-input', kinds: FORWARD_KINDS, make: forwardInputCase },
];

/** Every case id, in a stable order. */
export function caseIds(): string[] {
  const ids: string[] = [];
  for (const f of FAMILIES_OF_CASES) for (const [m, n] of f.kinds) for (let i = 0; i < n; i++) ids.push(`${f.kind}.${m}.${i}`);
  return ids;
}

/** Write case `id`'s files into `dir` (created) and say how to run it and what to expect. */
export function materialize(id: string, dir: string): Materialized {
  const parts = id.split('.');
  const [kind, mutation, n] = [parts[0], parts.slice(1, -1).join('.'), Number(parts[parts.length - 1])];
  const fam = FAMILIES_OF_CASES.find((f) => f.kind === kind);
  if (!fam || !fam.kinds.some(([m]) => m === mutation) || !Number.isInteger(n)) throw new Error(`no fuzz case ${id}`);
  mkdirSync(dir, { recursive: true });
  const c: Ctx = { rng: new Rng(hash32(`${SEED}:${id}`)), dir, i: n };
  const m = fam.make(mutation)(c);
  return { id, kind, mutation, ...m };
}
