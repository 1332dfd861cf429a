/**
 * The fuzz suite's worker: a child process (started by runner.ts with an IPC channel) that runs many cases
 * in-process through `cliMain`, the same entry `node dist/cli.js` uses, and sends back each case's exit code
 * and output. The parent times every case and watches this process's memory; it kills and replaces the
 * worker when a case runs too long or too big.
 *
 * stdout and stderr are captured by replacing their write methods while a case runs (a case's output is
 * cut at 256 KiB: enough to judge a message). An unhandled rejection or uncaught exception during a case is
 * recorded as part of its output with its stack — exactly what the real CLI would print — so it fails the
 * "no JavaScript stack trace" rule.
 */
import { cliMain } from '../../src/cli/main';

interface Job {
  id: string;
  argv: string[];
}

const LIMIT = 256 * 1024;
let captured = '';
let capturing = false;

function capture(chunk: unknown): void {
  if (!capturing || captured.length >= LIMIT) return;
  captured += typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk);
}

const origOut = process.stdout.write.bind(process.stdout);
const origErr = process.stderr.write.bind(process.stderr);
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
  if (capturing) {
    capture(chunk);
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
  return origOut(chunk as string, ...(rest as []));
}) as typeof process.stdout.write;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
  if (capturing) {
    capture(chunk);
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
  return origErr(chunk as string, ...(rest as []));
}) as typeof process.stderr.write;

process.setMaxListeners(0);
process.on('unhandledRejection', (e) => capture(`\n[fuzz worker] unhandled rejection: ${(e as Error)?.stack ?? String(e)}\n`));
process.on('uncaughtException', (e) => {
  capture(`\n[fuzz worker] uncaught exception: ${(e as Error)?.stack ?? String(e)}\n`);
  process.send?.({ type: 'crash', output: captured });
  setTimeout(() => process.exit(70), 50);
});

let queue: Promise<void> = Promise.resolve();
process.on('message', (job: Job) => {
  queue = queue.then(async () => {
    captured = '';
    capturing = true;
    let code: number;
    try {
      code = await cliMain(job.argv);
    } catch (e) {
      // cliMain maps errors to exit codes itself; what escapes it the real CLI prints with its stack.
      capture(`organism-lab: ${(e as Error)?.stack ?? String(e)}\n`);
      code = 1;
    }
    // Let late writes of this case (a stream flushing, a rejected promise) land in its output.
    await new Promise((r) => setImmediate(r));
    capturing = false;
    process.send!({ type: 'done', id: job.id, code, output: captured });
  });
});
process.send!({ type: 'ready' });
