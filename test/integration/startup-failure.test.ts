// An app that cannot start (throws while loading, or its init() rejects):
// the error reaches the log, workers are retried with a growing backoff,
// nothing is served, and the master still stops cleanly.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openRequest, within } from '../helpers/clients.js';
import { lastLine, waitExit, waitLogEnd } from '../helpers/cli.js';
import { FIXTURES, cleanup, freePort, globalSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';

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
];

for (const { fixture, message, frame } of cases) {
  test(`${fixture}: the error is logged, starts back off, nothing is served, SIGTERM still stops`, async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    const app = path.join(FIXTURES, fixture);
    poold = await startPoold(
      globalSection() + `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 1\n`,
      { noWait: true },
    );
    const escapedApp = app.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await poold.waitForLine(new RegExp(`\\[pool www\\] child \\d+ failed to start the app ${escapedApp}: ${message}$`));
    await poold.waitForLine(frame);

    // Backoff: one line per failed start, with a delay that keeps growing.
    const backoff = /\[pool www\] (\d+) child\(ren\) in a row exited before becoming ready; next start in ([\d.]+)s/;
    const attempts = await waitFor('four failed starts', () => {
      const found = poold!.lines.flatMap((line) => {
        const match = backoff.exec(line);
        return match ? [[Number(match[1]), Number(match[2])] as const] : [];
      });
      return found.length >= 4 && found.slice(0, 4);
    });
    assert.deepEqual(
      attempts.map(([count]) => count),
      [1, 2, 3, 4],
    );
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i]![1] > attempts[i - 1]![1], `delays must grow: ${JSON.stringify(attempts)}`);
    }

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
    assert.ok(!poold.lines.some((line) => /ready to handle connections/.test(line)), 'never ready');
  });
}
