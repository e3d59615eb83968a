// Graceful reload as an operator runs it (`poold reload --wait`, SIGHUP) while
// clients keep sending requests: no request may fail or hang, the new code
// answers once the reload is done, a bad deploy or config leaves the old
// workers serving, the master's pid never changes, and a stop (poold stop,
// systemd's SIGTERM) still ends everything cleanly.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { connectOutcome, settle } from '../helpers/clients.js';
import { isRunning, requestLog, runPoold, waitExit, writeConfig, type CliResult } from '../helpers/cli.js';
import {
  cleanup,
  freePort,
  get,
  globalSection,
  poolSection,
  startPoold,
  tempDir,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';
import {
  allReady,
  describeRecords,
  failedRecords,
  logSince,
  startLoad,
  stillRunning,
  writeApp,
  type AppVersion,
  type LoadRecord,
  type RunningLoad,
} from '../helpers/reload.js';

const RELOADS = 20;

/** A temp dir holding the app the test deploys, removed after the test. */
function appDir(t: TestContext, name = 'app.js'): string {
  const dir = tempDir('poold-app-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, name);
}

/** A deployed app: written now, rewritten by later deploys. */
function deploy(t: TestContext, version: AppVersion): string {
  const app = appDir(t);
  writeApp(app, version);
  return app;
}

/** Starts poold and waits until every worker of `pools` is ready (not only the first). */
async function start(config: string, pools = ['www']): Promise<RunningPoold> {
  const poold = await startPoold(config);
  try {
    for (const name of pools) await allReady(poold, name);
  } catch (err) {
    poold.kill();
    throw err;
  }
  return poold;
}

function pidFileOf(poold: RunningPoold): string {
  return path.join(poold.dir, 'poold.pid');
}

/** `poold reload --pid FILE ...`, talking to the master's control socket. */
function reloadCli(poold: RunningPoold, ...extra: string[]): Promise<CliResult> {
  return runPoold(['reload', '--pid', pidFileOf(poold), ...extra], 60_000);
}

/** Rewrites the running poold's config file (same temp dir, @DIR@ substituted). */
function rewriteConfig(poold: RunningPoold, text: string): string {
  return writeConfig(text, poold.dir).file;
}

function global(extra = ''): string {
  return globalSection(extra).replace('process_control_timeout = 3s', 'process_control_timeout = 5s');
}

/** A static pool (2 workers) whose requests are logged, as they begin, to @DIR@/requests.log. */
function pool(name: string, port: number, app: string, extra = ''): string {
  return poolSection(name, port, app, `env[REQUEST_LOG] = @DIR@/requests.log\n${extra}`);
}

/** Resolves once `count` requests whose URL starts with `prefix` have reached a worker; returns their pids. */
async function reachedWorkers(poold: RunningPoold, prefix: string, count = 1): Promise<number[]> {
  const lines = await waitFor(`${count} request(s) ${prefix} to reach a worker`, () => {
    const matching = requestLog(poold.dir).filter((line) => line.split(' ')[1]!.startsWith(prefix));
    return matching.length >= count && matching;
  });
  return lines.map((line) => Number(line.split(' ')[2]));
}

/** Worker pids that `poold status --json` lists, per pool. */
async function statusPids(poold: RunningPoold): Promise<Record<string, number[]>> {
  const status = await runPoold(['status', '--json', '--pid', pidFileOf(poold)]);
  assert.equal(status.code, 0, status.stderr);
  const pools = JSON.parse(status.stdout) as { pool: string; processes: { pid: number }[] }[];
  return Object.fromEntries(pools.map((entry) => [entry.pool, entry.processes.map((p) => p.pid).sort((a, b) => a - b)]));
}

const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);

test(`${RELOADS} reloads in a row under continuous load: every request is answered, each reload serves the new code`, async (t) => {
  const app = deploy(t, { version: 'v0' });
  const port = await freePort();
  let poold: RunningPoold | undefined;
  let load: RunningLoad | undefined;
  t.after(async () => {
    await load?.stop();
    await cleanup(poold);
  });
  poold = await start(global() + poolSection('www', port, app));
  const masterPid = poold.pid;
  assert.equal((await get(port, '/')).body, 'v0');

  const t0 = performance.now();
  // 4 clients open a connection per request, 2 keep theirs alive (each an
  // http.Agent with keepAlive and one socket). Every request is bounded (10 s).
  load = startLoad(port, { fresh: 4, keepAlive: 2, timeoutMs: 10_000, pauseMs: 5 });
  const reloadStarted: number[] = [];
  const reloadDone: number[] = [];
  let previousWorkers = poold.liveWorkerPids();
  for (let i = 1; i <= RELOADS; i++) {
    writeApp(app, { version: `v${i}` });
    reloadStarted.push(performance.now());
    const reload = await reloadCli(poold, '--wait');
    reloadDone.push(performance.now());
    assert.equal(reload.code, 0, `reload ${i}: ${reload.stderr}\n${logSince(poold)}`);
    assert.match(reload.stderr, /reload complete/);
    const fresh = await get(port, '/');
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body, `v${i}`, `reload ${i}: a fresh request after reload --wait answers the new code`);
    // --wait returns once the old generation has drained: its workers are gone.
    assert.deepEqual(stillRunning(previousWorkers), [], `reload ${i}: old workers still running`);
    assert.equal(readFileSync(pidFileOf(poold), 'utf8').trim(), String(masterPid), 'the master pid never changes');
    previousWorkers = poold.liveWorkerPids().filter((pid) => !previousWorkers.includes(pid));
  }
  const records = await load.stop();
  const report = (list: LoadRecord[]) =>
    `${list.length} of ${records.length} load requests failed:\n${describeRecords(list, t0)}\n` +
    `reloads began at ${reloadStarted.map((at) => (at - t0).toFixed(0)).join(', ')} ms`;

  t.diagnostic(`${records.length} load requests, ${failedRecords(records).length} failed`);
  // Nothing hung: every request settled well within its bound.
  const hung = records.filter((r) => r.error?.startsWith('TIMEOUT'));
  assert.deepEqual(hung, [], report(hung));
  // Nothing but a reset connection: no 5xx, no wrong answer.
  const wrong = records.filter((r) => r.status !== null && (r.status !== 200 || !/^v\d+$/.test(r.body)));
  assert.deepEqual(wrong, [], report(wrong));
  // The load really ran through every reload.
  assert.ok(records.length >= 200, `only ${records.length} load requests`);
  for (let i = 0; i < RELOADS; i++) {
    const during = records.filter((r) => r.end >= reloadStarted[i]! && r.end <= reloadDone[i]!);
    assert.ok(during.length > 0, `no load request completed during reload ${i + 1}`);
  }
  // A request issued after reload N returned gets version N or later, and no
  // client ever goes back to older code.
  const answered = records.filter((r) => r.status === 200);
  const versionOf = (body: string) => Number(body.slice(1));
  for (let i = 0; i < RELOADS; i++) {
    const stale = answered.filter((r) => r.start > reloadDone[i]! && versionOf(r.body) < i + 1);
    assert.deepEqual(stale, [], `requests issued after reload ${i + 1} returned got old code:\n${describeRecords(stale, t0)}`);
  }
  for (const client of new Set(answered.map((r) => r.client))) {
    const versions = answered.filter((r) => r.client === client).map((r) => versionOf(r.body));
    const backwards = versions.findIndex((v, index) => index > 0 && v < versions[index - 1]!);
    assert.equal(backwards, -1, `client ${client} went back to older code at its request ${backwards}`);
  }
  assert.ok(isRunning(masterPid));

  // Clients that open a connection per request lose nothing.
  const freshFailed = failedRecords(records.filter((r) => r.kind === 'fresh'));
  assert.deepEqual(freshFailed, [], report(freshFailed));

  await t.test(
    'no request on a kept-alive connection fails',
        () => {
      const failed = failedRecords(records.filter((r) => r.kind === 'keepalive'));
      assert.deepEqual(failed, [], report(failed));
    },
  );
});

