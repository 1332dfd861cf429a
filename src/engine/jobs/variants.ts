/**
 * Variant specs from their command-line / settings syntax, and their mapping to the generator's per-row variant.
 *   base            no adapter
 *   NAME            the adapter named NAME (its folder basename) at scale 1
 *   adapter         alias for the first adapter: the variant is named after it (NAME), like the editor names it
 *   NAME@0.5        that adapter at scale 0.5 (adapter@0.5 is named NAME@0.5)
 *   steer:FILE@L*A  the base model with A·v added at the output of layer L (v: FILE's direction for L);
 *                   steer:FILE or steer:FILE*A for a published steering vector (layer_idx/alpha in the file)
 *   ablate:FILE@L1,L2   the base model with v projected out of the residual stream at layers L1, L2
 *                   (a per-layer direction file gives v from the first listed layer)
 *   meanablate:FILE@L   ablation at layer L that sets the projection to the aligned samples' mean level
 *                   (ablate + steer at L, from the file's aligned_projection metadata) instead of to 0
 *   steer-sae:DIR#F@L*A   the base model with A·W_dec[F] (feature F's decoder row of the SAE folder DIR, as
 *                   stored) added at the output of layer L, the layer the SAE's hook reads (@L optional)
 *   ablate-sae:DIR#F@L    feature F's decoder row projected out there (see ../sae/saeDirections)
 *   TERM+steer:…, TERM+ablate:…, TERM+meanablate:…, TERM+steer-sae:…, TERM+ablate-sae:…   the same on top of an adapter term (adapter, NAME, NAME@S), e.g.
 *                   adapter+ablate:dir.safetensors@3,4
 *   LABEL=steer:…, LABEL=TERM+ablate:…   the same, named LABEL in the run file and reports
 */
import { resolve } from 'node:path';
import { alignedLevel, inspectDirectionFile, readDirection } from '../analysis/directionFile';
import type { RowVariant } from '../runtime/generationTypes';
import type { VariantSpec } from '../runs/schema';
import { ABLATE_SAE_PREFIX, parseSaeTerm, readSaeDirection, STEER_SAE_PREFIX } from '../sae/saeDirections';
import { openSaeFolder, type SaeModelShape } from '../sae/saeFolder';

/** Comma-separated items, where the layer list of an ablate item may itself contain commas (ablate:F@1,2). */
function splitVariantItems(text: string): string[] {
  const raw = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const out: string[] = [];
  for (const item of raw) {
    const prev = out[out.length - 1];
    if (/^\d+$/.test(item) && prev !== undefined && /(^|[+=])ablate:.*@[\d,+;]+$/.test(prev)) out[out.length - 1] = `${prev},${item}`;
    else if (/^\d+$/.test(item) && prev !== undefined && /meanablate:.*@\d+$/.test(prev)) {
      throw new Error(`variant "${prev},${item}": meanablate takes one layer (meanablate:FILE@LAYER); use ablate:FILE@L1,L2 to ablate at several layers.`);
    } else out.push(item);
  }
  return out;
}

