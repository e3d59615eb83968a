// Logs where operators expect them: access.log, slowlog and error_log on the
// master's stdout or stderr (/dev/stdout, /dev/stderr, /proc/self/fd/N),
// error_log = syslog through logger(1), log_limit as FPM's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SYSLOG_SOCKET } from '../../src/log/levels.js';
import { findOnPath } from '../../src/pool/spawn-worker.js';
import { killAll, runPoold, writeConfig } from '../helpers/cli.js';
import { cleanup, FIXTURES, freePort, get, globalSection, poolSection, POOLD_BIN, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');
const FORMAT = 'access.format = "ACCESS %m %r%Q%q %s"';

test('access.log = /dev/stdout with catch_workers_output: workers start, and lines reach the master\'s output', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, APP, `access.log = /dev/stdout\n${FORMAT}`));
  assert.equal((await get(port, '/echo?v=1')).status, 200);
  await poold.waitForLine(/^ACCESS GET \/echo\?v=1 200$/);
  assert.ok(!poold.lines.some((line) => /ENXIO|failed to start|exited/.test(line)), poold.lines.join('\n'));
});

test('access.log = /proc/self/fd/2 without catch_workers_output still reaches the master\'s stderr', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() + poolSection('www', port, APP, `catch_workers_output = no\naccess.log = /proc/self/fd/2\n${FORMAT}`),
  );
  assert.equal((await get(port, '/echo?v=2')).status, 200);
  await poold.waitForLine(/^ACCESS GET \/echo\?v=2 200$/);
});

test('slowlog = /dev/stderr: the slow request\'s stack reaches the master\'s stderr', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() + poolSection('www', port, APP, 'slowlog = /dev/stderr\nrequest_slowlog_timeout = 1s'),
  );
  assert.equal((await get(port, '/block?ms=2500', 20_000)).status, 200);
  await poold.waitForLine(/^request = GET \/block\?ms=2500$/);
});

test('error_log = /dev/stdout: the master logs to its stdout, not to its stderr', async (t) => {
  const port = await freePort();
  const { dir, file } = writeConfig(globalSection('error_log = /dev/stdout') + poolSection('www', port, APP));
  const master = spawn(process.execPath, [POOLD_BIN, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  master.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  master.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  t.after(() => {
    killAll([master.pid!, ...[...stdout.matchAll(/child (\d+) started/g)].map((m) => Number(m[1]))]);
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(`the ready line on stdout (stderr: ${stderr})`, () => stdout.includes('NOTICE: ready to handle connections'), 15_000);
  assert.equal(stderr, '');
});

test('poold test: an fd poold does not have is refused', async () => {
  const closedFd = writeConfig(globalSection() + poolSection('www', 1, APP, 'access.log = /proc/self/fd/57'));
  try {
    const missing = await runPoold(['test', '-c', closedFd.file]);
    assert.equal(missing.code, 78);
    assert.match(missing.stderr, /poold\.conf:\d+\] \[pool www\] '\/proc\/self\/fd\/57' names descriptor 57, which poold was not started with/);
  } finally {
    rmSync(closedFd.dir, { recursive: true, force: true });
  }
});

test('start -D refuses a pool log on the master\'s stdout: a background poold has none', async () => {
  const { dir, file } = writeConfig(
    globalSection('error_log = @DIR@/poold.log') + poolSection('www', 1, APP, 'access.log = /dev/stdout'),
  );
  try {
    const started = await runPoold(['start', '-D', '-c', file]);
    assert.equal(started.code, 78, started.stderr);
    assert.match(started.stderr, /ERROR: \[pool www\] access\.log = \/dev\/stdout: a background poold's descriptors lead nowhere; set a file/);
    assert.ok(!existsSync(path.join(dir, 'poold.pid')), 'nothing was started');
  } finally {
    // Had it started anyway, its master (and with it, its workers) is stopped here.
    const pid = existsSync(path.join(dir, 'poold.pid')) ? Number(readFileSync(path.join(dir, 'poold.pid'), 'utf8')) : 0;
    if (pid > 0) killAll([pid]);
    rmSync(dir, { recursive: true, force: true });
  }
});

const PYTHON = findOnPath('python3');
/** The syslog tests create /dev/log themselves: only where there is none, as root, with python3 to receive. */
const noSyslogHere = existsSync(SYSLOG_SOCKET) ? `${SYSLOG_SOCKET} exists` : process.getuid?.() !== 0 ? 'needs root' : null;

test('poold test: error_log = syslog without a syslog socket is refused with what to do', { skip: noSyslogHere ?? false }, async () => {
  const { dir, file } = writeConfig(globalSection('error_log = syslog') + poolSection('www', 1, APP));
  try {
    const refused = await runPoold(['test', '-c', file]);
    assert.equal(refused.code, 78);
    assert.match(refused.stderr, /poold\.conf:\d+\] there is no syslog socket at \/dev\/log: run a syslog daemon/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('error_log = syslog: the master\'s lines reach /dev/log with syslog.ident and syslog.facility', { skip: noSyslogHere ?? (PYTHON ? false : 'needs python3') }, async (t) => {
  // A datagram receiver at /dev/log (Node has none): one line per message on its stdout.
  const receiver = spawn(
    PYTHON!,
    ['-u', '-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound")\nwhile True:\n  print(s.recv(65536).decode())', SYSLOG_SOCKET],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let received = '';
  receiver.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  let poold: RunningPoold | undefined;
  t.after(async () => {
    await cleanup(poold);
    killAll([receiver.pid!]);
    rmSync(SYSLOG_SOCKET, { force: true });
  });
  await waitFor('the receiver to bind /dev/log', () => received.startsWith('bound'), 10_000);
  const port = await freePort();
  poold = await startPoold(
    globalSection('error_log = syslog\nsyslog.ident = poold-test\nsyslog.facility = local3') + poolSection('www', port, APP),
    { noWait: true },
  );
  // local3 (19) × 8 + notice (5) = 157; the pid is the master's.
  await waitFor(`the ready line at /dev/log (received: ${received})`, () =>
    received.includes(`<157>`) && new RegExp(`poold-test\\[${poold!.pid}\\]: NOTICE: ready to handle connections`).test(received), 15_000);
  assert.ok(!poold.lines.some((line) => /ready to handle connections/.test(line)), 'not on stderr as well');
  const stopped = await runPoold(['stop', '--pid', path.join(poold.dir, 'poold.pid')]);
  assert.equal(stopped.code, 0, stopped.stderr);
  // The last line is sent before the master exits.
  await waitFor('the exit line at /dev/log', () => /poold-test\[\d+\]: NOTICE: exiting, bye-bye!/.test(received), 10_000);
});

test('log_limit: a longer line is cut at the limit and marked, as FPM does', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection('log_limit = 600') + poolSection('www', port, APP));
  const text = 'x'.repeat(3000);
  assert.equal((await get(port, `/say?text=${text}`)).status, 200);
  const line = await poold.waitForLine(/err: xxxx/);
  assert.equal(Buffer.byteLength(line), 600);
  assert.ok(line.endsWith('xxx...'), line.slice(-20));
});
