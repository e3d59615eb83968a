// The command line, run as a user would: exit codes (sysexits, as FPM) and
// messages of start, stop and test, on good and broken setups.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { deadPid, isRunning, runPoold, waitExit, writeConfig } from '../helpers/cli.js';
import {
  FIXTURES,
  ROOT,
  cleanup,
  freePort,
  get,
  globalSection,
  poolSection,
  startPoold,
  type RunningPoold,
} from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

function goodConfig(port: number): string {
  return globalSection() + poolSection('www', port, APP);
}

/** A config whose pm.max_children is invalid. */
function badConfig(port: number): string {
  return goodConfig(port).replace('pm.max_children = 2', 'pm.max_children = lots');
}

test('a broken config: start and test exit 78 naming file:line and the key', async (t) => {
  const port = await freePort();
  const { dir, file } = writeConfig(badConfig(port));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const line = readFileSync(file, 'utf8').split('\n').indexOf('pm.max_children = lots') + 1;
  assert.ok(line > 0);
  const expected = `ERROR: [${file}:${line}] [pool www] unable to parse value for entry 'pm.max_children': is not a valid number`;

  const checked = await runPoold(['test', '-c', file]);
  assert.equal(checked.code, 78);
  assert.ok(checked.stderr.includes(expected), checked.stderr);
  assert.ok(checked.stderr.includes(`configuration file ${file} test failed`), checked.stderr);

  const started = await runPoold(['start', '-c', file]);
  assert.equal(started.code, 78);
  assert.ok(started.stderr.includes(expected), started.stderr);
  assert.ok(!existsSync(path.join(dir, 'poold.pid')), 'no pid file');
  assert.doesNotMatch(started.stderr, /child \d+ started/, 'no worker started');
});

test('poold test on a good config: success message, --dump prints the effective config', async (t) => {
  const port = await freePort();
  const { dir, file } = writeConfig(goodConfig(port));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const checked = await runPoold(['test', '-c', file]);
  assert.equal(checked.code, 0);
  assert.match(checked.stderr, new RegExp(`NOTICE: configuration file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} test is successful`));
  assert.equal(checked.stdout, '');

  const dumped = await runPoold(['test', '-c', file, '--dump']);
  assert.equal(dumped.code, 0);
  const lines = dumped.stdout.split('\n');
  for (const expected of [
    '[global]',
    `pid = ${dir}/poold.pid`,
    'process_control_timeout = 3s',
    '[www]',
    `listen = 127.0.0.1:${port}`,
    `app = ${APP}`,
    'pm = static',
    'pm.max_children = 2',
    // Defaults, filled in.
    'pm.max_concurrency = 1',
    'http.headers_timeout = 60s',
    'listen.backlog = 511',
  ]) {
    assert.ok(lines.includes(expected), `--dump lacks '${expected}':\n${dumped.stdout}`);
  }
  // The dump is itself a valid config.
  const again = writeConfig(dumped.stdout);
  t.after(() => rmSync(again.dir, { recursive: true, force: true }));
  assert.equal((await runPoold(['test', '-c', again.file])).code, 0);
});

test('poold test loads each pool\'s app as its workers would: a bad export or a throw at load fails it, naming the pool', async (t) => {
  const [a, b, c, d] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const { dir, file } = writeConfig(
    globalSection() +
      poolSection('good', a, APP) +
      poolSection('export', b, path.join(FIXTURES, 'bad-export.js')) +
      poolSection('throws', c, path.join(FIXTURES, 'throws-at-load.js')) +
      // The app sees its pool's env[], as a worker would: here it breaks on it.
      poolSection('env', d, path.join(FIXTURES, 'breaks-on-marker.js'), 'env[BREAK_MARKER] = @DIR@/poold.conf'),
  );
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const checked = await runPoold(['test', '-c', file]);
  assert.equal(checked.code, 78, checked.stderr);
  const errors = checked.stderr.split('\n').filter((line) => line.startsWith('ERROR: '));
  assert.deepEqual(errors, [
    `ERROR: [pool export] the app ${path.join(FIXTURES, 'bad-export.js')} cannot be loaded: TypeError: ${path.join(FIXTURES, 'bad-export.js')}: the default export is a number. Export a request listener (\`export default app\` for Express), \`{ handler, init?, shutdown? }\`, a Koa, Fastify or Hono app (\`export default app\`), an object with fetch(request), or an http.Server (docs/apps.md)`,
    `ERROR: [pool throws] the app ${path.join(FIXTURES, 'throws-at-load.js')} cannot be loaded: Error: broken deploy: cannot load app`,
    `ERROR: [pool env] the app ${path.join(FIXTURES, 'breaks-on-marker.js')} cannot be loaded: Error: broken deploy: cannot load app`,
    `ERROR: configuration file ${file} test failed`,
  ]);
});

