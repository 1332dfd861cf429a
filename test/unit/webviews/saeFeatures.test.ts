// The Activations page's SAE diff tables in happy-dom: each feature's "Steer…" button, clicked with the mouse or
// activated from the keyboard (Enter, Space), posts activations/saeSteer with that feature's index and nothing else,
// which the host's parser accepts as is; "Top tokens" posts activations/saeFeatureTokens; keys that are not an
// activation (other keys, a held-down repeat, a modifier) post nothing; untrusted token text stays text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { parseActivationsWebviewMessage, type ActivationsWebviewMessage, type SaeRunDiff } from '../../../src/protocol/activations';

let env: ReturnType<typeof installDom>;
let mod: typeof import('../../../src/webviews/activations/saeFeatures');
before(async () => {
  env = installDom();
  mod = await import('../../../src/webviews/activations/saeFeatures');
});
after(() => env.cleanup());

const row = (feature: number, delta: number) => ({ feature, meanRef: 0.1, meanVar: 0.1 + delta, delta, samplesRef: 2, samplesVar: 9, aucMisaligned: 0.8 });
const diff: SaeRunDiff = {
  runPath: '/r.run.jsonl',
  sae: { dir: '/sae', architecture: 'standard', dSae: 64, hookName: 'blocks.1.hook_resid_post', hookMapping: 'blocks.1.hook_resid_post = output of decoder layer 1 = hidden_states[2]', warnings: [] },
  reference: 'base', variant: 'adapter', samples: 12, responseTokens: 300, labels: { misaligned: 4, aligned: 8, judge: 'rule:demo' },
  rising: [row(7, 2.5), row(3, 0.5)], falling: [row(41, -1.25)], skipped: [], elapsedMs: 10,
};

function render() {
  const posted: ActivationsWebviewMessage[] = [];
  const view = new mod.SaeFeatures((m) => posted.push(m));
  env.document.body.replaceChildren(view.tables as unknown as Node, view.tokens as unknown as Node);
  view.showDiff(diff);
  return { view, posted };
}
const byTestId = (id: string): HTMLElement => {
  const el = env.document.querySelector(`[data-testid="${id}"]`);
  assert.ok(el, `no [data-testid=${id}]`);
  return el as unknown as HTMLElement;
};
const click = (el: HTMLElement) => el.dispatchEvent(new env.window.MouseEvent('click', { bubbles: true }) as unknown as Event);
/** A keydown as the browser sends it; returns whether the page cancelled its default action. */
const key = (el: HTMLElement, k: string, init: { repeat?: boolean; shiftKey?: boolean; ctrlKey?: boolean } = {}): boolean => {
  const e = new env.window.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...init });
  el.dispatchEvent(e as unknown as Event);
  return e.defaultPrevented;
};

test('"Steer…" with the mouse posts activations/saeSteer with the row\'s feature, which the host accepts as is', () => {
  const { posted } = render();
  const rising = [...env.document.querySelectorAll('[data-testid="sae-rising"] tbody tr')].map((tr) => tr.querySelector('td')?.textContent);
  assert.deepEqual(rising, ['#7', '#3']);
  const steer = byTestId('sae-steer-7');
  assert.equal(steer.tagName.toLowerCase(), 'vscode-button');
  assert.equal(steer.textContent, 'Steer…');
  assert.match(steer.getAttribute('title') ?? '', /feature #7's decoder row/);
  click(steer);
  click(byTestId('sae-steer-41'));
  assert.deepEqual(posted, [{ type: 'activations/saeSteer', feature: 7 }, { type: 'activations/saeSteer', feature: 41 }]);
  for (const m of posted) assert.deepEqual(parseActivationsWebviewMessage(m), m, 'the host parser takes the message unchanged');
  click(byTestId('sae-feature-3'));
  assert.deepEqual(posted[2], { type: 'activations/saeFeatureTokens', feature: 3 });
});

test('"Steer…" from the keyboard: Enter and Space each post one message and cancel the native activation; other keys nothing', () => {
  const { posted } = render();
  const steer = byTestId('sae-steer-3');
  assert.equal(key(steer, 'Enter'), true, 'Enter is handled (no second, native click)');
  assert.deepEqual(posted, [{ type: 'activations/saeSteer', feature: 3 }]);
  assert.equal(key(steer, ' '), true);
  assert.deepEqual(posted.map((m) => m.type === 'activations/saeSteer' && m.feature), [3, 3]);
  // Held down (auto-repeat): cancelled but not sent again; other keys and modified keys: untouched, nothing sent.
  assert.equal(key(steer, 'Enter', { repeat: true }), true);
  assert.equal(key(steer, 'a'), false);
  assert.equal(key(steer, 'Tab'), false);
  assert.equal(key(steer, 'Enter', { shiftKey: true }), false);
  assert.equal(key(steer, 'Enter', { ctrlKey: true }), false);
  assert.equal(posted.length, 2);
  key(byTestId('sae-feature-41'), 'Enter');
  assert.deepEqual(posted[2], { type: 'activations/saeFeatureTokens', feature: 41 });
});

test('a new diff replaces the tables and clears the tokens; token text from the model stays text', () => {
  const { view, posted } = render();
  view.showFeature(7, [{ sampleId: 'q#0#0@adapter', position: 3, token: '<img src=x onerror=alert(1)>', context: '<script>alert(2)</script> hi', activation: 1.5 }]);
  const tokens = byTestId('sae-top-tokens');
  assert.equal(tokens.querySelectorAll('img, script').length, 0);
  assert.match(tokens.textContent ?? '', /<script>alert\(2\)<\/script> hi/);
  view.showDiff({ ...diff, rising: [row(9, 1)], falling: [] });
  assert.equal(env.document.querySelector('[data-testid="sae-steer-7"]'), null);
  assert.equal(env.document.querySelector('[data-testid="sae-top-tokens"]'), null);
  click(byTestId('sae-steer-9'));
  assert.deepEqual(posted, [{ type: 'activations/saeSteer', feature: 9 }]);
  assert.match(mod.saeDiffSummary(diff), /^standard SAE, 64 features, at blocks\.1\.hook_resid_post = output of decoder layer 1 = hidden_states\[2\]\. "adapter" vs "base": 12 samples/);
});
