// The graph reads the KV cache where it lies, spare columns included, and must mask them: stale keys and
// values left behind by dropLeadingColumns, a capacity far larger than the data, and a grown capacity
// all give the logits of a plain cache. Golden tiny checkpoints (qwen2; gemma2 for sliding windows and
// soft-capping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ModelRunner } from '../../../../src/engine/runtime/modelRunner';
import type { RowVariant } from '../../../../src/engine/runtime/generationTypes';
import { goldenPath, goldenSkip } from '../../helpers/golden';
import { maxAbsDiff } from '../../helpers/arrays';

const BASE: RowVariant = { adapter: null, adapterScale: 0 };
const PROMPT = [5, 17, 300, 42, 7, 99, 128, 64, 3];
const ones = (n: number) => Array.from({ length: n }, () => 1);


for (const fam of ['qwen2', 'gemma2']) {
  test(`${fam}: spare and stale cache columns never reach attention`, { skip: goldenSkip(fam) }, async () => {
    const runner = await ModelRunner.load(path.join(goldenPath(fam), 'model'), { threads: 1 });
    try {
      const P = PROMPT.length;
      const decode = (past: Parameters<ModelRunner['forward']>[0]['past'], tok: number, len: number) =>
        runner.forward({ inputIds: [[tok]], attentionMask: [ones(len + 1)], positionIds: [[len]], past, rows: [BASE], lastLogitsOnly: true });
      // Reference: the prompt alone, then two decode steps.
      const ref0 = await runner.forward({ inputIds: [PROMPT], attentionMask: [ones(P)], rows: [BASE], lastLogitsOnly: true });
      const ref1 = await decode(ref0.present, 11, P);
      const ref2 = await decode(ref1.present, 12, P + 1);

      // The prompt left-padded by 6, then the 6 padding columns dropped: columns P..P+5 now hold stale copies.
      const pad = 6;
      const padded = await runner.forward({ inputIds: [[...Array(pad).fill(0), ...PROMPT]], attentionMask: [[...Array(pad).fill(0), ...ones(P)]], rows: [BASE], lastLogitsOnly: true });
      assert.ok(maxAbsDiff(padded.logits, ref0.logits) < 1e-4);
      const trimmed = padded.present.dropLeadingColumns(pad);
      assert.equal(trimmed.pastLength, P);
      assert.ok(trimmed.capacity >= P + pad);
      const t1 = await decode(trimmed, 11, P);
      assert.ok(maxAbsDiff(t1.logits, ref1.logits) < 1e-4, 'stale columns after the data are masked');
      const t2 = await decode(t1.present, 12, P + 1);
      assert.ok(maxAbsDiff(t2.logits, ref2.logits) < 1e-4);

      // A capacity much larger than the data (a generation's reserve), then growth past it.
      const big = await runner.forward({ inputIds: [PROMPT], attentionMask: [ones(P)], rows: [BASE], lastLogitsOnly: true, cacheReserve: { rows: 4, columns: 400 } });
      let c = big.present;
      let out = await decode(c, 11, P);
      assert.ok(maxAbsDiff(out.logits, ref1.logits) < 1e-4);
      c = out.present;
      const cap0 = c.capacity;
      let len = P + 1;
      while (c.capacity === cap0) {
        out = await decode(c, 12, len);
        c = out.present;
        len++;
      }
      assert.equal(c.pastLength, len);
      // The continuation with a grown capacity matches a fresh prefill of the same tokens.
      const toks = [...PROMPT, 11, ...Array(len - P - 1).fill(12)];
      const fresh = await runner.forward({ inputIds: [toks], attentionMask: [ones(len)], rows: [BASE], lastLogitsOnly: true });
      const a = await decode(c, 13, len);
      const b = await decode(fresh.present, 13, len);
      assert.ok(maxAbsDiff(a.logits, b.logits) < 1e-4, `after growing to ${c.capacity} columns`);
    } finally {
      await runner.dispose();
    }
  });
}
