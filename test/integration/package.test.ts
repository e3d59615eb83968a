// The package as npm publishes it: npm pack's prepack builds the native helper
// into prebuilds/, the tarball ships them with the sources to build from, and
// a copy that has only the prebuild (no build/: no compiler at install) runs.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCommand } from '../helpers/run.js';
import { FIXTURES, ROOT, cleanup, freePort, get, globalSection, poolSection, startPoold, tempDir, waitFor } from '../helpers/poold.js';
import { writeConfig } from '../helpers/cli.js';

const PREBUILDS = `prebuilds/${process.platform}-${process.arch}`;
/** Not part of a checkout that npm packs: installed, built from source, or built by an earlier pack. */
const LEFT_OUT = new Set(['node_modules', '.git', 'build', 'prebuilds']);

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the npm package', () => {
  let pkg: string;

  before(async () => {
    // A checkout as a release is packed from, with dist/ already built.
    pkg = realpathSync(tempDir('poold-package-'));
    cpSync(ROOT, pkg, { recursive: true, filter: (source) => !LEFT_OUT.has(path.relative(ROOT, source)) });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    const prepack = await runCommand('npm', ['run', '--silent', 'prepack'], { cwd: pkg, timeoutMs: 180_000 });
    assert.equal(prepack.code, 0, `npm run prepack failed:\n${prepack.stderr}\n${prepack.stdout}`);
  });
  after(() => rmSync(pkg, { recursive: true, force: true }));

  it('npm pack ships the prebuilt helpers, the native sources and the built CLI, and no tests or benchmarks', async () => {
    // --ignore-scripts: prepack has run above; prepare would only rebuild dist/.
    const packed = await runCommand('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, timeoutMs: 60_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const [manifest] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    const files = manifest.files.map((file) => file.path);
    for (const expected of [
      `${PREBUILDS}/poold.glibc.node`,
      `${PREBUILDS}/poold.musl.node`,
      'binding.gyp',
      'native/poold.h',
      'native/poold.c',
      'native/map.c',
      'native/channel.c',
      'package.json',
      'README.md',
      'LICENSE',
      'dist/bin/poold.js',
      'dist/src/native/binding.js',
      'dist/src/worker/main.js',
      'systemd/poold.service',
      'docs/operations.md',
      'examples/hello/poold.conf',
    ]) {
      assert.ok(files.includes(expected), `${expected} is packed`);
    }
    // Declarations are a by-product of the src project being referenced by test/ and bench/.
    const unwanted = files.filter(
      (file) => /^(dist\/test|dist\/bench|build|src|test|bench|scripts|node_modules)\//.test(file) || /\.d\.ts$|\.tsbuildinfo$/.test(file),
    );
    assert.deepEqual(unwanted, []);
  });

  it('the prebuilds are a glibc and a musl build, and the musl one loads with musl', async () => {
    const glibc = readFileSync(path.join(pkg, PREBUILDS, 'poold.glibc.node'));
    const musl = readFileSync(path.join(pkg, PREBUILDS, 'poold.musl.node'));
    assert.ok(glibc.includes('GLIBC_'), 'the glibc build has glibc symbol versions');
    assert.ok(!musl.includes('GLIBC_'), 'the musl build has none');

    // No musl Node here: a musl program dlopen()s the helper, with stand-ins
    // for the Node-API and libuv functions it calls. Every libc function it
    // needs must then be musl's, and musl's loader must accept its libc.
    const undefinedSymbols = await runCommand('nm', ['-D', '--undefined-only', path.join(pkg, PREBUILDS, 'poold.musl.node')]);
    assert.equal(undefinedSymbols.code, 0, undefinedSymbols.stderr);
    const fromNode = [...undefinedSymbols.stdout.matchAll(/ U ((?:napi|uv)_\w+)$/gm)].map((match) => match[1]);
    assert.ok(fromNode.includes('napi_create_function'), undefinedSymbols.stdout);
    const host = path.join(pkg, 'musl-host');
    writeFileSync(
      `${host}.c`,
      `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *helper = argc == 2 ? dlopen(argv[1], RTLD_NOW) : NULL;
  if (!helper || !dlsym(helper, "napi_register_module_v1")) {
    fprintf(stderr, "%s\\n", dlerror());
    return 1;
  }
  return 0;
}
${fromNode.map((name) => `void ${name}(void) {}`).join('\n')}
`,
    );
    const compiled = await runCommand('musl-gcc', ['-rdynamic', '-o', host, `${host}.c`]);
    assert.equal(compiled.code, 0, compiled.stderr);
    const loaded = await runCommand(host, [path.join(pkg, PREBUILDS, 'poold.musl.node')]);
    assert.equal(loaded.code, 0, `the musl build does not load with musl: ${loaded.stderr}`);
    const wrong = await runCommand(host, [path.join(pkg, PREBUILDS, 'poold.glibc.node')]);
    assert.notEqual(wrong.code, 0, 'the glibc build does not load with musl');
  });

  it('a copy with the prebuild and no build/ passes poold test and serves, its master and workers mapping the prebuild', async (t) => {
    assert.ok(!existsSync(path.join(pkg, 'build')), 'prepack left no build/ behind');
    const bin = path.join(pkg, 'dist/bin/poold.js');
    const port = await freePort();
    const config = globalSection() + poolSection('www', port, path.join(FIXTURES, 'app.js'));
    const { dir, file } = writeConfig(config);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const tested = await runCommand(process.execPath, [bin, 'test', '-c', file], { timeoutMs: 10_000 });
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stderr, /test is successful/);

    const poold = await startPoold(config, { bin });
    t.after(() => cleanup(poold));
    assert.equal((await get(port, '/')).status, 200);
    const prebuild = new RegExp(` ${literal(`${pkg}/${PREBUILDS}/poold.`)}(glibc|musl)\\.node$`, 'm');
    const workers = poold.liveWorkerPids();
    assert.equal(workers.length, 2, poold.lines.join('\n'));
    // A worker loads the helper as it starts, which may still be under way for the one that did not answer.
    for (const pid of [poold.pid, ...workers]) {
      await waitFor(`process ${pid} to map the prebuild`, () => prebuild.test(readFileSync(`/proc/${pid}/maps`, 'utf8')));
    }
  });
});
