// Out of the box, nothing waits without bound: the master's queue is bounded
// and timed, a background start gives up, and a slow app init can be reloaded.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isRunning, killAll, requestLog, runPoold, writeConfig } from '../helpers/cli.js';
import { cleanup, FIXTURES, freePort, get, globalSection, poolSection, startPoold, tempDir, waitFor, type RunningPoold } from '../helpers/poold.js';
import { allReady, writeApp } from '../helpers/reload.js';
import { board } from '../helpers/scoreboard.js';

function deploy(t: TestContext, initMs = 0): string {
  const dir = tempDir('poold-app-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app.js');
  writeApp(app, { version: 'v1', initMs });
  return app;
}

/** A GET whose status (or error) is recorded in `events` as it arrives. */
function tracked(port: number, urlPath: string, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => {
        events.push(String(res.statusCode));
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      events.push(`error: ${err.message}`);
      resolve();
    });
  });
}

test('defaults: with every worker blocked, 600 connections all get 503, none waits for the worker', async (t) => {
  const app = deploy(t);
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  // Nothing about queues is configured.
  poold = await startPoold(
    globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 1\nenv[REQUEST_LOG] = @DIR@/requests.log\n`,
  );
  await allReady(poold, 'www', 1);
  const release = path.join(poold.dir, 'release');
  const blockerEvents: string[] = [];
  const blocker = tracked(port, `/hold?until=${encodeURIComponent(release)}`, blockerEvents);
  await waitFor('the blocking request to reach the worker', () => requestLog(poold!.dir).length === 1);

  const events: string[] = [];
  const crowd = Array.from({ length: 600 }, (_, i) => tracked(port, `/?n=${i}`, events));
  // The queue holds listen.backlog (511) at most: the excess is refused at once.
  await waitFor('the excess over the default queue bound to be refused', () => events.length >= 600 - 511, 30_000);
  // The queued ones get 503 at the default listen.queue_timeout, while the worker is still held.
  await Promise.all(crowd);
  assert.deepEqual(blockerEvents, [], 'every queued request was answered while the worker was still busy');
  writeFileSync(release, '');
  await blocker;
  assert.deepEqual(blockerEvents, ['200']);
  const counts = Object.entries(events.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e]: (acc[e] ?? 0) + 1 }), {}));
  assert.deepEqual(counts, [['503', 600]]);
  assert.equal(requestLog(poold.dir).length, 1, 'none of them reached the worker');
  assert.equal(board(poold)?.header.listenQueueLen, 511, 'the queue bound shown is listen.backlog');
});

test('listen.backlog = -1 is the system maximum, and the queue bound follows it', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, path.join(FIXTURES, 'app.js'), 'listen.backlog = -1'));
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  await waitFor('the header', () => board(poold!)?.header.listenQueueLen === somaxconn, 5000);
  assert.equal((await get(port, '/')).status, 200);
});

test('an app whose init() outlasts process_control_timeout reloads within process_start_timeout', async (t) => {
  const app = deploy(t, 1500);
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const global = globalSection().replace('process_control_timeout = 3s', 'process_control_timeout = 1s');
  poold = await startPoold(global + poolSection('www', port, app));
  const reloaded = await runPoold(['reload', '--wait', '--pid', path.join(poold.dir, 'poold.pid')], 60_000);
  assert.equal(reloaded.code, 0, reloaded.stderr);

  // And process_start_timeout is the deadline: shorter than the init, the rollout is aborted.
  writeConfig(global.replace('[global]\n', '[global]\nprocess_start_timeout = 1s\n') + poolSection('www', port, app), poold.dir);
  const aborted = await runPoold(['reload', '--wait', '--pid', path.join(poold.dir, 'poold.pid')], 60_000);
  assert.notEqual(aborted.code, 0);
  assert.match(aborted.stderr, /not ready within 1s/);
});

test('start -D gives up, with a message and a non-zero exit, when the pools are not serving in time', async (t) => {
  const port = await freePort();
  const setup = writeConfig(
    globalSection('error_log = @DIR@/poold.log\nprocess_start_timeout = 1s') +
      poolSection('www', port, path.join(FIXTURES, 'slow-init.js'), 'env[INIT_DELAY_MS] = 600000'),
  );
  const pidFile = path.join(setup.dir, 'poold.pid');
  const log = path.join(setup.dir, 'poold.log');
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const started = () => [...read(log).matchAll(/child (\d+) started/g)].map((m) => Number(m[1]));
  t.after(() => {
    killAll([Number(read(pidFile).trim()), ...started()].filter((pid) => pid > 0 && isRunning(pid)));
    rmSync(setup.dir, { recursive: true, force: true });
  });
  const launched = await runPoold(['start', '-D', '-c', setup.file], 60_000);
  assert.equal(launched.code, 70, launched.stderr);
  assert.match(launched.stderr, /ERROR: poold was not serving within 6s .*stopped it/);
  const daemon = Number(/pid (\d+)/.exec(read(log))?.[1] ?? read(pidFile).trim());
  await waitFor('the background master to stop', () => !isRunning(daemon) && started().every((pid) => !isRunning(pid)), 30_000);
});
