/**
 * Training-run folders: a folder of PEFT checkpoints saved as checkpoint-N/ subfolders (the Trainer's
 * layout). Discovery lives with the other checkpoint readers; the trajectory analysis and the Inspector use it.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** checkpoint-N subfolders sorted by step. */
export function checkpointSteps(dir: string): { step: number; dir: string }[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .map((name) => ({ name, m: /^checkpoint-(\d+)$/.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ step: Number(e.m[1]), dir: path.join(dir, e.name) }))
    .sort((a, b) => a.step - b.step);
}
