import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPool, type PoolReading } from '../../src/master/status-answer.js';
import { newStats } from '../../src/pool/accounting.js';
import { freeSlot, type PoolHeader, type Slot } from '../../src/scoreboard/layout.js';
import { cpuSecondsOf, readProcessUsage, rssBytesOf } from '../../src/system/process-usage.js';
import { acceptRate, cpuPercents, renderView, requestDurationMs, type SortOrder, type ViewInput } from '../../src/cli/watch-view.js';
import { renderPoolStatus } from '../../src/status/render.js';

const T0 = 1_796_000_000_000;
const MB = 1024 * 1024;
const LONG_URI = `/reports/quarterly/${'x'.repeat(100)}?format=pdf`;

function header(overrides: Partial<PoolHeader> = {}): PoolHeader {
  return {
    pool: 'www',
    pm: 'static',
    startTime: T0 - 60_000,
    acceptedConn: 100,
    listenQueue: 3,
    maxListenQueue: 5,
    listenQueueLen: 511,
    idle: 1,
    active: 3,
    total: 4,
    maxActive: 4,
    maxChildrenReached: 2,
    slowRequests: 1,
    maxChildren: 4,
    minSpareServers: 0,
    maxSpareServers: 0,
    readingHeaders: 0,
    slotCount: 8,
    ...overrides,
  };
}

function slot(overrides: Partial<Slot>): Slot {
  return { ...freeSlot(), state: 'Idle', startTime: T0 - 60_000, method: 'GET', ...overrides };
}

interface Worker {
  index: number;
  slot: Partial<Slot>;
  rssMb?: number;
  cpuSeconds?: number;
}

/** The workers of the fixture pool: a slow request, a busy CPU, a big heap, an idle one. */
const WORKERS: Worker[] = [
  { index: 0, slot: { pid: 1001, state: 'Running', requests: 12, requestStart: T0 - 9_000, uri: LONG_URI }, rssMb: 60, cpuSeconds: 1 },
  { index: 2, slot: { pid: 1002, state: 'Running', requests: 7, requestStart: T0 - 2_000, method: 'POST', uri: '/upload', upgraded: 3 }, rssMb: 80, cpuSeconds: 5 },
  { index: 3, slot: { pid: 1003, state: 'Idle', requests: 40, requestDuration: 3_000, uri: '/' }, rssMb: 300, cpuSeconds: 2 },
  { index: 5, slot: { pid: 1004, state: 'Running', requests: 1, requestStart: T0 - 500, uri: '/ping' }, rssMb: 50, cpuSeconds: 0.5 },
];

function reading(readAt: number, workers: Worker[], overrides: Partial<PoolHeader> = {}): PoolReading {
  const stats = newStats();
  stats.masterResponses[503] = 4;
  stats.masterResponses[504] = 1;
  stats.masterResponses[408] = 9;
  stats.restarts.crash = 2;
  stats.restarts.terminate_timeout = 1;
  // Retired on purpose: not counted.
  stats.restarts.reload = 8;
  stats.restarts.idle = 3;
  return {
    header: header(overrides),
    slots: workers.map((w) => slot(w.slot)),
    workers: workers.map((w) =>
      w.rssMb === undefined ? { index: w.index, usage: null } : { index: w.index, usage: { rssBytes: w.rssMb * MB, cpuSeconds: w.cpuSeconds ?? 0 } },
    ),
    readAt,
    masterResponses: stats.masterResponses,
    restarts: stats.restarts,
  };
}

/** One second later: 1001 used half a core, 1002 two cores, 1003 nothing, 1004 a tenth; 30 more connections. */
const EARLIER = reading(T0 - 1000, WORKERS.map((w) => ({ ...w, cpuSeconds: (w.cpuSeconds ?? 0) - [0.5, 2, 0, 0.1][WORKERS.indexOf(w)]! })), {
  acceptedConn: 70,
});
/** Two of the 503s came during the interval. */
const PREVIOUS: PoolReading = { ...EARLIER, masterResponses: { ...EARLIER.masterResponses, 503: 2 } };
const CURRENT = reading(T0, WORKERS);

