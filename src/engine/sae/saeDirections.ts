/**
 * An SAE feature's decoder row W_dec[F] as a steering or ablation direction (the `steer-sae:` and `ablate-sae:`
 * variants of ../jobs/variants.ts), fed through the same steering / ablation graph inputs as `steer:` / `ablate:`.
 *
 *   steer-sae:DIR#F@L*A   add A · W_dec[F] at the output of decoder layer L
 *   ablate-sae:DIR#F@L    project W_dec[F] out of the residual stream at the output of decoder layer L
 *
 * The row is used as stored, NOT normalized: A is then the activation at which feature F would write itself into
 * the SAE's reconstruction (a_F · W_dec[F]), the usual steering convention for SAELens SAEs; their decoder rows are
 * mostly unit norm, where A is also the length of the added vector. The header records the row's norm. Ablation
 * does not depend on the row's length (the engine projects on the unit direction).
 *
 * L is where the SAE reads: blocks.L.hook_resid_post is the output of decoder layer L; blocks.L.hook_resid_pre is
 * the input of layer L, i.e. the output of layer L − 1 (the engine steers layer outputs, so there L − 1 is named).
 * @L may be left out; when given, it must be that layer (a decoder row is a direction of that layer's residual
 * stream only). The run header's VariantSpec keeps the SAE folder, its fingerprint, the feature, the hook, the
 * layer and the strength, so a run can be reproduced (and a resume refuses a changed SAE).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { toFloat32 } from '../checkpoint/safetensors';
import { DTYPE_SIZE } from '../checkpoint/safetensorsTypes';
import { hashCheckpointDir } from '../runs/hashing';
import type { SaeFeatureRef, VariantSpec } from '../runs/schema';
import { openSaeFolder, type SaeSpec } from './saeFolder';

export const STEER_SAE_PREFIX = 'steer-sae:';
export const ABLATE_SAE_PREFIX = 'ablate-sae:';

/** The decoder layer whose output the SAE's hook reads (where its decoder rows live in the residual stream). */
export function saeSteerLayer(spec: SaeSpec): number {
  if (spec.hiddenStateIndex === 0) {
    throw new Error(`${path.join(spec.dir, 'cfg.json')}: hook "${spec.hookName}" reads the embeddings (hidden_states[0]); steering and ablation act on decoder layer outputs, so a feature of this SAE cannot be used as a direction`);
  }
  return spec.hiddenStateIndex - 1;
}

const hashMemo = new Map<string, string>();

/**
 * Fingerprint of an SAE folder: cfg.json's bytes and the weights (hashCheckpointDir's safetensors fingerprint).
 * Remembered per folder while its files keep their size and modification time (analyses read a row per sample).
 */
export function hashSaeFolder(dir: string): string {
  const files = [path.join(dir, 'cfg.json'), ...readdirSync(dir).filter((n) => n.endsWith('.safetensors')).sort().map((n) => path.join(dir, n))];
  const key = files.map((f) => {
    const st = statSync(f);
    return `${f}:${st.size}:${st.mtimeMs}`;
  }).join('|');
  const known = hashMemo.get(key);
  if (known) return known;
  const h = createHash('sha256');
  h.update('cfg.json\n');
  h.update(readFileSync(path.join(dir, 'cfg.json')));
  h.update('\nweights\n');
  h.update(hashCheckpointDir(dir));
  const hash = `sha256:${h.digest('hex')}`;
  hashMemo.set(key, hash);
  return hash;
}

