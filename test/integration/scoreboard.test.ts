// The scoreboard as the master's user sees it through /proc/<master pid>/fd:
// it shows a worker stuck in synchronous code, what it runs and for how long,
// while it is stuck.
import assert from 'node:assert/strict';
import { cpSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileSize } from '../../src/scoreboard/layout.js';
import { EXIT } from '../../src/control/exit-codes.js';
import { requestLog, waitExit, waitLogEnd, writeConfig } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import {
  FIXTURES,
  ROOT,
  cleanup,
  freePort,
  get,
  globalSection,
  poolSection,
  startPoold,
  tempDir,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';
import { readScoreboard, scoreboardFile, slotsIn, workerSlots } from '../helpers/scoreboard.js';

const APP = path.join(FIXTURES, 'app.js');

test('while a worker is blocked, its slot shows Running, the request, and a growing duration', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() +
      `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 2\n` +
      `env[REQUEST_LOG] = @DIR@/requests.log\n`,
  );
  const file = scoreboardFile(poold)!;
  assert.ok(file?.startsWith(`/proc/${poold.pid}/fd/`), `the master holds the scoreboard: ${file}`);
  // A header and 2 × pm.max_children slots.
  assert.equal(statSync(file).size, fileSize(4));

  const idle = await waitFor('both workers idle', () => {
    const snapshot = readScoreboard(file);
    return snapshot && slotsIn(snapshot, 'Idle').length === 2 ? snapshot : undefined;
  });
  assert.equal(idle.header.pool, 'www');
  assert.equal(idle.header.pm, 'static');
  assert.equal(idle.header.maxChildren, 2);
  assert.equal(idle.header.slotCount, 4);
  assert.deepEqual(new Set(workerSlots(idle).map((slot) => slot.pid)), new Set(poold.workerPids()));

  const blocked = get(port, '/block?ms=3000', 15_000);
  const [logged] = await waitFor('the request to reach a worker', () => requestLog(poold!.dir).length === 1 && requestLog(poold!.dir));
  const pid = Number(logged!.split(' ')[1]);

  const first = readScoreboard(file);
  const firstAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const second = readScoreboard(file);
  const secondAt = Date.now();

  const readings = [
    { snapshot: first, at: firstAt },
    { snapshot: second, at: secondAt },
  ].map(({ snapshot, at }) => {
    const slot = workerSlots(snapshot).find((candidate) => candidate.pid === pid);
    assert.ok(slot, `worker ${pid} has a slot: ${JSON.stringify(snapshot?.slots)}`);
    assert.equal(slot.state, 'Running');
    assert.equal(slot.method, 'GET');
    assert.equal(slot.uri, '/block?ms=3000');
    assert.equal(slot.active, 1);
    assert.ok(slot.requests >= 1);
    return { slot, durationMs: at - slot.requestStart };
  });
  const [a, b] = readings as [(typeof readings)[0], (typeof readings)[0]];
  assert.equal(a.slot.requestStart, b.slot.requestStart, 'the same request');
  assert.ok(a.durationMs >= 0, `duration ${a.durationMs}`);
  assert.ok(b.durationMs > a.durationMs, `the duration grows: ${a.durationMs} ms, then ${b.durationMs} ms`);
  // The other worker is idle and untouched by the blocked one.
  assert.equal(slotsIn(second, 'Idle').length, 1);

  const response = await blocked;
  assert.equal(response.status, 200);
  const after = await waitFor('the slot back to Idle', () => {
    const slot = workerSlots(readScoreboard(file)).find((candidate) => candidate.pid === pid);
    return slot?.state === 'Idle' && slot;
  });
  assert.equal(after.uri, '/block?ms=3000', 'the last request stays visible');
  // The last request's duration, in µs: about 3 s.
  assert.ok(after.requestDuration >= 2_900_000, `requestDuration ${after.requestDuration} µs`);
  await waitFor('the header to count the accepted connection', () => readScoreboard(file)?.header.acceptedConn === 1, 3000);
});

test('without the native helper (no compiler at install), poold start and poold test fail at once and say what to install', async (t) => {
  // The package as a machine with no prebuild for it and no python3/make/g++
  // leaves it: no build/, no prebuilds/.
  const pkg = tempDir('poold-no-helper-');
  cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  const config = globalSection() + poolSection('www', await freePort(), APP);
  const { dir, file } = writeConfig(config);
  let poold: RunningPoold | undefined;
  t.after(async () => {
    await cleanup(poold);
    rmSync(pkg, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const bin = path.join(pkg, 'dist/bin/poold.js');
  const missing = `${realpathSync(pkg)}/build/Release/poold.node`;
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const message = new RegExp(
    literal(`ERROR: poold's native helper is missing: the package has no prebuilt one for ${process.platform}-${process.arch} `) +
      '\\((glibc|musl)\\)' +
      literal(
        ` and it was not built from source (no ${missing}); install python3, make and g++ ` +
          `(Debian: apt-get install python3 make g++), then run npm rebuild --build-from-source where poold is installed`,
      ) +
      '\\n?$',
  );

  const tested = await runCommand(process.execPath, [bin, 'test', '-c', file], { timeoutMs: 10_000 });
  assert.equal(tested.code, EXIT.UNAVAILABLE, tested.stderr);
  assert.match(tested.stderr, message);
  assert.equal(tested.stderr.split('\n').length, 2, 'one line');
  assert.equal(tested.stdout, '');

  // One line and out, before the configuration is even read: no pool, no worker.
  poold = await startPoold(config, { bin, noWait: true });
  assert.equal(await waitExit(poold, 10_000), EXIT.UNAVAILABLE);
  await waitLogEnd(poold);
  assert.equal(poold.lines.length, 1, poold.lines.join('\n'));
  assert.match(poold.lines[0]!, message);
});
