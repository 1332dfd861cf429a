// The Activations page's "Steer…" button message (SAE diff feature table → host): only a feature index passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseActivationsWebviewMessage } from '../../../src/protocol/activations';

test('activations/saeSteer carries a feature index (an integer ≥ 0) and nothing else', () => {
  assert.deepEqual(parseActivationsWebviewMessage({ type: 'activations/saeSteer', feature: 3, extra: '<b>' }), { type: 'activations/saeSteer', feature: 3 });
  for (const feature of [-1, 1.5, '3', null, undefined, Number.NaN]) assert.equal(parseActivationsWebviewMessage({ type: 'activations/saeSteer', feature }), null, String(feature));
});
