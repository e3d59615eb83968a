// pm = ondemand for real: no worker at start, one worker per waiting
// connection (all of a burst at once, where FPM forks 1–2: bug #69724), and
// every worker idle past pm.process_idle_timeout stopped, back to zero.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { requestLog } from '../helpers/cli.js';
import { failures, load } from '../helpers/load.js';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  isUnexpectedWarning,
  startPoold,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';
import { board, slotsIn, workerSlots } from '../helpers/scoreboard.js';

// app.js with a 700 ms init(): every connection of a burst reaches the master
// before the first worker can be ready, even on a loaded machine.
const APP = path.join(FIXTURES, 'slow-start-app.js');

function config(port: number, maxChildren = 4): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = ondemand\npm.max_children = ${maxChildren}\n` +
    `pm.process_idle_timeout = 2s\nenv[REQUEST_LOG] = @DIR@/requests.log\n`
  );
}

const exitedCleanly = (line: string) => /\[pool www\] child \d+ exited with code 0 after/.test(line);

test('ondemand: 0 workers at start, 4 at once for a burst of 4, back to 0 after the idle timeout', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port));

  // Nothing started: neither in the log nor in the scoreboard.
  assert.deepEqual(poold.workerPids(), []);
  const atStart = board(poold);
  assert.ok(atStart, 'the scoreboard exists once the pool serves');
  assert.equal(atStart.header.pm, 'ondemand');
  assert.equal(atStart.header.total, 0);
  assert.equal(atStart.header.idle, 0);
  assert.deepEqual(workerSlots(atStart), []);

  // A burst of 4 at the same instant: each must get its own worker, all running together.
  let completed = 0;
  const burst = [1, 2, 3, 4].map((i) =>
    get(port, `/block?ms=3000&i=${i}`, 30_000).then((response) => {
      completed++;
      return response;
    }),
  );
  // All 4 were started together, on the connections' arrival: by the time the
  // first worker runs its request, 4 slots are taken (FPM, or a PM spawning one
  // per tick, would have 1 or 2 by then).
  await waitFor('the first request to reach a worker', () => requestLog(poold!.dir).length > 0, 15_000);
  const slotsAtFirstRequest = board(poold)!.slots.filter((slot) => slot.state !== 'Free');
  assert.equal(slotsAtFirstRequest.length, 4, `slots taken: ${JSON.stringify(slotsAtFirstRequest)}`);
  const pids = await waitFor(
    '4 distinct workers to be running the 4 requests',
    () => {
      const seen = new Set(requestLog(poold!.dir).map((line) => Number(line.split(' ')[1])));
      return seen.size === 4 && seen;
    },
    15_000,
  );
  assert.equal(completed, 0, 'all 4 were running at the same time: none had completed yet');
  const during = board(poold);
  const running = slotsIn(during, 'Running');
  assert.equal(running.length, 4, `4 slots Running: ${JSON.stringify(workerSlots(during))}`);
  assert.deepEqual(new Set(running.map((slot) => slot.pid)), pids);
  for (const slot of running) assert.match(slot.uri, /^\/block\?ms=3000&i=[1-4]$/);
  assert.deepEqual(new Set(poold.workerPids()), pids, 'exactly 4 workers were started');

  const responses = await Promise.all(burst);
  assert.deepEqual(
    responses.map((response) => response.status),
    [200, 200, 200, 200],
  );
  assert.deepEqual(new Set(responses.map((response) => Number(response.body.trim()))), pids);

  // Idle for 2 s: every worker is stopped, all those past the timeout on the
  // same tick (FPM stops only the oldest idle one per tick). The header,
  // rewritten on each tick right after the process manager acted, shows it:
  // with no request running, alive-but-not-idle workers are stopping ones, and
  // one tick makes at least 2 of them (4, or 2–3 if the 4 timeouts straddle a tick).
  await waitFor('the header to show 4 idle workers', () => board(poold!)?.header.idle === 4, 5000);
  await waitFor(
    'one tick to stop several idle workers at once',
    () => {
      const header = board(poold!)?.header;
      return header !== undefined && header.total - header.idle >= 2;
    },
    10_000,
  );
  await waitFor(
    'all 4 workers to exit after pm.process_idle_timeout',
    () => poold!.lines.filter(exitedCleanly).length === 4,
    15_000,
  );
  assert.deepEqual(poold.liveWorkerPids(), []);
  await waitFor('the scoreboard header to show 0 workers', () => {
    const header = board(poold!)?.header;
    return header !== undefined && header.total === 0 && header.idle === 0 && header.active === 0;
  });
  assert.deepEqual(workerSlots(board(poold)), [], 'every slot released');
  assert.ok(
    !poold.lines.some(isUnexpectedWarning),
    `no warning (idle stops are clean):\n${poold.lines.join('\n')}`,
  );

  // From zero again: the next connection starts a new worker.
  const again = await get(port, '/', 15_000);
  assert.equal(again.status, 200);
  const newPid = Number(again.body.trim());
  assert.ok(!pids.has(newPid), 'served by a new worker');
  assert.deepEqual(poold.liveWorkerPids(), [newPid]);
});

test('ondemand: more connections than pm.max_children wait and are served; the limit is reported once', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, 2));
  const outcomes = await load(
    port,
    Array.from({ length: 6 }, (_, i) => `/block?ms=700&i=${i}`),
    6,
    30_000,
  );
  assert.deepEqual(failures(outcomes), []);
  assert.equal(poold.workerPids().length, 2, 'never more than pm.max_children workers');
  const warnings = poold.lines.filter((line) => /server reached pm\.max_children setting \(2\)/.test(line));
  assert.equal(warnings.length, 1, `one episode, one warning:\n${poold.lines.join('\n')}`);
  await waitFor('the counter in the scoreboard', () => board(poold!)?.header.maxChildrenReached === 1, 5000);
});
