// `poold start -D`: the launcher returns 0 only once the background master
// serves, and the error with its exit code when it could not start.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isRunning, killAll, runPoold, writeConfig } from '../helpers/cli.js';
import { FIXTURES, freePort, get, globalSection, poolSection, waitFor } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');
const SLOW_INIT_APP = path.join(FIXTURES, 'slow-init.js');

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A config with an error log in a fresh dir. Whatever the daemon started (its
 * pid file and the workers its log announces) is killed after the test.
 */
function daemonSetup(t: TestContext, text: string): { dir: string; file: string; log: string; pidFile: string } {
  const setup = writeConfig(text);
  const log = path.join(setup.dir, 'poold.log');
  const pidFile = path.join(setup.dir, 'poold.pid');
  t.after(() => {
    const pids = [Number(read(pidFile).trim()), ...[...read(log).matchAll(/child (\d+) started/g)].map((m) => Number(m[1]))];
    killAll(pids.filter((pid) => Number.isInteger(pid) && pid > 0 && isRunning(pid)));
    rmSync(setup.dir, { recursive: true, force: true });
  });
  return { ...setup, log, pidFile };
}

test('start -D returns 0 once the daemon serves; poold stop then stops it', async (t) => {
  const port = await freePort();
  // Workers take 500 ms to become ready, and leave a marker once they are.
  const pool = poolSection('www', port, SLOW_INIT_APP, 'env[INIT_MARKER] = @DIR@/ready.log\nenv[INIT_DELAY_MS] = 500');
  const { dir, file, log, pidFile } = daemonSetup(t, globalSection('error_log = @DIR@/poold.log') + pool);

  const started = await runPoold(['start', '-D', '-c', file]);
  assert.equal(started.code, 0, started.stderr);
  // The launcher returned only after a worker was ready, not merely once the port was bound.
  assert.notEqual(read(path.join(dir, 'ready.log')), '', 'the launcher returned before any worker was ready');
  const daemonPid = Number(/poold started in the background \(pid (\d+)\)/.exec(started.stderr)?.[1]);
  assert.ok(isRunning(daemonPid), 'the daemon runs after the launcher returned');
  assert.equal(read(pidFile).trim(), String(daemonPid));
  const response = await get(port, '/');
  assert.equal(response.status, 200);
  await waitFor('the ready line in the log', () => /NOTICE: ready to handle connections/.test(read(log)), 5000);
  const workers = [...read(log).matchAll(/child (\d+) started/g)].map((m) => Number(m[1]));
  assert.equal(workers.length, 2);
  assert.ok(workers.includes(Number(response.body.trim())));

  const stopped = await runPoold(['stop', '-c', file]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.ok(!isRunning(daemonPid), 'the daemon is gone when stop returns');
  assert.ok(workers.every((pid) => !isRunning(pid)), 'its workers are gone');
  assert.ok(!existsSync(pidFile), 'pid file removed');
  await waitFor('the log to end', () => /exiting, bye-bye!\n$/.test(read(log)), 5000);
});

test('start -D with a broken config: 78 and the error, nothing left running', async (t) => {
  const port = await freePort();
  const text = globalSection('error_log = @DIR@/poold.log') + poolSection('www', port, APP, 'pm.max_concurrency = none');
  const { file, pidFile } = daemonSetup(t, text);
  const started = await runPoold(['start', '-D', '-c', file]);
  assert.equal(started.code, 78);
  assert.match(started.stderr, /unable to parse value for entry 'pm.max_concurrency'/);
  assert.ok(!existsSync(pidFile));
});

test('start -D with the port in use: 69 and the error from the background master', async (t) => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const { file, log, pidFile } = daemonSetup(t, globalSection('error_log = @DIR@/poold.log') + poolSection('www', port, APP));
  const started = await runPoold(['start', '-D', '-c', file]);
  assert.equal(started.code, 69, started.stderr);
  assert.ok(
    started.stderr.includes(`ERROR: [pool www] unable to bind listening socket for address '127.0.0.1:${port}': Address already in use`),
    started.stderr,
  );
  assert.ok(!existsSync(pidFile));
  await waitFor('the failure in the log', () => /poold initialization failed/.test(read(log)), 5000);
  assert.doesNotMatch(read(log), /child \d+ started/);
});

test('start -D with an app that cannot load: 70 and the app\'s error, nothing left running', async (t) => {
  const port = await freePort();
  const app = path.join(FIXTURES, 'throws-at-load.js');
  const { file, log, pidFile } = daemonSetup(t, globalSection('error_log = @DIR@/poold.log') + poolSection('www', port, app));
  const started = await runPoold(['start', '-D', '-c', file]);
  assert.equal(started.code, 70, started.stderr);
  assert.ok(
    started.stderr.includes(
      `ERROR: [pool www] the app ${app} could not start: 3 children in a row failed before becoming ready; ` +
        'the last: Error: broken deploy: cannot load app',
    ),
    started.stderr,
  );
  assert.ok(!existsSync(pidFile));
  await waitFor('the failure in the log', () => /poold initialization failed/.test(read(log)), 5000);
  const workers = [...read(log).matchAll(/child (\d+) started/g)].map((m) => Number(m[1]));
  assert.ok(workers.length >= 2 && workers.every((pid) => !isRunning(pid)), read(log));
});

test('start -D without error_log: 78, a background poold would have nowhere to log', async (t) => {
  const port = await freePort();
  const { file } = daemonSetup(t, globalSection() + poolSection('www', port, APP));
  const started = await runPoold(['start', '-D', '-c', file]);
  assert.equal(started.code, 78);
  assert.match(started.stderr, /daemonize needs error_log/);
});
