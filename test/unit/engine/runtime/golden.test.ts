// Golden tests: ModelRunner.forward against Hugging Face transformers' outputs in ../shared/golden
// (test/unit/helpers/golden.ts; ORGANISM_LAB_GOLDEN overrides; missing data fails). Errors per family are printed as test diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import { GOLDEN_FAMILIES, goldenFamily, loadGoldenRunner, openExpected } from '../../helpers/golden';
import type { RowVariant } from '../../../../src/engine/runtime/generationTypes';

const REL_TOL = 1e-4;

const BASE: RowVariant = { adapter: null, adapterScale: 0 };

interface Err { abs: number; rel: number }
/** Max abs error and max abs error / max |ref| over the positions where keep(row, pos) is true. */
function compare(got: Float32Array, ref: Float32Array, B: number, S: number, keep: (b: number, s: number) => boolean = () => true): Err {
  assert.equal(got.length, ref.length, 'tensor sizes differ');
  const inner = ref.length / (B * S);
  let abs = 0;
  let scale = 0;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      if (!keep(b, s)) continue;
      for (let i = 0; i < inner; i++) {
        const k = (b * S + s) * inner + i;
        assert.ok(Number.isFinite(got[k]), `non-finite output at ${k}`);
        abs = Math.max(abs, Math.abs(got[k] - ref[k]));
        scale = Math.max(scale, Math.abs(ref[k]));
      }
    }
  }
  return { abs, rel: abs / scale };
}

const fmt = (e: Err): string => `abs ${e.abs.toExponential(2)} rel ${e.rel.toExponential(2)}`;

function rows2d(flat: number[], B: number, S: number): number[][] {
  return Array.from({ length: B }, (_, b) => flat.slice(b * S, (b + 1) * S));
}

