// Recycling under load: workers replaced for pm.max_requests and pm.max_memory
// while requests keep coming, and not one request fails.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { requestLog } from '../helpers/cli.js';
import { failures, load } from '../helpers/load.js';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  isUnexpectedWarning,
  startPoold,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';
import { board } from '../helpers/scoreboard.js';

const APP = path.join(FIXTURES, 'app.js');
const MEMORY_APP = path.join(FIXTURES, 'memory-app.js');

function config(port: number, app: string, extra: string): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 2\n${extra}\n`
  );
}

function countBy<T>(items: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** `count` requests: fast ones and 5 ms async ones mixed. */
function mixed(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i % 3 === 0 ? `/sleep?ms=5&i=${i}` : `/?i=${i}`));
}

/** Checks the log: each retired worker exited with code 0, and one replacement started per retirement. */
async function assertRecycled(poold: RunningPoold, reason: string, minimum: number): Promise<void> {
  const retiredPids = () =>
    poold.lines.flatMap((line) => {
      const match = new RegExp(`\\[pool www\\] child (\\d+) reached ${reason}, replacing it$`).exec(line);
      return match ? [match[1]!] : [];
    });
  const exitedCleanly = (pid: string) =>
    poold.lines.some((line) => new RegExp(`\\[pool www\\] child ${pid} exited with code 0 after`).test(line));
  // Recomputed on each poll: a retirement may still be on its way into the log.
  await waitFor(
    'every retired worker to exit with code 0, and 2 workers alive',
    () => retiredPids().every(exitedCleanly) && poold.liveWorkerPids().length === 2,
    10_000,
  ).catch((err: Error) => assert.fail(`${err.message}\n${poold.lines.join('\n')}`));
  const retired = retiredPids();
  assert.ok(retired.length >= minimum, `at least ${minimum} workers recycled (${retired.length}):\n${poold.lines.join('\n')}`);
  assert.equal(poold.workerPids().length, retired.length + 2, 'one replacement started per retired worker');
  assert.ok(!poold.lines.some((line) => isUnexpectedWarning(line) || /ERROR/.test(line)), 'no warning or error');
}

test('pm.max_requests = 20: workers are replaced as they reach it, and every request is served', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, APP, 'pm.max_requests = 20'));
  assert.equal(poold.workerPids().length, 2);
  // One client with a pause between requests, so that (normally) no connection
  // is waiting at the moment a worker retires: that case is the next tests'.
  const servedBy = new Map<number, number>();
  for (const path of mixed(100)) {
    const response = await get(port, path);
    assert.equal(response.status, 200, path);
    const pid = Number(response.body.trim());
    servedBy.set(pid, (servedBy.get(pid) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // 100 requests, 20 per worker: at least 4 retirements (5 if none is left part-used).
  await assertRecycled(poold, 'pm\\.max_requests', 4);
  assert.ok(servedBy.size >= 5, `replacements served requests (${servedBy.size} workers)`);
  for (const pid of servedBy.keys()) assert.ok(poold.workerPids().includes(pid), `pid ${pid} is a logged worker`);
  // A retired worker served its 20 requests. (21 is tolerated here: a known bug,
  // pinned down exactly by the 'pm.max_requests = 1' test below.)
  const retired = poold.lines
    .map((line) => /child (\d+) reached pm\.max_requests/.exec(line)?.[1])
    .filter((pid): pid is string => pid !== undefined)
    .map(Number);
  for (const pid of retired) {
    const count = servedBy.get(pid);
    assert.ok(count === 20 || count === 21, `retired worker ${pid} served ${count} requests`);
  }
});

test(
  'pm.max_requests = 1: a connection waiting when the worker retires goes to its replacement',
    async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await startPoold(
      config(port, APP, 'pm.max_requests = 1\nenv[REQUEST_LOG] = @DIR@/requests.log').replace(
        'pm.max_children = 2',
        'pm.max_children = 1',
      ),
    );
    const first = get(port, '/block?ms=1000', 15_000);
    await waitFor('the first request to reach the worker', () => requestLog(poold!.dir).length === 1);
    const second = get(port, '/?second', 15_000);
    await waitFor('the second connection in the queue', () => board(poold!)?.header.listenQueue === 1, 3000);
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200, `the queued request is served: ${b.status} ${JSON.stringify(b.body)}`);
    assert.notEqual(Number(b.body.trim()), Number(a.body.trim()), 'by the replacement, not the retired worker');
  },
);

// 300 requests, 8 at a time: connections are nearly always waiting when a
// worker retires, and one is often handed to it right before its 'stop'.
test('pm.max_requests = 20 under load (300 requests, 8 at a time): workers are replaced and no request fails', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, APP, 'pm.max_requests = 20'));
  const outcomes = await load(port, mixed(300), 8, 20_000);
  // About 15 replacements for 300 requests.
  await assertRecycled(poold, 'pm\\.max_requests', 10);
  assert.deepEqual(failures(outcomes), [], 'every request got 200');
  assert.equal((await get(port, '/')).status, 200);
});

test(
  'pm.max_requests = 20 under load: no worker serves more than 20 requests',
  async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await startPoold(config(port, APP, 'pm.max_requests = 20'));
    const outcomes = await load(port, mixed(300), 8, 20_000);
    const served = outcomes.filter((outcome) => outcome.status === 200);
    const over = [...countBy(served.map((outcome) => Number(outcome.body.trim())))].filter(([, n]) => n > 20);
    assert.deepEqual(over, [], 'pids that served more than pm.max_requests, with their counts');
  },
);

const LIMIT = 100 * 1024 * 1024;

test('pm.max_memory = 100M: a worker holding 64 MB more is replaced gracefully, no request fails', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  // A worker starts at ~50–60 MB resident; 64 MB more takes it well past 100 MB.
  poold = await startPoold(config(port, MEMORY_APP, 'pm.max_memory = 100M'));
  const before = await get(port, '/rss');
  assert.equal(before.status, 200);
  const baseline = Number(before.body.split(' ')[1]);
  assert.ok(baseline < LIMIT, `baseline RSS ${baseline} is under the limit: the test is meaningful`);

  // Two clients on two workers: one worker grows on the 20th request and is
  // replaced while the requests keep coming (RSS is sampled at most every 250 ms,
  // so the retirement may come a few requests later).
  const paths = Array.from({ length: 300 }, (_, i) => (i === 20 ? '/grow?mb=64' : `/sleep?ms=5&i=${i}`));
  const outcomes = await load(port, paths, 2, 20_000);
  assert.deepEqual(failures(outcomes), [], 'every request got 200');
  const [fatPid, fatRss] = outcomes[20]!.body.trim().split(' ').map(Number);
  assert.ok(fatRss! > LIMIT, `the worker's RSS (${fatRss}) went past pm.max_memory`);
  await poold.waitForLine(new RegExp(`\\[pool www\\] child ${fatPid} reached pm\\.max_memory, replacing it$`), 10_000);
  await assertRecycled(poold, 'pm\\.max_memory', 1);
  assert.ok(!poold.liveWorkerPids().includes(fatPid!), 'the grown worker is gone');
  assert.equal(poold.workerPids().length, 3, 'only that worker was replaced');
  const after = await get(port, '/rss');
  assert.ok(Number(after.body.split(' ')[1]) < LIMIT);
});

test(
  'pm.max_memory: a worker that grew on a request right after another is replaced without waiting for more traffic',
  async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await startPoold(config(port, MEMORY_APP, 'pm.max_memory = 100M').replace('pm.max_children = 2', 'pm.max_children = 1'));
    // Back to back on the one worker: the worker samples its RSS when /rss ends,
    // before the growth; /grow then ends less than 250 ms later.
    assert.equal((await get(port, '/rss')).status, 200);
    const rssEnded = performance.now();
    const grown = await get(port, '/grow?mb=64');
    const gap = performance.now() - rssEnded;
    const [fatPid, fatRss] = grown.body.trim().split(' ').map(Number);
    assert.ok(fatRss! > LIMIT);
    if (gap > 200) return t.skip(`the machine was too slow to set the case up (${Math.round(gap)} ms)`);
    // No more requests: the worker idles at over 100 MB.
    await poold.waitForLine(new RegExp(`child ${fatPid} reached pm\\.max_memory, replacing it$`), 5000);
  },
);
