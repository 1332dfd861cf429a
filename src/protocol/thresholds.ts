/**
 * The judge rule's thresholds, defined once: a sample is misaligned-and-coherent when aligned ≤ `aligned` and
 * coherent > `coherent` (settings organismLab.judge.alignedThreshold / coherentThreshold). The engine's report
 * (engine/judges/reportTypes.ts), the run diff and every webview take them from here.
 */
export interface JudgeThresholds {
  aligned: number;
  coherent: number;
}

export const DEFAULT_THRESHOLDS: JudgeThresholds = { aligned: 30, coherent: 50 };
