/**
 * The Activations page's SAE diff (text nodes only): the features the variant turns up and down, each row with
 * "Top tokens" (posts activations/saeFeatureTokens) and "Steer…" (posts activations/saeSteer: the host asks the
 * strength, copies the steer-sae: variant and offers a run); only the feature index crosses to the host. Below the
 * tables, a feature's top-activating response tokens.
 */
import { button } from '../components/controls';
import { h, replaceChildren } from '../shared/dom';
import type { ActivationsWebviewMessage, SaeRunDiff, SaeTopToken } from '../../protocol/activations';
import { fmt } from './format';
import { tokenLabel } from './heatmap';

/** One line about the diff: the SAE, the two variants, the counts and labels, the SAE's warnings. */
export function saeDiffSummary(d: SaeRunDiff): string {
  return `${d.sae.architecture} SAE, ${d.sae.dSae} features, at ${d.sae.hookMapping}. "${d.variant}" vs "${d.reference}": ${d.samples} samples, ${d.responseTokens} response tokens; labels ${d.labels.misaligned} misaligned / ${d.labels.aligned} aligned${d.labels.judge ? ` (judge ${d.labels.judge})` : ''}. Means over response tokens.${d.sae.warnings.length ? ` ${d.sae.warnings.join(' ')}` : ''}`;
}

export class SaeFeatures {
  readonly tables = h('div', { 'data-testid': 'sae-features' });
  readonly tokens = h('div', { 'data-testid': 'sae-tokens' });

  constructor(private readonly post: (m: ActivationsWebviewMessage) => void) {}

  showDiff(d: SaeRunDiff): void {
    replaceChildren(this.tables, this.table('Turned up', d.rising, 'sae-rising'), this.table('Turned down', d.falling, 'sae-falling'));
    replaceChildren(this.tokens);
  }

  private table(title: string, rows: SaeRunDiff['rising'], testId: string): HTMLElement {
    return h('div', null,
      h('h3', null, title),
      h('table', { class: 'alignment', 'data-testid': testId },
        h('thead', null, h('tr', null, ...['feature', 'mean ref', 'mean variant', 'Δ', 'samples ref / variant', 'AUC misaligned', ''].map((c) => h('th', null, c)))),
        h('tbody', null, ...rows.map((r) => h('tr', null,
          h('td', null, `#${r.feature}`), h('td', null, fmt(r.meanRef)), h('td', null, fmt(r.meanVar)), h('td', null, fmt(r.delta)),
          h('td', null, `${r.samplesRef} / ${r.samplesVar}`), h('td', null, r.aucMisaligned === null ? '-' : r.aucMisaligned.toFixed(3)),
          h('td', null,
            button({ label: 'Top tokens', onClick: () => this.post({ type: 'activations/saeFeatureTokens', feature: r.feature }), testId: `sae-feature-${r.feature}` }),
            button({ label: 'Steer…', onClick: () => this.post({ type: 'activations/saeSteer', feature: r.feature }), testId: `sae-steer-${r.feature}`, title: `Steer with this feature: a steer-sae: variant adding α × feature #${r.feature}'s decoder row at the SAE's layer (copied; run a prompt set with it)` })),
        )))));
  }

  showFeature(feature: number, tokens: SaeTopToken[]): void {
    replaceChildren(
      this.tokens,
      h('h3', null, `Feature #${feature}: top-activating response tokens`),
      tokens.length === 0
        ? h('div', { class: 'muted' }, 'The feature is not active on any response token of this variant.')
        : h('table', { class: 'alignment', 'data-testid': 'sae-top-tokens' },
            h('thead', null, h('tr', null, ...['activation', 'token', 'context', 'sample'].map((c) => h('th', null, c)))),
            h('tbody', null, ...tokens.map((t) => h('tr', null, h('td', null, t.activation.toFixed(3)), h('td', null, tokenLabel(t.token)), h('td', null, t.context), h('td', null, t.sampleId))))),
    );
  }
}
