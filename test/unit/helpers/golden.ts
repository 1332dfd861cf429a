// The Hugging Face reference outputs (../shared/golden next to the repository; override with
// ORGANISM_LAB_GOLDEN): the one place every golden-using test finds them. Where they are, which families, the
// model each family's expected.safetensors was produced with (base weights plus the lora_a and lora_b
// adapters), and what a test does when they are missing: FAIL (one failing test per file, naming the folder
// and the fix), unless ORGANISM_LAB_ALLOW_MISSING_GOLDEN=1 says to skip instead (a machine known to lack them).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { ModelRunner, ModelRunnerOptions } from '../../../src/engine/runtime/modelRunner';
import { SafetensorsFile } from '../../../src/engine/checkpoint/safetensors';

/** The repository's root (this file is test/unit/helpers/golden.ts). */
const REPO = path.resolve(__dirname, '../../..');
export const GOLDEN = process.env.ORGANISM_LAB_GOLDEN ? path.resolve(process.env.ORGANISM_LAB_GOLDEN) : path.resolve(REPO, '../shared/golden');
export const GOLDEN_FAMILIES = ['qwen2', 'qwen3', 'llama', 'mistral', 'gemma2', 'gemma3_text'];
/** ORGANISM_LAB_ALLOW_MISSING_GOLDEN=1: skip golden tests when the data is missing instead of failing. */
export const ALLOW_MISSING_GOLDEN = process.env.ORGANISM_LAB_ALLOW_MISSING_GOLDEN === '1';

/** A path inside the golden folder, e.g. goldenPath('qwen2', 'model'). */
export function goldenPath(...parts: string[]): string {
  return path.join(GOLDEN, ...parts);
}

const reported = new Set<string>();

/**
 * The node:test `skip` option for a test that needs these golden paths (relative to the golden folder):
 * false when they exist. When one is missing, the test is skipped and, unless ORGANISM_LAB_ALLOW_MISSING_GOLDEN=1,
 * a failing test "golden reference data is present" is registered in its place (once per missing path and
 * file), so `npm test` fails and says why.
 */
export function goldenSkip(...relPaths: string[]): string | false {
  const missing = (relPaths.length ? relPaths : ['']).map((p) => goldenPath(p)).filter((p) => !existsSync(p));
  if (missing.length === 0) return false;
  const reason = `golden reference data missing: ${missing.join(', ')}`;
  if (!ALLOW_MISSING_GOLDEN && !reported.has(missing[0])) {
    reported.add(missing[0]);
    test(`golden reference data is present (${missing[0]})`, () => {
      throw new Error(
        `${reason}. The golden tests need ../shared/golden next to the repository (${path.resolve(REPO, '../shared/golden')}) ` +
          'or ORGANISM_LAB_GOLDEN=<folder>. To skip these tests on a machine without it, set ORGANISM_LAB_ALLOW_MISSING_GOLDEN=1.',
      );
    });
  }
  return reason;
}

/** A family's golden folder and the node:test skip option for it (see goldenSkip). */
export function goldenFamily(fam: string): { dir: string; skip: string | false } {
  return { dir: goldenPath(fam), skip: goldenSkip(fam) };
}

export function openExpected(dir: string): SafetensorsFile {
  return SafetensorsFile.open(path.join(dir, 'expected.safetensors'));
}

/** The family's model with its lora_a and lora_b adapters, one intra-op thread; `extra` adds options (e.g. steerLayers). */
export async function loadGoldenRunner(dir: string, extra: Omit<ModelRunnerOptions, 'threads' | 'adapters'> = {}): Promise<ModelRunner> {
  // Imported here so that a test needing only the paths does not load onnxruntime.
  const { ModelRunner } = await import('../../../src/engine/runtime/modelRunner');
  return ModelRunner.load(path.join(dir, 'model'), {
    threads: 1,
    adapters: [
      { name: 'lora_a', dir: path.join(dir, 'lora_a') },
      { name: 'lora_b', dir: path.join(dir, 'lora_b') },
    ],
    ...extra,
  });
}

/** log-softmax of one row of HF step logits at token `tok` (the step log-probability HF generate() implies). */
export function logSoftmaxAt(row: Float32Array, tok: number): number {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  return row[tok] - m - Math.log(s);
}
