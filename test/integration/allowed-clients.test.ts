// listen.allowed_clients: the master drops a client that is not listed before
// any worker sees it; status.allowed_clients takes the same entries.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { getUnix } from '../helpers/clients.js';
import { cleanup, FIXTURES, freePort, globalSection, poolSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

/** A GET from `localAddress`: the status code, or the error code if the connection was dropped. */
function outcome(port: number, urlPath: string, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, localAddress, path: urlPath, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('listen.allowed_clients: a listed address and a listed subnet are served, others are dropped and logged', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() +
      poolSection('www', port, APP, 'listen.allowed_clients = 127.0.0.1, 127.0.1.0/24\npm.status_path = /status'),
  );

  assert.equal(await outcome(port, '/', '127.0.0.1'), 200);
  assert.equal(await outcome(port, '/', '127.0.1.7'), 200, 'in the listed subnet');
  assert.equal(await outcome(port, '/', '127.0.0.2'), 'ECONNRESET', 'dropped without a response, as FPM does');
  await poold.waitForLine(/\[pool www\] Connection disallowed: IP address '127\.0\.0\.2' has been dropped\./);
  // Not counted as accepted, as in FPM: only the two served connections were.
  const status = await getUnix(path.join(poold.dir, 'status.sock'), '/status?json');
  assert.equal((JSON.parse(status.body) as Record<string, unknown>)['accepted conn'], 2);
});

test('status.allowed_clients takes subnets and any', async (t) => {
  const [appPort, subnetPort, anyPort] = [await freePort(), await freePort(), await freePort()];
  const daemons: (RunningPoold | undefined)[] = [];
  t.after(() => Promise.all(daemons.map((d) => cleanup(d))).then(() => undefined));
  daemons.push(
    await startPoold(
      globalSection(`status.listen = 127.0.0.1:${subnetPort}\nstatus.allowed_clients = 127.0.0.0/30`) +
        poolSection('www', appPort, APP),
    ),
  );
  assert.equal(await outcome(subnetPort, '/', '127.0.0.3'), 200);
  assert.equal(await outcome(subnetPort, '/', '127.0.0.4'), 403);

  daemons.push(
    await startPoold(
      globalSection(`status.listen = 127.0.0.1:${anyPort}\nstatus.allowed_clients = any`) +
        poolSection('www', await freePort(), APP),
    ),
  );
  assert.equal(await outcome(anyPort, '/', '127.0.0.9'), 200);
});
