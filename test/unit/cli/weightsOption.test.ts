// The options shared by every subcommand that loads a model become the ModelRunner options they name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { WEIGHTS_HELP, WEIGHTS_OPTIONS, weightsRunnerOptions } from '../../../src/cli/weightsOption';
import { UsageError } from '../../../src/cli/cliErrors';

const parse = (args: string[]) => parseArgs({ args, options: WEIGHTS_OPTIONS, strict: true }).values;

test('--spin-threads turns pool-thread spinning on; absent, it stays off', () => {
  const err = new PassThrough();
  assert.equal(weightsRunnerOptions(parse(['--spin-threads']), err, 'x').threadSpinning, true);
  assert.equal(weightsRunnerOptions(parse([]), err, 'x').threadSpinning, false);
  assert.match(WEIGHTS_HELP, /--spin-threads/);
});

test('--weights, --cache-folder and --max-memory-mb', () => {
  const err = new PassThrough();
  const o = weightsRunnerOptions(parse(['--weights', 'int4', '--cache-folder', '/tmp/c', '--max-memory-mb', '2048']), err, 'x');
  assert.equal(o.weights, 'int4');
  assert.equal(o.cacheFolder, '/tmp/c/weights');
  assert.equal(o.memory?.maxMemoryMB, 2048);
  assert.throws(() => weightsRunnerOptions(parse(['--weights', 'int3']), err, 'x'), UsageError);
  assert.throws(() => weightsRunnerOptions(parse(['--max-memory-mb=-1']), err, 'x'), /--max-memory-mb expects a positive number/);
});
