/** A run file's version: its size, modification time and inode. Any append, rewrite or replacement is a new version. */
import { statSync } from 'node:fs';

export interface RunFileVersion {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function sameVersion(a: RunFileVersion, b: RunFileVersion): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** The file's version, or null when it does not exist. */
export function runFileVersion(file: string): RunFileVersion | null {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } : null;
}
