/** organismLab.weightsCache: show the quantized-weights cache (what, how big, from which checkpoint) and clear it. */
import path from 'node:path';
import * as vscode from 'vscode';
import type { LabContext } from '../context';
import { showCommandError } from '../run/args';

const gb = (b: number): string => `${(b / 1e9).toFixed(2)} GB`;

export async function weightsCacheCommand(ctx: LabContext, options?: { clear?: boolean }): Promise<{ files: number; bytes: number; removed?: number } | undefined> {
  try {
    if (options?.clear) {
      const r = await ctx.engine.weightsCache(true);
      ctx.log.info(`weights cache ${r.folder}: removed ${r.removed ?? 0} file(s)`);
      return { files: r.entries.length, bytes: r.totalBytes, removed: r.removed };
    }
    const l = await ctx.engine.weightsCache(false);
    const items: (vscode.QuickPickItem & { clear?: boolean })[] = l.entries.map((e) => ({
      label: e.partial ? `$(warning) ${path.basename(e.file)}` : `$(database) ${e.bits === 16 ? 'f16' : `${e.bits ? `int${e.bits}` : '?'} · block ${e.blockSize ?? '?'}`} · ${gb(e.bytes)}`,
      description: e.partial ? 'left by an interrupted quantization' : (e.source ?? undefined),
      detail: e.partial ? undefined : `${e.created ?? ''}  ${path.basename(e.file)}`,
    }));
    if (l.entries.length) items.push({ label: `$(trash) Clear the cache (${l.entries.length} file(s), ${gb(l.totalBytes)})`, clear: true, alwaysShow: true });
    const pick = await vscode.window.showQuickPick(items, {
      title: `Organism Lab: quantized weights in ${l.folder} — ${l.entries.length ? `${l.entries.length} file(s), ${gb(l.totalBytes)}` : 'empty'}`,
      placeHolder: l.entries.length ? 'int8/int4 weights made from checkpoints on first load; pick "Clear" to delete them (made again when needed)' : 'The cache is empty: int8/int4 weights are made on the first load at that precision (organismLab.weights).',
    });
    if (pick?.clear) {
      const ok = await vscode.window.showWarningMessage(`Delete ${l.entries.length} quantized weight file(s) (${gb(l.totalBytes)}) from ${l.folder}? They are made again on the next int8/int4 load.`, { modal: true }, 'Clear');
      if (ok === 'Clear') {
        const r = await ctx.engine.weightsCache(true);
        void vscode.window.setStatusBarMessage(`Organism Lab: removed ${r.removed ?? 0} quantized weight file(s)`, 5000);
        return { files: r.entries.length, bytes: r.totalBytes, removed: r.removed };
      }
    }
    return { files: l.entries.length, bytes: l.totalBytes };
  } catch (err) {
    void showCommandError('Organism Lab: could not read the weights cache', err);
    return undefined;
  }
}
