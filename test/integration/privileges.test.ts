// Pools run as their user (as root), in their directory; names resolve through
// NSS; Debian's stock php-fpm files run as they are, with only `app` added.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isRunning, killAll, runPoold, waitExit, writeConfig } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import {
  FIXTURES,
  POOLD_BIN,
  cleanup,
  freePort,
  get,
  getFrom,
  globalSection,
  poolSection,
  startPoold,
  tempDir,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';

const IDENTITY_APP = path.join(FIXTURES, 'identity-app.js');
const DEBIAN = path.join(FIXTURES, 'debian-php8.2-fpm');
const NOBODY = 65534; // nobody:nogroup on Debian
const asRoot = { skip: process.getuid!() !== 0 ? 'needs root' : false };

/** The real, effective, saved and filesystem ids of a process, from /proc. */
function ids(pid: number, field: 'Uid' | 'Gid'): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`))!;
  return line.split(/\s+/).slice(1, 5).map(Number);
}

/** A directory the pool's user can reach (a test's temp dir is root's alone), removed after the test. */
function sharedDir(t: TestContext): string {
  const dir = tempDir('poold-shared-');
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('as root with user = nobody: workers run as nobody:nogroup, its groups, USER and HOME, and write their access log', asRoot, async (t) => {
  const port = await freePort();
  const logs = sharedDir(t);
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const accessLog = path.join(logs, 'access.log');
  poold = await startPoold(globalSection() + poolSection('www', port, IDENTITY_APP, `user = nobody\naccess.log = ${accessLog}\n`));
  const [worker] = poold.workerPids();
  assert.deepEqual(ids(worker!, 'Uid'), [NOBODY, NOBODY, NOBODY, NOBODY]);
  assert.deepEqual(ids(worker!, 'Gid'), [NOBODY, NOBODY, NOBODY, NOBODY]);

  const seen = JSON.parse((await get(port, '/')).body) as Record<string, unknown>;
  assert.deepEqual(
    { uid: seen.uid, gid: seen.gid, groups: seen.groups, user: seen.user, home: seen.home },
    { uid: NOBODY, gid: NOBODY, groups: [NOBODY], user: 'nobody', home: '/nonexistent' },
    'supplementary groups are nobody\'s (initgroups), not root\'s',
  );
  assert.equal(seen.cwd, FIXTURES, "chdir defaults to the app module's directory");
  await waitFor('the access log line', () => readFileSync(accessLog, 'utf8').includes('"GET /" 200'));
  assert.equal(statSync(accessLog).uid, NOBODY, 'the master created the access log for the pool user');

  // After logrotate renamed it, the reopened log is the pool user's again.
  const rotated = `${accessLog}.1`;
  writeFileSync(rotated, '');
  rmSync(accessLog);
  const reopen = await runPoold(['reopen-logs', '--pid', path.join(poold.dir, 'poold.pid')]);
  assert.equal(reopen.code, 0, reopen.stderr);
  await get(port, '/again');
  await waitFor('the access log line after the reopen', () => {
    try {
      return readFileSync(accessLog, 'utf8').includes('"GET /again" 200');
    } catch {
      return false;
    }
  });
});

test('a worker running as nobody writes its slowlog, and still dies with a SIGKILLed master, even stuck in synchronous code', asRoot, async (t) => {
  const port = await freePort();
  const shared = sharedDir(t);
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const requests = path.join(shared, 'requests.log');
  writeFileSync(requests, '');
  chownSync(requests, NOBODY, NOBODY);
  const slowlog = path.join(shared, 'slow.log');
  const settings = `user = nobody\nenv[REQUEST_LOG] = ${requests}\nslowlog = ${slowlog}\nrequest_slowlog_timeout = 1s\n`;
  poold = await startPoold(
    globalSection() +
      poolSection('www', port, path.join(FIXTURES, 'app.js'), settings).replace(
        'pm.max_children = 2',
        'pm.max_children = 1',
      ),
  );
  const [worker] = poold.workerPids();
  assert.equal(ids(worker!, 'Uid')[0], NOBODY);
  const blocked = get(port, '/block?ms=20000', 30_000).catch(() => 'cut');
  await waitFor('the request to reach the worker', () => readFileSync(requests, 'utf8').includes('/block'));
  // The slowlog thread reads the request from the scoreboard and appends its stack to the slowlog.
  await waitFor('the slowlog entry', () => readFileSync(slowlog, 'utf8').includes('request = GET /block?ms=20000'), 15_000);
  assert.equal(statSync(slowlog).uid, NOBODY);
  process.kill(poold.pid, 'SIGKILL');
  await waitExit(poold, 5000);
  // Its IPC channel closing cannot wake a worker stuck in Atomics.wait: only the parent-death signal can.
  await waitFor(`worker ${worker} to exit after the master died`, () => !isRunning(worker!), 5000);
  assert.equal(await blocked, 'cut');
});

test("chdir sets the workers' working directory", async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, IDENTITY_APP, 'chdir = @DIR@\n'));
  assert.equal((JSON.parse((await get(port, '/')).body) as { cwd: string }).cwd, poold.dir);
});

test('poold test resolves user, group, listen.owner and listen.group through NSS, with file:line', asRoot, async (t) => {
  const { dir, file } = writeConfig(
    globalSection() +
      '[www]\nlisten = @DIR@/www.sock\napp = @FIXTURES@/app.js\npm = static\npm.max_children = 1\n' +
      'user = no-such-user-poold\ngroup = no-such-group-poold\nlisten.owner = no-such-owner-poold\nlisten.group = nogroup\n',
  );
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = await runPoold(['test', '-c', file]);
  assert.equal(result.code, 78, result.stderr);
  const lines = result.stderr.split('\n');
  const written = readFileSync(file, 'utf8').split('\n');
  const lineOf = (directive: string): number => written.findIndex((line) => line.startsWith(`${directive} =`)) + 1;
  for (const [directive, message] of [
    ['group', "cannot get gid for group 'no-such-group-poold'"],
    ['user', "cannot get uid for user 'no-such-user-poold'"],
    ['listen.owner', "cannot get uid for user 'no-such-owner-poold'"],
  ] as const) {
    const expected = `ERROR: [${file}:${lineOf(directive)}] [pool www] ${message}`;
    assert.ok(lines.includes(expected), `missing '${expected}':\n${result.stderr}`);
  }
  assert.ok(lines.includes(`ERROR: configuration file ${file} test failed`));

  const noUser = writeConfig(globalSection() + poolSection('www', 1, '@FIXTURES@/app.js'), dir);
  const warned = await runPoold(['test', '-c', noUser.file]);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /^WARNING: \[pool www\] the workers of this pool run as root \('user' is not set\)$/m);
});

test('not as root, user and group are ignored with a notice', asRoot, async (t) => {
  const dir = sharedDir(t);
  const { file } = writeConfig(
    '[global]\nstatus.listen = none\n[www]\nlisten = 127.0.0.1:1\napp = @FIXTURES@/app.js\npm = static\npm.max_children = 1\n' +
      'user = www-data\ngroup = www-data\n',
    dir,
  );
  chmodSync(file, 0o644);
  const result = await runCommand(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, POOLD_BIN, 'test', '-c', file],
    { timeoutMs: 20_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`^NOTICE: \\[${file}:8\\] \\[pool www\\] 'user' directive is ignored when poold is not running as root$`, 'm'));
  assert.match(result.stderr, new RegExp(`^NOTICE: \\[${file}:9\\] \\[pool www\\] 'group' directive is ignored when poold is not running as root$`, 'm'));
  assert.doesNotMatch(result.stderr, /WARNING/);
});

test('a master not running as root ignores user and group: its workers run as its own user', asRoot, async (t) => {
  const port = await freePort();
  const dir = sharedDir(t);
  chownSync(dir, NOBODY, NOBODY);
  const { file } = writeConfig(
    `[global]\npid = ${dir}/poold.pid\nstatus.listen = none\n` +
      poolSection('www', port, IDENTITY_APP, 'user = www-data\ngroup = www-data\n'),
    dir,
  );
  const master = spawn(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, POOLD_BIN, 'start', '-c', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  master.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  t.after(() => {
    killAll([master.pid!, ...[...log.matchAll(/child (\d+) started/g)].map((m) => Number(m[1]))]);
  });
  await waitFor(`poold (as nobody) to serve\n${log}`, () => log.includes('ready to handle connections'), 15_000);
  assert.match(log, /NOTICE: \[\S+:\d+\] \[pool www\] 'user' directive is ignored when poold is not running as root/);
  assert.match(log, /NOTICE: \[\S+:\d+\] \[pool www\] 'group' directive is ignored when poold is not running as root/);
  const seen = JSON.parse((await get(port, '/')).body) as { uid: number; gid: number };
  assert.deepEqual([seen.uid, seen.gid], [NOBODY, NOBODY]);
});

/**
 * Debian's stock files, copied into `dir` with only the edits a test needs:
 * its own paths for the include and the pid file, the error log on stderr (where
 * the test reads it), no status listener, `app` added to the pool, and `listen`
 * moved when `listen` is given. Returns the main file's text; both files are in `dir`.
 */
function debianConfig(dir: string, listen: string | null): string {
  const main = readFileSync(path.join(DEBIAN, 'php-fpm.conf'), 'utf8')
    .replace('include=/etc/php/8.2/fpm/pool.d/*.conf', `include=${dir}/pool.d/*.conf`)
    .replace('pid = /run/php/php8.2-fpm.pid', `pid = ${dir}/php8.2-fpm.pid`)
    .replace('error_log = /var/log/php8.2-fpm.log', 'status.listen = none');
  let pool = readFileSync(path.join(DEBIAN, 'pool.d/www.conf'), 'utf8');
  pool = pool.replace('listen = /run/php/php8.2-fpm.sock', `listen = ${listen ?? `${dir}/php8.2-fpm.sock`}`);
  pool = pool.replace('[www]\n', `[www]\napp = ${path.join(FIXTURES, 'identity-app.js')}\n`);
  mkdirSync(path.join(dir, 'pool.d'));
  writeFileSync(path.join(dir, 'pool.d/www.conf'), pool);
  writeFileSync(path.join(dir, 'php-fpm.conf'), main);
  return main;
}

/** www-data's uid and gid, from NSS. */
async function wwwData(): Promise<[number, number]> {
  const entry = (await runCommand('getent', ['passwd', 'www-data'])).stdout.split(':');
  return [Number(entry[2]), Number(entry[3])];
}

