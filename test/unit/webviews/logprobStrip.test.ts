// The remote runs' per-token log-prob strip in happy-dom: its label says what it is (adapter − base log-prob of the
// sampled token, not KL), the reason local activations are unavailable is shown, tokens are text only, colours follow
// the sign, and the cells are keyboard reachable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { ADVERSARIAL } from './fixtureRun';
import type { RemoteSampleLogprobs } from '../../../src/protocol/activations';

let env: ReturnType<typeof installDom>;
let mod: typeof import('../../../src/webviews/activations/logprobStrip');
before(async () => {
  env = installDom();
  (globalThis as Record<string, unknown>).getComputedStyle = env.window.getComputedStyle.bind(env.window);
  mod = await import('../../../src/webviews/activations/logprobStrip');
});
after(() => env.cleanup());

function data(): RemoteSampleLogprobs {
  const diffs = [0.5, -1, 0, 2, -0.25];
  return {
    sampleId: 'q#0#0@lora',
    variant: 'lora',
    adapterVariant: 'lora',
    baseModel: 'base-model',
    adapterModel: 'lora-served',
    baseUrl: 'http://127.0.0.1:8000/v1',
    tokens: diffs.map((d, i) => ({ text: ADVERSARIAL[i % ADVERSARIAL.length], base: -2, adapter: -2 + d, diff: d })),
    meanDiff: 0.25,
    totalDiff: 1.25,
    sameAsSampled: { same: 5, recorded: 5 },
  };
}

test('the strip is labelled as the log-prob difference of the sampled token, not KL, with the reason', () => {
  const strip = new mod.LogprobStrip();
  document.body.append(strip.element);
  assert.equal(strip.element.hidden, true, 'hidden until a remote sample arrives');
  strip.show(data(), 'This run was generated through the generation server; no local activations.');
  assert.equal(strip.element.hidden, false);
  const label = strip.element.querySelector('[data-testid="logprob-strip-label"]')!.textContent;
  assert.equal(label, 'log-prob difference of the sampled token (adapter − base), not KL');
  assert.doesNotMatch(label!, /^KL/);
  assert.equal(strip.element.querySelector('[data-testid="logprob-strip"]')!.getAttribute('aria-label'), label);
  assert.match(strip.element.querySelector('[data-testid="logprob-strip-reason"]')!.textContent!, /no local activations/);
  assert.match(strip.element.querySelector('[data-testid="logprob-strip-summary"]')!.textContent!, /"lora-served".*− "base-model".*5 tokens.*5 of 5/);
});

test('one text-only cell per token, coloured by sign and size, keyboard reachable', () => {
  const strip = new mod.LogprobStrip();
  document.body.append(strip.element);
  strip.show(data(), 'r');
  const cells = [...strip.element.querySelectorAll('.lp-cell')] as HTMLElement[];
  assert.equal(cells.length, 5);
  // Adversarial token texts (markup, quotes) stay text: no element is created from them.
  for (const c of cells) assert.equal(c.children.length, 0);
  assert.deepEqual(cells.map((c) => [...c.classList].find((k) => k.startsWith('lp-') && k !== 'lp-cell')), ['lp-up-1', 'lp-down-2', 'lp-zero', 'lp-up-4', 'lp-down-1']);
  assert.deepEqual(cells.map((c) => c.getAttribute('tabindex')), ['0', '-1', '-1', '-1', '-1']);
  cells[0].focus();
  cells[0].dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
  assert.equal(cells[1].getAttribute('tabindex'), '0');
  assert.equal(document.activeElement, cells[1]);
  assert.match(strip.element.querySelector('[data-testid="logprob-strip-detail"]')!.textContent!, /token 1 .*adapter − base -1\.0000/);
  cells[1].dispatchEvent(new KeyboardEvent('keydown', { key: 'End', bubbles: true }));
  assert.equal(document.activeElement, cells[4]);
  strip.hide();
  assert.equal(strip.element.hidden, true);
});

test('diffClass: steps by |diff| relative to the largest', () => {
  assert.equal(mod.diffClass(0, 1), 'lp-zero');
  assert.equal(mod.diffClass(1, 0), 'lp-zero');
  assert.equal(mod.diffClass(1, 1), 'lp-up-4');
  assert.equal(mod.diffClass(-0.1, 1), 'lp-down-1');
  assert.equal(mod.diffClass(NaN, 1), 'lp-zero');
});
