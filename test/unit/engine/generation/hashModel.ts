/**
 * A small exact reference "model" for the decoding loop's tests: its next-token logits are a hash of every
 * (token, position) it can see through the attention mask and the KV cache, so any error in padding, masks,
 * position ids, row removal, refill merging or column trimming changes the tokens.
 */
import assert from 'node:assert/strict';
import type { StepBackend, StepForwardArgs } from '../../../../src/engine/runtime/generateLoop';
import { KvCache } from '../../../../src/engine/runtime/kvCache';
import { kvCacheSteps } from '../../../../src/engine/runtime/generate';
import type { RowVariant } from '../../../../src/engine/runtime/generationTypes';

export const V = 40;

function hash(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * Cache: the production KvCache (one layer, one head, headDim 2) holding (token, position) per column,
 * grown by `append` and edited by the production step operations, as ModelRunner's is.
 */
export class HashModel implements StepBackend<KvCache> {
  forwards = 0;
  keepRows = kvCacheSteps.keepRows;
  concatLeftPadded = kvCacheSteps.concatLeftPadded;
  dropLeadingColumns = kvCacheSteps.dropLeadingColumns;
  async forward(a: StepForwardArgs<KvCache>): Promise<{ lastLogits: Float32Array; vocab: number; present: KvCache }> {
    this.forwards++;
    const T = a.pastLength + a.seqLen;
    assert.equal(a.attentionMask.length, a.batch * T, 'mask covers past + new columns');
    if (a.past) assert.deepEqual(a.past.dims, [a.batch, 1, a.pastLength, 2]);
    const fresh = new Float32Array(a.batch * a.seqLen * 2);
    for (let b = 0; b < a.batch; b++) {
      for (let s = 0; s < a.seqLen; s++) {
        fresh[(b * a.seqLen + s) * 2] = a.inputIds[b * a.seqLen + s];
        fresh[(b * a.seqLen + s) * 2 + 1] = a.positionIds[b * a.seqLen + s];
      }
    }
    const present = (a.past ?? KvCache.empty(1, a.batch, 1, 2)).append([fresh], [fresh], a.reserve);
    const logits = new Float32Array(a.batch * V);
    for (let b = 0; b < a.batch; b++) {
      let h = 17;
      for (let j = 0; j < T; j++) {
        if (a.attentionMask[b * T + j] === 0) continue;
        const col = present.column(0, 'key', b, 0, j);
        h = hash(hash(h, col[0]), col[1]);
      }
      const v: RowVariant = a.rows[b];
      for (let k = 0; k < V; k++) {
        logits[b * V + k] = (hash(h, k) / 2 ** 32) * 4 + v.adapterScale * ((hash(h ^ 0xabc, k) / 2 ** 32) - 0.5) * 3;
      }
    }
    return { lastLogits: logits, vocab: V, present };
  }
}
