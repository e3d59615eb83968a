// The master's Prometheus endpoint, /metrics, on a real daemon: promtool's
// lint, OpenMetrics by Accept negotiation, poold's own series with their
// labels and values, and the apps' prom-client metrics summed across workers
// (over IPC), including while the workers are stuck and after one is killed.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  poolSection,
  startPoold,
  waitFor,
  type Response,
  type RunningPoold,
} from '../helpers/poold.js';
import {
  hasPromtool,
  parseExposition,
  pollUntil,
  promtoolCheckMetrics,
  request,
  samplesOf,
  sumOf,
  valueOf,
  type Exposition,
  type StatusTarget,
} from '../helpers/status.js';

const APP = path.join(FIXTURES, 'app.js');
const METRICS_APP = path.join(FIXTURES, 'metrics-app.js');

const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
/** What Prometheus 2.x sends when it scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OPENMETRICS = { headers: { accept: PROMETHEUS_ACCEPT } };

const NO_PROMTOOL = "promtool not found: install Debian's `prometheus` package (.ci/run does) to lint /metrics";

interface Daemon {
  poold: RunningPoold;
  status: StatusTarget;
  www: number;
  two: number;
}

/** www: `app`, static, `workers` workers, /status; two: app.js, static, 1 worker. TCP status listener. */
async function startDaemon(
  t: { after: (fn: () => Promise<void>) => void },
  options: { app?: string; workers?: number; wwwExtra?: string } = {}): Promise<Daemon> {
  const [statusPort, www, two] = [await freePort(), await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection(`status.listen = 127.0.0.1:${statusPort}`) +
      `[www]\nlisten = 127.0.0.1:${www}\napp = ${options.app ?? APP}\npm = static\n` +
      `pm.max_children = ${options.workers ?? 2}\npm.status_path = /status\n${options.wwwExtra ?? ''}\n` +
      poolSection('two', two, APP, 'pm.max_children = 1'),
  );
  return { poold, status: { port: statusPort }, www, two };
}

async function scrape(daemon: Daemon, openMetrics = false): Promise<{ response: Response; exposition: Exposition }> {
  const response = await request(daemon.status, '/metrics', openMetrics ? OPENMETRICS : {});
  assert.equal(response.status, 200, response.body);
  assert.equal(response.headers['content-type'], openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE);
  return { response, exposition: parseExposition(response.body) };
}

/** Keeps only the families whose names start with one of `prefixes` (metadata, samples and blank lines). */
function onlyFamilies(body: string, prefixes: string[]): string {
  const keep = (name: string) => prefixes.some((prefix) => name.startsWith(prefix));
  let current = '';
  const lines: string[] = [];
  for (const line of body.split('\n')) {
    const meta = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (meta) current = meta[1]!;
    if (line === '' || keep(current)) lines.push(line);
  }
  return lines.join('\n');
}

interface JsonStatus {
  [key: string]: unknown;
  processes: Record<string, unknown>[];
}

async function wwwStatus(daemon: Daemon): Promise<JsonStatus> {
  return JSON.parse((await request(daemon.status, '/status?json&full')).body) as JsonStatus;
}

/** Requests `urlPath` on www; tallies which worker answered (x-worker-pid). */
async function hit(daemon: Daemon, urlPath: string, byPid: Map<number, number>): Promise<number> {
  const response = await get(daemon.www, urlPath, 30_000);
  assert.equal(response.status, 200, `${urlPath}: ${response.body}`);
  const pid = Number(response.headers['x-worker-pid']);
  assert.ok(pid > 0, `${urlPath}: x-worker-pid header`);
  byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
  return pid;
}

// ---------------------------------------------------------------------------

