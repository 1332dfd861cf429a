/**
 * The per-token strip of a remote run (header backend "openai"), shown in place of the local KL strip: for each
 * token of the sample's completion, log p_adapter − log p_base of that sampled token, as the generation server
 * reports them (prompt_logprobs, or echo + logprobs). It is NOT a KL divergence, and the label says so.
 *
 * One focusable cell per token (text only, never HTML), coloured by sign and size in four steps (CSS classes over
 * theme colours: the CSP forbids inline styles); hovering or focusing a cell (arrow keys, Home/End move the focus)
 * shows its exact values.
 */
import type { RemoteSampleLogprobs } from '../../protocol/activations';
import { h, replaceChildren } from '../shared/dom';
import { tokenLabel } from './heatmap';

export const LOGPROB_STRIP_LABEL = 'log-prob difference of the sampled token (adapter − base), not KL';

const STEPS = 4;

/** The colour class of a difference: lp-up-1..4 / lp-down-1..4 by |diff| relative to the largest, lp-zero for 0. */
export function diffClass(diff: number, maxAbs: number): string {
  if (!Number.isFinite(diff) || diff === 0 || !(maxAbs > 0)) return 'lp-zero';
  const step = Math.max(1, Math.min(STEPS, Math.ceil((Math.abs(diff) / maxAbs) * STEPS)));
  return `${diff > 0 ? 'lp-up' : 'lp-down'}-${step}`;
}

function fmt(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : x.toFixed(4);
}

export class LogprobStrip {
  readonly element: HTMLElement;
  readonly #title = h('h2', { 'data-testid': 'logprob-strip-label' }, LOGPROB_STRIP_LABEL);
  readonly #reason = h('div', { class: 'muted', 'data-testid': 'logprob-strip-reason' });
  readonly #summary = h('div', { class: 'muted', 'data-testid': 'logprob-strip-summary' });
  readonly #cells = h('div', { class: 'lp-strip', role: 'list', 'aria-label': LOGPROB_STRIP_LABEL, 'data-testid': 'logprob-strip' });
  readonly #detail = h('div', { class: 'hover', 'aria-live': 'polite', 'data-testid': 'logprob-strip-detail' }, 'Hover or focus a token (arrow keys move) for its log-probabilities.');

  constructor() {
    this.element = h('section', { class: 'lp-section', hidden: true }, this.#title, this.#reason, this.#summary, this.#cells, this.#detail);
  }

  show(d: RemoteSampleLogprobs, reason: string): void {
    this.element.hidden = false;
    this.#reason.textContent = reason;
    const same = d.sameAsSampled ? `; ${d.sameAsSampled.same} of ${d.sameAsSampled.recorded} tokens are, string for string, the ones recorded when the sample was generated` : '';
    this.#summary.textContent =
      `"${d.adapterModel}" (variant ${d.adapterVariant}) − "${d.baseModel}" at ${d.baseUrl}, on the completion of ${d.sampleId} (${d.variant}): ` +
      `${d.tokens.length} tokens, mean ${fmt(d.meanDiff)}, total ${fmt(d.totalDiff)} nats${same}. Red: the adapter makes the sampled token more likely; blue: less.`;
    let maxAbs = 0;
    for (const t of d.tokens) if (Math.abs(t.diff) > maxAbs) maxAbs = Math.abs(t.diff);
    const cells = d.tokens.map((t, i) => {
      const label = `token ${i} ${JSON.stringify(t.text)}: adapter − base ${fmt(t.diff)} (adapter ${fmt(t.adapter)}, base ${fmt(t.base)})`;
      const cell = h('span', { class: `lp-cell ${diffClass(t.diff, maxAbs)}`, role: 'listitem', tabindex: i === 0 ? 0 : -1, 'aria-label': label, 'data-index': i }, tokenLabel(t.text));
      const showDetail = () => (this.#detail.textContent = `${label}\nlog p under ${d.adapterModel}: ${fmt(t.adapter)}; under ${d.baseModel}: ${fmt(t.base)}`);
      cell.addEventListener('mouseenter', showDetail);
      cell.addEventListener('focus', showDetail);
      cell.addEventListener('keydown', (e) => {
        const k = (e as KeyboardEvent).key;
        const to = k === 'ArrowRight' ? i + 1 : k === 'ArrowLeft' ? i - 1 : k === 'Home' ? 0 : k === 'End' ? cells.length - 1 : null;
        if (to === null || to < 0 || to >= cells.length) return;
        e.preventDefault();
        cell.setAttribute('tabindex', '-1');
        cells[to].setAttribute('tabindex', '0');
        cells[to].focus();
      });
      return cell;
    });
    replaceChildren(this.#cells, ...(cells.length ? cells : [h('span', { class: 'muted' }, 'The completion is empty: no tokens to show.')]));
  }

  hide(): void {
    this.element.hidden = true;
  }
}
