import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadApp } from '../../src/worker/app-loader.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'poold-apps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function module(name: string, source: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return file;
}

describe('loading an app', () => {
  it('takes any object with fetch(request) as a Fetch API app', async () => {
    const app = await loadApp(module('fetch.mjs', 'export default { fetch: () => new Response("hi") };'));
    assert.equal(typeof app.handler, 'function');
    assert.equal(app.init, undefined);
  });

  it('says what it got and which shapes work, naming the file', async () => {
    const file = module('wrong.mjs', 'export default { listen() {} };');
    await assert.rejects(loadApp(file), (err: Error) => {
      assert.ok(err.message.startsWith(`${file}: the default export has no 'handler' function.`), err.message);
      assert.match(err.message, /Export a request listener \(`export default app` for Express\)/);
      return true;
    });
    await assert.rejects(loadApp(module('port.mjs', 'export default 8080;')), /the default export is a number\. Export/);
    await assert.rejects(loadApp(module('none.mjs', 'export const handler = () => {};')), /the default export is missing \(does the module `export default` anything\?\)/);
  });

  it('keeps poold\'s own shape ahead of a framework guess', async () => {
    const app = await loadApp(module('own.mjs', 'export default { handler() {}, fetch() {}, init() {} };'));
    assert.equal(typeof app.init, 'function');
  });
});