test("Debian's stock php-fpm.conf and www.conf, with app added and listen on loopback: poold test passes, the pool serves as www-data", asRoot, async (t) => {
  const port = await freePort();
  const dir = sharedDir(t);
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const main = debianConfig(dir, `127.0.0.1:${port}`);
  const tested = await runPoold(['test', '-c', path.join(dir, 'php-fpm.conf')]);
  assert.equal(tested.code, 0, tested.stderr);
  assert.doesNotMatch(tested.stderr, /ERROR|WARNING/);

  poold = await startPoold(main);
  const seen = JSON.parse((await get(port, '/')).body) as { uid: number; gid: number };
  assert.deepEqual([seen.uid, seen.gid], await wwwData());
});

test("Debian's socket named after its pid file (php8.2-fpm.sock beside php8.2-fpm.pid) stays the pool's; the control socket is apart", asRoot, async (t) => {
  const dir = sharedDir(t);
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(debianConfig(dir, null));
  const socketPath = path.join(dir, 'php8.2-fpm.sock');
  const response = await getFrom({ socketPath }, '/');
  assert.equal(response.status, 200, 'the pool answers on its socket');
  const [uid, gid] = await wwwData();
  assert.deepEqual([statSync(socketPath).uid, statSync(socketPath).gid], [uid, gid], 'listen.owner and listen.group');
  const status = await runPoold(['status', '--pid', path.join(dir, 'php8.2-fpm.pid')]);
  assert.equal(status.code, 0, status.stderr);
  assert.ok(statSync(path.join(dir, 'php8.2-fpm.control')).isSocket());

  // A pool socket where the control socket goes is refused, at its line.
  const control = path.join(dir, 'php8.2-fpm.control');
  const clashing = path.join(dir, 'pool.d/www.conf');
  writeFileSync(clashing, readFileSync(clashing, 'utf8').replace(`listen = ${socketPath}`, `listen = ${control}`));
  const line = readFileSync(clashing, 'utf8').split('\n').indexOf(`listen = ${control}`) + 1;
  const main = path.join(dir, 'php-fpm.conf');
  const pidLine = readFileSync(main, 'utf8').split('\n').findIndex((l) => l.startsWith('pid = ')) + 1;
  const refused = await runPoold(['test', '-c', main]);
  assert.equal(refused.code, 78, refused.stderr);
  assert.ok(
    refused.stderr.includes(
      `ERROR: [${clashing}:${line}] [pool www] 'listen' = '${control}' is already used by the control socket next to 'pid' (${main}:${pidLine})`,
    ),
    refused.stderr,
  );
});
