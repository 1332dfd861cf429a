/** The parts of yazl (zip writing) and yauzl (zip reading) that interop uses; neither ships its own typings. */
declare module 'yazl' {
  import type { Readable } from 'node:stream';
  export class ZipFile {
    outputStream: Readable;
    addBuffer(buffer: Buffer, metadataPath: string, options?: { mtime?: Date; compress?: boolean }): void;
    end(options?: Record<string, unknown>, finalSizeCallback?: (size: number) => void): void;
  }
}

declare module 'yauzl' {
  import type { Readable } from 'node:stream';
  import type { EventEmitter } from 'node:events';
  export interface Entry {
    fileName: string;
    uncompressedSize: number;
    compressedSize: number;
  }
  export interface ZipFile extends EventEmitter {
    entryCount: number;
    readEntry(): void;
    openReadStream(entry: Entry, callback: (err: Error | null, stream: Readable) => void): void;
    close(): void;
  }
  export function open(path: string, options: { lazyEntries?: boolean; autoClose?: boolean; strictFileNames?: boolean; validateEntrySizes?: boolean }, callback: (err: Error | null, zipfile: ZipFile) => void): void;
}
