/**
 * organism-lab cache [list|clear] [--cache-folder DIR] [--json]
 * The quantized-weights cache: one file per checkpoint fingerprint × precision × block size.
 */
import path from 'node:path';
import { UsageError } from './cliErrors';
import { parseCommandLine, printedHelp } from './cliCommon';
import { clearCache, defaultCacheFolder, listCache } from '../engine/quant/quantCache';

export const CACHE_HELP = `usage: organism-lab cache [list|clear] [--cache-folder DIR] [--json]

  list (default)       the quantized weights in the cache: precision, block size, size, source checkpoint, created
  clear                delete them (and leftovers of interrupted quantizations); they are made again on the next load
  --cache-folder DIR   cache root (weights in DIR/weights; default ${path.dirname(defaultCacheFolder())})
  --json               print as JSON
`;

const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;

export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { 'cache-folder': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  }, CACHE_HELP);
  if (printedHelp(o, CACHE_HELP)) return 0;
  const action = positionals[0] ?? 'list';
  if (positionals.length > 1 || (action !== 'list' && action !== 'clear')) throw new UsageError(`expected list or clear\n${CACHE_HELP}`);
  const folder = o['cache-folder'] ? path.join(path.resolve(o['cache-folder']), 'weights') : undefined;
  if (action === 'clear') {
    const r = clearCache(folder);
    process.stdout.write(o.json ? JSON.stringify(r) + '\n' : `removed ${r.removed} file(s), ${gb(r.bytes)}, from ${r.folder}\n`);
    return 0;
  }
  const l = listCache(folder);
  if (o.json) {
    process.stdout.write(JSON.stringify(l, null, 2) + '\n');
    return 0;
  }
  const lines = [`${l.folder}: ${l.entries.length} file(s), ${gb(l.totalBytes)}`];
  for (const e of l.entries) {
    lines.push(e.partial
      ? `  ${path.basename(e.file)}  ${gb(e.bytes)}  (interrupted quantization; safe to clear when no load is running)`
      : `  ${e.bits === 16 ? 'f16' : e.bits ? `int${e.bits}` : '?'}  block ${e.bits === 16 ? '-' : (e.blockSize ?? '?')}  ${gb(e.bytes)}  ${e.source ?? '?'}  ${e.created ?? ''}  ${path.basename(e.file)}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
