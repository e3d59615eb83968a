// A listener closing under a steady stream of new connections (a graceful
// stop; a reload that moves the address): every client is either served in
// full or refused; none is accepted by the kernel and then reset (the accept
// queue a closing listener would flush), none hangs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { exchange, settle, type Target } from '../helpers/clients.js';
import { runPoold, waitExit, writeConfig } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');
/** Client loops connecting at once, each opening its next connection as soon as the last one ends. */
const CLIENTS = 24;
/** Responses before the listener closes: the stream is steady by then. */
const SERVED_BEFORE_CLOSE = 300;

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

/**
 * CLIENTS loops of requests to `target`. Once SERVED_BEFORE_CLOSE have been
 * served, `close` is called (it makes the listener close); each loop goes on
 * until `close` has settled and it has then been refused itself, bounded by
 * its number of attempts. Fails the test on any attempt that failed.
 */
async function streamWhileClosing(t: TestContext, poold: RunningPoold, target: Target, close: () => Promise<unknown>): Promise<void> {
  const attempts: Attempt[] = [];
  let served = 0;
  let closing: Promise<unknown> | null = null;
  let closed = false;
  const loops = Array.from({ length: CLIENTS }, async (_, loop) => {
    let refusedAfterClose = false;
    for (let n = 0; n < 5000 && !refusedAfterClose; n++) {
      const wasClosed = closed;
      const result = await attempt(target, loop * 10_000 + n);
      attempts.push(result);
      if (result.outcome === 'served' && ++served === SERVED_BEFORE_CLOSE) {
        closing = close().finally(() => (closed = true));
      }
      if (result.outcome === 'failed' && closed) break;
      refusedAfterClose = wasClosed && result.outcome === 'refused';
    }
  });
  await Promise.all(loops);
  await closing;
  const failed = attempts.filter((a) => a.outcome === 'failed');
  const refused = attempts.filter((a) => a.outcome === 'refused').length;
  const summary = `${attempts.length} attempts: ${served} served, ${refused} refused, ${failed.length} failed`;
  t.diagnostic(summary);
  assert.deepEqual(
    failed.map((a) => a.detail),
    [],
    `${summary}\n--- log:\n${poold.lines.join('\n')}`,
  );
  assert.ok(closing !== null && refused > 0, summary);
}

function config(listen: string): string {
  return (
    `[global]\npid = @DIR@/poold.pid\nprocess_control_timeout = 10s\n` +
    `[www]\nlisten = ${listen}\napp = ${APP}\npm = static\npm.max_children = 2\npm.max_concurrency = 4\n`
  );
}

async function stopUnderLoad(t: TestContext, listen: string, targetOf: (poold: RunningPoold) => Target): Promise<void> {
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(listen));
  const running = poold;
  await streamWhileClosing(t, poold, targetOf(poold), async () => {
    process.kill(running.pid, 'SIGTERM');
    assert.equal(await waitExit(running, 20_000), 0);
  });
}

test('a graceful stop under a steady stream of new TCP connections: each is served or refused, none reset', async (t) => {
  const port = await freePort();
  await stopUnderLoad(t, `127.0.0.1:${port}`, () => ({ port }));
});

test('a graceful stop under a steady stream of new unix-socket connections: each is served or refused, none reset', async (t) => {
  await stopUnderLoad(t, '@DIR@/www.sock', (poold) => ({ path: path.join(poold.dir, 'www.sock') }));
});

test('a reload that moves the address, under a steady stream to the old one: each is served or refused, none reset', async (t) => {
  const [oldPort, newPort] = [await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(`127.0.0.1:${oldPort}`));
  const running = poold;
  await streamWhileClosing(t, poold, { port: oldPort }, async () => {
    writeConfig(config(`127.0.0.1:${newPort}`), running.dir);
    const reload = await runPoold(['reload', '--pid', path.join(running.dir, 'poold.pid'), '--wait'], 60_000);
    assert.equal(reload.code, 0, reload.stderr);
  });
  assert.equal(running.master.exitCode, null, 'the master still runs');
});
