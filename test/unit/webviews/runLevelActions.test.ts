// The Activations page's run-level actions in happy-dom: on a remote run (the host sends the reason) the curve,
// direction and SAE buttons are disabled with the reason shown under each and as their title, and a click sends
// nothing; enabled again, they send their messages and get their own lines back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installDom } from './domEnv';
import { localModelNeededFor, localModelNeededReason } from '../../../src/protocol/activations';

let env: ReturnType<typeof installDom>;
let mod: typeof import('../../../src/webviews/activations/runLevelActions');
before(async () => {
  env = installDom();
  mod = await import('../../../src/webviews/activations/runLevelActions');
});
after(() => env.cleanup());

test('a remote run: every run-level button disabled with the reason naming the model; clicks send nothing; enabling restores them', () => {
  const sent: string[] = [];
  const actions = new mod.RunLevelActions(['curve', 'direction', 'sae'].map((n) => ({ label: n, testId: `compute-${n}`, title: `${n} title`, info: `${n} info`, onClick: () => sent.push(n) })));
  for (let i = 0; i < 3; i++) document.body.append(...actions.block(i));
  const reason = localModelNeededReason('/models/qwen-7b');
  assert.equal(reason, 'Needs the model loaded locally: load /models/qwen-7b or use the log-prob strip.');
  actions.setDisabledReason(reason);
  for (const [i, b] of actions.buttons.entries()) {
    assert.equal(b.hasAttribute('disabled'), true);
    assert.equal(b.getAttribute('aria-disabled'), 'true');
    assert.equal(b.title, reason);
    assert.equal(actions.infos[i].textContent, reason);
    (b as HTMLElement).click();
  }
  assert.deepEqual(sent, []);
  actions.setDisabledReason(null);
  actions.buttons.forEach((b) => (b as HTMLElement).click());
  assert.deepEqual(sent, ['curve', 'direction', 'sae']);
  assert.deepEqual(actions.infos.map((d) => d.textContent), ['curve info', 'direction info', 'sae info']);
  assert.deepEqual(actions.buttons.map((b) => [b.hasAttribute('disabled'), b.title]), [[false, 'curve title'], [false, 'direction title'], [false, 'sae title']]);
});

test('the reason is given for a run generated through a server (header backend "openai") only', () => {
  assert.equal(localModelNeededFor({ backend: { kind: 'openai' }, model: { path: 'srv-base' } }), 'Needs the model loaded locally: load srv-base or use the log-prob strip.');
  assert.equal(localModelNeededFor({ backend: { kind: 'local' }, model: { path: '/m' } }), null);
  assert.equal(localModelNeededFor({ model: { path: '/m' } }), null);
});
