// Log rotation as logrotate does it without copytruncate: the error log and a
// pool's access log are renamed, then poold is told to reopen them (SIGUSR1,
// as FPM, or `poold reopen-logs`). Lines from then on go to new files at the
// configured paths, none to the renamed ones, and no worker is restarted for
// it (FPM restarts every worker when a pool has an access log).
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runPoold, waitExit } from '../helpers/cli.js';
import { cleanup, freePort, get, globalSection, poolSection, startPoold, tempDir, waitFor, type RunningPoold } from '../helpers/poold.js';
import { allReady, fileLines, livePids, startedPids, stillRunning, writeApp } from '../helpers/reload.js';

/** Waits for a line matching `pattern` in the log file, failing early if the master exits. */
async function waitForFileLine(poold: RunningPoold, file: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  let exited: number | string | null = null;
  void poold.exited.then((code) => (exited = code));
  return waitFor(
    `a line matching ${pattern} in ${file}`,
    () => {
      if (exited !== null) throw new Error(`poold exited (${exited}):\n${fileLines(file).join('\n')}\n${poold.lines.join('\n')}`);
      return fileLines(file).find((line) => pattern.test(line));
    },
    timeoutMs,
  );
}

for (const how of ['SIGUSR1', 'poold reopen-logs'] as const) {
  test(`${how} after logrotate renamed the error and access logs: new lines go to new files, none to the old ones, no worker restarted`, async (t) => {
    const appDir = tempDir('poold-app-');
    const app = path.join(appDir, 'app.js');
    writeApp(app, { version: 'v1' });
    const port = await freePort();
    let poold: RunningPoold | undefined;
    let log = '';
    t.after(async () => {
      // With error_log set, the master's stderr is silent: its workers are known from the files.
      const workers = poold ? [...startedPids(fileLines(log)), ...startedPids(fileLines(`${log}.1`))] : [];
      await cleanup(poold);
      for (const pid of stillRunning(workers)) process.kill(pid, 'SIGKILL');
      rmSync(appDir, { recursive: true, force: true });
    });
    poold = await startPoold(
      globalSection('error_log = @DIR@/poold.log') + poolSection('www', port, app, 'access.log = @DIR@/access.log'),
      { noWait: true },
    );
    log = path.join(poold.dir, 'poold.log');
    const rotated = `${log}.1`;
    const accessLog = path.join(poold.dir, 'access.log');
    const rotatedAccess = `${accessLog}.1`;
    const pidFile = path.join(poold.dir, 'poold.pid');
    await waitForFileLine(poold, log, /NOTICE: ready to handle connections/);
    await allReady(poold);
    const workers = livePids(fileLines(log));
    assert.equal(workers.length, 2, fileLines(log).join('\n'));

    renameSync(log, rotated);
    renameSync(accessLog, rotatedAccess);
    // Until poold is told, it keeps writing to the files it has open, now renamed.
    assert.equal((await get(port, '/say?text=before-reopen')).status, 200);
    await waitForFileLine(poold, rotated, /said: before-reopen/);
    await waitForFileLine(poold, rotatedAccess, /"GET \/say" 200/);

    if (how === 'SIGUSR1') {
      process.kill(poold.pid, 'SIGUSR1');
    } else {
      const reopened = await runPoold(['reopen-logs', '--pid', pidFile]);
      assert.equal(reopened.code, 0, reopened.stderr);
      assert.match(reopened.stderr, /log files re-opened/);
    }
    await waitForFileLine(poold, log, /NOTICE: error log file re-opened/);
    await waitForFileLine(poold, log, /NOTICE: access log files re-opened/);
    const rotatedText = readFileSync(rotated, 'utf8');
    const rotatedAccessText = readFileSync(rotatedAccess, 'utf8');

    // A worker writing to stderr: its line reaches the new file.
    const said = await get(port, '/say?text=after-reopen');
    assert.equal(said.status, 200);
    await waitForFileLine(poold, log, /said: after-reopen/);
    // Both workers reopened their access log (one request each, at the same time: one per worker).
    const both = await Promise.all([get(port, '/after-reopen?ms=1000'), get(port, '/after-reopen?ms=1000')]);
    assert.notEqual(both[0]!.headers['x-worker-pid'], both[1]!.headers['x-worker-pid']);
    await waitFor('two access lines in the new access log', () => fileLines(accessLog).filter((l) => l.includes('"GET /after-reopen" 200')).length === 2);
    // Reopening restarted no worker: the same two serve, and none exited.
    assert.ok(workers.includes(Number(said.headers['x-worker-pid'])));
    assert.deepEqual(stillRunning(workers).sort(), [...workers].sort());
    const linesSoFar = [...fileLines(rotated), ...fileLines(log)];
    assert.deepEqual(livePids(linesSoFar).sort(), [...workers].sort(), 'no worker started or exited');

    // A reload's lines go to the new file too.
    writeApp(app, { version: 'v2' });
    const reload = await runPoold(['reload', '--wait', '--pid', pidFile]);
    assert.equal(reload.code, 0, reload.stderr);
    await waitForFileLine(poold, log, /NOTICE: reload complete/);
    assert.equal((await get(port, '/')).body, 'v2');

    // Stopped: its last words go to the new file.
    const stop = await runPoold(['stop', '--pid', pidFile]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await waitExit(poold, 15_000), 0);
    await waitForFileLine(poold, log, /NOTICE: exiting, bye-bye!/);

    // Nothing was written to the renamed file after the reopen.
    assert.equal(readFileSync(rotated, 'utf8'), rotatedText, 'the renamed file did not change after the reopen');
    assert.ok(!rotatedText.includes('error log file re-opened'));
    assert.ok(!rotatedText.includes('after-reopen'));
    assert.equal(readFileSync(rotatedAccess, 'utf8'), rotatedAccessText, 'the renamed access log did not change after the reopen');
    assert.ok(!rotatedAccessText.includes('after-reopen'));
    const fresh = fileLines(log);
    assert.match(fresh[0]!, /NOTICE: error log file re-opened/, 'the new file begins with the reopen notice');
    assert.ok(!fresh.some((line) => line.includes('before-reopen')), 'no line is written twice');
  });
}