function parseDirectionTerm(item: string, term: string): { steer?: VariantSpec['steer']; ablate?: VariantSpec['ablate'] } {
  if (term.startsWith(STEER_SAE_PREFIX) || term.startsWith(ABLATE_SAE_PREFIX)) return parseSaeTerm(item, term);
  if (term.startsWith('meanablate:')) {
    const m = /^meanablate:(.+?)@(\d+)$/.exec(term);
    if (!m) throw new Error(`variant "${item}": expected meanablate:FILE@LAYER (one layer).`);
    const file = resolve(m[1]);
    const layer = Number(m[2]);
    let level;
    try {
      level = alignedLevel(file, layer);
    } catch (e) {
      throw new Error(`variant "${item}": ${(e as Error).message}`);
    }
    if (!(level.norm > 0)) throw new Error(`variant "${item}": the layer ${layer} direction in ${file} has norm 0`);
    // Ablation runs before steering at a layer: h − (h·v̂)v̂ + p·v̂, with p·v̂ = (p/‖v‖)·v.
    return { ablate: { file, layers: [layer] }, steer: { file, layer, alpha: level.projection / level.norm } };
  }
  const kind = term.startsWith('steer:') ? 'steer' : 'ablate';
  const body = term.slice(kind.length + 1);
  if (kind === 'steer') {
    const m = /^(.+?)(?:@(-?\d+))?(?:\*([^*@]+))?$/.exec(body);
    if (!m || m[1] === '') throw new Error(`variant "${item}": expected steer:FILE@LAYER*ALPHA (or steer:FILE for a vector file that names its layer_idx and alpha).`);
    const file = resolve(m[1]);
    let info;
    try {
      info = inspectDirectionFile(file);
    } catch (e) {
      throw new Error(`variant "${item}": ${(e as Error).message}`);
    }
    const layer = m[2] !== undefined ? Number(m[2]) : info.layers.length === 1 ? info.layers[0] : null;
    if (layer === null) throw new Error(`variant "${item}": ${file} has directions for layers ${info.layers.join(', ') || '(none named)'}; say which with steer:FILE@LAYER*ALPHA.`);
    if (info.kind === 'per-layer' && !info.layers.includes(layer)) throw new Error(`variant "${item}": ${file} has no direction for layer ${layer} (it has ${info.layers.join(', ')}).`);
    let alpha = info.alpha ?? 1;
    if (m[3] !== undefined) {
      alpha = Number(m[3]);
      if (m[3].trim() === '' || !Number.isFinite(alpha)) throw new Error(`variant "${item}": the steering strength "${m[3]}" is not a number.`);
    }
    return { steer: { file, layer, alpha } };
  }
  const m = /^(.+?)(?:@([\d,+;]+))?$/.exec(body);
  if (!m || m[1] === '') throw new Error(`variant "${item}": expected ablate:FILE@L1,L2.`);
  const file = resolve(m[1]);
  let info;
  try {
    info = inspectDirectionFile(file);
  } catch (e) {
    throw new Error(`variant "${item}": ${(e as Error).message}`);
  }
  const layers = m[2] !== undefined ? m[2].split(/[,+;]/).filter((x) => x !== '').map(Number) : info.kind === 'single' ? info.layers : [];
  if (layers.length === 0) throw new Error(`variant "${item}": say at which layers to ablate: ablate:FILE@L1,L2.`);
  if (info.kind === 'per-layer' && !info.layers.includes(layers[0])) throw new Error(`variant "${item}": ${file} has no direction for layer ${layers[0]} (it has ${info.layers.join(', ')}).`);
  return { ablate: { file, layers } };
}

/**
 * Checks steering / ablation variants against the model they will run on, before it is loaded or rebuilt with
 * their layers: an SAE feature's SAE must fit the model (d_in = hidden size, its hook layer among the model's
 * layers: openSaeFolder names cfg.json, the field, both values and what to do), and every steered or ablated layer
 * must be one of the model's decoder layers. Without this the graph builder fails with a bare layer range.
 */
export function checkVariantsFitModel(specs: VariantSpec[], model: SaeModelShape & { numLayers: number }): void {
  const theModel = model.dir ? `the model (${model.dir})` : 'the model';
  for (const v of specs) {
    try {
      for (const sae of [v.steer?.sae ? v.steer.file : null, v.ablate?.sae ? v.ablate.file : null]) if (sae) openSaeFolder(sae, model);
      const layers = [...(v.steer ? [v.steer.layer] : []), ...(v.ablate?.layers ?? [])];
      const outside = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= model.numLayers);
      if (outside !== undefined) {
        throw new Error(`layer ${outside} is not a decoder layer of ${theModel}: it has ${model.numLayers} layers (0..${model.numLayers - 1}); steer or ablate at one of those (@LAYER), or load the model the direction was made for.`);
      }
    } catch (e) {
      throw new Error(`variant "${v.name}": ${(e as Error).message}`);
    }
  }
}

/** Layers the model must be loaded with (ModelRunnerOptions.steerLayers / ablateLayers) for these variants. */
export function variantLayers(specs: VariantSpec[]): { steerLayers: number[]; ablateLayers: number[] } {
  const s = new Set<number>();
  const a = new Set<number>();
  for (const v of specs) {
    if (v.steer) s.add(v.steer.layer);
    if (v.ablate) for (const l of v.ablate.layers) a.add(l);
  }
  return { steerLayers: [...s].sort((x, y) => x - y), ablateLayers: [...a].sort((x, y) => x - y) };
}

