/**
 * Exporting a run file (engine/runs/export.ts): the formats, and the engine host's `engine/exportRun` request that
 * the extension's "Export Run…" sends (the CLI's `export` calls the same function in its own process), with
 * `engine/runArms` that lists the arms it offers as the LLM Comparator's sides.
 */

export const EXPORT_FORMATS = ['csv', 'jsonl', 'comparator'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(x: string): x is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(x);
}

export interface ExportRunParams {
  runPath: string;
  format: ExportFormat;
  /** Written atomically (a temporary file renamed into place). */
  outPath: string;
  /** The judge whose metrics get the plain column names (default: the one that scored aligned and coherent, with most rows). */
  judge?: string;
  /** LLM Comparator sides: a variant, or `variant~condition` in a run with conditions. */
  variantA?: string;
  variantB?: string;
}

export interface ExportResult {
  outPath: string;
  format: ExportFormat;
  /** Rows (CSV/JSONL) or examples (comparator) written. */
  count: number;
  warnings: string[];
}

export interface RunArmsParams {
  runPath: string;
}

/** The arms of a run an LLM Comparator export can compare (side A / side B), from the run file's header. */
export interface RunArmsResult {
  /** Each variant, or each `variant~condition` pair in a run with conditions, in the header's order. */
  arms: string[];
  /** Whether the run has conditions (the arms are then `variant~condition`). */
  withConditions: boolean;
}
