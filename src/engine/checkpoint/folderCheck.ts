/**
 * What a folder handed to "load a model" / "load an adapter" is, checked before anything else reads it, so the
 * message says what the folder is (an adapter, a training run, not a checkpoint at all) instead of the first file
 * a loader misses (e.g. "no tokenizer.json: copy the tokenizer files into it").
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** checkpoint-N sub-folders, by step. */
function checkpointFolders(dir: string, names: string[]): string[] {
  return names
    .filter((n) => /^checkpoint-\d+$/.test(n) && statSync(path.join(dir, n), { throwIfNoEntry: false })?.isDirectory())
    .sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
}

function baseModelOf(dir: string): string | null {
  try {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as { base_model_name_or_path?: unknown };
    return typeof cfg.base_model_name_or_path === 'string' && cfg.base_model_name_or_path ? cfg.base_model_name_or_path : null;
  } catch {
    return null;
  }
}

/** Throws a message naming what `dir` is when it is not a Hugging Face model folder (config.json + *.safetensors). */
export function assertModelFolder(dir: string): void {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) return; // the callers report a missing folder themselves
  const names = entries(abs);
  if (names.includes('adapter_config.json')) {
    const base = baseModelOf(abs);
    throw new Error(
      `${abs} is a PEFT adapter (it has adapter_config.json), not a model: load its base model${base ? ` (${base})` : ''} as the model, then this folder with Load Adapter (CLI: --model BASE --adapter ${abs}).`,
    );
  }
  const hasConfig = names.includes('config.json');
  const weights = names.filter((n) => n.endsWith('.safetensors'));
  const steps = checkpointFolders(abs, names);
  if (!hasConfig && steps.length > 0) {
    throw new Error(
      `${abs} is a training run (${steps.length} checkpoint-N folders), not a model: load its base model, then one of its checkpoints (e.g. ${path.join(abs, steps[steps.length - 1])}) with Load Adapter.`,
    );
  }
  if (!hasConfig && weights.length === 0) {
    throw new Error(`${abs} is not a model folder: no config.json and no *.safetensors here. Pick a Hugging Face checkpoint folder (config.json + model*.safetensors).`);
  }
  if (!hasConfig) {
    throw new Error(`${abs} has ${weights.length} .safetensors file(s) but no config.json: copy the model's config.json into it (the architecture is read from it).`);
  }
  if (weights.length === 0) {
    const pickles = names.filter((n) => /^pytorch_model.*\.bin$/.test(n));
    throw new Error(
      `${abs} has config.json but no *.safetensors weights${pickles.length ? ` (only ${pickles.join(', ')}: pickles are not read; re-save with save_pretrained(..., safe_serialization=True))` : ''}.`,
    );
  }
}

/** Throws a message naming what `dir` is when it is clearly not a PEFT adapter folder (a model, a training run). */
export function assertAdapterFolder(dir: string): void {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) return;
  const names = entries(abs);
  if (names.includes('adapter_config.json')) return; // the PEFT loader checks the rest, naming the file and field
  if (names.includes('config.json') && names.some((n) => n.endsWith('.safetensors'))) {
    throw new Error(`${abs} is a model (config.json + weights), not a PEFT adapter: load it as the model (Load Model; CLI: --model). An adapter folder has adapter_config.json + adapter_model.safetensors.`);
  }
  const steps = checkpointFolders(abs, names);
  if (steps.length > 0) {
    throw new Error(`${abs} is a training run (${steps.length} checkpoint-N folders): load one of its checkpoints as the adapter, e.g. ${path.join(abs, steps[steps.length - 1])}.`);
  }
  throw new Error(`${abs} is not a PEFT adapter folder: no adapter_config.json here (an adapter folder has adapter_config.json + adapter_model.safetensors).`);
}
