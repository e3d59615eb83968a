// A pool listening on a unix socket: served, created with listen.mode,
// guarded against a second instance, removed on stop, and a stale one
// (left by a killed master) replaced.
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { getUnix } from '../helpers/clients.js';
import { lastLine, waitExit, waitLogEnd } from '../helpers/cli.js';
import { FIXTURES, cleanup, globalSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

function config(listen: string): string {
  return (
    globalSection() +
    `[www]\nlisten = ${listen}\nlisten.mode = 0600\napp = ${APP}\npm = static\npm.max_children = 1\n`
  );
}

test('unix socket: served, mode 0600, a second instance refused, removed after stop', async (t) => {
  let poold: RunningPoold | undefined;
  let second: RunningPoold | undefined;
  t.after(async () => {
    await cleanup(second);
    await cleanup(poold);
  });
  poold = await startPoold(config('@DIR@/www.sock'));
  const socketPath = path.join(poold.dir, 'www.sock');
  const stat = lstatSync(socketPath);
  assert.ok(stat.isSocket());
  assert.equal((stat.mode & 0o777).toString(8), '600');
  const response = await getUnix(socketPath, '/');
  assert.equal(response.status, 200);
  assert.deepEqual(poold.workerPids(), [Number(response.body.trim())]);

  second = await startPoold(config(socketPath), { noWait: true });
  assert.equal(await waitExit(second, 15_000), 69);
  await waitLogEnd(second);
  assert.ok(
    second.lines.some((line) => line.includes(`another poold instance seems to already listen on ${socketPath}`)),
    second.lines.join('\n'),
  );
  assert.deepEqual(second.workerPids(), [], 'the refused instance started no worker');
  // The refused instance left the first one's socket alone.
  assert.equal((await getUnix(socketPath, '/')).status, 200);

  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 15_000), 0);
  assert.ok(!existsSync(socketPath), 'the socket file is removed on stop');
  await waitLogEnd(poold);
  assert.match(lastLine(poold), /exiting, bye-bye!$/);
});

test('unix socket: a stale socket file left by a SIGKILLed master is replaced', async (t) => {
  let poold: RunningPoold | undefined;
  let next: RunningPoold | undefined;
  t.after(async () => {
    await cleanup(next);
    await cleanup(poold);
  });
  poold = await startPoold(config('@DIR@/www.sock'));
  const socketPath = path.join(poold.dir, 'www.sock');
  process.kill(poold.pid, 'SIGKILL');
  assert.equal(await waitExit(poold, 5000), 'SIGKILL');
  assert.ok(lstatSync(socketPath).isSocket(), 'a killed master leaves its socket file behind');

  next = await startPoold(config(socketPath));
  const response = await getUnix(socketPath, '/');
  assert.equal(response.status, 200);
  assert.deepEqual(next.workerPids(), [Number(response.body.trim())]);
});
