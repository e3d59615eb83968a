// Per-request controls for real: request_terminate_timeout (504, the worker
// replaced) and request_slowlog_timeout (a stack of the blocked main thread in
// the slowlog, once per request).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  startPoold,
  waitFor,
  withPrivateStatusListener,
  type RunningPoold,
} from '../helpers/poold.js';
import { board } from '../helpers/scoreboard.js';

const APP = path.join(FIXTURES, 'app.js');
const SLOW_APP = path.join(FIXTURES, 'slow-app.js');

function config(port: number, app: string, extra: string): string {
  return (
    globalSection() +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 1\n${extra}\n`
  );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('request_terminate_timeout = 1s: 504, the worker is killed and a replacement serves', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(config(port, APP, 'request_terminate_timeout = 1s'));
  const [first] = poold.workerPids();

  // Blocked in synchronous code: would answer 200 after 5 s if nothing intervened.
  const startedAt = performance.now();
  const response = await get(port, '/block?ms=5000', 15_000);
  const elapsed = performance.now() - startedAt;
  assert.equal(response.status, 504);
  assert.equal(response.body, '504 Gateway Timeout\n');
  assert.ok(elapsed < 4500, `answered long before the handler would have finished (${Math.round(elapsed)} ms)`);
  const timedOut = await poold.waitForLine(
    new RegExp(
      `WARNING: \\[pool www\\] child ${first}, script '${escape(APP)}' \\(request: "GET /block\\?ms=5000"\\) ` +
        `execution timed out \\((\\d+\\.\\d{6}) sec\\), terminating$`,
    ),
  );
  const seconds = Number(/timed out \((\d+\.\d+) sec\)/.exec(timedOut)![1]);
  assert.ok(seconds >= 1, `reported past the limit (${seconds})`);
  const from = poold.lines.indexOf(timedOut);
  await poold.waitForLine(new RegExp(`child ${first} exited on signal SIGTERM \\(SIGTERM\\)|child ${first} exited`), 10_000, from);

  const next = await get(port, '/', 15_000);
  assert.equal(next.status, 200);
  const second = Number(next.body.trim());
  assert.notEqual(second, first, 'a replacement serves the next request');

  // An async handler (the event loop free) is cut the same way.
  const slow = await get(port, '/sleep?ms=5000', 15_000);
  assert.equal(slow.status, 504);
  await poold.waitForLine(new RegExp(`child ${second}, script .* execution timed out`));
  const third = await get(port, '/', 15_000);
  assert.equal(third.status, 200);
  assert.ok(![first, second].includes(Number(third.body.trim())));
  // Only the two slow requests were terminated.
  assert.equal(poold.lines.filter((line) => /execution timed out/.test(line)).length, 2);
});

// With pm.max_concurrency > 1 a worker runs several requests; the limit is per request.
test(
  'request_terminate_timeout with pm.max_concurrency = 2: a long request is cut even while short ones keep starting',
    async (t) => {
    const port = await freePort();
    let poold: RunningPoold | undefined;
    t.after(() => cleanup(poold));
    poold = await startPoold(config(port, APP, 'pm.max_concurrency = 2\nrequest_terminate_timeout = 2s'));
    let settled = false;
    const long = get(port, '/sleep?ms=6000', 15_000).finally(() => (settled = true));
    // One short request after another beside it, each starting a new request on the worker.
    const deadline = Date.now() + 10_000;
    while (!settled && Date.now() < deadline) await get(port, '/sleep?ms=300', 15_000).catch(() => undefined);
    const response = await long;
    assert.equal(response.status, 504, `the 6 s request was cut at about 2 s, not answered ${response.status}`);
    assert.ok(poold.lines.some((line) => /\(request: "GET \/sleep\?ms=6000"\) execution timed out/.test(line)));
  },
);

interface SlowEntry {
  head: string;
  lines: string[];
}

/** The slowlog's entries: each begins with a blank line and a `[date]  [pool x] pid N` line. */
function slowlogEntries(file: string): SlowEntry[] {
  if (!existsSync(file)) return [];
  const entries: SlowEntry[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\[[^\]]+\]\s+\[pool /.test(line)) entries.push({ head: line, lines: [] });
    else if (line !== '' && entries.length > 0) entries.at(-1)!.lines.push(line);
  }
  return entries;
}

// Times are whole seconds (as in php-fpm.conf): 1s is the shortest slowlog timeout.
test('request_slowlog_timeout = 1s: one slowlog entry per slow request, naming the blocking function', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    config(port, SLOW_APP, 'request_slowlog_timeout = 1s\nslowlog = @DIR@/slow.log\nrequest_terminate_timeout = 10s'),
  );
  const slowlog = path.join(poold.dir, 'slow.log');
  const [pid] = poold.workerPids();

  const response = await get(port, '/report?ms=2500', 15_000);
  assert.equal(response.status, 200, 'the slow request still completes');
  assert.equal(response.body, `report ${pid}\n`);
  const [entry] = await waitFor('a slowlog entry', () => slowlogEntries(slowlog).length > 0 && slowlogEntries(slowlog));
  assert.match(entry!.head, new RegExp(`^\\[\\d{2}-\\w{3}-\\d{4} \\d{2}:\\d{2}:\\d{2}\\]  \\[pool www\\] pid ${pid}$`));
  assert.ok(entry!.lines.includes(`script_filename = ${SLOW_APP}`), entry!.lines.join('\n'));
  assert.ok(entry!.lines.includes('request = GET /report?ms=2500'), entry!.lines.join('\n'));
  const frame = entry!.lines.find((line) => /computeReportSynchronously\(\)/.test(line));
  assert.ok(frame, `a frame names the blocking function:\n${entry!.lines.join('\n')}`);
  assert.match(frame, new RegExp(`computeReportSynchronously\\(\\) ${escape(SLOW_APP)}:\\d+:\\d+$`));
  assert.ok(!entry!.lines.includes('+++ dump failed'));
  await poold.waitForLine(
    new RegExp(
      `WARNING: \\[pool www\\] child ${pid}, script '${escape(SLOW_APP)}' \\(request: "GET /report\\?ms=2500"\\) ` +
        `executing too slow \\(\\d+\\.\\d{6} sec\\), logging$`,
    ),
  );

  // A fast request adds nothing; a second slow one adds exactly one more entry.
  assert.equal((await get(port, '/')).status, 200);
  assert.equal((await get(port, '/report?ms=2000', 15_000)).status, 200);
  await waitFor('the second entry', () => slowlogEntries(slowlog).length >= 2);
  // Long enough for a duplicate to show up, were there one (the watchdog checks every 250 ms).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const entries = slowlogEntries(slowlog);
  assert.deepEqual(
    entries.map((e) => e.lines.find((line) => line.startsWith('request = '))),
    ['request = GET /report?ms=2500', 'request = GET /report?ms=2000'],
    'one entry per slow request',
  );
  assert.equal(poold.lines.filter((line) => /executing too slow/.test(line)).length, 2);
  await waitFor('the slow-request counter in the scoreboard', () => board(poold!)?.header.slowRequests === 2, 5000);
  assert.deepEqual(poold.workerPids(), [pid!], 'logging a slow request does not kill the worker');
});

test('request_slowlog_trace_depth bounds the frames of a slowlog entry', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    config(port, SLOW_APP, 'request_slowlog_timeout = 1s\nslowlog = @DIR@/slow.log\nrequest_slowlog_trace_depth = 2'),
  );
  const slowlog = path.join(poold.dir, 'slow.log');
  assert.equal((await get(port, '/report?ms=2500', 15_000)).status, 200);
  const [entry] = await waitFor('a slowlog entry', () => slowlogEntries(slowlog).length > 0 && slowlogEntries(slowlog));
  const frames = entry!.lines.filter((line) => line.startsWith('[frame '));
  // The stack of a request handler is deeper than two frames (handler, emit, parser...).
  assert.equal(frames.length, 2, entry!.lines.join('\n'));
});

// A reload that raises pm.max_children builds a bigger scoreboard; the old
// generation keeps writing the previous one, where slot numbers repeat. Both
// generations' requests must still be timed.
test('request_terminate_timeout after a reload that grew the scoreboard: old and new workers are both timed', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  const before = config(port, APP, 'request_terminate_timeout = 2s');
  poold = await startPoold(before.replace('process_control_timeout = 3s', 'process_control_timeout = 30s'));
  const [old] = poold.workerPids();
  // Blocked for longer than the whole test: only the terminate timeout can end it early.
  const stuck = get(port, '/block?ms=20000', 30_000);
  await waitFor('the old worker to run it', () => board(poold!)?.slots.some((slot) => slot.state === 'Running'), 5000);

  const from = poold.lines.length;
  writeFileSync(
    path.join(poold.dir, 'poold.conf'),
    withPrivateStatusListener(before.replace('pm.max_children = 1', 'pm.max_children = 3'))
      .replace('process_control_timeout = 3s', 'process_control_timeout = 30s')
      .replaceAll('@DIR@', poold.dir),
  );
  process.kill(poold.pid, 'SIGHUP');
  await poold.waitForLine(/reloading in progress/, 15_000, from);

  // The old worker, draining with the previous scoreboard, is still cut at its limit.
  const startedAt = performance.now();
  assert.equal((await stuck).status, 504);
  await poold.waitForLine(new RegExp(`child ${old}, script .* execution timed out`), 15_000, from);
  t.diagnostic(`the old generation's request ended ${Math.round(performance.now() - startedAt)} ms after the reload began`);

  // A new worker, in slot 0 of the new scoreboard as the old one was of the old, is timed too.
  const fresh = await get(port, '/block?ms=20000', 30_000);
  assert.equal(fresh.status, 504);
  const timedOut = poold.lines.slice(from).filter((line) => /execution timed out/.test(line));
  assert.equal(timedOut.length, 2, timedOut.join('\n'));
  assert.ok(!timedOut[1]!.includes(`child ${old},`), timedOut.join('\n'));
});