test('SIGHUP or poold reload with an invalid config: error with file:line, reload aborted (78), old code keeps serving', async (t) => {
  const app = deploy(t, { version: 'v1' });
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const good = global() + pool('www', port, app);
  poold = await start(good);
  const workers = sorted(poold.liveWorkerPids());
  assert.equal(workers.length, 2);

  // The deploy that goes with the broken config must not go live either.
  writeApp(app, { version: 'v2' });
  const bad = good.replace('pm = static', 'pm = static\nfrobnicate = yes');
  const file = rewriteConfig(poold, bad);
  // From the file as written (the helper may add lines to it).
  const line = readFileSync(file, 'utf8').split('\n').indexOf('frobnicate = yes') + 1;
  assert.ok(line > 0);
  const where = `[${file}:${line}]`;

  let from = poold.lines.length;
  process.kill(poold.pid, 'SIGHUP');
  await poold.waitForLine(/reload aborted: the configuration is invalid/, 15_000, from);
  const errors = poold.lines.slice(from).filter((l) => l.includes('ERROR'));
  assert.ok(
    errors.some((l) => l.includes(where) && l.includes("unknown entry 'frobnicate'")),
    `the error names ${where} and the directive\n${logSince(poold, from)}`,
  );
  assert.equal((await get(port, '/')).body, 'v1');

  from = poold.lines.length;
  // Through the control socket, the master's own verdict (--pid: the CLI does not read the config).
  for (const args of [['--wait'], []]) {
    const reload = await reloadCli(poold, ...args);
    assert.equal(reload.code, 78, `reload ${args.join(' ')}: ${reload.stderr}`);
    assert.ok(reload.stderr.includes(where) && reload.stderr.includes("unknown entry 'frobnicate'"), reload.stderr);
    assert.match(reload.stderr, /reload aborted: the configuration is invalid/);
  }
  // The CLI reading the same broken config itself (-c) refuses too, naming the line.
  const viaConfig = await runPoold(['reload', '--wait', '-c', file]);
  assert.equal(viaConfig.code, 78, viaConfig.stderr);
  assert.ok(viaConfig.stderr.includes(where), viaConfig.stderr);

  assert.equal((await get(port, '/')).body, 'v1', 'still the old code');
  assert.deepEqual(sorted(poold.liveWorkerPids()), workers, 'the same workers');
  assert.ok(workers.every(isRunning));
  assert.ok(!poold.lines.slice(from).some((l) => /child \d+ started/.test(l)), 'no worker was started');

  // Fixed: the next reload goes through.
  rewriteConfig(poold, good);
  const fixed = await reloadCli(poold, '--wait');
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal((await get(port, '/')).body, 'v2');
});