/** Row F of W_dec as float32 (reads only that row's bytes). */
export function saeDecoderRow(spec: SaeSpec, feature: number): Float32Array {
  if (!Number.isInteger(feature) || feature < 0 || feature >= spec.dSae) {
    throw new Error(`${spec.dir}: feature ${feature} is out of range: this SAE has d_sae = ${spec.dSae} features (0..${spec.dSae - 1})`);
  }
  const r = spec.weights.byteRange('W_dec');
  const size = DTYPE_SIZE[r.dtype];
  const buf = Buffer.alloc(spec.dIn * size);
  const fd = openSync(r.file, 'r');
  try {
    let done = 0;
    const at = r.offset + feature * spec.dIn * size;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, at + done);
      if (n === 0) throw new Error(`${r.file}: file ended while reading W_dec row ${feature} (changed on disk?)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const v = toFloat32(buf, r.dtype);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`${r.file}: W_dec row ${feature} holds a non-finite value at index ${i}`);
  return v;
}

/** Parse the body of a steer-sae: / ablate-sae: term into the VariantSpec's steer / ablate (with the SAE recorded). */
export function parseSaeTerm(item: string, term: string): { steer?: VariantSpec['steer']; ablate?: VariantSpec['ablate'] } {
  const steering = term.startsWith(STEER_SAE_PREFIX);
  const body = term.slice((steering ? STEER_SAE_PREFIX : ABLATE_SAE_PREFIX).length);
  const usage = steering ? 'steer-sae:SAE_DIR#FEATURE@LAYER*ALPHA (@LAYER optional)' : 'ablate-sae:SAE_DIR#FEATURE@LAYER (@LAYER optional)';
  const m = steering ? /^(.+)#(\d+)(?:@(-?\d+))?\*([^*@#]*)$/.exec(body) : /^(.+)#(\d+)(?:@(-?\d+))?$/.exec(body);
  if (!m) throw new Error(`variant "${item}": expected ${usage}${steering && !body.includes('*') ? '; say how strongly to steer with *ALPHA' : ''}.`);
  const dir = path.resolve(m[1]);
  const feature = Number(m[2]);
  let spec: SaeSpec;
  let layer: number;
  try {
    spec = openSaeFolder(dir);
    layer = saeSteerLayer(spec);
  } catch (e) {
    throw new Error(`variant "${item}": ${(e as Error).message}`);
  }
  if (feature >= spec.dSae) throw new Error(`variant "${item}": feature ${feature} is out of range: ${dir} has d_sae = ${spec.dSae} features (0..${spec.dSae - 1}).`);
  if (m[3] !== undefined && Number(m[3]) !== layer) {
    throw new Error(`variant "${item}": layer ${m[3]} does not match the SAE's hook: ${spec.hookMapping}, so its decoder rows are directions at the output of layer ${layer}; write @${layer} or leave @LAYER out.`);
  }
  let decoderNorm: number;
  let hash: string;
  try {
    decoderNorm = Math.hypot(...saeDecoderRow(spec, feature));
    hash = hashSaeFolder(dir);
  } catch (e) {
    throw new Error(`variant "${item}": ${(e as Error).message}`);
  }
  if (!(decoderNorm > 0)) throw new Error(`variant "${item}": W_dec row ${feature} of ${dir} is zero; it is no direction.`);
  const sae: SaeFeatureRef = { feature, hook_name: spec.hookName, hash, decoder_norm: decoderNorm };
  if (!steering) return { ablate: { file: dir, layers: [layer], sae } };
  const alpha = Number(m[4]);
  if (m[4].trim() === '' || !Number.isFinite(alpha)) throw new Error(`variant "${item}": the steering strength "${m[4]}" is not a number.`);
  return { steer: { file: dir, layer, alpha, sae } };
}

/**
 * The direction a steer / ablate entry of a VariantSpec recorded from an SAE uses: W_dec[feature], checked against
 * the model's hidden size and against the hook and fingerprint the run header recorded.
 */
export function readSaeDirection(dir: string, ref: SaeFeatureRef, hiddenSize?: number): Float32Array {
  const spec = openSaeFolder(dir, hiddenSize === undefined ? undefined : { hiddenSize });
  if (spec.hookName !== ref.hook_name) throw new Error(`${path.join(dir, 'cfg.json')}: the hook is now "${spec.hookName}", but the variant was made for "${ref.hook_name}"`);
  const hash = hashSaeFolder(dir);
  if (hash !== ref.hash) throw new Error(`${dir}: the SAE changed since the variant was made (fingerprint ${hash}, recorded ${ref.hash}); feature ${ref.feature} may be another direction now`);
  return saeDecoderRow(spec, ref.feature);
}

/** The variant string that steers (alpha given) or ablates (alpha null) along feature F of the SAE in `dir`. */
export function saeVariantText(dir: string, feature: number, alpha: number | null): string {
  const spec = openSaeFolder(dir);
  const layer = saeSteerLayer(spec);
  if (!Number.isInteger(feature) || feature < 0 || feature >= spec.dSae) throw new Error(`${dir}: feature ${feature} is out of range (0..${spec.dSae - 1})`);
  return alpha === null ? `${ABLATE_SAE_PREFIX}${dir}#${feature}@${layer}` : `${STEER_SAE_PREFIX}${dir}#${feature}@${layer}*${alpha}`;
}
