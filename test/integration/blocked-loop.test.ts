// A worker whose event loop is blocked outside any request (a timer that
// never yields, or a worker stopped by SIGSTOP while idle): its heartbeat
// stops, it gets no new connection, and past pm.max_loop_block it is killed
// and replaced; a connection it had received but not begun goes to another
// worker. request_terminate_timeout stays off: none of this is a request.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { LOOP_STALL_MS } from '../../src/ipc/records.js';
import { FIXTURES, cleanup, freePort, get, startPoold, type RunningPoold } from '../helpers/poold.js';
import { pollUntil, request } from '../helpers/status.js';

const APP = path.join(FIXTURES, 'app.js');

async function daemon(t: TestContext, workers: number, maxLoopBlock = '2s'): Promise<{ poold: RunningPoold; port: number }> {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    `[global]\npid = @DIR@/poold.pid\nprocess_control_timeout = 3s\n` +
      `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = ${workers}\npm.max_loop_block = ${maxLoopBlock}\npm.status_path = /status\n`,
  );
  return { poold, port };
}

/** Long past LOOP_STALL_MS since the worker's last beat: the master must see it stalled by now. */
function pastStallThreshold(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, LOOP_STALL_MS * 1.5));
}

/**
 * Requests in pairs, so that the two workers, both without a request,
 * compete: every one must go to the other worker. One handed to the stuck
 * worker would wait far longer than the clients' bound.
 */
async function servedAroundStuck(port: number, stuck: number): Promise<void> {
  for (let pair = 0; pair < 4; pair++) {
    const answers = await Promise.all([get(port, '/', 10_000), get(port, '/', 10_000)]);
    for (const answer of answers) assert.notEqual(Number(answer.body.trim()), stuck, 'a request went to the stuck worker');
  }
}

test('pm.max_loop_block = 0: a worker blocked outside any request gets no new connection, and is not killed', async (t) => {
  const { poold, port } = await daemon(t, 2, '0');
  // Answered at once; then its event loop is stuck for 30 s with nothing in flight.
  const stuck = Number((await get(port, '/then-block?ms=30000')).body.trim());
  await pastStallThreshold();
  await servedAroundStuck(port, stuck);
  assert.ok(!poold.lines.some((line) => /event loop blocked/.test(line)), poold.lines.join('\n'));
  assert.ok(poold.liveWorkerPids().includes(stuck));
});

test('a worker blocked in a timer after its response gets no new connection, and is replaced after pm.max_loop_block', async (t) => {
  const { poold, port } = await daemon(t, 2);
  // Answered at once; then its event loop is stuck for 60 s with nothing in flight.
  const stuck = Number((await get(port, '/then-block?ms=60000')).body.trim());
  await pastStallThreshold();
  await servedAroundStuck(port, stuck);
  const line = await poold.waitForLine(
    new RegExp(`child ${stuck}, script '.*' \\(last request: "GET /then-block\\?ms=60000"\\) event loop blocked outside any request for \\d+\\.\\d+ sec, terminating`),
    15_000,
  );
  assert.match(line, /WARNING/);
  await poold.waitForLine(new RegExp(`child ${stuck} exited on signal`), 15_000);
  // Replaced: the pool is back to two workers, neither of them the stuck one.
  const served = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const answers = await Promise.all([get(port, '/', 10_000), get(port, '/', 10_000)]);
    for (const answer of answers) served.add(Number(answer.body.trim()));
  }
  assert.ok(!served.has(stuck), `served by ${[...served].join(', ')}`);
  assert.equal(poold.liveWorkerPids().length, 2);
});

test('an idle worker stopped by SIGSTOP: a connection handed to it before the stall goes to its replacement', async (t) => {
  const { poold, port } = await daemon(t, 1);
  const [stopped] = poold.liveWorkerPids();
  assert.ok(stopped);
  process.kill(stopped, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(stopped, 'SIGKILL');
    } catch {
      // replaced, as it should be
    }
  });
  // Its heartbeat is fresh: the master hands this one over, and it waits, unread.
  const handed = get(port, '/echo?v=handed', 15_000);
  const status = await pollUntil('the master to accept the first request', async () => {
    const s = JSON.parse((await request({ socketPath: path.join(poold.dir, 'status.sock') }, '/status?json')).body) as Record<string, number>;
    return s['accepted conn'] === 1 && s['reading headers'] === 0 && s;
  });
  // (On a machine loaded enough that the master saw the stall first, it queued it instead.)
  t.diagnostic(status['listen queue'] === 0 ? 'handed to the stopped worker' : 'queued');
  await pastStallThreshold();
  // Stalled now: this one waits in the master's queue instead.
  const queued = get(port, '/echo?v=queued', 15_000);
  await poold.waitForLine(new RegExp(`child ${stopped}, script .* event loop blocked outside any request`), 15_000);
  const [first, second] = await Promise.all([handed, queued]);
  assert.equal(first.status, 200);
  assert.equal(first.body, 'handed');
  assert.equal(second.body, 'queued');
  await poold.waitForLine(new RegExp(`child ${stopped} exited on signal 9`), 15_000);
  const [replacement] = poold.liveWorkerPids();
  assert.ok(replacement && replacement !== stopped);
  assert.equal((await get(port, '/')).body.trim(), String(replacement));
});
