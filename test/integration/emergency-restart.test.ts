// emergency_restart_threshold / emergency_restart_interval: workers that keep
// crashing make the master reload, as in FPM.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { settle } from '../helpers/clients.js';
import { cleanup, FIXTURES, freePort, get, globalSection, poolSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');

test('emergency_restart_threshold crashes within emergency_restart_interval reload poold; stops asked for do not count', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection('emergency_restart_threshold = 3\nemergency_restart_interval = 1m') +
      poolSection('www', port, APP, 'pm.max_requests = 1'),
  );
  // Two workers retired by pm.max_requests (asked to stop), then three crashes.
  for (let i = 0; i < 2; i++) assert.equal((await get(port, '/')).status, 200);
  for (let crash = 1; crash <= 3; crash++) {
    const before = poold.lines.length;
    await settle(get(port, '/crash'));
    await poold.waitForLine(/child \d+ exited on signal 9 \(SIGKILL\)/, 15_000, before);
    if (crash < 3) {
      assert.ok(!poold.lines.some((line) => /threshold/.test(line)), `no reload after ${crash} crash(es):\n${poold.lines.join('\n')}`);
    }
  }
  await poold.waitForLine(/WARNING: failed processes threshold \(3 in 60 sec\) is reached, initiating reload/);
  await poold.waitForLine(/emergency restart: reloading in progress/);
  await poold.waitForLine(/reload complete/);
  assert.equal((await get(port, '/')).status, 200);
});
