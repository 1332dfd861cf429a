/**
 * The engine host's parsed run files, one version per path: the run-file requests that a Compare view sends for
 * the same file version (its rows, its report, its token offsets, a diff against it) parse the file once; a new
 * version (engine/runs/fileVersion.ts: any append, rewrite or replacement) is read again.
 * What `read` returns is shared by every caller: read-only.
 */
import { EngineError } from '../backends/errors';
import { readRun } from '../runs/reader';
import type { RunContents } from '../runs/parse';
import { runFileVersion, sameVersion, type RunFileVersion } from '../runs/fileVersion';

interface Entry {
  version: RunFileVersion;
  contents: RunContents;
}

export class RunFileCache {
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();

  /**
   * @param maxFiles how many files are kept parsed
   * @param maxBytes their total size on disk; a larger file is parsed for each request, not kept
   */
  constructor(
    private readonly maxFiles = 6,
    private readonly maxBytes = 256 * 1024 * 1024,
  ) {}

  /**
   * The run file as parsed (engine/runs/reader), from the cache when its version is unchanged. The version is taken
   * before reading, so a file that grows meanwhile is at worst read once more by the next request, never missed.
   */
  read(file: string): { version: RunFileVersion; contents: RunContents } {
    const version = runFileVersion(file);
    if (!version) throw new EngineError('InvalidInput', `${file}: the run file does not exist.`, 'Check the path; the file may have been moved or deleted.');
    const hit = this.entries.get(file);
    this.entries.delete(file);
    if (hit && sameVersion(hit.version, version)) {
      this.entries.set(file, hit);
      return hit;
    }
    let contents: RunContents;
    try {
      contents = readRun(file);
    } catch (e) {
      // Not a run file, a damaged header, unreadable: the message names the file and what is wrong.
      throw new EngineError('InvalidInput', (e as Error).message);
    }
    const entry = { version, contents };
    if (version.size <= this.maxBytes) {
      this.entries.set(file, entry);
      this.evict();
    }
    return entry;
  }

  private evict(): void {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.version.size;
    for (const [file, e] of this.entries) {
      if (this.entries.size <= this.maxFiles && bytes <= this.maxBytes) break;
      this.entries.delete(file);
      bytes -= e.version.size;
    }
  }
}