test('--help and --version exit 0; an unknown command or option exits 64', async () => {
  const help = await runPoold(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: poold/);
  for (const command of ['start', 'stop', 'test']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));

  const version = await runPoold(['--version']);
  assert.equal(version.code, 0);
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.stdout.trim(), manifest.version);

  const unknownCommand = await runPoold(['frobnicate']);
  assert.equal(unknownCommand.code, 64);
  assert.match(unknownCommand.stderr, /unknown command 'frobnicate'/);

  const unknownOption = await runPoold(['start', '--frobnicate']);
  assert.equal(unknownOption.code, 64);
  assert.match(unknownOption.stderr, /unknown option '--frobnicate'/);
});

test('poold stop: stops a running master (exit 0) and its workers', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(goodConfig(port));
  const workers = poold.workerPids();
  const stopped = await runPoold(['stop', '-c', path.join(poold.dir, 'poold.conf')]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, new RegExp(`poold \\(pid ${poold.pid}\\) stopped`));
  // stop returns once the master is gone.
  assert.ok(!isRunning(poold.pid), 'the master is gone when stop returns');
  assert.equal(await waitExit(poold, 5000), 0);
  assert.ok(workers.every((pid) => !isRunning(pid)), 'no worker left');
  assert.ok(!existsSync(path.join(poold.dir, 'poold.pid')));
});

test('poold stop with nothing running (exit 69) and with a stale pid file (exit 69, says stale)', async (t) => {
  const port = await freePort();
  const { dir, file } = writeConfig(goodConfig(port));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = path.join(dir, 'poold.pid');

  const none = await runPoold(['stop', '-c', file]);
  assert.equal(none.code, 69);
  assert.match(none.stderr, new RegExp(`poold is not running \\(no pid file at ${pidFile}\\)`));

  const gone = await deadPid();
  writeFileSync(pidFile, `${gone}\n`);
  const stale = await runPoold(['stop', '-c', file]);
  assert.equal(stale.code, 69);
  assert.match(stale.stderr, /stale pid file/);
  assert.ok(stale.stderr.includes(`pid ${gone} is gone`), stale.stderr);
});

test('address already in use: start exits 69 with a clear message', async (t) => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const { dir, file } = writeConfig(goodConfig(port));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const started = await runPoold(['start', '-c', file]);
  assert.equal(started.code, 69);
  assert.ok(
    started.stderr.includes(
      `[pool www] unable to bind listening socket for address '127.0.0.1:${port}': Address already in use`,
    ),
    started.stderr,
  );
  assert.doesNotMatch(started.stderr, /child \d+ started/);
  assert.ok(!existsSync(path.join(dir, 'poold.pid')), 'no pid file left behind');
});

test('a second start on the same config is refused while the first runs', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(goodConfig(port));
  const second = await runPoold(['start', '-c', path.join(poold.dir, 'poold.conf')]);
  assert.equal(second.code, 69);
  assert.match(second.stderr, new RegExp(`poold is already running \\(pid ${poold.pid}`));
  assert.doesNotMatch(second.stderr, /child \d+ started/);
  // The first one is untouched: still its pid file, still serving.
  assert.equal(readFileSync(path.join(poold.dir, 'poold.pid'), 'utf8').trim(), String(poold.pid));
  assert.equal((await get(port, '/')).status, 200);
});
