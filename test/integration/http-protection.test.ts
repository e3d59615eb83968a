// Slow clients (slowloris): http.headers_timeout cuts a client that sends its
// request line or headers too slowly, while the same worker keeps serving.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { exchange } from '../helpers/clients.js';
import { FIXTURES, cleanup, freePort, get, globalSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

// One worker, so every request provably reaches the same one; two requests at
// a time, so the slow client does not hold its only slot.
function config(port: number): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\n` +
    `pm.max_concurrency = 2\nhttp.headers_timeout = 1s\n`
  );
}

const slowClients = [
  {
    name: 'a request line sent one byte at a time',
    chunks: [...'GET /slow HTTP/1.1\r\nHost: localhost\r\n'].concat(Array(200).fill('X')),
    intervalMs: 100,
  },
  {
    name: 'headers that never end',
    chunks: ['GET /slow HTTP/1.1\r\nHost: localhost\r\n'].concat(
      Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: y\r\n`),
    ),
    intervalMs: 200,
  },
];

for (const { name, chunks, intervalMs } of slowClients) {
  test(`headers_timeout cuts ${name}; the same worker serves others meanwhile`, async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await startPoold(config(port));
    const [workerPid] = poold.workerPids();

    const events: string[] = [];
    // It would trickle for 20 s; it must be cut long before (the 10 s bound).
    const slow = exchange({ port }, chunks, 10_000, intervalMs).then((result) => {
      events.push('slow-cut');
      return result;
    });
    // In parallel, on the same worker, until the slow client is cut.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const served: number[] = [];
    for (let i = 0; i < 200 && !events.includes('slow-cut'); i++) {
      const response = await get(port, `/?i=${i}`, 10_000);
      assert.equal(response.status, 200);
      served.push(Number(response.body.trim()));
      events.push('served');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = await slow;
    t.diagnostic(`slow client cut after ${Math.round(result.elapsedMs)} ms with ${JSON.stringify(result.data.split('\r\n')[0])}`);

    assert.ok(result.data === '' || result.data.startsWith('HTTP/1.1 408 '), `got ${JSON.stringify(result.data)}`);
    assert.ok(result.elapsedMs >= 900, `cut after ${result.elapsedMs} ms, before the 1 s timeout`);
    assert.equal(events[0], 'served', 'a normal request was served while the slow client was connected');
    assert.deepEqual(new Set(served), new Set([workerPid]));

    // Still the same, healthy worker.
    const after = await get(port, '/');
    assert.equal(Number(after.body.trim()), workerPid);
    assert.deepEqual(poold.workerPids(), [workerPid]);
  });
}
