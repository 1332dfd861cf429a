// What opening Compare, the Run report or the Inspector waits on, without VS Code (issue 13): the run file read in
// the extension host (Compare's first content), a cold engine host's start (fork + initialize), then the requests
// the panels send (runReport, divergenceOffsets, inspectCheckpoint) on the cold host and again on the warm one.
// usage: node --import tsx scripts/measure-panel-open.ts RUN_FILE [CHECKPOINT_DIR] [--repeats N]
// (build first: node scripts/build.mjs; the host is dist/engineHost.js, as the extension forks it)
import path from 'node:path';
import { EngineHostClient } from '../src/extension/engine/client';
import { readRun } from '../src/engine/runs/reader';
import { EngineMethods } from '../src/protocol/engineHost';
import { DEFAULT_THRESHOLDS } from '../src/protocol/compare';

const ms = (t0: number) => Math.round(performance.now() - t0);

async function timed<T>(f: () => Promise<T> | T): Promise<number> {
  const t0 = performance.now();
  await f();
  return ms(t0);
}

async function once(runPath: string, checkpoint: string | undefined): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  out.readRunInExtension = await timed(() => readRun(runPath));
  const client = new EngineHostClient({ hostModule: path.resolve('dist/engineHost.js'), settings: () => ({}) as never });
  try {
    out.hostStartCold = await timed(() => client.start());
    const report = () => client.runReport({ runPath, options: { thresholds: DEFAULT_THRESHOLDS } });
    out.runReportColdHost = await timed(report);
    out.divergenceOffsetsFirst = await timed(() => client.request(EngineMethods.divergenceOffsets, { runPath }));
    out.runReportWarmHost = await timed(report);
    out.divergenceOffsetsWarm = await timed(() => client.request(EngineMethods.divergenceOffsets, { runPath }));
    if (checkpoint) {
      const inspect = () => client.job(EngineMethods.inspectCheckpoint, { dir: checkpoint, token: `inspect-${Math.random()}` }, () => undefined);
      out.inspectFirst = await timed(inspect);
      out.inspectWarm = await timed(inspect);
    }
  } finally {
    await client.stop();
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ri = args.indexOf('--repeats');
  const repeats = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 3;
  const [runPath, checkpoint] = args;
  if (!runPath) {
    console.error('usage: node --import tsx scripts/measure-panel-open.ts RUN_FILE [CHECKPOINT_DIR] [--repeats N]');
    process.exit(2);
  }
  const all: Record<string, number[]> = {};
  for (let i = 0; i < repeats; i++) {
    for (const [k, v] of Object.entries(await once(path.resolve(runPath), checkpoint && path.resolve(checkpoint)))) (all[k] ??= []).push(v);
  }
  for (const [k, v] of Object.entries(all)) {
    const sorted = [...v].sort((a, b) => a - b);
    console.log(`${k.padEnd(24)} median ${String(sorted[Math.floor(sorted.length / 2)]).padStart(5)} ms   (${v.join(', ')})`);
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