test(
  '/metrics in the Prometheus text format passes `promtool check metrics`',
    async (t) => {
    if (!hasPromtool()) return t.skip(NO_PROMTOOL);
    const daemon = await startDaemon(t, { app: METRICS_APP });
    for (let i = 0; i < 3; i++) await get(daemon.www, `/?i=${i}`);
    await pollUntil('the app counter in /metrics', async () => sumOf((await scrape(daemon)).exposition, 'app_requests_total') === 3);
    const { response } = await scrape(daemon);
    const lint = await promtoolCheckMetrics(response.body);
    assert.equal(lint.code, 0, `promtool check metrics exited ${lint.code}:\n${lint.output}`);
  },
);

test("poold's own families, the master's process_* and the app's pass `promtool check metrics`", async (t) => {
  if (!hasPromtool()) return t.skip(NO_PROMTOOL);
  const daemon = await startDaemon(t, { app: METRICS_APP });
  for (let i = 0; i < 3; i++) await get(daemon.www, `/?i=${i}`);
  await pollUntil('the app counter in /metrics', async () => sumOf((await scrape(daemon)).exposition, 'app_requests_total') === 3);
  const { response, exposition } = await scrape(daemon);
  const ours = onlyFamilies(response.body, ['poold_', 'process_', 'app_']);
  // The filter kept what it should: the histograms, the per-slot series, the app's counter.
  for (const name of ['poold_request_duration_seconds', 'poold_worker_requests_total', 'process_cpu_seconds_total', 'app_requests_total']) {
    assert.ok(exposition.families.some((f) => f.name === name), `${name} exposed`);
    assert.ok(ours.includes(`# TYPE ${name} `), `${name} linted`);
  }
  const lint = await promtoolCheckMetrics(ours);
  assert.equal(lint.code, 0, `promtool check metrics exited ${lint.code}:\n${lint.output}`);
});

