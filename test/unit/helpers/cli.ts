/** The CLI run in-process (src/cli/main.ts cliMain) with its standard error captured, for tests of messages and exit codes. */
import { cliMain } from '../../../src/cli/main';

export async function runCliCapturingStderr(args: string[]): Promise<{ code: number; err: string; ms: number }> {
  const write = process.stderr.write;
  let err = '';
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  const t0 = Date.now();
  try {
    return { code: await cliMain(args), err, ms: Date.now() - t0 };
  } finally {
    process.stderr.write = write;
  }
}
