// SAE model diffing on the demo organism: a run of the demo prompt set (base + rank-1 adapter, judged with the
// demo rule judge) diffed through the constructed demo SAE (tools/sae/make-demo-sae.ts: features 0 and 1 are
// ±unit(LoRA B) at the adapter's layer, the rest random unit directions). The adapter writes only along B, so
// one of those two features must top the run-level rise, far above any random feature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadLocalJobModel } from '../../../../src/engine/jobs/localJobModel';
import { runPromptSet } from '../../../../src/engine/jobs/runPromptSet';
import { parseVariants } from '../../../../src/engine/jobs/variants';
import { judgeRun } from '../../../../src/engine/jobs/judgeRun';
import { loadJudgesFile, selectJudge } from '../../../../src/engine/judges/judgesFile';
import { loadRunModel } from '../../../../src/engine/jobs/analyzeRun';
import { readRun } from '../../../../src/engine/runs/reader';
import { openSaeFolder } from '../../../../src/engine/sae/saeFolder';
import { SaeKernel } from '../../../../src/engine/sae/saeKernel';
import { saeRunDiff, saeSampleDiff, saeTopTokens } from '../../../../src/engine/sae/saeDiff';
import { B_FEATURES, makeDemoSae } from '../../../../tools/sae/make-demo-sae';

const ROOT = path.resolve(__dirname, '../../../..');
const EX = path.join(ROOT, 'examples');
const BASE = path.join(EX, 'organisms/demo-base');
const ADAPTER = path.join(EX, 'organisms/demo-narrow-r1');

test('demo organism: the SAE feature along the adapter\'s write direction tops the run-level SAE diff', { timeout: 600_000 }, async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ol-sae-demo-'));
  try {
    const sae = path.join(d, 'sae');
    makeDemoSae(ADAPTER, sae, 64);
    const out = path.join(d, 'demo.run.jsonl');
    const model = await loadLocalJobModel(BASE, [{ name: 'demo-narrow-r1', dir: ADAPTER }], {});
    try {
      await runPromptSet(model, {
        promptSetPath: path.join(EX, 'prompts/demo.yaml'),
        variants: parseVariants('base,demo-narrow-r1', ['demo-narrow-r1']),
        samples: 4,
        sampling: { temperature: 1, top_p: 1, top_k: 0, min_p: 0, max_new_tokens: 40, stop: [] },
        seed: 3,
        out,
        batchSize: 16,
      });
    } finally {
      await model.dispose();
    }
    await judgeRun(out, selectJudge(await loadJudgesFile(path.join(EX, 'judges/demo.judges.yaml'))));
    const run = readRun(out);
    const am = await loadRunModel(run, {});
    try {
      const spec = openSaeFolder(sae, { hiddenSize: am.runner.spec.hiddenSize, numLayers: am.runner.spec.numLayers });
      assert.equal(spec.hiddenStateIndex, 2, 'blocks.1.hook_resid_post = hidden_states[2]');
      const kernel = await SaeKernel.create(spec, 1);
      try {
        const diff = await saeRunDiff(am, run, out, spec, kernel, { top: 10 });
        console.log(`  rising: ${diff.rising.slice(0, 4).map((r) => `#${r.feature} Δ${r.delta.toFixed(3)} AUC ${r.aucMisaligned?.toFixed(3) ?? '-'} (${r.samplesVar}/${diff.samples} samples)`).join(', ')}`);
        console.log(`  falling: ${diff.falling.slice(0, 3).map((r) => `#${r.feature} Δ${r.delta.toFixed(3)}`).join(', ')}; labels ${diff.labels.misaligned} misaligned / ${diff.labels.aligned} aligned`);
        assert.equal(diff.variant, 'demo-narrow-r1');
        assert.equal(diff.samples, 36);
        const top = diff.rising[0];
        assert.ok((B_FEATURES as readonly number[]).includes(top.feature), `top rising feature #${top.feature} is not one of the B features ${B_FEATURES.join(', ')}`);
        const bestRandom = [...diff.rising, ...diff.falling].filter((r) => !(B_FEATURES as readonly number[]).includes(r.feature)).reduce((m, r) => Math.max(m, Math.abs(r.delta)), 0);
        assert.ok(top.delta > 3 * bestRandom, `B feature Δ ${top.delta} vs best random |Δ| ${bestRandom}`);
        assert.ok(diff.labels.misaligned > 0 && diff.labels.aligned > 0, 'the rule judge labelled both kinds');
        assert.ok(top.aucMisaligned !== null && top.aucMisaligned >= 0 && top.aucMisaligned <= 1);

        const sample = run.samples.find((s) => s.variant === 'demo-narrow-r1' && (s.token_ids?.length ?? 0) > 3)!;
        const sd = await saeSampleDiff(am, run, spec, kernel, sample.id, { k: 3 });
        const firstResponse = sd.tokens.find((t) => t.response)!;
        assert.ok(sd.tokens.filter((t) => t.response).some((t) => t.features.some((f) => (B_FEATURES as readonly number[]).includes(f.feature))), 'a B feature changes on some response token');
        assert.ok(firstResponse.text.length >= 0);
        const tops = await saeTopTokens(am, run, spec, kernel, top.feature, { top: 5 });
        assert.equal(tops.length, 5);
        assert.ok(tops[0].activation >= tops[4].activation);
      } finally {
        await kernel.dispose();
      }
    } finally {
      await am.dispose();
    }
    // The CLI end to end.
    const text = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'sae-diff', out, '--sae', sae, '--top', '3'], { encoding: 'utf8' });
    assert.match(text, /features the variant turns up/);
    assert.match(text, /blocks\.1\.hook_resid_post = output of decoder layer 1 = hidden_states\[2\]/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
