// The per-family traits table resolves into the ModelSpec the graph reads: each trait of each row reaches the
// spec, and the rules with config input (sliding pattern, rope scaling, softcapping) behave per row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAMILY_TRAITS, SUPPORTED_MODEL_TYPES, familyTraits, isModelFamily } from '../../../../src/engine/checkpoint/familyTraits';
import { parseModelSpec } from '../../../../src/engine/checkpoint/modelSpec';

const base = { hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 4, intermediate_size: 128, vocab_size: 512, sliding_window: 8 };

test('every family of the table parses, and its traits reach the spec', () => {
  assert.deepEqual(SUPPORTED_MODEL_TYPES, Object.keys(FAMILY_TRAITS));
  for (const fam of SUPPORTED_MODEL_TYPES) {
    const t = familyTraits(fam);
    const spec = parseModelSpec({ ...base, model_type: fam, attn_logit_softcapping: 50, final_logit_softcapping: 30 }, 'c.json');
    assert.equal(spec.family, fam);
    assert.equal(spec.normOffset, t.normOffset, fam);
    assert.equal(spec.sandwichNorms, t.sandwichNorms, fam);
    assert.equal(spec.qkNorm, t.qkNorm, fam);
    assert.equal(spec.embeddingScale, t.embeddingScale === 'sqrtHidden' ? Math.fround(8) : null, fam);
    assert.equal(spec.attnSoftcap, t.logitSoftcapping ? 50 : null, fam);
    assert.equal(spec.finalSoftcap, t.logitSoftcapping ? 30 : null, fam);
    assert.equal(spec.tieWordEmbeddings, t.tiedEmbeddingsDefault, fam);
    assert.equal(spec.activation, t.activationDefault === 'silu' ? 'silu' : 'gelu_tanh', fam);
    assert.equal(spec.qkvBias, t.qkvBias === 'always', fam);
    assert.equal(spec.oBias, false, fam);
    const biased = parseModelSpec({ ...base, model_type: fam, attention_bias: true }, 'c.json');
    assert.equal(biased.qkvBias, true, fam);
    assert.equal(biased.oBias, t.oBias === 'attentionBias', fam);
  }
  assert.equal(isModelFamily('gpt2'), false);
  assert.equal(isModelFamily('toString'), false, 'inherited object keys are no family');
});

test('sliding-window patterns per family, and layer_types over every pattern', () => {
  const windows = (fam: string, extra: object = {}) => parseModelSpec({ ...base, model_type: fam, ...extra }, 'c.json').layers.map((l) => l.slidingWindow);
  assert.deepEqual(windows('llama'), [null, null, null, null]);
  assert.deepEqual(windows('qwen2'), [null, null, null, null], 'sliding_window is ignored while use_sliding_window is off');
  assert.throws(() => windows('qwen3', { use_sliding_window: true }), /c\.json: use_sliding_window: true is not supported for qwen3/);
  assert.deepEqual(windows('mistral'), [8, 8, 8, 8]);
  assert.deepEqual(windows('mistral', { sliding_window: null }), [null, null, null, null]);
  assert.deepEqual(windows('gemma2'), [8, null, 8, null]);
  assert.deepEqual(windows('gemma3_text', { sliding_window_pattern: 2 }), [8, null, 8, null]);
  assert.deepEqual(windows('gemma3_text'), [8, 8, 8, 8], 'default pattern 6: the 6th layer is the first global one');
  assert.throws(() => windows('gemma2', { sliding_window: null }), /layer 0 uses sliding attention but "sliding_window" is missing/);
  assert.deepEqual(windows('llama', { layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'sliding_attention'] }), [8, null, null, 8]);
});

test('rope: scaling kinds per family, and local rope base on sliding layers', () => {
  const linear = { rope_scaling: { rope_type: 'linear', factor: 2 } };
  assert.equal(parseModelSpec({ ...base, model_type: 'qwen2', ...linear }, 'c.json').layers[0].rope.scaling.type, 'linear');
  assert.throws(() => parseModelSpec({ ...base, model_type: 'gemma2', ...linear }, 'c.json'), /c\.json: rope_scaling is not supported for gemma2/);
  const g3 = parseModelSpec({ ...base, model_type: 'gemma3_text', ...linear, rope_theta: 1e6, rope_local_base_freq: 1e4, sliding_window_pattern: 2 }, 'c.json');
  assert.deepEqual(g3.layers.map((l) => [l.rope.theta, l.rope.scaling.type]), [[1e4, 'none'], [1e6, 'linear'], [1e4, 'none'], [1e6, 'linear']]);
  const m = parseModelSpec({ ...base, model_type: 'mistral', rope_theta: 1e6 }, 'c.json');
  assert.ok(m.layers.every((l) => l.rope.theta === 1e6), 'no local rope base outside Gemma 3');
});

test('attention scale: head_dim, or query_pre_attn_scalar where the family reads it', () => {
  assert.equal(parseModelSpec({ ...base, model_type: 'llama', query_pre_attn_scalar: 256 }, 'c.json').attnScale, 16 ** -0.5);
  assert.equal(parseModelSpec({ ...base, model_type: 'gemma2', query_pre_attn_scalar: 256 }, 'c.json').attnScale, 256 ** -0.5);
  assert.equal(parseModelSpec({ ...base, model_type: 'gemma2' }, 'c.json').attnScale, 16 ** -0.5);
});
