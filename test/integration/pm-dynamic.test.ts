// pm = dynamic for real: pm.start_servers at boot, spares topped up to
// pm.min_spare_servers while workers are busy, and a shrink of one worker per
// 1 s tick down to pm.max_spare_servers once the load is gone.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { requestLog } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, get, globalSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';
import { board, slotsIn } from '../helpers/scoreboard.js';

const APP = path.join(FIXTURES, 'app.js');

function config(port: number): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = dynamic\npm.max_children = 6\n` +
    `pm.start_servers = 2\npm.min_spare_servers = 2\npm.max_spare_servers = 3\n`
  );
}

const exitLine = /\[pool www\] child (\d+) exited with code 0 after/;

test('dynamic: starts 2, keeps 2 idle spares under load, then shrinks one per tick to max_spare', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port));

  // pm.start_servers, and no more while both are idle (2 idle = min_spare).
  assert.equal(poold.workerPids().length, 2);
  await waitFor('both workers idle in the scoreboard', () => slotsIn(board(poold!), 'Idle').length === 2);
  await new Promise((resolve) => setTimeout(resolve, 2500)); // two ticks
  assert.equal(poold.workerPids().length, 2, 'no spawn while the spares suffice');
  assert.equal(board(poold)?.header.total, 2);

  // Two busy: idle drops to 0 < min_spare, the ticks top the spares up to 2.
  const phase1 = [1, 2].map((i) => get(port, `/sleep?ms=7000&a=${i}`, 30_000));
  await waitFor(
    '2 running and 2 idle spares (4 workers)',
    () => {
      const snapshot = board(poold!);
      return slotsIn(snapshot, 'Running').length === 2 && slotsIn(snapshot, 'Idle').length === 2;
    },
    8000,
  );
  assert.equal(poold.workerPids().length, 4, 'exactly 2 spares were added');

  // Four more: 2 take the spares, 2 wait and each starts a worker at once: 6 = max_children.
  const phase2 = [1, 2, 3, 4].map((i) => get(port, `/sleep?ms=3000&b=${i}`, 30_000));
  await waitFor('6 workers running', () => slotsIn(board(poold!), 'Running').length === 6, 10_000);
  assert.equal(poold.workerPids().length, 6);
  // No spare and no room: FPM's warning, once for this episode.
  await poold.waitForLine(/\[pool www\] server reached pm\.max_children setting \(6\), consider raising it/, 5000);

  // Watch the scoreboard's worker count (the header is rewritten on every tick,
  // so it may still show an earlier count for up to one) while the load ends:
  // from 6 it must step down 6, 5, 4, 3, never skipping a value.
  await waitFor('the header to count the 6 workers', () => board(poold!)?.header.total === 6, 5000);
  const exitsBefore = poold.lines.filter((line) => exitLine.test(line)).length;
  assert.equal(exitsBefore, 0);
  const totals: number[] = [];
  const watching = (async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const total = board(poold!)?.header.total;
      if (total !== undefined && total !== totals.at(-1)) totals.push(total);
      if (total === 3 && poold!.lines.filter((line) => exitLine.test(line)).length >= 3) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const responses = await Promise.all([...phase1, ...phase2]);
  assert.deepEqual(
    responses.map((response) => response.status),
    Array(6).fill(200),
  );
  await watching;
  assert.deepEqual(totals, [6, 5, 4, 3], 'one worker stopped per tick');
  // And it stays at max_spare: 3 idle is not more than pm.max_spare_servers.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const exits = poold.lines.filter((line) => exitLine.test(line));
  assert.equal(exits.length, 3, `exactly 3 workers stopped:\n${poold.lines.join('\n')}`);
  const header = board(poold)!.header;
  assert.equal(header.total, 3);
  assert.equal(header.idle, 3);
  assert.equal(poold.liveWorkerPids().length, 3);
  assert.equal(slotsIn(board(poold), 'Idle').length, 3);
});

test('dynamic: each waiting connection starts a worker at once, whatever pm.max_spawn_rate', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() +
      `[www]\nlisten = 127.0.0.1:${port}\napp = ${path.join(FIXTURES, 'slow-start-app.js')}\npm = dynamic\n` +
      `pm.max_children = 8\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 1\n` +
      `pm.max_spawn_rate = 1\nenv[REQUEST_LOG] = @DIR@/requests.log\n`,
  );
  assert.equal(poold.workerPids().length, 1);
  // 1 request for the one worker, 7 that wait: at 1 spawn per tick they could
  // not all be running before the first finishes; started together they are.
  let completed = 0;
  const burst = Array.from({ length: 8 }, (_, i) =>
    get(port, `/block?ms=4000&i=${i}`, 30_000).then((response) => {
      completed++;
      return response;
    }),
  );
  await waitFor(
    '8 requests running on 8 workers',
    () => new Set(requestLog(poold!.dir).map((line) => line.split(' ')[1])).size === 8,
    15_000,
  );
  assert.equal(completed, 0, 'all 8 ran at the same time');
  assert.equal(poold.workerPids().length, 8);
  const responses = await Promise.all(burst);
  assert.deepEqual(
    responses.map((response) => response.status),
    Array(8).fill(200),
  );
});