for (const fam of GOLDEN_FAMILIES) {
  const { dir, skip } = goldenFamily(fam);
  test(`golden ${fam}`, { skip }, async (t) => {
    const ex = openExpected(dir);
    const runner = await loadGoldenRunner(dir, { steerLayers: [1] });
    const L = runner.spec.numLayers;
    const idsS = ex.readInts('input_ids_single');
    const S1 = idsS.length;
    const steerVec = ex.readFloat32('steer_vector');
    const worst: Err = { abs: 0, rel: 0 };
    const note = (what: string, e: Err) => {
      t.diagnostic(`${fam} ${what}: ${fmt(e)}`);
      worst.abs = Math.max(worst.abs, e.abs);
      worst.rel = Math.max(worst.rel, e.rel);
      assert.ok(e.rel <= REL_TOL, `${fam} ${what}: relative error ${e.rel} > ${REL_TOL}`);
    };

    // Single prompt: base, lora_a, lora_b and steered rows in ONE batch.
    const variants: [string, RowVariant][] = [
      ['base', BASE],
      ['lora_a', { adapter: 'lora_a', adapterScale: 1 }],
      ['lora_b', { adapter: 'lora_b', adapterScale: 1 }],
      ['steer', { adapter: null, adapterScale: 0, steer: { vector: steerVec, layer: 1, strength: 1 } }],
    ];
    const single = await runner.forward({
      inputIds: variants.map(() => idsS),
      attentionMask: variants.map(() => idsS.map(() => 1)),
      rows: variants.map((v) => v[1]),
      outputHiddenStates: true,
    });
    const V = runner.spec.vocabSize;
    const H = runner.spec.hiddenSize;
    const rowOf = (arr: Float32Array, b: number, per: number) => arr.subarray(b * per, (b + 1) * per);
    const refNames = ['logits_single', 'logits_single_lora_a', 'logits_single_lora_b', 'logits_single_steer'];
    variants.forEach(([name], b) => note(`single ${name} logits`, compare(rowOf(single.logits, b, S1 * V), ex.readFloat32(refNames[b]), 1, S1)));
    for (let i = 0; i <= L; i++) {
      note(`single hidden_states[${i}]`, compare(rowOf(single.hiddenStates![i], 0, S1 * H), ex.readFloat32(`hidden_states_single_${i}`), 1, S1));
      note(`single steered hidden_states[${i}]`, compare(rowOf(single.hiddenStates![i], 3, S1 * H), ex.readFloat32(`hidden_states_single_steer_${i}`), 1, S1));
    }

    // Left-padded batch, explicit position ids; compare only where mask = 1.
    const [B, S] = ex.info('input_ids_batch').shape;
    const ids = rows2d(ex.readInts('input_ids_batch'), B, S);
    const mask = rows2d(ex.readInts('attention_mask_batch'), B, S);
    const pos = rows2d(ex.readInts('position_ids_batch'), B, S);
    assert.deepEqual(ModelRunner.positionIdsFromMask(mask, S), pos, 'default position ids follow HF generate');
    const keep = (b: number, s: number) => mask[b][s] === 1;
    for (const [name, v, ref] of [
      ['base', BASE, 'logits_batch'],
      ['lora_a', { adapter: 'lora_a', adapterScale: 1 }, 'logits_batch_lora_a'],
      ['lora_b', { adapter: 'lora_b', adapterScale: 1 }, 'logits_batch_lora_b'],
      ['steer', { adapter: null, adapterScale: 0, steer: { vector: steerVec, layer: 1, strength: 1 } }, 'logits_batch_steer'],
    ] as [string, RowVariant, string][]) {
      const out = await runner.forward({ inputIds: ids, attentionMask: mask, rows: ids.map(() => v), outputHiddenStates: name === 'base' });
      note(`batch ${name} logits`, compare(out.logits, ex.readFloat32(ref), B, S, keep));
      if (name === 'base') {
        for (let i = 0; i <= L; i++) note(`batch hidden_states[${i}]`, compare(out.hiddenStates![i], ex.readFloat32(`hidden_states_batch_${i}`), B, S, keep));
      }
    }

    // KV cache: greedy decoding step by step reproduces HF generate() (tokens and step logits).
    for (const [label, rowsIds, rowsMask, v, seqName, stepName] of [
      ['single', [idsS], [idsS.map(() => 1)], BASE, 'generate_single_sequences', 'generate_single_step_logits'],
      ['single lora_a', [idsS], [idsS.map(() => 1)], { adapter: 'lora_a', adapterScale: 1 }, 'generate_single_lora_a_sequences', 'generate_single_lora_a_step_logits'],
      ['batch', ids, mask, BASE, 'generate_batch_sequences', 'generate_batch_step_logits'],
    ] as [string, number[][], number[][], RowVariant, string, string][]) {
      const [nb, total] = ex.info(seqName).shape;
      const refSeq = rows2d(ex.readInts(seqName), nb, total);
      const refSteps = ex.readFloat32(stepName);
      const steps = ex.info(stepName).shape[0];
      let am = rowsMask.map((r) => [...r]);
      let out = await runner.forward({ inputIds: rowsIds, attentionMask: am, rows: rowsIds.map(() => v), lastLogitsOnly: true });
      const seqs = rowsIds.map((r) => [...r]);
      const stepErr: Err = { abs: 0, rel: 0 };
      for (let step = 0; step < steps; step++) {
        assert.deepEqual(out.logitsDims, [nb, 1, V]);
        const e = compare(out.logits, refSteps.subarray(step * nb * V, (step + 1) * nb * V), nb, 1);
        stepErr.abs = Math.max(stepErr.abs, e.abs);
        stepErr.rel = Math.max(stepErr.rel, e.rel);
        const next = Array.from({ length: nb }, (_, b) => {
          const row = out.logits.subarray(b * V, (b + 1) * V);
          let best = 0;
          for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
          return best;
        });
        next.forEach((tok, b) => seqs[b].push(tok));
        if (step === steps - 1) break;
        am = am.map((r) => [...r, 1]);
        out = await runner.forward({ inputIds: next.map((x) => [x]), attentionMask: am, past: out.present, rows: rowsIds.map(() => v), lastLogitsOnly: true });
      }
      note(`cached greedy ${label} step logits`, stepErr);
      assert.deepEqual(seqs, refSeq, `${fam} cached greedy ${label}: tokens differ from HF generate()`);
    }
    t.diagnostic(`${fam} WORST over all checks: ${fmt(worst)}`);
    await runner.dispose();
  });
}
