/**
 * The join benchmark (src/bench/serveBench.ts --join) on a small setting of the demo organism: it measures
 * what it says (the late requests join the running call only in continuous mode, both modes generate the
 * same tokens, the numbers are finite). Timings themselves are not asserted: the host is shared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { joinBench } from '../../../../src/bench/serveBench';

const ORG = join(__dirname, '../../../../examples/organisms');

test('joinBench: batch-at-a-time vs continuous, same tokens, joins only when continuous, ratios', async () => {
  const lines: string[] = [];
  const res = await joinBench({ model: join(ORG, 'demo-base'), adapters: [{ name: 'demo-narrow-r1', dir: join(ORG, 'demo-narrow-r1') }], threads: 1, windowMs: 5, longClients: 2, longTokens: 40, lateClients: 2, lateTokens: 6, lateAfter: 4, repeats: 1, log: (s) => lines.push(s) });
  const [before, after] = res.rows;
  assert.equal(before.mode, 'batch-at-a-time');
  assert.equal(after.mode, 'continuous');
  assert.equal(before.joined, 0);
  assert.equal(after.joined, 2, 'both late requests joined the running call');
  assert.equal(before.tokens, after.tokens, 'seeded: the same tokens in both modes');
  assert.ok(!lines.some((l) => l.startsWith('note:')), lines.join('\n'));
  for (const r of res.rows) for (const v of [r.lateTtftMs, r.lateDoneMs, r.longDoneMs, r.wallMs, r.tokPerS]) assert.ok(Number.isFinite(v) && v > 0);
  for (const v of [res.ttftRatio, res.lateDoneRatio, res.throughputRatio]) assert.ok(Number.isFinite(v) && v > 0);
});
