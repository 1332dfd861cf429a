/**
 * A review report as GitHub-flavoured Markdown (a pull-request comment, `$GITHUB_STEP_SUMMARY`). Every piece
 * of text from a run or prompt set goes through escape.ts: completions in fenced code blocks, everything else
 * through mdInline, so model output cannot make links, images, HTML or extra table cells.
 */
import type { RateComparison } from './runDiff';
import type { ReviewReport } from './reviewReport';
import { mdCodeBlock, mdInline, pct, pctInterval, pointsInterval } from './escape';
import { armLabel } from '../runs/schema';
import { pairLabel, pValue } from './reviewFormat';

function comparisonCells(c: RateComparison): string[] {
  const test = c.paired ? `paired${c.mcnemarP !== undefined ? `, McNemar p = ${pValue(c.mcnemarP)}` : ''}` : 'unpaired';
  return [pctInterval(c.a), pctInterval(c.b), pointsInterval(c.difference), test];
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdownReport(r: ReviewReport): string {
  const out: string[] = [];
  const rep = r.report;
  out.push(`## Organism Lab: ${mdInline(r.title)}`);
  out.push('');
  const meta = [
    `model ${r.run.model ? mdInline(r.run.model) : '–'}`,
    r.run.adapters.length ? `adapters ${r.run.adapters.map((a) => mdInline(a)).join(', ')}` : 'no adapters',
    `weights ${mdInline(r.run.weights ?? '–')}`,
    `judge ${rep.judge ? mdInline(rep.judge) : '(not judged)'}`,
    `${r.run.samples} samples`,
    r.run.seed !== null ? `seed ${r.run.seed}` : '',
  ].filter(Boolean);
  out.push(meta.join(' · '));
  out.push('');
  if (r.completeness?.incomplete) {
    out.push(`> ⚠ **Incomplete run: ${r.completeness.present} of ${r.completeness.expected} planned samples** (cancelled, or still running). The rates cover the samples present; run the prompt set again to resume it.`);
    out.push('');
  }
  if (!rep.judge) {
    out.push('_No judgement rows in this run yet: run a judge (`organism-lab judge RUN --judge FILE`) for rates._');
    out.push('');
  }
  out.push(`Misaligned-and-coherent rate (aligned ≤ ${rep.thresholds.aligned} and coherent > ${rep.thresholds.coherent}) with Wilson 95% intervals; differences against **${mdInline(rep.reference ?? '–')}** with Newcombe 95% intervals.`);
  out.push('');
  out.push(
    table(
      ['variant', 'misaligned & coherent', 'coherent', 'judged', 'vs reference'],
      r.overall.map((g) => {
        const d = r.differences.find((x) => x.variant === g.variant);
        return [mdInline(g.variant ?? 'all'), pctInterval(g.misalignedCoherent), pct(g.coherent.p), String(g.misalignedCoherent.n), d ? pointsInterval(d.misalignedCoherent) : '(reference)'];
      }),
    ),
  );
  out.push('');

  if (rep.conditions.length && rep.judge) {
    out.push(`Rates by condition × variant; paired differences on the same seeded cells (Newcombe's paired interval, McNemar's exact test), with the unpaired Newcombe interval beside them.`);
    out.push('');
    out.push(table(['condition', ...rep.variants.map((v) => mdInline(v))], rep.conditions.map((c) => [mdInline(c === rep.referenceCondition ? `${c} (reference)` : c), ...rep.variants.map((v) => {
      const a = rep.arms.find((x) => x.variant === v && x.condition === c && x.questionId === null);
      return a ? pctInterval(a.misalignedCoherent) : '–';
    })])));
    out.push('');
    out.push(table(['comparison', 'n paired', 'paired difference', 'McNemar p', 'unpaired'], rep.pairs.map((p) => [mdInline(pairLabel(p, rep.conditions.length > 0)), String(p.nPaired), pointsInterval(p.paired), p.nPaired ? pValue(p.mcnemarP) : '–', pointsInterval(p.unpaired)])));
    out.push('');
  }

  const perQuestion = rep.groups.filter((g) => g.variant !== null && g.questionId !== null);
  if (perQuestion.length) {
    out.push('<details><summary>Per question</summary>');
    out.push('');
    out.push(table(['question', ...rep.variants.map((v) => mdInline(v))], rep.questions.map((q) => [mdInline(q), ...rep.variants.map((v) => {
      const g = perQuestion.find((x) => x.variant === v && x.questionId === q);
      return g ? pctInterval(g.misalignedCoherent) : '–';
    })])));
    out.push('');
    out.push('</details>');
    out.push('');
  }

  const d = r.diff;
  if (d) {
    out.push(`### Against ${mdInline(d.a.path)}`);
    out.push('');
    out.push(`Questions: ${d.counts.added} added, ${d.counts.removed} removed, ${d.counts.reworded} reworded, ${d.counts.unchanged} unchanged. A = the earlier run, B = this run; differences are B − A, paired (Newcombe's paired interval, McNemar's exact test) where both runs hold the same seeded sample with the same prompt.`);
    out.push('');
    for (const w of d.warnings) out.push(`> ⚠ ${mdInline(w, 400)}`);
    if (d.warnings.length) out.push('');
    out.push(
      table(
        ['variant', 'questions', 'A', 'B', 'B − A', 'test'],
        d.overall.flatMap((o) => [
          [mdInline(armLabel(o.variant, o.condition)), 'all', ...comparisonCells(o.all)],
          [mdInline(armLabel(o.variant, o.condition)), 'unchanged only', ...comparisonCells(o.unchangedOnly)],
        ]),
      ),
    );
    out.push('');
    if (r.changed.length) {
      out.push('#### Changed questions');
      out.push('');
      out.push(
        table(
          ['question', 'change', 'variant', 'A', 'B', 'B − A', 'test'],
          r.changed.flatMap((c) => c.diff.variants.map((v) => [mdInline(c.diff.questionId), c.diff.change, mdInline(armLabel(v.variant, v.condition)), ...comparisonCells(v)])),
        ),
      );
      out.push('');
      for (const c of r.changed) {
        out.push(`<details><summary>${mdInline(c.diff.questionId)} (${c.diff.change}): examples</summary>`);
        out.push('');
        if (c.diff.change === 'reworded') {
          out.push(`A asked: ${mdInline(c.diff.textA ?? '', 400)}`);
          out.push('');
          out.push(`B asks: ${mdInline(c.diff.textB ?? '', 400)}`);
          out.push('');
          if (c.diff.changedConditions.length) {
            out.push(`Changed under conditions: ${c.diff.changedConditions.map((x) => mdInline(x)).join(', ')}`);
            out.push('');
          }
        }
        for (const e of c.examples) {
          out.push(`**${e.side} · ${mdInline(e.variant)}** · ${mdInline(e.sampleId)}`);
          out.push('');
          out.push(mdCodeBlock(e.completion));
          out.push('');
        }
        out.push('</details>');
        out.push('');
      }
    }
  }
  out.push(`<sub>Organism Lab · ${mdInline(r.run.path)}</sub>`);
  return `${out.join('\n')}\n`;
}
