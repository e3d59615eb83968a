// A graceful stop under a steady stream of new connections: every client is
// either served in full or refused; none is accepted by the kernel and then
// reset (the accept queue a closing listener would flush), none hangs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { exchange, settle, type Target } from '../helpers/clients.js';
import { waitExit } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');
/** Client loops connecting at once, each opening its next connection as soon as the last one ends. */
const CLIENTS = 24;
/** Responses before the stop: the stream is steady by then. */
const SERVED_BEFORE_STOP = 300;

type Outcome = 'served' | 'refused' | 'failed';

interface Attempt {
  outcome: Outcome;
  detail: string;
}

/**
 * One request on a new connection. Refused: the connection was never
 * established (ECONNREFUSED; ENOENT once a unix socket's path is gone).
 * Served: a whole response (the app's 200, or the master's 503) and a clean
 * close. Anything else (a reset, a close without a response, a hang) failed.
 */
async function attempt(target: Target, i: number): Promise<Attempt> {
  const result = await settle(exchange(target, [`GET /echo?v=${i} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`], 20_000));
  if (!result.ok) return { outcome: 'failed', detail: result.error.message };
  const { data, error } = result.value;
  if (data === '' && (error === 'ECONNREFUSED' || error === 'ENOENT')) return { outcome: 'refused', detail: error };
  const complete = new RegExp(`^HTTP/1\\.1 200 OK\\r\\n[\\s\\S]*\\r\\n\\r\\n${i}$`).test(data) || /^HTTP\/1\.1 503 /.test(data);
  if (complete && error === undefined) return { outcome: 'served', detail: '' };
  return { outcome: 'failed', detail: `error ${error ?? 'none'}, received ${JSON.stringify(data.slice(0, 80))}` };
}

async function stopUnderLoad(
  listen: string,
  targetOf: (poold: RunningPoold) => Target,
  t: TestContext,
): Promise<void> {
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    `[global]\npid = @DIR@/poold.pid\nprocess_control_timeout = 10s\n` +
      `[www]\nlisten = ${listen}\napp = ${APP}\npm = static\npm.max_children = 2\npm.max_concurrency = 4\n`,
  );
  const target = targetOf(poold);
  const attempts: Attempt[] = [];
  let served = 0;
  let exited = false;
  const running = poold;
  void running.exited.then(() => (exited = true));
  let stopSent: () => void;
  const stopped = new Promise<void>((resolve) => (stopSent = resolve));
  let signalled = false;
  // Each loop goes on until the master has exited and it has been refused
  // itself; bounded by its number of attempts.
  const loops = Array.from({ length: CLIENTS }, async (_, loop) => {
    let refusedAfterExit = false;
    for (let n = 0; n < 5000 && !refusedAfterExit; n++) {
      const wasExited = exited;
      const result = await attempt(target, loop * 10_000 + n);
      attempts.push(result);
      if (result.outcome === 'served' && ++served === SERVED_BEFORE_STOP && !signalled) {
        signalled = true;
        process.kill(running.pid, 'SIGTERM');
        stopSent();
      }
      if (result.outcome === 'failed' && exited) break;
      refusedAfterExit = wasExited && result.outcome === 'refused';
    }
  });
  await stopped;
  assert.equal(await waitExit(poold, 20_000), 0);
  await Promise.all(loops);
  const failed = attempts.filter((a) => a.outcome === 'failed');
  const refused = attempts.filter((a) => a.outcome === 'refused').length;
  const summary = `${attempts.length} attempts: ${served} served, ${refused} refused, ${failed.length} failed`;
  t.diagnostic(summary);
  assert.deepEqual(
    failed.map((a) => a.detail),
    [],
    `${summary}\n--- log:\n${poold.lines.join('\n')}`,
  );
  assert.ok(served >= SERVED_BEFORE_STOP && refused > 0, summary);
}

test('a graceful stop under a steady stream of new TCP connections: each is served or refused, none reset', async (t) => {
  const port = await freePort();
  await stopUnderLoad(`127.0.0.1:${port}`, () => ({ port }), t);
});

test('a graceful stop under a steady stream of new unix-socket connections: each is served or refused, none reset', async (t) => {
  await stopUnderLoad('@DIR@/www.sock', (poold) => ({ path: path.join(poold.dir, 'www.sock') }), t);
});
