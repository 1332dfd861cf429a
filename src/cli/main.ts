/**
 * organism-lab CLI dispatcher. Each subcommand lives in its own module exporting `main: Subcommand`;
 * add one line to SUBCOMMANDS to register a new one.
 * Exit codes: 0 ok, 2 usage error, 1 failure (message on stderr).
 */
import { UsageError, Subcommand } from './cliErrors';

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<{ main: Subcommand }> }> = {
  judge: { summary: 'score every sample of a run file with a judge (resumable); appends judgement rows', load: () => import('./judge') },
  export: { summary: 'write a run as CSV, JSONL or LLM Comparator JSON', load: () => import('./judge').then((m) => ({ main: m.exportMain })) },
  forward: { summary: 'one forward pass: logits and hidden states of token ids to a .safetensors file', load: () => import('./forward') },
  inspect: { summary: 'what a model / adapter / training-run folder is: sizes, LoRA norms per layer and module, NaN/Inf, trajectory', load: () => import('./inspect') },
  activations: { summary: 'teacher-forced activation diffs and KL for a run sample, or the run-level per-layer curve', load: () => import('./activations') },
  direction: { summary: 'misaligned-minus-aligned direction per layer from a labelled run (.safetensors, held-out AUC)', load: () => import('./direction') },
  'sae-diff': { summary: 'SAE model diffing: the features an adapter turns up or down on identical tokens (SAELens-format SAEs)', load: () => import('./saeDiff') },
  diff: { summary: 'what changed between two runs of a prompt set: questions added/removed/reworded, rates with paired intervals', load: () => import('./review').then((m) => ({ main: m.diffMain })) },
  report: { summary: 'a run (optionally against another) as Markdown for a pull request or self-contained HTML', load: () => import('./review').then((m) => ({ main: m.reportMain })) },
  run: { summary: 'run a prompt set through the model and adapters into a .run.jsonl file (resumable)', load: () => import('./run') },
  quality: { summary: 'int8/int4 weights against f32: max |Δlogit|, per-token KL, greedy agreement', load: () => import('./quality') },
  cache: { summary: 'list or clear the quantized-weights cache', load: () => import('./cache') },
  'export-inspect': { summary: 'a run as Inspect AI .eval logs (one per variant and condition) for inspect view', load: () => import('./inspectLogs').then((m) => ({ main: m.exportInspectMain })) },
  'import-inspect': { summary: 'Inspect AI .eval/.json logs as one run file, paired by sample id and epoch, for Compare', load: () => import('./inspectLogs').then((m) => ({ main: m.importInspectMain })) },
  serve: { summary: 'an OpenAI-compatible server (vLLM conventions) over the local model and its adapters', load: () => import('./serve') },
};

function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`);
  return `usage: organism-lab <command> [options]   (organism-lab <command> --help for its options)\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function cliMain(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    return cmd === undefined ? 2 : 0;
  }
  const entry = SUBCOMMANDS[cmd];
  if (!entry) {
    process.stderr.write(`organism-lab: unknown command "${cmd}"\n${usage()}`);
    return 2;
  }
  try {
    const mod = await entry.load();
    return await mod.main(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`organism-lab ${cmd}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`organism-lab ${cmd}: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  cliMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`organism-lab: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
