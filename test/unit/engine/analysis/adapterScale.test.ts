// Issue 13 §4: the Inspector and `inspect` report each module's scale as the loader applies it (rank_pattern,
// alpha_pattern, rsLoRA), from one function (loraModuleScale).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../../../src/engine/checkpoint/safetensorsWriter';
import { adapterStats, loraProductNorm } from '../../../../src/engine/analysis/adapterStats';
import { loadPeftAdapterStandalone, loraModuleScale } from '../../../../src/engine/checkpoint/peftAdapter';
import { inspectCheckpoint } from '../../../../src/engine/backends/inspect';
import { formatInspectorReport } from '../../../../src/cli/inspect';

const HIDDEN = 8;
const INTER = 12;

function adapter(dir: string, config: Record<string, unknown>, ranks: Record<number, number>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', target_modules: ['down_proj'], ...config }));
  const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [layer, r] of Object.entries(ranks)) {
    const A = Float32Array.from({ length: r * INTER }, (_, i) => Math.sin(i + Number(layer)));
    const B = Float32Array.from({ length: HIDDEN * r }, (_, i) => Math.cos(i * 0.7 + Number(layer)));
    t[`base_model.model.model.layers.${layer}.mlp.down_proj.lora_A.weight`] = { dtype: 'F32', shape: [r, INTER], data: A };
    t[`base_model.model.model.layers.${layer}.mlp.down_proj.lora_B.weight`] = { dtype: 'F32', shape: [HIDDEN, r], data: B };
  }
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), t);
}

test('loraModuleScale: rank_pattern and alpha_pattern by PEFT key matching, rsLoRA', () => {
  const cfg = { r: 2, loraAlpha: 8, useRslora: false, rankPattern: { 'layers.1.mlp.down_proj': 4 }, alphaPattern: { 'layers\\.1\\..*': 32 } };
  assert.deepEqual(loraModuleScale(cfg, 'model.layers.0.mlp.down_proj'), { r: 2, alpha: 8, scale: 4 });
  assert.deepEqual(loraModuleScale(cfg, 'model.layers.1.mlp.down_proj'), { r: 4, alpha: 32, scale: 8 });
  assert.deepEqual(loraModuleScale({ ...cfg, useRslora: true }, 'model.layers.1.mlp.down_proj'), { r: 4, alpha: 32, scale: 16 });
});

test('adapter statistics use the per-module scale the loader applies; inspect prints it', async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ascale-'));
  try {
    const dir = path.join(d, 'patterned');
    adapter(dir, { r: 2, lora_alpha: 8, rank_pattern: { 'layers.1.mlp.down_proj': 4 }, alpha_pattern: { 'layers.1.mlp.down_proj': 32 } }, { 0: 2, 1: 4 });
    const st = adapterStats(dir);
    const loaded = loadPeftAdapterStandalone(dir);
    assert.deepEqual(st.modules.map((m) => [m.layer, m.r, m.alpha, m.scale]), [[0, 2, 8, 4], [1, 4, 32, 8]]);
    assert.deepEqual(st.modules.map((m) => m.scale), loaded.modules.map((m) => m.scale), 'the report and the loader agree');
    for (const [i, m] of st.modules.entries()) {
      const lm = loaded.modules[i];
      const ba = loraProductNorm(lm.A, lm.B, lm.r, lm.inFeatures, lm.outFeatures);
      assert.ok(Math.abs(m.normDelta! - lm.scale * ba) <= 1e-9 * m.normDelta!, `${m.key}: scale·‖BA‖`);
    }
    assert.equal(st.config.scale, 4, 'the config-level scale is the default (unpatterned) one');
    assert.deepEqual(st.config.alphaPattern, { 'layers.1.mlp.down_proj': 32 });
    const text = formatInspectorReport(await inspectCheckpoint(dir));
    assert.match(text, /scale=4\.0000 \(default; rank_pattern=.*alpha_pattern=.*per-module scales below\)/);
    assert.match(text, /\n {2}1 +down_proj +4 +8\.0000 /, 'layer 1 row shows its own scale');
    assert.match(text, /\n {2}0 +down_proj +2 +4\.0000 /);
    // Without patterns nothing changes: every module gets alpha / r.
    const plain = path.join(d, 'plain');
    adapter(plain, { r: 2, lora_alpha: 8 }, { 0: 2, 1: 2 });
    assert.deepEqual(adapterStats(plain).modules.map((m) => m.scale), [4, 4]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
