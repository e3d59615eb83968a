// The master's queue of connections waiting for a free worker, bounded:
// listen.queue_max refuses the excess with 503 at once, listen.queue_timeout
// answers 503 to a connection that waited too long. Nothing hangs.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { requestLog } from '../helpers/cli.js';
import { within } from '../helpers/clients.js';
import { FIXTURES, cleanup, freePort, get, globalSection, startPoold, waitFor, type Response, type RunningPoold } from '../helpers/poold.js';
import { board } from '../helpers/scoreboard.js';

const APP = path.join(FIXTURES, 'app.js');

function config(port: number, extra: string): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = static\npm.max_children = 1\n` +
    `env[REQUEST_LOG] = @DIR@/requests.log\n${extra}\n`
  );
}

/** A GET whose outcome is recorded in `events` as `${name}:${status}` when it arrives. */
function tracked(port: number, urlPath: string, name: string, events: string[]): Promise<Response> {
  return get(port, urlPath, 20_000).then((response) => {
    events.push(`${name}:${response.status}`);
    return response;
  });
}

/** Sends a request and resolves once its bytes are written; `response` settles later. */
function sent(port: number, urlPath: string, name: string, events: string[]): Promise<{ response: Promise<Response> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 20_000 });
    const response = new Promise<Response>((done, fail) => {
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          events.push(`${name}:${res.statusCode}`);
          done({ status: res.statusCode!, headers: res.headers, body });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${urlPath} timed out`)));
      req.on('error', fail);
    });
    req.on('error', reject);
    req.on('finish', () => resolve({ response }));
  });
}

/** Resolves once the worker runs `/block`; `response` settles when the block ends. */
async function blockTheWorker(poold: RunningPoold, port: number, ms: number, events: string[]): Promise<{ response: Promise<Response> }> {
  const response = tracked(port, `/block?ms=${ms}`, 'blocker', events);
  await waitFor('the blocking request to reach the worker', () => requestLog(poold.dir).length === 1);
  return { response };
}

test('listen.queue_max = 2: with 2 queued, the next connection gets 503 at once; the queued ones are served', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, 'listen.queue_max = 2'));
  const events: string[] = [];
  const { response: blocker } = await blockTheWorker(poold, port, 4000, events);

  const queued = [await sent(port, '/echo?v=1', 'q1', events), await sent(port, '/echo?v=2', 'q2', events)];
  // The master's queue length, as the header shows it on each tick.
  await waitFor('2 connections in the queue', () => board(poold!)?.header.listenQueue === 2, 3000);

  const refused = await tracked(port, '/echo?v=3', 'over', events);
  assert.equal(refused.status, 503);
  assert.equal(refused.body, '503 Service Unavailable\n');
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(refused.headers.connection, 'close');
  assert.deepEqual(events, ['over:503'], 'refused while the worker was still blocked and before any queued one');

  const another = await tracked(port, '/echo?v=4', 'over2', events);
  assert.equal(another.status, 503, 'still full: refused again');

  const [first, second] = await Promise.all(queued.map((q) => q.response));
  assert.equal((await blocker).status, 200);
  assert.deepEqual([first!.status, first!.body, second!.status, second!.body], [200, '1', 200, '2']);
  assert.deepEqual(events, ['over:503', 'over2:503', 'blocker:200', 'q1:200', 'q2:200']);
  // The refused ones never reached a worker.
  assert.deepEqual(
    requestLog(poold.dir).map((line) => line.split(' ')[0]),
    ['/block?ms=4000', '/echo?v=1', '/echo?v=2'],
  );
  await waitFor('the maximum queue length in the header', () => board(poold!)?.header.maxListenQueue === 2, 3000);
});

test('listen.queue_timeout = 1s: a queued connection gets 503 long before the blocked worker is free', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, 'listen.queue_timeout = 1s'));
  const events: string[] = [];
  const { response: blocker } = await blockTheWorker(poold, port, 4000, events);

  const startedAt = performance.now();
  const waited = await tracked(port, '/echo?v=late', 'queued', events);
  const elapsed = performance.now() - startedAt;
  assert.equal(waited.status, 503);
  assert.equal(waited.headers['retry-after'], '1');
  assert.deepEqual(events, ['queued:503'], 'answered before the blocker finished');
  assert.ok(elapsed >= 900, `it did wait for the queue timeout first (${Math.round(elapsed)} ms)`);

  assert.equal((await blocker).status, 200);
  assert.deepEqual(events, ['queued:503', 'blocker:200']);
  // The worker is fine and the timed-out request never reached it.
  const next = await get(port, '/echo?v=next');
  assert.equal(next.status, 200);
  assert.deepEqual(
    requestLog(poold.dir).map((line) => line.split(' ')[0]),
    ['/block?ms=4000', '/echo?v=next'],
  );
});

// A graceful stop serves every connection already accepted, those whose request
// head the master is still reading too: the workers are told to stop only once
// no head is pending. The client here sends its request only after the stop
// began and the busy worker finished.
test('graceful stop: a connection accepted before the stop is served even if its request arrives after it', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  const client = new net.Socket();
  t.after(async () => {
    client.destroy();
    await cleanup(poold);
  });
  poold = await startPoold(config(port, ''));
  const events: string[] = [];
  const { response: blocker } = await blockTheWorker(poold, port, 1500, events);
  let received = '';
  const closed = new Promise<void>((resolve) => {
    client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    client.on('error', () => {});
    client.on('close', () => resolve());
  });
  await new Promise<void>((resolve) => client.connect(port, '127.0.0.1', resolve));
  await waitFor('the master to read its head', () => board(poold!)?.header.readingHeaders === 1, 3000);

  process.kill(poold.pid, 'SIGTERM');
  await poold.waitForLine(/SIGTERM received, finishing in-flight requests/);
  assert.equal((await blocker).status, 200);
  // Without the rule above, the worker would have been told to stop by now.
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (!client.destroyed) client.write('GET /echo?v=late HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  await within(closed, 10_000, 'the connection to close');
  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nlate$/, `received: ${JSON.stringify(received)}`);
});
