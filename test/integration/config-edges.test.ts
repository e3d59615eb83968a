// Configurations that used to pass `poold test` and then fail at start: each
// is caught by the test with file:line, and a start that fails anyway leaves
// nothing behind.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { controlSocketPath } from '../../src/control/control-path.js';
import { runPoold, writeConfig } from '../helpers/cli.js';
import { FIXTURES, tempDir } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

function pool(listen: string, extra = ''): string {
  return `[www]\nlisten = ${listen}\napp = ${APP}\npm = static\npm.max_children = 1\n${extra}\n`;
}

/** `poold test` on `text`: it must fail, naming the file and the line of `needle`. */
async function refusedAt(text: string, needle: string, reason: RegExp): Promise<string> {
  const { dir, file } = writeConfig(text);
  try {
    const checked = await runPoold(['test', '-c', file]);
    assert.equal(checked.code, 78, checked.stderr);
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
    assert.ok(line > 0);
    const error = checked.stderr.split('\n').find((l) => l.startsWith(`ERROR: [${file}:${line}]`));
    assert.ok(error, `no error at ${file}:${line} in:\n${checked.stderr}`);
    assert.match(error, reason);
    return checked.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a unix listen socket in a missing directory is refused at test, with file:line', async () => {
  await refusedAt(`[global]\n${pool('@DIR@/missing/www.sock')}`, 'missing/www.sock', /directory .*missing.* does not exist/);
});

test('a pid file in a missing directory is refused at test', async () => {
  await refusedAt(`[global]\npid = @DIR@/nowhere/poold.pid\n${pool('127.0.0.1:1')}`, 'pid =', /does not exist/);
});

test('a pid file whose control socket path would not fit a unix socket address is refused at test', async () => {
  const dir = tempDir();
  try {
    // The pid path itself is fine for a file; only the socket derived from it is too long.
    let deep = dir;
    while (controlSocketPath(path.join(deep, 'poold.pid')).length <= 110) deep = path.join(deep, 'dddddddddd');
    mkdirSync(deep, { recursive: true });
    const pid = path.join(deep, 'poold.pid');
    await refusedAt(`[global]\npid = ${pid}\n${pool('127.0.0.1:1')}`, 'pid =', /control socket .* longer than a unix socket path/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pm.max_children = 4000000000 is refused with its limit', async () => {
  await refusedAt(
    `[global]\n${pool('127.0.0.1:1').replace('pm.max_children = 1', 'pm.max_children = 4000000000')}`,
    'pm.max_children',
    /pm\.max_children\(4000000000\) must not be greater than 10000/,
  );
});

test('a configuration file without end (/dev/zero) is refused with a clear error, not read into memory', async () => {
  const checked = await runPoold(['test', '-c', '/dev/zero'], 20_000);
  assert.equal(checked.code, 78, checked.stderr);
  assert.match(checked.stderr, /configuration file '\/dev\/zero' is larger than 1 MiB/);
});

test('an include without end is refused at its include line', async () => {
  await refusedAt(`[global]\ninclude = /dev/zero\n${pool('127.0.0.1:1')}`, 'include =', /larger than 1 MiB/);
});

test('warnings print even when the test also finds errors', async () => {
  const { dir, file } = writeConfig(`[global]\n${pool('127.0.0.1:1', 'env[X] = $POOLD_TEST_UNSET_VARIABLE\npm = nonsense')}`);
  try {
    const checked = await runPoold(['test', '-c', file], 20_000, { POOLD_TEST_UNSET_VARIABLE: undefined });
    assert.equal(checked.code, 78);
    assert.match(checked.stderr, /WARNING: .*POOLD_TEST_UNSET_VARIABLE.* is not set/);
    assert.match(checked.stderr, /ERROR: .*invalid process manager/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a start that fails after creating its files removes them all', async () => {
  const dir = tempDir();
  try {
    const pid = path.join(dir, 'poold.pid');
    // The control socket's path is taken by a directory: binding it fails after the pid file was written.
    mkdirSync(controlSocketPath(pid));
    const { file } = writeConfig(`[global]\npid = ${pid}\n${pool('@DIR@/www.sock')}`, dir);
    const before = readdirSync(dir).sort();
    const started = await runPoold(['start', '-c', file], 30_000);
    assert.notEqual(started.code, 0, started.stderr);
    assert.match(started.stderr, /poold initialization failed/);
    assert.doesNotMatch(started.stderr, /^\s+at /m, 'no stack trace');
    assert.deepEqual(readdirSync(dir).sort(), before, 'the pid file and the pool and status sockets are gone');
    assert.ok(!existsSync(pid));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pid file that cannot be written: exit 73 with one message, and nothing left behind', async () => {
  const dir = tempDir();
  try {
    const pid = path.join(dir, 'poold.pid');
    mkdirSync(pid); // a directory where the pid file should go
    const { file } = writeConfig(`[global]\npid = ${pid}\n${pool('@DIR@/www.sock')}`, dir);
    const before = readdirSync(dir).sort();
    const started = await runPoold(['start', '-c', file], 30_000);
    assert.equal(started.code, 73, started.stderr);
    assert.match(started.stderr, new RegExp(`ALERT: cannot write the pid file ${pid}: `));
    assert.doesNotMatch(started.stderr, /^\s+at /m, 'no stack trace');
    assert.deepEqual(readdirSync(dir).sort(), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