export function parseVariants(text: string, adapterNames: string[]): VariantSpec[] {
  const items = splitVariantItems(text);
  if (items.length === 0) throw new Error('--variants is empty: give a comma-separated list such as base,adapter or base,NAME@0.5.');
  const out: VariantSpec[] = [];
  for (const item of items) {
    const lm = /^([A-Za-z_][\w.-]*)=(.+)$/.exec(item);
    const body = lm ? lm[2] : item;
    const dm = /^(?:(.+?)\+)?((?:steer|ablate|meanablate|steer-sae|ablate-sae):.*)$/.exec(body);
    if (lm && !dm) throw new Error(`variant "${item}": a LABEL= name is for steering/ablation variants (LABEL=steer:FILE@L*A, LABEL=adapter+ablate:FILE@L1,L2).`);
    if (dm) {
      const base: VariantSpec = dm[1] === undefined ? { name: 'base', adapter: null } : parseVariants(dm[1], adapterNames)[0];
      // The `adapter` alias is written under the adapter's name (adapter+ablate:F@1 → NAME+ablate:F@1).
      const named = !lm && dm[1] !== undefined && base.adapter ? `${base.name}+${dm[2]}` : item;
      const spec: VariantSpec = { ...base, name: lm ? lm[1] : named, ...parseDirectionTerm(item, dm[2]) };
      if (out.some((v) => v.name === spec.name)) throw new Error(`variant "${item}" is listed twice.`);
      out.push(spec);
      continue;
    }
    const m = /^([^@]+)(?:@(.+))?$/.exec(item);
    if (!m) throw new Error(`variant "${item}": expected base, adapter, an adapter name, or NAME@SCALE.`);
    const [, name, scaleText] = m;
    let spec: VariantSpec;
    if (name === 'base') {
      if (scaleText !== undefined) throw new Error(`variant "${item}": base takes no scale (it has no adapter).`);
      spec = { name: 'base', adapter: null };
    } else {
      const adapter = name === 'adapter' && !adapterNames.includes('adapter') ? adapterNames[0] : name;
      if (adapter === undefined || !adapterNames.includes(adapter)) {
        throw new Error(`variant "${item}": ${adapterNames.length ? `no adapter named "${name}"; loaded adapters: ${adapterNames.join(', ')}` : 'no adapter was given (use --adapter DIR)'}.`);
      }
      let scale = 1;
      if (scaleText !== undefined) {
        scale = Number(scaleText);
        if (scaleText.trim() === '' || !Number.isFinite(scale)) throw new Error(`variant "${item}": the scale "${scaleText}" is not a number.`);
      }
      // One naming rule everywhere: a variant is named after its adapter (the alias `adapter` included).
      spec = { name: scaleText === undefined ? adapter : `${adapter}@${scaleText}`, adapter, adapter_scale: scale };
    }
    if (out.some((v) => v.name === spec.name)) throw new Error(`variant "${item}" is listed twice.`);
    out.push(spec);
  }
  return out;
}

/** The generator's per-row variant; steering/ablation directions are read from their files here. */
export function rowVariant(spec: VariantSpec, adapterNames: string[], hiddenSize?: number): RowVariant {
  let row: RowVariant;
  if (!spec.adapter) row = { adapter: null, adapterScale: 0 };
  else {
    if (!adapterNames.includes(spec.adapter)) throw new Error(`variant "${spec.name}" uses adapter "${spec.adapter}", which is not loaded (loaded: ${adapterNames.join(', ') || 'none'}).`);
    row = { adapter: spec.adapter, adapterScale: spec.adapter_scale ?? 1 };
  }
  try {
    if (spec.steer) {
      const vector = spec.steer.sae ? readSaeDirection(spec.steer.file, spec.steer.sae, hiddenSize) : readDirection(spec.steer.file, spec.steer.layer, hiddenSize);
      row.steer = { vector, layer: spec.steer.layer, strength: spec.steer.alpha };
    }
    if (spec.ablate) {
      if (spec.ablate.layers.length === 0) throw new Error('no ablation layers');
      const vector = spec.ablate.sae ? readSaeDirection(spec.ablate.file, spec.ablate.sae, hiddenSize) : readDirection(spec.ablate.file, spec.ablate.layers[0], hiddenSize);
      row.ablate = { vector, layers: [...spec.ablate.layers] };
    }
  } catch (e) {
    throw new Error(`variant "${spec.name}": ${(e as Error).message}`);
  }
  return row;
}
