/**
 * Sample and cell ids of run files: `${question_id}#${paraphrase_index}#${sample_index}@${variant}`, followed by
 * `~${condition}` for a row run under a prompt condition, and the cell id shared by all variants and conditions
 * of one (question, paraphrase, sample). Pure: the engine (writing run files) and the webviews (pairing rows)
 * both use these, so they live in the shared protocol layer.
 */
export function sampleId(questionId: string, paraphraseIndex: number, sampleIndex: number, variant: string, condition?: string): string {
  return `${questionId}#${paraphraseIndex}#${sampleIndex}@${variant}${condition ? `~${condition}` : ''}`;
}

/** The id shared by all variants and conditions of one (question, paraphrase, sample) cell. */
export function cellId(questionId: string, paraphraseIndex: number, sampleIndex: number): string {
  return `${questionId}#${paraphraseIndex}#${sampleIndex}`;
}

/** A row's arm label: `variant`, or `variant~condition` under a condition (as in sample ids and `--pair`). */
export function armLabel(variant: string, condition?: string): string {
  return condition ? `${variant}~${condition}` : variant;
}
