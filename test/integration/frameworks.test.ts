// Express, Koa, Fastify and Hono apps, each exported as its framework has it
// (`export default app`), through a real daemon: a JSON route, a blocking
// route that holds one worker while the other answers, a 5 MB POST echoed
// back, and the framework's own shutdown on a graceful stop.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { waitExit } from '../helpers/cli.js';
import { cleanup, FIXTURES, globalSection, startPoold, type RunningPoold } from '../helpers/poold.js';
import { pollUntil } from '../helpers/status.js';

const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono'] as const;

interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

function call(socketPath: string, method: string, urlPath: string, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: urlPath,
        agent: false,
        timeout: 20_000,
        headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

test('Express, Koa, Fastify and Hono apps exported as they are: JSON, a blocking route beside a fast one, a 5 MB echo, shutdown', async (t) => {
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const pools = FRAMEWORKS.map(
    (name) =>
      `[${name}]\nlisten = @DIR@/${name}.sock\napp = ${path.join(FIXTURES, 'frameworks', `${name}.js`)}\n` +
      `pm = static\npm.max_children = 2\npm.status_path = /${name}\nenv[SHUTDOWN_MARKER] = @DIR@/shutdown-${name}.log\n`,
  );
  poold = await startPoold(globalSection() + pools.join('\n'));
  const payload = randomBytes(5 * 1024 * 1024);

  for (const name of FRAMEWORKS) {
    const socketPath = path.join(poold.dir, `${name}.sock`);
    const json = await call(socketPath, 'GET', '/json');
    assert.equal(json.status, 200, `${name}: ${json.body.toString()}`);
    assert.match(json.type, /^application\/json/, name);
    assert.equal((JSON.parse(json.body.toString()) as { framework: string }).framework, name);

    // One worker blocks for 300 ms; the other answers meanwhile.
    const finished: string[] = [];
    const blocked = call(socketPath, 'GET', '/block?ms=300').then((answer) => {
      finished.push('block');
      return answer;
    });
    await pollUntil(`${name}: the blocking request to run in a worker`, async () => {
      const status = await call(path.join(poold!.dir, 'status.sock'), 'GET', `/${name}?json`);
      return (JSON.parse(status.body.toString()) as Record<string, number>)['active processes'] === 1;
    });
    const fast = await call(socketPath, 'GET', '/json');
    finished.push('fast');
    assert.equal((await blocked).status, 200);
    assert.equal(fast.status, 200);
    assert.deepEqual(finished, ['fast', 'block'], `${name}: the fast request did not wait behind the blocking one`);

    const echo = await call(socketPath, 'POST', '/echo', payload);
    assert.equal(echo.status, 200, `${name}: ${echo.body.subarray(0, 200).toString()}`);
    assert.equal(echo.body.length, payload.length, `${name}: echo length`);
    assert.equal(sha256(echo.body), sha256(payload), `${name}: echo bytes`);
  }

  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await waitExit(poold, 20_000), 0);
  // Fastify's close() ran in each worker: its onClose hook wrote the marker.
  const closed = readFileSync(path.join(poold.dir, 'shutdown-fastify.log'), 'utf8').split('\n').filter(Boolean);
  assert.equal(closed.length, 2, 'both Fastify workers closed their app');
});
