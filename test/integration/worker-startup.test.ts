// What a worker loads before its app: nothing that a bare `node` running the
// same app would not, beyond what serving needs (docs/benchmarks.md#cold-start).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { FIXTURES, cleanup, freePort, get, globalSection, poolSection, startPoold, type RunningPoold } from '../helpers/poold.js';

const MODULE_LIST_APP = path.join(FIXTURES, 'module-list-app.js');

// On Node >= 22 an ESM import of node:http reads its lazy WebSocket getter,
// which loads undici (about 40 ms of CPU): the worker must not pay it for an
// app that never uses it. (Node 20's node:http has no such getter.)
test('a worker does not load undici for an app that does not use it', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + poolSection('www', port, MODULE_LIST_APP));
  const loaded = JSON.parse((await get(port, '/')).body) as string[];
  assert.ok(loaded.includes('NativeModule http'), 'the list is the worker\'s');
  assert.deepEqual(loaded.filter((name) => name.includes('undici')), []);
});
