/**
 * Sample and cell ids of run files: `${question_id}#${paraphrase_index}#${sample_index}@${variant}` and the
 * cell id shared by all variants of one (question, paraphrase, sample). Pure: the engine (writing run files)
 * and the webviews (pairing rows) both use these, so they live in the shared protocol layer.
 */
export function sampleId(questionId: string, paraphraseIndex: number, sampleIndex: number, variant: string): string {
  return `${questionId}#${paraphraseIndex}#${sampleIndex}@${variant}`;
}

/** The id shared by all variants of one (question, paraphrase, sample) cell. */
export function cellId(questionId: string, paraphraseIndex: number, sampleIndex: number): string {
  return `${questionId}#${paraphraseIndex}#${sampleIndex}`;
}
