// process.priority (the master's nice value in [global], inherited by workers;
// a pool's own overrides it for its workers) and process.max.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cleanup, FIXTURES, freePort, globalSection, poolSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

/** The nice value in /proc/PID/stat (field 19; the command name before it may contain spaces). */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

test('process.priority: the master and the workers it starts take their nice values', async (t) => {
  const [inherits, own] = [await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection('process.priority = 4') +
      poolSection('inherits', inherits, APP) +
      poolSection('own', own, APP, 'process.priority = 7'),
  );
  assert.equal(niceOf(poold.pid), 4);
  const pidsOf = (pool: string) =>
    poold!.lines.flatMap((line) => [...line.matchAll(new RegExp(`\\[pool ${pool}\\] child (\\d+) started`, 'g'))].map((m) => Number(m[1])));
  await waitFor('both pools\' workers', () => pidsOf('inherits').length === 2 && pidsOf('own').length === 2);
  for (const pid of pidsOf('inherits')) assert.equal(niceOf(pid), 4, `worker ${pid} inherits the master's`);
  for (const pid of pidsOf('own')) assert.equal(niceOf(pid), 7, `worker ${pid} takes its pool's`);
});

test('process.max caps the workers of all pools together', async (t) => {
  const [first, second] = [await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection('process.max = 3') + poolSection('a', first, APP) + poolSection('b', second, APP));
  await poold.waitForLine(/\[pool b\] process.max reached: not starting 1 child\(ren\) now/);
  assert.equal(poold.workerPids().length, 3, poold.lines.join('\n'));
});