function view(overrides: Partial<ViewInput> = {}): string[] {
  return renderView({
    answer: { kind: 'pools', masterPid: 4242, pools: [CURRENT] },
    previous: [PREVIOUS],
    lastAnswerAt: T0,
    width: 80,
    height: 30,
    sort: 'slot',
    intervalMs: 1000,
    now: T0,
    ...overrides,
  });
}

/** The pids of the worker rows, top to bottom. */
function pidOrder(lines: string[]): number[] {
  return lines.flatMap((line) => {
    const match = /\b(100\d)\b/.exec(line);
    return match ? [Number(match[1])] : [];
  });
}

function rowOf(lines: string[], pid: number): string {
  const row = lines.find((line) => line.includes(String(pid)));
  assert.ok(row, `a row for ${pid} in\n${lines.join('\n')}`);
  return row;
}

describe('watch view: widths', () => {
  for (const width of [40, 80, 200]) {
    it(`no line is longer than ${width} columns, waiting or not`, () => {
      for (const sort of ['slot', 'cpu', 'rss', 'duration'] as SortOrder[]) {
        for (const lines of [
          view({ width, sort }),
          view({ width, sort, answer: { kind: 'waiting', why: 'not running', reason: `poold is not running (no pid file at /run/${'p'.repeat(90)}.pid)` } }),
        ]) {
          for (const line of lines) assert.ok(line.length <= width, `${line.length} > ${width}: '${line}'`);
        }
      }
    });
  }

  it('at 200 columns every column shows, and the whole URI', () => {
    const lines = view({ width: 200 });
    const titles = lines.find((line) => line.includes('REQUEST'))!;
    assert.match(titles, /^SLOT\s+PID STATE\s+CPU%\s+RSS\s+REQS\s+WS\s+DUR REQUEST$/);
    assert.ok(rowOf(lines, 1001).endsWith(`GET ${LONG_URI}`));
  });

  it('at 80 columns the URI is cut first: every column still shows', () => {
    const lines = view({ width: 80 });
    assert.match(lines.find((line) => line.includes('REQUEST'))!, /^SLOT\s+PID STATE\s+CPU%\s+RSS\s+REQS\s+WS\s+DUR REQUEST$/);
    const row = rowOf(lines, 1001);
    assert.equal(row.length, 80);
    assert.ok(row.endsWith('…'));
    assert.match(row, /GET \/reports\/quarterly\/x+…$/);
  });

  it('at 40 columns the least needed columns give way; pid, state, duration, CPU and the request stay', () => {
    const lines = view({ width: 40 });
    const titles = lines.find((line) => line.includes('REQUEST'))!;
    assert.doesNotMatch(titles, /SLOT|REQS|WS/);
    for (const title of ['PID', 'STATE', 'DUR', 'CPU%']) assert.ok(titles.includes(title), `${title} in '${titles}'`);
    assert.match(rowOf(lines, 1002), /POST \/up…$/);
  });

  it('the column sorted by stays, however narrow', () => {
    const titles = view({ width: 40, sort: 'rss' }).find((line) => line.includes('REQUEST'))!;
    assert.ok(titles.includes('RSS'), titles);
  });

  it('the pool figures flow onto more lines on a narrow terminal instead of being lost', () => {
    const text = view({ width: 50 }).join('\n');
    for (const figure of ['req/s 30', 'active 3  idle 1  total 4/4', 'queue 3/511', '5xx 5', 'upgraded 3']) assert.ok(text.includes(figure), `${figure} in\n${text}`);
  });

  it('a taller list than the terminal is cut, saying how much is left out', () => {
    const lines = view({ height: 6 });
    assert.equal(lines.length, 6);
    assert.match(lines.at(-1)!, /more lines/);
  });
});

