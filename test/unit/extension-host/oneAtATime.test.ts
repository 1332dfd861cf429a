// Compare's reads of its run file, one at a time: calls during a read are served together by one more read after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OneAtATime } from '../../../src/extension/panels/oneAtATime';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

test('one run at a time; calls meanwhile share one more run; a failed run does not stop the next', async () => {
  const gates: ReturnType<typeof gate>[] = [];
  let started = 0;
  let fail = false;
  const runs = new OneAtATime(async () => {
    started++;
    const g = gate();
    gates.push(g);
    await g.opened;
    if (fail) throw new Error('read failed');
  });
  const first = runs.run();
  assert.equal(started, 1);
  const second = runs.run();
  const third = runs.run();
  assert.equal(second, third, 'calls during a run share the next one');
  assert.equal(started, 1, 'nothing starts while a run is going');
  gates[0].open();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.equal(started, 2, 'one more run for the calls made meanwhile');
  let secondDone = false;
  void second.then(() => (secondDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(secondDone, false, 'a call resolves only once a run started after it has finished');
  gates[1].open();
  await second;
  fail = true;
  const failing = runs.run();
  const after = runs.run();
  gates[2].open();
  await assert.rejects(failing, /read failed/);
  fail = false;
  await new Promise((r) => setImmediate(r));
  gates[3].open();
  await after;
  assert.equal(started, 4);
});