for (const broken of [
  { what: 'an app that throws at load', version: { version: 'v2', throwAtLoad: true }, reason: /broken deploy v2: cannot load app/ },
  { what: 'an app whose init() rejects', version: { version: 'v2', initRejects: true }, reason: /init failed in v2: database unreachable/ },
]) {
  test(`reload --wait with ${broken.what}: exit 70 with the reason, the old workers keep serving`, async (t) => {
    const app = deploy(t, { version: 'v1' });
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await start(global() + pool('www', port, app));
    const workers = sorted(poold.liveWorkerPids());
    assert.equal(workers.length, 2);

    writeApp(app, broken.version);
    const from = poold.lines.length;
    const reload = await reloadCli(poold, '--wait');
    assert.equal(reload.code, 70, reload.stderr);
    assert.match(reload.stderr, /\[pool www\] rollout aborted, previous workers kept/);
    assert.match(reload.stderr, broken.reason);
    await poold.waitForLine(/\[pool www\] rollout aborted, previous workers kept: .+/, 10_000, from);
    const failedWorkers = poold.workerPids().filter((pid) => !workers.includes(pid));
    assert.ok(failedWorkers.length >= 1, 'a new generation was tried');

    // Same pids before and after, and they answer with the old code.
    await waitFor('the tried workers to be reported gone', () => failedWorkers.every((pid) => !poold!.liveWorkerPids().includes(pid)));
    assert.deepEqual(sorted(poold.liveWorkerPids()), workers, logSince(poold));
    assert.ok(workers.every(isRunning), 'the old workers are alive');
    const answers = await Promise.all([get(port, '/'), get(port, '/'), get(port, '/')]);
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'v1');
      assert.ok(workers.includes(Number(answer.headers['x-worker-pid'])));
    }
    await waitFor('the failed workers to be gone', () => stillRunning(failedWorkers).length === 0, 10_000);

    // A fixed deploy goes through afterwards.
    writeApp(app, { version: 'v3' });
    const fixed = await reloadCli(poold, '--wait');
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal((await get(port, '/')).body, 'v3');
    assert.deepEqual(stillRunning(workers), []);
  });
}

