// What an app can do to the shared memory its worker reaches (the trust model
// of docs/operations.md): shrinking a scoreboard or a connection table that
// the master maps must not kill it, and rewriting another pool's slots must
// not stop that pool from serving nor show on its status page.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../helpers/run.js';
import { scoreboardFds } from '../helpers/scoreboard.js';
import { request } from '../helpers/status.js';
import { FIXTURES, cleanup, freePort, get, globalSection, isAlive, poolSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const TAMPER = path.join(FIXTURES, 'tamper.js');
const APP = path.join(FIXTURES, 'app.js');

interface Attempt {
  path: string;
  target: string;
  result: string;
}

test('no worker, nor root, can shrink a scoreboard or a connection table: the master lives and serves', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, TAMPER, 'pm.status_path = /status'));

  // The worker runs as the test's user: it reaches its own descriptors and
  // the master's; as root also their mappings (/proc/PID/map_files), where
  // the connection tables are: the most anyone can.
  const attempts = JSON.parse((await get(port, '/truncate', 15_000)).body) as Attempt[];
  const scoreboards = attempts.filter((a) => a.target.includes('scoreboard'));
  const tables = attempts.filter((a) => a.target === '/memfd:poold (deleted)');
  assert.ok(scoreboards.some((a) => a.path.startsWith(`/proc/${poold!.pid}/`)), `the master's scoreboard was tried: ${JSON.stringify(attempts)}`);
  if (process.getuid?.() === 0) {
    assert.ok(tables.some((a) => a.path.startsWith(`/proc/${poold!.pid}/map_files/`)), `the master's mapping of a table was tried: ${JSON.stringify(attempts)}`);
  }
  assert.deepEqual(
    attempts.filter((a) => a.result !== 'EPERM'),
    [],
    'every try failed: the sizes are sealed',
  );

  // The master maps every one of them: it would die of SIGBUS on its next touch of a lost page.
  for (let i = 0; i < 6; i++) assert.equal((await get(port, `/after-${i}`, 15_000)).status, 200);
  assert.equal((await request({ socketPath: path.join(poold.dir, 'status.sock') }, '/status?json')).status, 200);
  assert.ok(isAlive(poold.pid), 'the master is alive');
  assert.deepEqual(
    readdirSync('/dev/shm').filter((name) => name.startsWith(`poold-${poold!.pid}-`)),
    [],
    'no scoreboard file in /dev/shm',
  );
});

test('another local user reaches no scoreboard of the master', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run a reader as another user');
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, APP));
  const [file] = scoreboardFds(poold.pid, 'www');
  assert.ok(file, 'the master holds the scoreboard');
  const nobody = await runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'cat', file], {
    timeoutMs: 10_000,
  });
  assert.notEqual(nobody.code, 0, 'nobody cannot open it');
  assert.match(nobody.stderr, /Permission denied/);
  assert.equal(nobody.stdout, '');
});

test("a worker that keeps rewriting another pool's slots does not stop that pool nor show on its status page", async (t) => {
  const wwwPort = await freePort();
  const evilPort = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() +
      poolSection('www', wwwPort, APP, 'pm.status_path = /status') +
      `[evil]\nlisten = 127.0.0.1:${evilPort}\napp = ${TAMPER}\npm = static\npm.max_children = 1\n`,
  );
  // Its own descriptors lead to its own pool's scoreboard only (the connection table's it closed once mapped).
  const own = (JSON.parse((await get(evilPort, '/truncate', 15_000)).body) as Attempt[])
    .filter((a) => a.path.startsWith('/proc/self/fd/'))
    .map((a) => a.target);
  assert.deepEqual(own, ['/memfd:poold-scoreboard:evil (deleted)']);
  // Every busy www slot rewritten as Finishing every 5 ms, and a running request under pid 1.
  const forging = await get(evilPort, '/forge?pool=www', 15_000);
  assert.equal(forging.status, 200, forging.body);

  for (let i = 0; i < 4; i++) {
    const response = await get(wwwPort, `/served-${i}`, 20_000);
    assert.equal(response.status, 200, `request ${i}`);
  }
  await poold.waitForLine(/\[pool www\] child \d+'s scoreboard slot \d+ has said Finishing for [\d.]+s though it was neither stopped nor retiring; ignored/);

  const page = await request({ socketPath: path.join(poold.dir, 'status.sock') }, '/status?json&full');
  const processes = (JSON.parse(page.body) as { processes: { pid: number; 'request uri': string }[] }).processes;
  assert.deepEqual(
    processes.map((p) => p.pid).sort(),
    poold.liveWorkerPids().filter((pid) => processes.some((p) => p.pid === pid)).sort(),
    'only live workers',
  );
  assert.equal(processes.length, 2, JSON.stringify(processes));
  assert.ok(!page.body.includes('forged'), page.body);
  await poold.waitForLine(/\[pool www\] an unused scoreboard slot 3 names pid 1 \(Running\); ignored/);
  assert.ok(isAlive(1), 'pid 1 was not signalled');
  assert.ok(isAlive(poold.pid));
});
