// Graceful stop (SIGTERM, SIGQUIT, SIGINT) with requests in flight, its
// process_control_timeout, and the second Ctrl-C that means "now".
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { connectOutcome, openRequest, settle, within } from '../helpers/clients.js';
import { lastLine, requestLog, waitExit, waitLogEnd } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, get, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

function config(port: number, processControlTimeout: string, extra = ''): string {
  return (
    `[global]\npid = @DIR@/poold.pid\nprocess_control_timeout = ${processControlTimeout}\n` +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\n` +
    `env[REQUEST_LOG] = @DIR@/requests.log\nenv[SHUTDOWN_MARKER] = @DIR@/shutdown.log\n${extra}\n`
  );
}

async function requestReachedWorker(poold: RunningPoold): Promise<number> {
  const [line] = await waitFor('the request to reach the worker', () => requestLog(poold.dir).length === 1 && requestLog(poold.dir));
  return Number(line!.split(' ')[1]);
}

for (const signal of ['SIGTERM', 'SIGQUIT', 'SIGINT'] as const) {
  test(`${signal}: the in-flight request completes, new connections are refused, shutdown() runs, exit 0`, async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    // The timeout is only a safety net here: the request ends long before it.
    poold = await startPoold(config(port, '8s'));
    assert.ok(existsSync(path.join(poold.dir, 'poold.pid')));
    const inFlight = get(port, '/sleep?ms=1500', 20_000);
    const workerPid = await requestReachedWorker(poold);

    const from = poold.lines.length;
    process.kill(poold.pid, signal);
    await poold.waitForLine(new RegExp(`${signal} received, finishing in-flight requests`), 10_000, from);
    // The listening socket is closed by now: refused, not accepted then reset.
    assert.equal(await connectOutcome({ port }), 'ECONNREFUSED');

    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(Number(response.body.trim()), workerPid);
    assert.equal(await waitExit(poold, 15_000), 0);
    assert.deepEqual(readFileSync(path.join(poold.dir, 'shutdown.log'), 'utf8').split('\n').filter(Boolean), [
      String(workerPid),
    ]);
    assert.ok(!existsSync(path.join(poold.dir, 'poold.pid')), 'pid file removed');
    await waitLogEnd(poold);
    assert.match(lastLine(poold), /NOTICE: exiting, bye-bye!$/);
    assert.ok(!poold.lines.some((line) => /terminating now/.test(line)), 'it was a graceful stop');
  });
}

test('a request running past process_control_timeout is cut, and the master still exits 0', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, '2s'));
  // Synchronous: the worker cannot even read its 'stop' message for 30 s.
  const inFlight = settle(get(port, '/block?ms=30000', 40_000));
  const workerPid = await requestReachedWorker(poold);

  const signalledAt = Date.now();
  process.kill(poold.pid, 'SIGTERM');
  // Without the cut the request would hold the master for 30 s.
  assert.equal(await waitExit(poold, 15_000), 0);
  assert.ok(Date.now() - signalledAt >= 1900, 'not cut before process_control_timeout');
  const outcome = await inFlight;
  // No byte had been written: the master answers 502, or the connection just closes.
  if (outcome.ok) assert.equal(outcome.value.status, 502);
  assert.ok(poold.lines.some((line) => line.includes(`child ${workerPid} exited on signal`)), poold.lines.join('\n'));
  assert.ok(!existsSync(path.join(poold.dir, 'poold.pid')), 'pid file removed');
  await waitLogEnd(poold);
  assert.match(lastLine(poold), /exiting, bye-bye!$/);
});

test('a second SIGINT stops at once, without waiting for process_control_timeout', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, '20s'));
  const inFlight = settle(get(port, '/sleep?ms=30000', 40_000));
  await requestReachedWorker(poold);

  process.kill(poold.pid, 'SIGINT');
  await poold.waitForLine(/SIGINT received, finishing in-flight requests/);
  process.kill(poold.pid, 'SIGINT');
  await poold.waitForLine(/terminating now/);
  // A graceful stop would take 20 s (the timeout) here.
  assert.equal(await waitExit(poold, 10_000), 0);
  const outcome = await inFlight;
  assert.ok(!outcome.ok || outcome.value.status !== 200, 'the in-flight request was cut');
  await waitLogEnd(poold);
  assert.match(lastLine(poold), /exiting, bye-bye!$/);
});

test('an idle kept-alive connection does not hold up a graceful stop', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(async () => {
    agent.destroy();
    await cleanup(poold);
  });
  // Neither the keep-alive timeout nor process_control_timeout would end it soon.
  poold = await startPoold(config(port, '20s', 'http.keepalive_timeout = 60s\nhttp.request_timeout = 0'));
  const response = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => res.resume().on('end', () => resolve(res))).on('error', reject),
  );
  assert.equal(response.headers.connection, 'keep-alive');
  // The client keeps its connection open, idle, in the agent's pool.
  process.kill(poold.pid, 'SIGTERM');
  // Waiting for the client would take the whole 20 s process_control_timeout.
  // (The bound is generous; it only has to tell "at once" from 20 s.)
  assert.equal(await waitExit(poold, 10_000), 0);
  assert.ok(!poold.lines.some((line) => /exited on signal/.test(line)), 'the worker exited by itself, not killed');
});

test('SIGTERM: a request that began arriving before the stop is still served', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, '8s', 'pm.max_concurrency = 2'));
  // The request line and a header are sent; the blank line ending the headers is not, yet.
  const slow = await openRequest({ port }, 'GET /echo?v=slow HTTP/1.1\r\nHost: localhost\r\n');
  t.after(() => slow.socket.destroy());
  // Dispatch is FIFO and there is one worker: once a later connection has been
  // answered, the first one is provably in the worker, its request half-read.
  assert.equal((await get(port, '/echo?v=later')).body, 'later');

  const from = poold.lines.length;
  process.kill(poold.pid, 'SIGTERM');
  await poold.waitForLine(/SIGTERM received/, 10_000, from);
  const closed = new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
  slow.socket.end('\r\n');
  await within(closed, 10_000, 'the half-sent request to be answered');
  assert.match(slow.received(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nslow$/, `got ${JSON.stringify(slow.received())}`);
  assert.equal(await waitExit(poold, 15_000), 0);
});

test('SIGTERM: a connection that never sends a request holds the stop only until headers_timeout', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, '8s', 'pm.max_concurrency = 2\nhttp.headers_timeout = 1s'));
  // A browser's preconnect: connected, nothing sent, ever.
  const idle = await openRequest({ port }, '');
  t.after(() => idle.socket.destroy());
  assert.equal((await get(port, '/echo?v=later')).body, 'later');

  const closed = new Promise<void>((resolve) => idle.socket.once('close', () => resolve()));
  process.kill(poold.pid, 'SIGTERM');
  await within(closed, 10_000, 'the idle connection to be closed');
  // Node's answer to a client that sent nothing in time; never the master's 502.
  assert.ok(idle.received() === '' || idle.received().startsWith('HTTP/1.1 408 '), JSON.stringify(idle.received()));
  assert.equal(await waitExit(poold, 15_000), 0);
  // Drained by itself, well before process_control_timeout would have killed it.
  assert.ok(poold.lines.some((line) => /child \d+ exited with code 0/.test(line)), poold.lines.join('\n'));
  assert.ok(!poold.lines.some((line) => /exited on signal/.test(line)), poold.lines.join('\n'));
});