describe('watch view: figures', () => {
  it('CPU % over the interval, from two readings of the CPU time', () => {
    const shares = cpuPercents(CURRENT, PREVIOUS);
    assert.deepEqual(
      [1001, 1002, 1003, 1004].map((pid) => Math.round(shares.get(pid)!)),
      [50, 200, 0, 10],
    );
    assert.match(rowOf(view(), 1001), /\b50\.0\b/);
    assert.match(rowOf(view(), 1002), /\b200\.0\b/);
  });

  it('no CPU % without a previous reading of the same worker', () => {
    assert.equal(cpuPercents(CURRENT, undefined).size, 0);
    const replaced = reading(T0 - 1000, [{ ...WORKERS[0]!, slot: { ...WORKERS[0]!.slot, pid: 999 } }]);
    assert.equal(cpuPercents(CURRENT, replaced).has(1001), false);
    assert.match(rowOf(view({ previous: null }), 1001), /Running\s+-\s/);
  });

  it('req/s from accepted connections over the interval; none across a master restart', () => {
    assert.equal(acceptRate(CURRENT, PREVIOUS), 30);
    assert.equal(acceptRate(CURRENT, { ...PREVIOUS, header: { ...PREVIOUS.header, startTime: T0 - 5000 } }), null);
    assert.ok(view()[2]!.includes('req/s 30'), view()[2]);
  });

  it('shows the RSS /proc reads, also of busy workers, and the 5xx the master answered', () => {
    const lines = view();
    assert.match(rowOf(lines, 1001), /Running .* 60\.0M /);
    assert.match(rowOf(lines, 1003), /Idle .* 300M /);
    // Its upgraded connections, after its requests.
    assert.match(rowOf(view({ width: 200 }), 1002), / 7 {4}3 {2}2\.00s POST /);
    // 503 and 504, not the 408s; two of them new.
    assert.match(lines.join('\n'), /\b5xx 5 \(\+2\) {2}/);
    // A crash and a kill; not the reload's nor the idle ones.
    assert.match(lines.join('\n'), / {2}restarts 3 {2}/);
  });

  it('current requests with the time they have run so far; idle workers show their last one', () => {
    const lines = view({ width: 200 });
    assert.match(rowOf(lines, 1001), /Running .* 9\.00s GET \/reports/);
    assert.match(rowOf(lines, 1004), /Running .* 500ms GET \/ping$/);
    assert.match(rowOf(lines, 1003), /Idle .* 3ms GET \/$/);
  });

  it('a URI cannot write escape sequences to the terminal', () => {
    const evil = reading(T0, [{ index: 0, slot: { pid: 1001, state: 'Running', requests: 1, requestStart: T0, uri: '/\x1b[2J\x07é' }, rssMb: 1 }]);
    const lines = view({ answer: { kind: 'pools', masterPid: 1, pools: [evil] }, width: 200 });
    for (const line of lines) assert.doesNotMatch(line, /[\x00-\x1f\x7f]/);
    assert.ok(rowOf(lines, 1001).endsWith('GET /%1B[2J%07%C3%A9'));
  });
});

describe('watch view: sorting', () => {
  const cases: [SortOrder, number[]][] = [
    ['slot', [1001, 1002, 1003, 1004]],
    ['cpu', [1002, 1001, 1004, 1003]],
    ['rss', [1003, 1002, 1001, 1004]],
    // Requests under way, longest first; the idle worker last.
    ['duration', [1001, 1002, 1004, 1003]],
  ];
  for (const [sort, order] of cases) {
    it(`by ${sort}`, () => {
      assert.deepEqual(pidOrder(view({ sort, width: 200 })), order);
      assert.ok(view({ sort })[0]!.includes(`sort: ${sort}`));
    });
  }

  it('workers without a reading go last', () => {
    const partial = reading(T0, [{ index: 0, slot: { pid: 1001, state: 'Starting' } }, WORKERS[3]!]);
    assert.deepEqual(pidOrder(view({ answer: { kind: 'pools', masterPid: 1, pools: [partial] }, sort: 'rss' })), [1004, 1001]);
  });
});

