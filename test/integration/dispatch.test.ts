import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  startPoold,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

function requestLog(poold: RunningPoold): string[] {
  try {
    return readFileSync(path.join(poold.dir, 'requests.log'), 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function pool(port: number, maxChildren: number, extra = ''): string {
  return (
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = ${maxChildren}\n` +
    `env[REQUEST_LOG] = @DIR@/requests.log\n${extra}\n`
  );
}

test('serves requests from a static pool, a plain listener app too', async (t) => {
  const [port, plainPort] = [await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() +
      pool(port, 2) +
      `[plain]\nlisten = 127.0.0.1:${plainPort}\napp = ${path.join(FIXTURES, 'plain-listener.js')}\npm = static\npm.max_children = 1\n`,
  );
  assert.equal(poold.workerPids().length, 3);
  const response = await get(port, '/');
  assert.equal(response.status, 200);
  assert.ok(poold.workerPids().includes(Number(response.body.trim())), 'answered by one of the workers');
  const plain = await get(plainPort, '/');
  assert.equal(plain.body, 'plain listener\n');
});

test('idle-first: fast requests never wait behind blocked workers', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + pool(port, 4));
  const events: string[] = [];
  const blocked = [1, 2, 3].map((i) =>
    get(port, `/block?ms=6000&i=${i}`, 30_000).then((r) => {
      events.push('blocked-done');
      return r;
    }),
  );
  await waitFor('three blocking requests to reach workers', () => requestLog(poold!).length === 3);
  const blockedPids = new Set(requestLog(poold).map((line) => Number(line.split(' ')[1])));
  assert.equal(blockedPids.size, 3, 'each blocking request went to a different worker');

  const fast = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      get(port, `/?fast=${i}`, 30_000).then((r) => {
        events.push('fast-done');
        return r;
      }),
    ),
  );
  for (const response of fast) {
    assert.equal(response.status, 200);
    assert.ok(!blockedPids.has(Number(response.body.trim())), 'a fast request was sent to a blocked worker');
  }
  assert.deepEqual(events, Array(20).fill('fast-done'), 'all fast requests finished before any blocked one');
  await Promise.all(blocked);
});

test('queues in FIFO order when every worker is busy, and fails nothing', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + pool(port, 1));
  const first = get(port, '/block?ms=1500', 30_000);
  await waitFor('the blocking request to reach the worker', () => requestLog(poold!).length === 1);
  const queued: { response: Promise<unknown> }[] = [];
  for (let i = 0; i < 10; i++) {
    // Each request is fully sent before the next connects, so arrival order is known.
    queued.push(
      await new Promise<{ response: Promise<unknown> }>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: `/echo?v=${i}`, agent: false });
        const response = new Promise((done, fail) => {
          req.on('response', (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => done({ status: res.statusCode, body }));
          });
          req.on('error', fail);
        });
        req.on('finish', () => resolve({ response }));
      }),
    );
  }
  const results = (await Promise.all(queued.map((q) => q.response))) as { status: number; body: string }[];
  assert.deepEqual(
    results.map((r) => [r.status, r.body]),
    Array.from({ length: 10 }, (_, i) => [200, String(i)]),
  );
  const order = requestLog(poold)
    .slice(1)
    .map((line) => line.split(' ')[0]);
  assert.deepEqual(order, Array.from({ length: 10 }, (_, i) => `/echo?v=${i}`), 'served in arrival order');
  await first;
});