test('OpenMetrics by Accept: # EOF, counter families without _total and samples with it, never _total_total', async (t) => {
  const daemon = await startDaemon(t, { app: METRICS_APP });
  for (let i = 0; i < 3; i++) await get(daemon.www, `/?i=${i}`);
  await pollUntil('the app counter in /metrics', async () => sumOf((await scrape(daemon)).exposition, 'app_requests_total') === 3);

  // Negotiation: Prometheus's own Accept header gets OpenMetrics; no Accept or text/plain gets the text format.
  const plain = await request(daemon.status, '/metrics');
  assert.equal(plain.headers['content-type'], PROMETHEUS_TYPE);
  const asked = await request(daemon.status, '/metrics', { headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' } });
  assert.equal(asked.headers['content-type'], PROMETHEUS_TYPE);
  assert.ok(!asked.body.includes('# EOF'));

  const { response, exposition } = await scrape(daemon, true);
  const body = response.body;
  assert.ok(body.endsWith('\n# EOF\n'), `ends with # EOF: ${JSON.stringify(body.slice(-60))}`);
  assert.equal(exposition.eofCount, 1);
  assert.ok(!body.includes('\n\n'), 'OpenMetrics has no blank lines');
  assert.deepEqual(exposition.junk, [], 'every sample follows its own family');
  assert.ok(!body.includes('_total_total'), 'no _total_total anywhere');
  const names = exposition.families.map((f) => f.name);
  assert.deepEqual(names, [...new Set(names)], 'each family once');

  const counters = exposition.families.filter((f) => f.type === 'counter');
  for (const name of ['poold_accepted_connections', 'poold_worker_restarts', 'poold_worker_requests', 'process_cpu_seconds', 'app_requests']) {
    assert.ok(counters.some((f) => f.name === name), `counter family ${name} (no _total) in ${names.join(' ')}`);
  }
  for (const family of counters) {
    assert.ok(!family.name.endsWith('_total'), `counter family ${family.name} has no _total`);
    for (const sample of family.samples) {
      assert.ok([`${family.name}_total`, `${family.name}_created`].includes(sample.name), `${sample.name} in family ${family.name}`);
    }
  }
  for (const family of exposition.families.filter((f) => f.type !== 'counter')) {
    for (const sample of family.samples) {
      assert.ok(!sample.name.endsWith('_total') || family.name.endsWith('_total'), `${sample.name}: _total on a ${family.type}`);
    }
  }
  // The same values as in the text format.
  const text = (await scrape(daemon)).exposition;
  assert.equal(valueOf(exposition, 'poold_accepted_connections_total', { pool: 'www' }), 3);
  assert.equal(valueOf(text, 'poold_accepted_connections_total', { pool: 'www' }), 3);
  assert.equal(sumOf(exposition, 'app_requests_total'), 3);
  assert.equal(valueOf(exposition, 'poold_request_duration_seconds_count', { pool: 'www' }), 3);
});

test("poold's series, each with a pool label: connections, queue, processes by state, restarts by reason, durations, per-child requests", async (t) => {
  const daemon = await startDaemon(t);
  const N = 5;
  for (let i = 0; i < N; i++) assert.equal((await get(daemon.www, `/?i=${i}`)).status, 200);
  const { exposition: m } = await pollUntil('every request in the duration histogram', async () => {
    const scraped = await scrape(daemon);
    const idle = valueOf(scraped.exposition, 'poold_processes', { pool: 'www', state: 'idle' });
    return samplesOf(scraped.exposition, 'poold_request_duration_seconds_count', { pool: 'www' })[0]?.value === N && idle === 2 && scraped;
  });

  for (const pool of ['www', 'two']) {
    assert.equal(valueOf(m, 'poold_up', { pool }), 1);
    assert.equal(valueOf(m, 'poold_listen_queue', { pool }), 0);
    assert.ok(valueOf(m, 'poold_start_time_seconds', { pool }) > 1e9);
    assert.equal(valueOf(m, 'poold_max_children_reached_total', { pool }), 0);
  }
  assert.equal(valueOf(m, 'poold_accepted_connections_total', { pool: 'www' }), N);
  assert.equal(valueOf(m, 'poold_accepted_connections_total', { pool: 'two' }), 0, "www's requests are not two's");
  assert.equal(valueOf(m, 'poold_max_children', { pool: 'www' }), 2);
  assert.equal(valueOf(m, 'poold_max_children', { pool: 'two' }), 1);

  const states = ['starting', 'idle', 'reading_headers', 'running', 'finishing'];
  for (const state of states) assert.ok(samplesOf(m, 'poold_processes', { pool: 'www', state }).length === 1, `state ${state}`);
  assert.equal(valueOf(m, 'poold_processes', { pool: 'www', state: 'idle' }), 2);
  assert.equal(sumOf(m, 'poold_processes', { pool: 'www' }), 2);
  assert.equal(sumOf(m, 'poold_processes', { pool: 'two' }), 1);

  // The request-duration histogram counts exactly the requests made.
  assert.equal(valueOf(m, 'poold_request_duration_seconds_count', { pool: 'www' }), N);
  assert.equal(valueOf(m, 'poold_request_duration_seconds_bucket', { pool: 'www', le: '+Inf' }), N);
  assert.ok(valueOf(m, 'poold_request_duration_seconds_sum', { pool: 'www' }) > 0);
  const buckets = samplesOf(m, 'poold_request_duration_seconds_bucket', { pool: 'www' }).map((s) => s.value);
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'cumulative buckets');
  assert.equal(sumOf(m, 'poold_request_duration_seconds_count', { pool: 'two' }), 0);
  // The queue-wait histogram counts every hand-over, each in one bucket from le="0" up.
  assert.equal(valueOf(m, 'poold_queue_wait_seconds_count', { pool: 'www' }), N);
  const waits = samplesOf(m, 'poold_queue_wait_seconds_bucket', { pool: 'www' });
  assert.deepEqual(
    waits.map((s) => s.labels.le),
    ['0', '0.001', '0.005', '0.01', '0.05', '0.1', '0.5', '1', '5', '10', '+Inf'],
  );
  assert.equal(waits.at(-1)!.value, N);
  assert.deepEqual(
    waits.map((s) => s.value),
    [...waits.map((s) => s.value)].sort((a, b) => a - b),
    'cumulative buckets',
  );
  assert.equal(valueOf(m, 'poold_queue_wait_seconds_count', { pool: 'two' }), 0);

  // Per worker: `child` is a slot index (at most 2 × pm.max_children), never a pid.
  const perChild = samplesOf(m, 'poold_worker_requests_total', { pool: 'www' });
  assert.equal(perChild.length, 2, 'one series per worker');
  const pids = new Set(daemon.poold.liveWorkerPids().map(String));
  for (const sample of perChild) {
    assert.match(sample.labels.child!, /^\d+$/);
    assert.ok(Number(sample.labels.child) < 4, `child ${sample.labels.child} is a slot index`);
    assert.ok(!pids.has(sample.labels.child!), `child ${sample.labels.child} is not a pid`);
  }
  assert.equal(new Set(perChild.map((s) => s.labels.child)).size, 2);
  assert.equal(perChild.reduce((sum, s) => sum + s.value, 0), N, 'the workers served every request');
  assert.equal(samplesOf(m, 'poold_worker_requests_total', { pool: 'two' }).length, 1);

  // The master's own process metrics, unlabelled.
  const cpu = samplesOf(m, 'process_cpu_seconds_total');
  assert.equal(cpu.length, 1);
  assert.deepEqual(cpu[0]!.labels, {});
  assert.ok(cpu[0]!.value > 0);

  // Restarts by reason: none yet; a SIGKILLed worker counts as a crash.
  const reasons = ['crash', 'max_requests', 'max_memory', 'reload', 'idle', 'terminate_timeout', 'shutdown'];
  for (const reason of reasons) assert.equal(valueOf(m, 'poold_worker_restarts_total', { pool: 'www', reason }), 0, reason);
  const victim = (await wwwStatus(daemon)).processes[0]!.pid as number;
  const started = daemon.poold.workerPids().length;
  process.kill(victim, 'SIGKILL');
  await waitFor('a replacement worker', () => daemon.poold.workerPids().length > started, 15_000);
  const after = await pollUntil('the crash counted and the pool back to 2 idle workers', async () => {
    const { exposition } = await scrape(daemon);
    return (
      valueOf(exposition, 'poold_worker_restarts_total', { pool: 'www', reason: 'crash' }) === 1 &&
      valueOf(exposition, 'poold_processes', { pool: 'www', state: 'idle' }) === 2 &&
      exposition
    );
  });
  for (const reason of reasons.filter((r) => r !== 'crash')) {
    assert.equal(valueOf(after, 'poold_worker_restarts_total', { pool: 'www', reason }), 0, reason);
  }
  assert.equal(valueOf(after, 'poold_worker_restarts_total', { pool: 'two', reason: 'crash' }), 0);
  assert.equal(samplesOf(after, 'poold_worker_requests_total', { pool: 'www' }).length, 2, 'still one series per live worker');
});

test('request durations outlive their workers: a recycled worker\'s requests stay in the histogram', async (t) => {
  // Workers count durations in their own slots; the master keeps a slot's counts when its worker exits.
  const daemon = await startDaemon(t, { wwwExtra: 'pm.max_requests = 2' });
  const N = 6;
  for (let i = 0; i < N; i++) assert.equal((await get(daemon.www, `/?i=${i}`)).status, 200);
  const { exposition: m } = await pollUntil('recycled workers gone, their replacements idle', async () => {
    const scraped = await scrape(daemon);
    const retired = valueOf(scraped.exposition, 'poold_worker_restarts_total', { pool: 'www', reason: 'max_requests' });
    const idle = valueOf(scraped.exposition, 'poold_processes', { pool: 'www', state: 'idle' });
    return retired >= 2 && idle === 2 && scraped;
  });
  assert.equal(valueOf(m, 'poold_request_duration_seconds_count', { pool: 'www' }), N);
  assert.equal(valueOf(m, 'poold_request_duration_seconds_bucket', { pool: 'www', le: '+Inf' }), N);
});

test("the app's prom-client metrics from two workers add up, in both formats, while the workers are stuck, and after one is killed", async (t) => {
  const daemon = await startDaemon(t, { app: METRICS_APP });
  const byPid = new Map<number, number>();
  let blocks = 0;
  let others = 0;
  // Pairs of concurrent requests, each holding its worker for a moment, land on both workers.
  for (let round = 0; round < 10 && byPid.size < 2; round++) {
    await Promise.all([hit(daemon, '/block?ms=150', byPid), hit(daemon, '/block?ms=150', byPid)]);
    blocks += 2;
  }
  assert.equal(byPid.size, 2, `both workers served requests: ${JSON.stringify([...byPid])}`);
  for (let i = 0; i < 4; i++) {
    await hit(daemon, `/?i=${i}`, byPid);
    others++;
  }
  const N = blocks + others;

  const text = await pollUntil(`the app counter at ${N}`, async () => {
    const { exposition } = await scrape(daemon);
    return sumOf(exposition, 'app_requests_total') === N && exposition;
  });
  // Summed across workers: one series per label set, not one per worker.
  assert.equal(valueOf(text, 'app_requests_total', { route: 'block' }), blocks);
  assert.equal(valueOf(text, 'app_requests_total', { route: 'other' }), others);
  assert.equal(valueOf(text, 'app_in_flight_requests'), 0);
  const family = text.families.find((f) => f.name === 'app_requests_total');
  assert.equal(family?.type, 'counter');
  assert.equal(family?.help, 'Requests the app handled.');

  const { exposition: om, response } = await scrape(daemon, true);
  assert.ok(response.body.endsWith('\n# EOF\n'));
  const omFamily = om.families.find((f) => f.name === 'app_requests');
  assert.equal(omFamily?.type, 'counter', 'OpenMetrics: the family without _total');
  assert.equal(valueOf(om, 'app_requests_total', { route: 'block' }), blocks);
  assert.equal(valueOf(om, 'app_requests_total', { route: 'other' }), others);
  assert.ok(!response.body.includes('_total_total'));

  // Both workers stuck: /metrics still answers, with each worker's last answer.
  const BLOCK = '/block?ms=5000';
  const order: string[] = [];
  const stuck = [hit(daemon, BLOCK, byPid), hit(daemon, BLOCK, byPid)].map((p) => p.then(() => order.push('blocked request')));
  await pollUntil(
    'both workers Running',
    async () => (await wwwStatus(daemon)).processes.filter((p) => p.state === 'Running' && p['request uri'] === '/block?...').length === 2,
    4000,
  );
  const during = await scrape(daemon);
  order.push('metrics');
  const duringOm = await scrape(daemon, true);
  order.push('metrics');
  await Promise.all(stuck);
  assert.deepEqual(order, ['metrics', 'metrics', 'blocked request', 'blocked request'], '/metrics answered while they were stuck');
  assert.equal(sumOf(during.exposition, 'app_requests_total'), N, "the stuck workers' last answers");
  assert.equal(sumOf(duringOm.exposition, 'app_requests_total'), N);
  assert.equal(valueOf(during.exposition, 'poold_processes', { pool: 'www', state: 'running' }), 2);

  const total = N + 2;
  await pollUntil(`the app counter at ${total}`, async () => sumOf((await scrape(daemon)).exposition, 'app_requests_total') === total);
  assert.equal(valueOf((await scrape(daemon)).exposition, 'app_requests_total', { route: 'block' }), blocks + 2);

  // One worker SIGKILLed: its counts leave with it (Prometheus sees a counter
  // reset); the survivor's remain, nothing is counted twice, /metrics answers.
  const [victim, survivor] = [...byPid.keys()];
  const started = daemon.poold.workerPids().length;
  process.kill(victim!, 'SIGKILL');
  await waitFor('a replacement worker', () => daemon.poold.workerPids().length > started, 15_000);
  const afterKill = await pollUntil("the killed worker's counts gone", async () => {
    const { exposition } = await scrape(daemon);
    return sumOf(exposition, 'app_requests_total') === byPid.get(survivor!) && exposition;
  });
  assert.equal(samplesOf(afterKill, 'app_requests_total').length <= 2, true, 'one series per label set');
  assert.equal(valueOf(afterKill, 'poold_worker_restarts_total', { pool: 'www', reason: 'crash' }), 1);
});

test('an app that exports its own registry as `metrics` has it in /metrics', async (t) => {
  const daemon = await startDaemon(t, { app: METRICS_APP, wwwExtra: 'env[METRICS_MODE] = export' });
  const byPid = new Map<number, number>();
  for (let i = 0; i < 5; i++) await hit(daemon, `/?i=${i}`, byPid);
  const m = await pollUntil('the app counter at 5', async () => {
    const { exposition } = await scrape(daemon);
    return sumOf(exposition, 'app_requests_total') === 5 && exposition;
  });
  assert.equal(valueOf(m, 'app_requests_total', { route: 'other' }), 5);
  assert.equal(valueOf((await scrape(daemon, true)).exposition, 'app_requests_total', { route: 'other' }), 5);
});

test(
  "an app that also collects prom-client's default metrics keeps its own metrics in /metrics",
    async (t) => {
    const daemon = await startDaemon(t, { app: METRICS_APP, wwwExtra: 'env[METRICS_DEFAULTS] = 1' });
    const byPid = new Map<number, number>();
    for (let i = 0; i < 3; i++) await hit(daemon, `/?i=${i}`, byPid);
    // Bounded: a few scrapes, a few seconds.
    let last: Exposition | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      last = (await scrape(daemon)).exposition;
      if (sumOf(last, 'app_requests_total') === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(sumOf(last!, 'app_requests_total'), 3, "the app's counter in /metrics");
    const names = last!.families.map((f) => f.name);
    assert.deepEqual(names, [...new Set(names)], 'each family once');
    assert.ok(!daemon.poold.lines.some((line) => line.includes('app metrics left out')), daemon.poold.lines.join('\n'));
  },
);

test('poold_master_responses_total counts what the master answers itself, by code; poold_build_info names the versions', async (t) => {
  const daemon = await startDaemon(t, { workers: 1, wwwExtra: 'listen.queue_timeout = 1s' });
  const before = await scrape(daemon);
  for (const code of ['408', '431', '502', '503', '504']) {
    assert.equal(valueOf(before.exposition, 'poold_master_responses_total', { pool: 'www', code }), 0, code);
  }
  const blocker = get(daemon.www, '/block?ms=4000', 15_000);
  await pollUntil('the worker to run the blocking request', async () => (await wwwStatus(daemon))['active processes'] === 1);
  assert.equal((await get(daemon.www, '/', 15_000)).status, 503, 'waited past listen.queue_timeout');
  assert.equal((await blocker).status, 200);
  const { exposition } = await scrape(daemon);
  assert.equal(valueOf(exposition, 'poold_master_responses_total', { pool: 'www', code: '503' }), 1);
  assert.equal(valueOf(exposition, 'poold_master_responses_total', { pool: 'two', code: '503' }), 0);

  const [info] = samplesOf(exposition, 'poold_build_info');
  assert.equal(info!.value, 1);
  assert.equal(info!.labels.node_version, process.version);
  assert.match(info!.labels.version ?? '', /^\d+\.\d+\.\d+/);
});
