// An app that cannot start (throws while loading, init() rejects, an export
// poold cannot use): if the pool's first workers never become ready, the
// start fails with the app's error and a non-zero exit, leaving nothing
// behind. Once a pool has served, a deploy that breaks is retried with a
// growing backoff instead, and the master still stops cleanly.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openRequest, within } from '../helpers/clients.js';
import { isRunning, lastLine, waitExit, waitLogEnd } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, globalSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const cases = [
  {
    fixture: 'throws-at-load.js',
    message: 'Error: broken deploy: cannot load app',
    // The module's top level, in the stack.
    frame: /^\s+at .*throws-at-load\.js:\d+:\d+/,
  },
  {
    fixture: 'init-rejects.js',
    message: 'Error: init failed: database unreachable',
    frame: /^\s+at .*init .*init-rejects\.js:\d+:\d+/,
  },
  {
    fixture: 'bad-export.js',
    message: `TypeError: ${path.join(FIXTURES, 'bad-export.js')}: the default export is a number. Export a request listener`,
    frame: /^\s+at (async )?loadApp /,
  },
];

for (const { fixture, message, frame } of cases) {
  test(`${fixture}: the start fails with the app's error and exit 70, nothing left behind`, async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    const app = path.join(FIXTURES, fixture);
    poold = await startPoold(
      globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 2\n`,
      { noWait: true },
    );
    const failed = new RegExp(`\\[pool www\\] child \\d+ failed to start the app ${escaped(app)}: ${escaped(message)}`);
    await poold.waitForLine(failed);
    await poold.waitForLine(frame);

    assert.equal(await waitExit(poold, 15_000), 70);
    await waitLogEnd(poold);
    assert.match(
      poold.lines.find((line) => /ALERT: \[pool www\]/.test(line)) ?? poold.lines.join('\n'),
      new RegExp(
        `ALERT: \\[pool www\\] the app ${escaped(app)} could not start: 3 children in a row failed before becoming ready; ` +
          `the last: ${escaped(message)}`,
      ),
    );
    assert.match(lastLine(poold), /ALERT: poold initialization failed$/);
    assert.ok(!poold.lines.some((line) => /ready to handle connections/.test(line)), 'never ready');
    assert.ok(!poold.lines.some((line) => /seems busy/.test(line)), 'no "seems busy" while starts fail');
    for (const pid of poold.workerPids()) assert.ok(!isRunning(pid), `worker ${pid} outlived the failed start`);
    for (const file of ['poold.pid', 'poold.control']) {
      assert.ok(!existsSync(path.join(poold.dir, file)), `${file} left behind`);
    }
  });
}

test('a deploy that breaks after the start: replacements back off, nothing is served, no "seems busy", SIGTERM still stops', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const app = path.join(FIXTURES, 'breaks-on-marker.js');
  poold = await startPoold(
    globalSection() +
      `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = dynamic\npm.max_children = 4\n` +
      `pm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2\nenv[BREAK_MARKER] = @DIR@/broken\n`,
  );
  writeFileSync(path.join(poold.dir, 'broken'), '');
  const [worker] = poold.liveWorkerPids();
  process.kill(worker!, 'SIGKILL');

  // Backoff: one line per failed start, with a delay that keeps growing, well
  // past the first start's limit: a pool that has served keeps trying.
  const backoff = /\[pool www\] (\d+) child\(ren\) in a row failed to start; next start in ([\d.]+)s/;
  const attempts = await waitFor(
    'six failed starts',
    () => {
      const found = poold!.lines.flatMap((line) => {
        const match = backoff.exec(line);
        return match ? [[Number(match[1]), Number(match[2])] as const] : [];
      });
      return found.length >= 6 && found.slice(0, 6);
    },
    20_000,
  );
  assert.deepEqual(
    attempts.map(([count]) => count),
    [1, 2, 3, 4, 5, 6],
  );
  for (let i = 1; i < attempts.length; i++) {
    assert.ok(attempts[i]![1] > attempts[i - 1]![1], `delays must grow: ${JSON.stringify(attempts)}`);
  }
  // Six failures take over 3 s of backoff: dynamic's spawn rate would have doubled to 8 by now.
  assert.ok(!poold.lines.some((line) => /seems busy/.test(line)), poold.lines.join('\n'));

  // A connection waits: no answer, not closed, while no worker can serve.
  const waiting = await openRequest({ port }, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  t.after(() => waiting.socket.destroy());
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(waiting.received(), '', 'nothing may answer while no worker is ready');
  assert.ok(!waiting.socket.destroyed && !waiting.socket.readableEnded, 'the connection waits, open');

  const closed = new Promise<void>((resolve) => waiting.socket.once('close', () => resolve()));
  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 15_000), 0);
  // The waiting client is told (503) or let go, not left hanging.
  await within(closed, 5000, 'the queued connection was left open');
  assert.ok(waiting.received() === '' || /^HTTP\/1\.1 503 /.test(waiting.received()), waiting.received());
  await waitLogEnd(poold);
  assert.match(lastLine(poold), /exiting, bye-bye!$/);
});