describe('watch view: waiting for the master', () => {
  it('says the master is not running, why, and when it last answered', () => {
    const lines = view({ answer: { kind: 'waiting', why: 'not running', reason: 'poold is not running (no pid file at /run/poold.pid)' } });
    assert.match(lines.join('\n'), /master not running — waiting…\npoold is not running \(no pid file at \/run\/poold\.pid\)\nlast answer at \d\d:\d\d:\d\d/);
  });
});

describe('the master side: a pool reading', () => {
  it('keeps the slot index of each worker sent, and its usage; Free slots stay out, a Starting one has no usage', async () => {
    const slots = [slot({ pid: 7, state: 'Idle' }), freeSlot(), slot({ pid: 0, state: 'Starting' }), slot({ pid: 9, state: 'Running' })];
    const stats = newStats();
    stats.masterResponses[502] = 3;
    const asked: number[] = [];
    const result = await readPool({ stats, snapshot: () => ({ header: header(), slots }) }, async (pid) => {
      asked.push(pid);
      return { rssBytes: pid * MB, cpuSeconds: pid };
    });
    assert.ok(result);
    assert.deepEqual(result.slots.map((s) => s.pid), [7, 0, 9]);
    assert.deepEqual(result.workers, [
      { index: 0, usage: { rssBytes: 7 * MB, cpuSeconds: 7 } },
      { index: 2, usage: null },
      { index: 3, usage: { rssBytes: 9 * MB, cpuSeconds: 9 } },
    ]);
    assert.deepEqual(asked, [7, 9]);
    assert.equal(result.masterResponses[502], 3);
  });
});

describe('/proc parsing', () => {
  it('CPU seconds from /proc/PID/stat, whatever the command name holds', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 11 0 12345 1000000 5000 18446744073709551615';
    assert.equal(cpuSecondsOf(stat), 3.25);
    assert.equal(cpuSecondsOf('garbage'), null);
  });

  it('this process, as /proc shows it; nothing for a pid that is not there', async () => {
    const usage = await readProcessUsage(process.pid);
    assert.ok(usage && usage.rssBytes > 1024 * 1024 && usage.cpuSeconds > 0, JSON.stringify(usage));
    // Above the kernel's pid_max ceiling (2^22): never a process.
    assert.equal(await readProcessUsage(2 ** 22 + 1), null);
  });

  it('RSS bytes from /proc/PID/status; none for a zombie', () => {
    assert.equal(rssBytesOf('Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   45120 kB\nThreads:\t11\n'), 45120 * 1024);
    assert.equal(rssBytesOf('Name:\tnode\nState:\tZ (zombie)\n'), null);
  });
});

describe('one definition of a request in flight', () => {
  it('a worker reading headers shows its last request\'s duration, in poold status and on the status page alike', () => {
    // The slot still holds the previous request's start, a minute ago; that request took 2.5 ms.
    const reading = slot({ state: 'Reading headers', active: 0, requestStart: T0 - 60_000, requestDuration: 2500, requests: 3 });
    assert.equal(requestDurationMs(reading, T0), 2.5);
    const page = JSON.parse(
      renderPoolStatus({ header: header(), slots: [reading], now: T0, scriptName: '/srv/app.js' }, 'json', true).body,
    ) as { processes: { 'request duration': number }[] };
    assert.equal(page.processes[0]!['request duration'], 2500);
    // A request in flight counts from its start.
    assert.equal(requestDurationMs(slot({ state: 'Running', active: 1, requestStart: T0 - 1500 }), T0), 1500);
  });
});
