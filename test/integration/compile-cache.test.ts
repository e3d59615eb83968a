// On Node >= 22.1 workers keep the app's compiled code in a directory of
// their user's alone, under the runtime directory, for the pool's next workers.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { FIXTURES, cleanup, freePort, get, globalSection, poolSection, startPoold, tempDir } from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'app.js');
const NOBODY = 65534; // nobody:nogroup on Debian
const withCompileCache = {
  skip: typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function'
    ? false
    : `Node ${process.version} has no module compile cache (module.enableCompileCache, Node >= 22.1)`,
};
const asRootWithCompileCache = { skip: withCompileCache.skip || (process.getuid!() !== 0 ? 'needs root' : false) };

/** A runtime directory as systemd makes it (RuntimeDirectoryMode=0755), removed after the test. */
function runtimeDirectory(t: TestContext): string {
  const dir = tempDir('poold-runtime-');
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts poold with one pool, serves one request, stops it gracefully (workers write their cache as they exit). */
async function serveOnce(t: TestContext, runtime: string, extra = ''): Promise<string[]> {
  const port = await freePort();
  const poold = await startPoold(globalSection() + poolSection('www', port, APP, `pm.max_children = 1\n${extra}`), {
    env: { RUNTIME_DIRECTORY: runtime },
  });
  t.after(() => cleanup(poold));
  assert.equal((await get(port, '/')).status, 200);
  process.kill(poold.pid, 'SIGTERM');
  assert.equal(await poold.exited, 0);
  return poold.lines;
}

/** The cache entries Node wrote under `dir` (it keeps them in a subdirectory per Node version). */
function entries(dir: string): string[] {
  return readdirSync(dir).flatMap((version) => readdirSync(path.join(dir, version)));
}

const mode = (file: string): number => statSync(file).mode & 0o777;

test('workers cache compiled code in a directory of their own under the runtime directory', withCompileCache, async (t) => {
  const runtime = runtimeDirectory(t);
  await serveOnce(t, runtime);
  const root = path.join(runtime, 'compile-cache');
  const mine = path.join(root, String(process.geteuid!()));
  assert.equal(mode(root), 0o711, "the root: the pools' users may pass, not list or write");
  assert.equal(mode(mine), 0o700, "the user's cache: theirs alone");
  assert.equal(statSync(mine).uid, process.geteuid!());
  assert.ok(entries(mine).length > 0, `no compile cache entries in ${mine}`);
});

test('a cache directory others could write to is not used', withCompileCache, async (t) => {
  const runtime = runtimeDirectory(t);
  const mine = path.join(runtime, 'compile-cache', String(process.geteuid!()));
  mkdirSync(mine, { recursive: true });
  chmodSync(mine, 0o777);
  const lines = await serveOnce(t, runtime);
  assert.ok(
    lines.some((line) => line.includes(`not using compile cache directory '${mine}': its mode is 777, more than 700`)),
    lines.join('\n'),
  );
  assert.deepEqual(readdirSync(mine), [], 'nothing was written to it');
  assert.equal(mode(mine), 0o777, 'it is left as it is');
});

test('as root with user = nobody: the cache directory is nobody\'s', asRootWithCompileCache, async (t) => {
  const runtime = runtimeDirectory(t);
  await serveOnce(t, runtime, 'user = nobody\n');
  const theirs = path.join(runtime, 'compile-cache', String(NOBODY));
  assert.equal(statSync(theirs).uid, NOBODY);
  assert.equal(mode(theirs), 0o700);
  assert.ok(entries(theirs).length > 0, `no compile cache entries in ${theirs}`);
});