test('a changed listen address: the new one serves from the switch on, the old one closes, an unchanged one never refuses', async (t) => {
  const movedApp = deploy(t, { version: 'v1' });
  const steadyApp = deploy(t, { version: 's1' });
  const [oldPort, newPort, steadyPort] = [await freePort(), await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('moved', oldPort, movedApp) + pool('steady', steadyPort, steadyApp), ['moved', 'steady']);
  assert.equal(await connectOutcome({ port: newPort }), 'ECONNREFUSED');

  // The new generations take 1.5 s to become ready: a long rollout to probe.
  writeApp(movedApp, { version: 'v2', initMs: 1500 });
  writeApp(steadyApp, { version: 's2', initMs: 1500 });
  rewriteConfig(poold, global() + pool('moved', newPort, movedApp) + pool('steady', steadyPort, steadyApp));
  let reloading = true;
  const reload = reloadCli(poold, '--wait').finally(() => (reloading = false));

  const outcomes: { old: string; new: string; steady: string }[] = [];
  const tryGet = (port: number) => settle(get(port, '/', 8_000));
  let earlyRequest: ReturnType<typeof tryGet> | null = null;
  let earlyDuringRollout = false;
  for (let i = 0; reloading && i < 20_000; i++) {
    // The old address is probed first: if it refuses, the new one was bound before.
    const [oldOutcome, newOutcome, steadyOutcome] = await Promise.all([
      connectOutcome({ port: oldPort }),
      connectOutcome({ port: newPort }),
      connectOutcome({ port: steadyPort }),
    ]);
    outcomes.push({ old: oldOutcome, new: newOutcome, steady: steadyOutcome });
    // A client that finds the new address open while the rollout runs must be served, not left hanging.
    if (newOutcome === 'accepted' && earlyRequest === null) {
      earlyRequest = tryGet(newPort);
      earlyDuringRollout = oldOutcome === 'accepted';
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const result = await reload;
  assert.equal(result.code, 0, result.stderr);
  assert.ok(outcomes.length > 10, `only ${outcomes.length} probes during the reload`);

  const steadyRefused = outcomes.filter((o) => o.steady !== 'accepted');
  assert.deepEqual(steadyRefused, [], 'the unchanged address refused a connection during the reload');
  const neither = outcomes.filter((o) => o.old !== 'accepted' && o.new !== 'accepted');
  assert.deepEqual(neither, [], 'a moment with neither the old nor the new address accepting');
  const firstOldRefusal = outcomes.findIndex((o) => o.old !== 'accepted');
  if (firstOldRefusal !== -1) {
    assert.ok(
      outcomes.slice(firstOldRefusal).every((o) => o.old === 'ECONNREFUSED'),
      'once closed, the old address stays closed',
    );
  }

  assert.equal(await connectOutcome({ port: oldPort }), 'ECONNREFUSED', 'the old address is closed after the reload');
  assert.equal((await get(newPort, '/')).body, 'v2');
  assert.equal((await get(steadyPort, '/')).body, 's2');
  await t.test(
    'a connection to the new address made during the rollout is served',
        async () => {
      assert.ok(earlyRequest && earlyDuringRollout, 'the new address accepted a connection during the rollout');
      const early = await earlyRequest;
      assert.ok(early.ok, `the early request failed: ${early.ok ? '' : early.error.message}`);
      assert.equal(early.value.status, 200);
      // Until the switch the old generation serves the new address too: either version is right.
      assert.match(early.value.body, /^v[12]$/);
    },
  );
});

test('reload to a listen address already in use: exit 69, nothing changes', async (t) => {
  const app = deploy(t, { version: 'v1' });
  const [port, takenPort] = [await freePort(), await freePort()];
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(takenPort, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('www', port, app));
  const workers = sorted(poold.liveWorkerPids());

  writeApp(app, { version: 'v2' });
  rewriteConfig(poold, global() + pool('www', takenPort, app));
  const reload = await reloadCli(poold, '--wait');
  assert.equal(reload.code, 69, reload.stderr);
  assert.match(reload.stderr, new RegExp(`reload aborted: .*'127\\.0\\.0\\.1:${takenPort}': Address already in use`));
  assert.equal((await get(port, '/')).body, 'v1');
  assert.deepEqual(sorted(poold.liveWorkerPids()), workers);
});

test('a pool added and a pool removed on reload: the new one serves, the removed one drains and closes', async (t) => {
  const keptApp = deploy(t, { version: 'kept' });
  const goneApp = deploy(t, { version: 'gone' });
  const addedApp = deploy(t, { version: 'added', initMs: 1000 });
  const [keptPort, gonePort, addedPort] = [await freePort(), await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('kept', keptPort, keptApp) + pool('gone', gonePort, goneApp), ['kept', 'gone']);
  const goneWorkers = poold.lines
    .filter((l) => l.includes('[pool gone] child'))
    .flatMap((l) => [...l.matchAll(/child (\d+) started/g)].map((m) => Number(m[1])));
  assert.equal(goneWorkers.length, 2);

  // An in-flight request on the pool about to be removed.
  const inFlight = get(gonePort, '/sleep?ms=3000', 20_000);
  await reachedWorkers(poold, '/sleep');
  rewriteConfig(poold, global() + pool('kept', keptPort, keptApp) + pool('added', addedPort, addedApp));
  const from = poold.lines.length;
  // SIGHUP, as an init system's ExecReload: it arrives at once, while the request runs.
  process.kill(poold.pid, 'SIGHUP');
  let answered = false;
  void inFlight.then(() => (answered = true));
  await poold.waitForLine(/\[pool gone\] removed from the configuration: draining/, 15_000, from);
  // The removed pool refuses new connections from the start of its drain (the
  // master logs just before it closes the socket: poll, bounded), while its
  // in-flight request is still running; the added one accepts (and queues)
  // before its workers are ready.
  for (let i = 0; (await connectOutcome({ port: gonePort })) === 'accepted'; i++) {
    assert.ok(i < 100, 'the removed pool still accepts connections');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(answered, false, 'the removed pool stopped accepting before its in-flight request ended');
  const earlyOnAdded = get(addedPort, '/', 15_000);

  const inFlightResponse = await inFlight;
  assert.equal(inFlightResponse.status, 200);
  assert.equal(inFlightResponse.body, 'gone');
  await poold.waitForLine(/NOTICE: reload (complete|finished with errors)/, 20_000, from);
  assert.ok(poold.lines.slice(from).some((l) => /NOTICE: reload complete/.test(l)), logSince(poold, from));
  assert.equal((await earlyOnAdded).body, 'added');
  assert.equal((await get(addedPort, '/')).body, 'added');
  assert.equal((await get(keptPort, '/')).body, 'kept');
  assert.equal(await connectOutcome({ port: gonePort }), 'ECONNREFUSED');
  assert.deepEqual(stillRunning(goneWorkers), [], 'the removed pool left no worker');
  const status = await statusPids(poold);
  assert.deepEqual(Object.keys(status).sort(), ['added', 'kept']);
  assert.equal(status.added!.length, 2);
});

test(
  'a pool added on reload whose app cannot load: reload --wait fails in bounded time, nothing hangs, a fixed deploy goes through',
    async (t) => {
    const app = deploy(t, { version: 'v1' });
    const brokenApp = deploy(t, { version: 'b1', throwAtLoad: true });
    const [port, addedPort] = [await freePort(), await freePort()];
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await start(global() + pool('www', port, app));

    rewriteConfig(poold, global() + pool('www', port, app) + pool('added', addedPort, brokenApp));
    const broken = await runPoold(['reload', '--wait', '--timeout', '10', '--pid', pidFileOf(poold)], 30_000);
    assert.notEqual(broken.code, 0, broken.stderr);
    assert.match(broken.stderr, /\[pool added\].*broken deploy b1/, broken.stderr);
    assert.equal((await get(port, '/')).body, 'v1');
    // The failed pool's address refuses, or answers: it does not take requests and sit on them.
    const probe = await settle(get(addedPort, '/', 5_000));
    assert.ok(probe.ok || !/timed out/.test(probe.error.message), `a request to the failed pool hung: ${probe.ok ? '' : probe.error.message}`);

    writeApp(brokenApp, { version: 'b2' });
    writeApp(app, { version: 'v2' });
    const fixed = await runPoold(['reload', '--wait', '--timeout', '10', '--pid', pidFileOf(poold)], 30_000);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal((await get(port, '/')).body, 'v2');
    assert.equal((await get(addedPort, '/')).body, 'b2');
  },
);

test('the master pid never changes across reloads; poold status --json shows the new workers', async (t) => {
  const app = deploy(t, { version: 'v0' });
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('www', port, app));
  const masterPid = poold.pid;
  let workers = sorted(poold.liveWorkerPids());
  assert.deepEqual((await statusPids(poold)).www, workers);
  for (let i = 1; i <= 3; i++) {
    writeApp(app, { version: `v${i}` });
    const from: number = poold.lines.length;
    // Through the control socket, then the signals an init system may send (FPM reloads on both).
    if (i === 1) {
      const reload = await reloadCli(poold, '--wait');
      assert.equal(reload.code, 0, reload.stderr);
    } else {
      process.kill(masterPid, i === 2 ? 'SIGHUP' : 'SIGUSR2');
      await poold.waitForLine(/NOTICE: reload complete/, 20_000, from);
    }
    assert.equal(readFileSync(pidFileOf(poold), 'utf8').trim(), String(masterPid));
    assert.ok(isRunning(masterPid));
    const fresh = await get(port, '/');
    assert.equal(fresh.body, `v${i}`);
    const started: number[] = poold.lines.slice(from).flatMap((l) => [...l.matchAll(/child (\d+) started/g)].map((m) => Number(m[1])));
    assert.equal(started.length, 2, logSince(poold, from));
    const status = await statusPids(poold);
    assert.deepEqual(status.www, sorted(started), 'status lists exactly the new generation');
    assert.ok(started.includes(Number(fresh.headers['x-worker-pid'])));
    assert.ok(workers.every((pid) => !status.www!.includes(pid)), 'no old worker listed');
    workers = sorted(started);
  }
});

test('poold stop while a reload rolls out: in-flight requests complete, everything exits 0, no worker left', async (t) => {
  const app = deploy(t, { version: 'v1' });
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('www', port, app));
  const oldWorkers = poold.liveWorkerPids();
  // The test decides when the in-flight request ends and when the new generation
  // would be ready: the stop provably comes while both are pending.
  const release = path.join(poold.dir, 'release');
  const neverReady = path.join(poold.dir, 'never');

  writeApp(app, { version: 'v2', initUntil: neverReady });
  const from = poold.lines.length;
  const reload = reloadCli(poold, '--wait');
  await waitFor('the new generation to start', () => poold!.lines.slice(from).filter((l) => /child \d+ started/.test(l)).length === 2);
  const inFlight = get(port, `/hold?until=${encodeURIComponent(release)}`, 40_000);
  const [servingPid] = await reachedWorkers(poold, '/hold');
  assert.ok(oldWorkers.includes(servingPid!), 'the old generation serves during the rollout');

  const stop = runPoold(['stop', '--pid', pidFileOf(poold)], 30_000);
  await poold.waitForLine(/SIGTERM received, finishing in-flight requests/, 20_000, from);
  // The master logs that line just before it acts: give a wrong stop (workers
  // killed at once) time to show. Well within process_control_timeout (5 s).
  await new Promise((resolve) => setTimeout(resolve, 500));
  writeFileSync(release, '');
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.equal(response.body, 'v1');
  const stopped = await stop;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(await waitExit(poold, 15_000), 0);
  assert.ok(!poold.lines.some((l) => /NOTICE: reload complete/.test(l)), 'the rollout did not complete');

  const reloaded = await reload;
  t.diagnostic(`reload --wait cut short by the stop: exit ${reloaded.code}: ${reloaded.stderr.trim()}`);
  assert.notEqual(reloaded.code, 0, `a reload cut short by a stop is not reported as done: ${reloaded.stderr}`);
  const everyWorker = poold.workerPids();
  assert.equal(everyWorker.length, 4, logSince(poold));
  assert.deepEqual(stillRunning(everyWorker), [], 'no worker outlives the master');
  await t.test(
    'the cut-short reload --wait gets the master\'s answer: aborted because poold is stopping',
        () => {
      assert.doesNotMatch(reloaded.stderr, /without an answer|cannot reach poold/, reloaded.stderr);
      assert.match(reloaded.stderr, /stopping/, reloaded.stderr);
    },
  );
});

test('SIGTERM to the master only (systemd KillMode=mixed) with a 2 s request in flight: it completes, exit 0, no worker left', async (t) => {
  const app = deploy(t, { version: 'v1' });
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await start(global() + pool('www', port, app));
  const workers = poold.liveWorkerPids();
  const inFlight = get(port, '/sleep?ms=2000', 20_000);
  const [servingPid] = await reachedWorkers(poold, '/sleep');

  let linesWhenAnswered = -1;
  void inFlight.then(() => (linesWhenAnswered = poold!.lines.length));
  process.kill(poold.pid, 'SIGTERM');
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.equal(response.body, 'v1');
  assert.equal(Number(response.headers['x-worker-pid']), servingPid);
  const stopLine = poold.lines.findIndex((l) => /SIGTERM received, finishing in-flight requests/.test(l));
  assert.ok(stopLine !== -1 && stopLine < linesWhenAnswered, `the request was in flight when the stop began\n${logSince(poold)}`);
  assert.equal(await waitExit(poold, 15_000), 0);
  assert.deepEqual(stillRunning(workers), [], 'no worker outlives the master');
  assert.ok(!poold.lines.some((l) => /exited on signal/.test(l)), `no worker had to be killed\n${logSince(poold)}`);
});
