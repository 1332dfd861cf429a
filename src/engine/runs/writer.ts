/**
 * Append-only run-file writer. Every process that appends to a run file (generation and the local
 * judge in the engine host, labels and rule/OpenAI judgements in the extension host, the CLI) goes
 * through this class, and every append holds the run's lock (lock.ts) for its duration only:
 *
 *   lock → look at the file's last line → one write of whole lines → fsync → unlock
 *
 * so rows from several writers interleave line by line and never merge. The last line is repaired
 * under the lock, where no other writer can be in the middle of it:
 *   - a complete JSON line without its newline (saved so by an editor or a tool) is kept: a newline
 *     is written before the new row, in the same write;
 *   - a torn line (not JSON: a writer crashed mid-line) is moved out of the run file into
 *     `<run>.torn` (bytes kept, with where they came from) and reported as a warning. A torn tail
 *     modified less than `settleMs` ago may still be growing (a program that does not take the lock):
 *     the append waits, without holding the lock, until it is complete or has stayed unchanged.
 * Readers need no lock: a torn last line is ignored with a warning (parse.ts).
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { acquireRunLockSync, sleepSync, withRunLock, withRunLockSync, type RunLockOptions } from './lock';
import { parseRunText, type RunContents } from './parse';
import type { RunHeader, RunRow } from './schema';

export interface RunWriterOptions extends RunLockOptions {
  /** A torn last line modified less than this long ago may still be written by a program that takes no lock (default 1000 ms). */
  settleMs?: number;
  /** Tail repairs (a torn line moved to `<run>.torn`). Also kept in `writer.warnings`. */
  onWarning?: (message: string) => void;
}

/** Where torn last lines are kept. */
export function tornPathFor(runPath: string): string {
  return `${runPath}.torn`;
}

type TailResult = { prefix: string } | { waitMs: number };

export class RunWriter {
  private fd: number | null;
  /** Warnings from tail repairs made by this writer. */
  readonly warnings: string[] = [];
  private constructor(readonly path: string, fd: number, readonly existing: RunContents | null, private readonly opts: RunWriterOptions) {
    this.fd = fd;
  }

  /** Creates a new run file with its header. Fails if the file exists (use open() to append). */
  static create(path: string, header: RunHeader, opts: RunWriterOptions = {}): RunWriter {
    return withRunLockSync(path, () => {
      let fd: number;
      try {
        fd = openSync(path, 'ax+');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new Error(`${path} already exists: resume into it (same model, prompt set and sampling) or choose another output file.`);
        throw new Error(`${path}: cannot create the run file (${code ?? (e as Error).message}).`);
      }
      const w = new RunWriter(path, fd, null, opts);
      w.write(JSON.stringify(header) + '\n');
      return w;
    }, opts);
  }

  /**
   * Opens an existing run file for appending. Its contents are read under the lock (so no row in flight
   * is seen half-written) and parsed into `existing`. Nothing is cut: a torn last line is dealt with
   * by the first append.
   */
  static open(path: string, opts: RunWriterOptions = {}): RunWriter {
    const { buf, fd } = withRunLockSync(path, () => RunWriter.readAndOpen(path), opts);
    return RunWriter.fromRead(path, buf, fd, opts);
  }

  /** open() that waits for the lock without blocking the event loop (the extension host). */
  static async openAsync(path: string, opts: RunWriterOptions = {}): Promise<RunWriter> {
    const { buf, fd } = await withRunLock(path, () => RunWriter.readAndOpen(path), opts);
    return RunWriter.fromRead(path, buf, fd, opts);
  }

