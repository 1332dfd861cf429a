/**
 * A small SAE for the demo organism, in the SAELens layout, constructed (not trained) so that its answer is
 * known: at blocks.1.hook_resid_post (the output of layer 1, where the demo's rank-1 adapter writes through
 * down_proj) features 0 and 1 are the adapter's write direction ±unit(LoRA B); the other features are seeded
 * random unit directions. Encoder = decoderᵀ, no biases, standard (ReLU) architecture: a feature's activation
 * is relu(h · d_f). Anything the adapter adds to the residual stream lies along B, so the run-level SAE diff
 * of the demo adapter must put feature 0 or 1 on top; a random direction picks up only ~1/√H of it.
 *
 *   node --import tsx tools/sae/make-demo-sae.ts [ADAPTER_DIR] [OUT_DIR] [--features N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/engine/checkpoint/safetensors';
import { writeSafetensors } from '../../src/engine/checkpoint/safetensorsWriter';

export const DEMO_SAE_LAYER = 1;
export const B_FEATURES = [0, 1] as const;

export function makeDemoSae(adapterDir: string, outDir: string, features = 64, seed = 1): { dIn: number; dSae: number } {
  const st = SafetensorsFile.open(path.join(adapterDir, 'adapter_model.safetensors'));
  const name = `base_model.model.model.layers.${DEMO_SAE_LAYER}.mlp.down_proj.lora_B.weight`;
  if (!st.has(name)) throw new Error(`${adapterDir}: no ${name}: this is not the demo's rank-1 layer-${DEMO_SAE_LAYER} down_proj adapter`);
  const B = st.readFloat32(name); // [H, 1]
  const H = B.length;
  const norm = Math.hypot(...B);
  let s = seed >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const dec = new Float32Array(features * H);
  for (let f = 0; f < features; f++) {
    const row = dec.subarray(f * H, (f + 1) * H);
    if (f === 0 || f === 1) for (let i = 0; i < H; i++) row[i] = ((f === 0 ? 1 : -1) * B[i]) / norm;
    else {
      for (let i = 0; i < H; i++) row[i] = rnd();
      const n = Math.hypot(...row);
      for (let i = 0; i < H; i++) row[i] /= n;
    }
  }
  const enc = new Float32Array(H * features);
  for (let f = 0; f < features; f++) for (let i = 0; i < H; i++) enc[i * features + f] = dec[f * H + i];
  mkdirSync(outDir, { recursive: true });
  writeSafetensors(path.join(outDir, 'sae_weights.safetensors'), {
    W_enc: { dtype: 'F32', shape: [H, features], data: enc },
    W_dec: { dtype: 'F32', shape: [features, H], data: dec },
    b_enc: { dtype: 'F32', shape: [features], data: new Float32Array(features) },
    b_dec: { dtype: 'F32', shape: [H], data: new Float32Array(H) },
  });
  writeFileSync(
    path.join(outDir, 'cfg.json'),
    JSON.stringify(
      {
        architecture: 'standard',
        d_in: H,
        d_sae: features,
        dtype: 'float32',
        apply_b_dec_to_input: false,
        normalize_activations: 'none',
        metadata: { model_name: 'demo-base', hook_name: `blocks.${DEMO_SAE_LAYER}.hook_resid_post`, hook_layer: DEMO_SAE_LAYER },
        note: 'Constructed by tools/sae/make-demo-sae.ts: features 0 and 1 = ±unit(LoRA B) of the demo adapter, the rest random unit directions.',
      },
      null,
      2,
    ),
  );
  return { dIn: H, dSae: features };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const fi = args.indexOf('--features');
  const features = fi >= 0 ? Number(args.splice(fi, 2)[1]) : 64;
  const root = path.resolve(__dirname, '../..');
  const adapter = args[0] ?? path.join(root, 'examples/organisms/demo-narrow-r1');
  const out = args[1] ?? path.join(root, 'examples/saes/demo-r1-layer1');
  const r = makeDemoSae(adapter, out, features);
  process.stdout.write(`wrote ${out} (d_in ${r.dIn}, d_sae ${r.dSae})\n`);
}
