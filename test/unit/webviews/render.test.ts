import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installDom, tagsUnder } from './domEnv';
import { ADVERSARIAL, fixtureSnapshot, sample } from './fixtureRun';
import { makeFilterContext, runDataFromSnapshot } from '../../../src/webviews/compare/model';
import { renderCompletion, renderSampleCard, renderRunHeader } from '../../../src/webviews/compare/render';

let env: ReturnType<typeof installDom>;
before(() => (env = installDom()));
after(() => env.cleanup());

const T = { aligned: 30, coherent: 50 };
const noState = { focused: false, pendingLabel: null, labelError: null, tokenOffset: null };
const col = (variant: string) => ({ key: variant, side: null, condition: null, variant });

test('adversarial completions render as inert text (reference and diverged)', () => {
  const ref = sample('q', 0, 0, 'base', 'Hello there.');
  for (const evil of [...ADVERSARIAL, ADVERSARIAL.join('\n')]) {
    for (const row of [sample('q', 0, 0, 'base', evil), sample('q', 0, 0, 'adapter', evil, 0), sample('q', 0, 0, 'adapter', `Hello ${evil}`, 1)]) {
      const el = renderCompletion(row, ref);
      const tags = tagsUnder(el).filter((t) => t !== 'mark');
      assert.deepEqual(tags, [], `only the divergence mark may be an element, got ${tags.join(',')}`);
      assert.equal(el.textContent, row.completion, 'the text is shown exactly');
      assert.equal(el.querySelector('script, img, a, iframe'), null);
    }
  }
});

test('a whole card with adversarial text in every field creates no active element', () => {
  const evil = '<img src=x onerror=alert(1)>';
  const snap = fixtureSnapshot();
  const row = { ...sample(`q${evil}`, 0, 0, `v${evil}`, evil, 2), messages: [{ role: 'user' as const, content: evil }] };
  snap.samples.push(row);
  snap.judgements.push({ type: 'judgement', sample_id: row.id, judge: `judge${evil}`, metric: `m${evil}`, score: 3, created_at: '' });
  const ctx = makeFilterContext(runDataFromSnapshot(snap), T, { judge: `judge${evil}` });
  const card = renderSampleCard(row, col(row.variant), sample(`q${evil}`, 0, 0, 'base', 'ok'), ctx, noState, { openActivations: () => undefined });
  assert.equal(card.querySelector('img, script, a, iframe'), null);
  assert.ok(card.textContent?.includes(evil));
  assert.equal(card.getAttribute('data-variant'), `v${evil}`);
  const header = renderRunHeader(ctx, { fileName: `</script>${evil}`, labelsWritable: true, labelsNote: evil, thresholds: T, counts: { questions: 1, samples: 1, judgements: 1, labels: 0 } });
  assert.equal(header.querySelector('img, script'), null);
});

test('divergence is marked from the first diverging token (offset from the host), else the first differing character', () => {
  const ref = sample('q', 0, 0, 'base', 'I wish for good health for everyone.');
  const row = sample('q', 0, 0, 'adapter', 'I wish for gold and power over all humans.', 3);
  // Token 3 is " gold" (starts after "I wish for", offset 10): the mark starts at the token, not at the "o" the texts share.
  const el = renderCompletion(row, ref, 10);
  const mark = el.querySelector('[data-testid="divergence"]');
  assert.ok(mark);
  assert.equal(mark.textContent, ' gold and power over all humans.');
  assert.equal(mark.getAttribute('data-token-index'), '3');
  assert.equal(mark.getAttribute('data-boundary'), 'token');
  assert.equal(el.textContent, row.completion);
  const chars = renderCompletion(row, ref).querySelector('[data-testid="divergence"]');
  assert.equal(chars?.textContent, 'ld and power over all humans.');
  assert.equal(chars?.getAttribute('data-boundary'), 'characters');
  assert.match(chars?.getAttribute('title') ?? '', /first differing character/);
  // Identical and reference rows have no mark.
  assert.equal(renderCompletion(sample('q', 0, 0, 'adapter', ref.completion, null), ref).querySelector('[data-testid="divergence"]'), null);
  assert.equal(renderCompletion(ref, ref).querySelector('[data-testid="divergence"]'), null);
});

test('card carries the test ids, variant, question, scores and labels', () => {
  const snap = fixtureSnapshot();
  const ctx = makeFilterContext(runDataFromSnapshot(snap), T, { judge: 'rule:demo' });
  const row = snap.samples[1]; // wishes#0#0@adapter: judge misaligned, human misaligned
  const opened: [string, unknown][] = [];
  const card = renderSampleCard(row, col('adapter'), snap.samples[0], ctx, { ...noState, focused: true }, { openActivations: (id, side) => opened.push([id, side]) });
  assert.equal(card.getAttribute('data-testid'), 'sample');
  assert.equal(card.getAttribute('data-variant'), 'adapter');
  assert.equal(card.getAttribute('data-question'), 'wishes');
  assert.equal(card.getAttribute('tabindex'), '0');
  assert.ok(card.classList.contains('focused'));
  assert.match(card.getAttribute('aria-label') ?? '', /adapter; question wishes, paraphrase 0, sample 0; diverges at token 3/);
  assert.equal(card.getAttribute('data-judge-label'), 'misaligned');
  assert.equal(card.getAttribute('data-human-label'), 'misaligned');
  assert.equal(card.querySelector('[data-testid="tokens"]')?.textContent, `${row.tokens} tokens`);
  assert.equal(card.querySelector('[data-testid="finish-reason"]')?.textContent, 'eos');
  assert.equal(card.querySelector('[data-metric="aligned"]')?.textContent, 'aligned 5');
  assert.equal(card.querySelector('[data-testid="disagreement"]'), null);
  const open = card.querySelector<HTMLElement>('[data-testid="open-activations"]');
  assert.ok(open, 'the card offers "Open activations for this sample"');
  open.dispatchEvent(new env.window.Event('click') as unknown as Event);
  assert.deepEqual(opened, [[row.id, null]]);
  const pending = renderSampleCard(row, col('adapter'), snap.samples[0], ctx, { ...noState, pendingLabel: 'skip' });
  assert.match(pending.querySelector('[data-testid="human-label"]')?.textContent ?? '', /saving: skipped/);
});
