// The master at its open-file limit, and the rlimit_files / rlimit_core
// directives. The master runs under util-linux prlimit, which execs it: the
// pid the test holds is the master's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { isRunning, waitExit } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, get, globalSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

/** A limit from /proc/PID/limits: [soft, hard], 'unlimited' as Infinity. */
function limitOf(pid: number | 'self', name: 'Max open files' | 'Max core file size'): [number, number] {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith(name))!;
  const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
  const value = (text: string | undefined) => (text === 'unlimited' ? Infinity : Number(text));
  return [value(soft), value(hard)];
}

/** An idle connection (no request sent) and what it received before it closed. */
interface IdleClient {
  socket: net.Socket;
  received: () => string;
}

/** Opens `count` idle connections; resolves once each one is connected or closed. */
async function openIdle(port: number, count: number): Promise<IdleClient[]> {
  return Promise.all(
    Array.from({ length: count }, () => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      socket.on('error', () => {});
      return new Promise<IdleClient>((resolve) => {
        const client = { socket, received: () => text };
        socket.once('connect', () => resolve(client));
        socket.once('close', () => resolve(client));
      });
    }),
  );
}

test('near its open-file limit the master answers new connections 503 and keeps descriptors to replace a worker', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  let clients: IdleClient[] = [];
  t.after(async () => {
    for (const client of clients) client.socket.destroy();
    await cleanup(poold);
  });
  poold = await startPoold(
    globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 2\n`,
    { execThrough: ['prlimit', '--nofile=128:128', '--'] },
  );
  assert.deepEqual(limitOf(poold.pid, 'Max open files'), [128, 128]);
  // More idle connections than the master has descriptors: it holds what it
  // can spare, and answers the others; none is closed without a word.
  clients = await openIdle(port, 160);
  await poold.waitForLine(/\[pool www\] the master is near its open-file limit \(open files: \d+ of 128\): new connections get 503/);
  const refused = () => clients.filter((client) => client.socket.destroyed);
  await waitFor('the refused connections to close', () => refused().length >= 160 - 128 && refused());
  for (const client of refused()) assert.match(client.received(), /^HTTP\/1\.1 503 Service Unavailable\r\n/);

  // The reserve is there to replace a worker that dies meanwhile.
  const [victim] = poold.liveWorkerPids();
  process.kill(victim!, 'SIGKILL');
  const exit = await poold.waitForLine(new RegExp(`child ${victim} exited on signal 9`));
  await poold.waitForLine(/\[pool www\] child \d+ started/, 15_000, poold.lines.indexOf(exit) + 1);
  assert.ok(!poold.lines.some((line) => /unable to start a child/.test(line)), poold.lines.join('\n'));

  for (const client of clients) client.socket.destroy();
  clients = [];
  // Once the master has closed its side of them, it serves again.
  await waitFor('the master to close the connections', () => readdirSync(`/proc/${poold!.pid}/fd`).length < 64);
  assert.equal((await get(port, '/')).status, 200);
  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 15_000), 0);
});

test('at its open-file limit a worker that cannot be spawned is logged and retried; the master lives on', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  // 64 descriptors: the master's own two dozen, then 4 per worker; 12 workers do not fit.
  poold = await startPoold(
    globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 12\n`,
    { execThrough: ['prlimit', '--nofile=64:64', '--'] },
  );
  await poold.waitForLine(/\[pool www\] unable to start a child: .* \(open files: \d+ of 64\)/);
  await poold.waitForLine(/\[pool www\] 2 child\(ren\) in a row failed to start; next start in/);
  // A shortage does not fail the start: the workers that started serve, and it keeps trying.
  const ready = await poold.waitForLine(/ready to handle connections/);
  await poold.waitForLine(/\[pool www\] unable to start a child: .*EMFILE/, 15_000, poold.lines.indexOf(ready) + 1);
  assert.ok(isRunning(poold.pid), 'the master survived the failed spawns');
  const live = poold.liveWorkerPids().length;
  assert.ok(live > 0 && live < 12, `${live} workers`);
  // Its workers hold what the reserve would keep free: a client is told so, not dropped.
  const answer = await get(port, '/');
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 15_000), 0);
});

test('rlimit_files and rlimit_core: [global] sets the master\'s limits, a pool its workers\'', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  // Lowering a hard limit needs no privilege; below what this process has.
  const masterFiles = Math.min(1000, limitOf('self', 'Max open files')[1] - 1);
  const workerFiles = masterFiles - 100;
  const coreHard = limitOf('self', 'Max core file size')[1];
  const workerCore = Math.min(1_048_576, coreHard);
  poold = await startPoold(
    globalSection(`rlimit_files = ${masterFiles}`) +
      `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\n` +
      `rlimit_files = ${workerFiles}\n` +
      (workerCore > 0 ? `rlimit_core = ${workerCore}\n` : ''),
  );
  assert.deepEqual(limitOf(poold.pid, 'Max open files'), [masterFiles, masterFiles]);
  const [worker] = poold.liveWorkerPids();
  assert.deepEqual(limitOf(worker!, 'Max open files'), [workerFiles, workerFiles]);
  if (workerCore > 0) assert.deepEqual(limitOf(worker!, 'Max core file size'), [workerCore, workerCore]);
  assert.equal((await get(port, '/')).status, 200);
});

test("a pool's rlimit_files above the master's hard limit: the start fails at once, unless poold may raise it", async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  const canRaise = ((BigInt(`0x${capEff}`) >> 24n) & 1n) === 1n;
  poold = await startPoold(
    globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\nrlimit_files = 2048\n`,
    { execThrough: ['prlimit', '--nofile=1024:1024', '--'], noWait: true },
  );
  if (canRaise) {
    await poold.waitForLine(/ready to handle connections/);
    assert.deepEqual(limitOf(poold.liveWorkerPids()[0]!, 'Max open files'), [2048, 2048]);
    return;
  }
  assert.equal(await waitExit(poold, 15_000), 69);
  await poold.waitForLine(
    /ALERT: \[pool www\] rlimit_files = 2048 is above the master's hard limit \(1024\), which only root \(CAP_SYS_RESOURCE\) may raise/,
  );
  assert.deepEqual(poold.workerPids(), [], 'no worker was started');
});

test('the master at its open-file limit (its status listener holding every descriptor) says so, with the count', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  const clients: net.Socket[] = [];
  t.after(async () => {
    for (const socket of clients) socket.destroy();
    await cleanup(poold);
  });
  poold = await startPoold(
    globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\n`,
    { execThrough: ['prlimit', '--nofile=64:64', '--'] },
  );
  // Idle connections to the status listener, which keeps each one open.
  for (let i = 0; i < 64; i++) {
    const socket = net.connect(path.join(poold.dir, 'status.sock'));
    socket.on('error', () => {});
    clients.push(socket);
  }
  await poold.waitForLine(/ERROR: the master is at its open-file limit \(open files: \d+ of 64\): workers cannot start/);
  assert.ok(isRunning(poold.pid));
  for (const socket of clients) socket.destroy();
  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 15_000), 0);
});