  private static readAndOpen(path: string): { buf: Buffer; fd: number } {
    try {
      const fd = openSync(path, constants.O_RDWR | constants.O_APPEND); // like 'a+' but never creates the file
      try {
        return { buf: readFileSync(path), fd };
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    } catch (e) {
      throw new Error(`${path}: cannot open the run file for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
    }
  }

  private static fromRead(path: string, buf: Buffer, fd: number, opts: RunWriterOptions): RunWriter {
    try {
      return new RunWriter(path, fd, parseRunText(buf.toString('utf8'), path), opts);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** open() when the file exists, else create(path, header). */
  static createOrOpen(path: string, header: RunHeader, opts: RunWriterOptions = {}): RunWriter {
    return existsSync(path) ? RunWriter.open(path, opts) : RunWriter.create(path, header, opts);
  }

  /** Appends one row: one write of a whole line, then fsync, under the run's lock. */
  append(row: RunRow): void {
    this.appendLines([row]);
  }

  /** Appends rows in one write (all or, after a crash, a torn tail), under the run's lock. */
  appendLines(rows: RunRow[]): void {
    const text = rows.map((r) => JSON.stringify(r) + '\n').join('');
    const deadline = Date.now() + 10 * this.settleMs;
    for (;;) {
      const release = acquireRunLockSync(this.path, this.opts);
      let r: TailResult;
      try {
        r = this.repairTail(Date.now() >= deadline);
        if ('prefix' in r) this.write(r.prefix + text);
      } finally {
        release();
      }
      if ('prefix' in r) return;
      sleepSync(r.waitMs);
    }
  }

  /** append() that waits for the lock (and for a settling tail) without blocking the event loop. */
  async appendAsync(row: RunRow): Promise<void> {
    const text = JSON.stringify(row) + '\n';
    const deadline = Date.now() + 10 * this.settleMs;
    for (;;) {
      const r = await withRunLock(this.path, () => {
        const t = this.repairTail(Date.now() >= deadline);
        if ('prefix' in t) this.write(t.prefix + text);
        return t;
      }, this.opts);
      if ('prefix' in r) return;
      await new Promise((res) => setTimeout(res, r.waitMs));
    }
  }

  private get settleMs(): number {
    return this.opts.settleMs ?? 1000;
  }

  /** Under the lock: what to write before the new rows so they start on a line of their own. */
  private repairTail(force: boolean): TailResult {
    const fd = this.followReplacedFile();
    const st = fstatSync(fd);
    const size = st.size;
    if (size === 0) throw new Error(`${this.path}: the run file is empty (its header is gone); rows cannot be appended to it.`);
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return { prefix: '' };
    const start = lastLineStart(fd, size);
    const tail = Buffer.alloc(size - start);
    readSync(fd, tail, 0, tail.length, start);
    if (isJsonObjectLine(tail)) return { prefix: '\n' }; // complete, only its newline is missing
    const age = Date.now() - st.mtimeMs;
    if (!force && age < this.settleMs) return { waitMs: Math.max(5, Math.min(50, this.settleMs - age)) };
    if (start === 0) throw new Error(`${this.path}: the run header itself is incomplete (${size} bytes, no newline); this is not a usable run file. Delete it and run again.`);
    // Torn: keep its bytes next to the run file, then cut them off.
    const torn = tornPathFor(this.path);
    const note = `# ${new Date().toISOString()}: ${tail.length} bytes cut from the end of ${basename(this.path)} (byte offset ${start}, line incomplete: a writer was interrupted)\n`;
    try {
      const tfd = openSync(torn, 'a');
      try {
        const b = Buffer.concat([Buffer.from(note, 'utf8'), tail, Buffer.from('\n')]);
        let off = 0;
        while (off < b.length) off += writeSync(tfd, b, off, b.length - off);
        fsyncSync(tfd); // on disk before the bytes are cut from the run file
      } finally {
        closeSync(tfd);
      }
    } catch (e) {
      throw new Error(`${this.path}: its last line is incomplete and could not be set aside into ${torn} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing was appended.`);
    }
    ftruncateSync(fd, start);
    const msg = `${this.path}: its last line was incomplete (${tail.length} bytes; a writer was interrupted); moved to ${torn} and removed from the run file before appending.`;
    this.warnings.push(msg);
    this.opts.onWarning?.(msg);
    return { prefix: '' };
  }

  /**
   * Under the lock: a tool that saved the run file by writing a new file and renaming it over the old one
   * leaves our descriptor on the old, unlinked file, where rows would be lost. Reopen the path then.
   */
  private followReplacedFile(): number {
    const fd = this.openFd();
    let onDisk;
    try {
      onDisk = statSync(this.path);
    } catch (e) {
      throw new Error(`${this.path}: the run file was deleted or moved while it was being written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); rows are no longer appended.`);
    }
    const mine = fstatSync(fd);
    if (onDisk.ino === mine.ino && onDisk.dev === mine.dev) return fd;
    const next = openSync(this.path, constants.O_RDWR | constants.O_APPEND);
    closeSync(fd);
    this.fd = next;
    return next;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`${this.path}: the run writer is closed.`);
    return this.fd;
  }

  private write(text: string): void {
    const fd = this.openFd();
    const buf = Buffer.from(text, 'utf8');
    // O_APPEND: the write lands at the end; the lock keeps every other writer out until it is on disk.
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Byte offset where the last line of the file starts (just after the last newline, or 0). */
function lastLineStart(fd: number, size: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const pos = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - pos, pos);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) return pos + i + 1;
    end = pos;
  }
  return 0;
}

function isJsonObjectLine(bytes: Buffer): boolean {
  const text = bytes.toString('utf8');
  if (text.includes('\ufffd') && !bytes.includes(Buffer.from('\ufffd', 'utf8'))) return false; // cut inside a UTF-8 character
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}
