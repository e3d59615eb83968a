// The pid file is only a hint: poold checks that the pid it names is the
// master of this configuration before signalling it or refusing to start,
// writes it without following symlinks, and tells a user who may not stop
// the master so in one line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isRunning, killAll, runPoold, waitExit } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import { cleanup, freePort, globalSection, poolSection, startPoold, FIXTURES, POOLD_BIN, tempDir, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

/** A process that is certainly not poold, stopped by the test. */
function unrelatedProcess(): number {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  return child.pid!;
}

test('poold stop does not signal an unrelated process named by the pid file, and start replaces the file', async (t) => {
  const port = await freePort();
  const sleeper = unrelatedProcess();
  let poold: RunningPoold | undefined;
  const dir = tempDir();
  t.after(async () => {
    killAll([sleeper]);
    await cleanup(poold);
    rmSync(dir, { recursive: true, force: true });
  });
  const pidFile = path.join(dir, 'poold.pid');
  writeFileSync(pidFile, `${sleeper}\n`);
  const config = path.join(dir, 'poold.conf');
  writeFileSync(config, `[global]\npid = ${pidFile}\nstatus.listen = none\n${poolSection('www', port, APP)}`);

  const stopped = await runPoold(['stop', '-c', config]);
  assert.equal(stopped.code, 69, stopped.stderr);
  assert.match(stopped.stderr, new RegExp(`names pid ${sleeper}, which is not its master \\(it runs 'sleep 120'\\)`));
  assert.ok(isRunning(sleeper), 'the unrelated process was not signalled');

  poold = await startPoold(`[global]\npid = ${pidFile}\n${poolSection('www', port, APP)}`);
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(poold.pid));
  assert.ok(poold.lines.some((line) => line.includes(`pid ${sleeper} is not poold`)), poold.lines.join('\n'));
  assert.ok(isRunning(sleeper));
});

test('the pid file is written without following a symlink', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  const dir = tempDir();
  t.after(async () => {
    await cleanup(poold);
    rmSync(dir, { recursive: true, force: true });
  });
  const victim = path.join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  const pidFile = path.join(dir, 'poold.pid');
  symlinkSync(victim, pidFile);
  poold = await startPoold(`[global]\npid = ${pidFile}\n${poolSection('www', port, APP)}`);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the symlink target is untouched');
  assert.ok(lstatSync(pidFile).isFile(), 'the pid file replaced the symlink itself');
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(poold.pid));
});

test('poold stop by another user: one line, "permission denied", exit 77; the master keeps running', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, APP));
  chmodSync(poold.dir, 0o755);
  const pidFile = path.join(poold.dir, 'poold.pid');
  const stopped = await runCommand(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, POOLD_BIN, 'stop', '--pid', pidFile],
    { timeoutMs: 20_000 },
  );
  assert.equal(stopped.code, 77, stopped.stderr);
  assert.equal(stopped.stderr, `ERROR: permission denied: poold (pid ${poold.pid}) runs as another user\n`);
  assert.ok(isRunning(poold.pid));
  const ours = await runPoold(['stop', '--pid', pidFile]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(await waitExit(poold, 15_000), 0);
});
