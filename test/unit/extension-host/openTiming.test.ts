// OpenTiming: the "opened <panel> for <file> in N ms: ..." log line, written once when every milestone is in,
// with the engine host's start measured (or "running" when it was up) and a request's own duration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { OpenTiming } from '../../../src/extension/panels/openTiming';
import type { EngineHostClient } from '../../../src/extension/engine/client';

function fakeLog(): { log: vscode.LogOutputChannel; lines: string[] } {
  const lines: string[] = [];
  return { log: { info: (m: string) => lines.push(m) } as unknown as vscode.LogOutputChannel, lines };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('logs one line once every milestone is in, with the cold engine host start measured', async () => {
  const { log, lines } = fakeLog();
  const t = new OpenTiming(log, 'Compare', 'x.run.jsonl', ['engine host start', 'page ready', 'report']);
  let started = false;
  const client = { running: false, start: async () => { await sleep(30); started = true; } } as unknown as EngineHostClient;
  t.warmEngine(client);
  t.mark('page ready');
  assert.equal(lines.length, 0, 'not before every part is in');
  const value = await t.time('report', async () => { await sleep(20); return 42; });
  assert.equal(value, 42);
  assert.equal(lines.length, 0);
  await sleep(40);
  assert.ok(started);
  assert.equal(lines.length, 1);
  const m = /^opened Compare for x\.run\.jsonl in (\d+) ms: page ready (\d+) ms, report (\d+) ms, engine host start (\d+) ms$/.exec(lines[0]);
  assert.ok(m, lines[0]);
  assert.ok(Number(m[3]) >= 15, 'the report is its own duration');
  assert.ok(Number(m[4]) >= 25, 'the start is measured, not assumed');
  t.mark('page ready');
  await t.time('report', async () => 1);
  assert.equal(lines.length, 1, 'logged once');
});

test('a host already up is "running"; a failed start is "failed"; a failed request still counts its time', async () => {
  const { log, lines } = fakeLog();
  const t = new OpenTiming(log, 'the Run report', 'r.run.jsonl', ['engine host start', 'report']);
  t.warmEngine({ running: true, start: async () => undefined } as unknown as EngineHostClient);
  await assert.rejects(t.time('report', async () => { throw new Error('no such judge'); }), /no such judge/);
  assert.match(lines[0] ?? '', /^opened the Run report for r\.run\.jsonl in \d+ ms: engine host start running, report \d+ ms$/);
  const t2 = new OpenTiming(log, 'the Inspector', 'ckpt', ['engine host start']);
  t2.warmEngine({ running: false, start: () => Promise.reject(new Error('no dist/engineHost.js')) } as unknown as EngineHostClient);
  await sleep(5);
  assert.match(lines[1] ?? '', /engine host start failed$/);
});

test('a panel closed before its first content says what it had and what it waited on (once)', () => {
  const { log, lines } = fakeLog();
  const t = new OpenTiming(log, 'Compare', 'x.run.jsonl', ['page ready', 'report']);
  t.mark('page ready');
  t.closed();
  t.closed();
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^Compare for x\.run\.jsonl closed after \d+ ms before its first content was complete: had page ready \d+ ms; still waiting on report$/);
  const done = new OpenTiming(log, 'Compare', 'y', ['page ready']);
  done.mark('page ready');
  done.closed();
  assert.equal(lines.length, 2, 'an opening that completed is not reported again at close');
});
