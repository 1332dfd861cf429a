/**
 * "What is this folder?" for the Checkpoint inspector and the Checkpoints view: a model (config.json +
 * safetensors), a PEFT adapter (adapter_config.json), or a training run (checkpoint-N/ subfolders), as the
 * analysis layer's InspectorReport. All reading and statistics come from src/engine/checkpoint and
 * src/engine/analysis; this module only decides what applies and collects problems instead of throwing.
 */
import { existsSync } from 'node:fs';
import { checkpointSteps } from '../checkpoint/trainingRun';
import path from 'node:path';
import { adapterStats } from '../analysis/adapterStats';
import { computeTrajectory } from '../analysis/trajectory';
import type { InspectorReport } from '../analysis/types';
import { describeNonFinite, scanCheckpointNonFinite, structuralProblems } from '../checkpoint/integrity';
import { loadModelSpec } from '../checkpoint/modelSpec';
import { parseAdapterConfig } from '../checkpoint/peftAdapter';
import { DTYPE_SIZE, SafetensorsCheckpoint } from '../checkpoint/safetensors';

/**
 * Models up to this size are scanned for NaN/Inf here (loading scans every model anyway, streaming and
 * cached per file, so inspect finds what load would refuse); larger ones are scanned when loaded.
 */
export const NAN_SCAN_LIMIT_BYTES = 64 * 1024 ** 3;

/** A problem starting with this is informational: not something loading would refuse. */
export const NOTE = 'note: ';

/** The problems loading would refuse (everything but notes). */
export function refusals(problems: string[]): string[] {
  return problems.filter((p) => !p.startsWith(NOTE));
}

/** Training-run discovery (re-exported for the Inspector's callers). */
export { checkpointSteps };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function inspectModel(dir: string, problems: string[], onProgress?: (done: number, total: number) => void): InspectorReport['model'] {
  let spec;
  try {
    spec = loadModelSpec(dir);
  } catch (err) {
    problems.push(message(err));
    return null;
  }
  let parameters = 0;
  let bytes = 0;
  const dtypes: Record<string, number> = {};
  let nanCount: number | null = null;
  let infCount: number | null = null;
  let scannedTensors = 0;
  try {
    const ckpt = SafetensorsCheckpoint.open(dir, { verifyFinite: false });
    const names = ckpt.names();
    // Everything ModelRunner.load would refuse: missing tensors, wrong shapes or dtypes (the same check).
    problems.push(...structuralProblems(spec, ckpt));
    for (const name of names) {
      const t = ckpt.info(name);
      const n = t.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      bytes += n * DTYPE_SIZE[t.dtype];
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + n;
    }
    if (bytes <= NAN_SCAN_LIMIT_BYTES) {
      const bad = scanCheckpointNonFinite(ckpt, (done, total) => {
        scannedTensors = done;
        onProgress?.(done, total);
      });
      scannedTensors = names.length;
      nanCount = bad.reduce((a, t) => a + t.nan, 0);
      infCount = bad.reduce((a, t) => a + t.inf, 0);
      if (nanCount > 0 || infCount > 0) {
        problems.push(`${dir}: the weights hold ${nanCount} NaN and ${infCount} Inf values in ${bad.length} tensors; loading refuses them.`);
        for (const t of bad.slice(0, 10)) problems.push(describeNonFinite(t));
      }
    } else {
      problems.push(`${NOTE}${dir}: ${(bytes / 1024 ** 3).toFixed(1)} GB of weights; NaN/Inf scan skipped here (limit ${NAN_SCAN_LIMIT_BYTES / 1024 ** 3} GB); loading scans them.`);
    }
  } catch (err) {
    problems.push(message(err));
  }
  return {
    family: spec.family,
    numLayers: spec.numLayers,
    hiddenSize: spec.hiddenSize,
    intermediateSize: spec.intermediateSize,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    vocabSize: spec.vocabSize,
    tieWordEmbeddings: spec.tieWordEmbeddings,
    parameters,
    dtypes,
    bytes,
    nanCount,
    infCount,
    scannedTensors,
  };
}

export interface InspectOptions {
  /** A base model to check an adapter against (shapes, target modules). */
  baseModelDir?: string;
  onProgress?: (done: number, total: number) => void;
}

export async function inspectCheckpoint(dir: string, opts: InspectOptions = {}): Promise<InspectorReport> {
  const report: InspectorReport = { dir, kind: 'unknown', model: null, adapter: null, trajectory: null, problems: [] };
  const hasCheckpoints = checkpointSteps(dir).length > 0 || checkpointSteps(path.join(dir, 'checkpoints')).length > 0;
  if (existsSync(path.join(dir, 'adapter_config.json'))) {
    report.kind = 'adapter';
    try {
      // The same config checks as loading (types, ranges, patterns), before any statistics.
      parseAdapterConfig(path.join(dir, 'adapter_config.json'));
      report.adapter = adapterStats(dir, { baseModelDir: opts.baseModelDir });
      if (report.adapter.nanCount || report.adapter.infCount) report.problems.push(`${dir}: the adapter holds ${report.adapter.nanCount} NaN and ${report.adapter.infCount} Inf values.`);
      if (report.adapter.compatibility && !report.adapter.compatibility.ok) report.problems.push(report.adapter.compatibility.message);
    } catch (err) {
      report.problems.push(message(err));
    }
  } else if (existsSync(path.join(dir, 'config.json'))) {
    report.kind = 'model';
    report.model = inspectModel(dir, report.problems, opts.onProgress);
  } else if (hasCheckpoints) {
    report.kind = 'training-run';
    try {
      report.trajectory = computeTrajectory(dir, { onProgress: opts.onProgress });
    } catch (err) {
      report.problems.push(message(err));
    }
  } else {
    report.problems.push(`${dir} holds no config.json, adapter_config.json or checkpoint-N/ folders: pick a model, adapter or training-run folder.`);
  }
  return report;
}
