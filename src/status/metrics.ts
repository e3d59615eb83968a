import client from 'prom-client';
import type { Pool, RestartReason } from '../pool/pool.js';
import { QUEUE_WAIT_BUCKETS } from '../pool/accounting.js';
import { MASTER_STATUSES } from '../pool/raw-response.js';
import { packageVersion } from '../version.js';
import type { ScoreboardSnapshot } from '../scoreboard/file.js';
import { DURATION_BUCKETS, type DurationHistogram } from '../scoreboard/layout.js';

const { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } = client;

/** How long a scrape waits for each worker's app metrics before using its last answer. */
const APP_METRICS_TIMEOUT_MS = 500;

const PROCESS_STATES = {
  Starting: 'starting',
  Idle: 'idle',
  'Reading headers': 'reading_headers',
  Running: 'running',
  Finishing: 'finishing',
} as const;

const RESTART_REASONS: readonly RestartReason[] = [
  'crash',
  'max_requests',
  'max_memory',
  'reload',
  'idle',
  'terminate_timeout',
  'loop_block',
  'shutdown',
];

/**
 * OpenMetrics names a counter family without `_total` and its samples with it.
 * prom-client's aggregated registry does not strip it from the family (nor
 * from the samples' own names), so it would print `x_total_total`: strip both here.
 */
function asOpenMetricsCounter(metric: unknown): unknown {
  const { type, name, values } = metric as { type?: string; name?: string; values?: { metricName?: string }[] };
  if (type !== 'counter' || !name || !values) return metric;
  return {
    ...(metric as object),
    name: name.replace(/_total$/, ''),
    values: values.map(({ metricName: _sampleName, ...value }) => value),
  };
}

const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

interface Scrape {
  pool: Pool;
  snapshot: ScoreboardSnapshot | null;
}

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/**
 * A histogram per pool whose counts the pool keeps (read at scrape time),
 * exposed through the interface prom-client's registries call (name, help,
 * type, get()): poold_request_duration_seconds, counted by workers in their
 * scoreboard slots so that no request costs an IPC message, and
 * poold_queue_wait_seconds, counted by the pool at each dispatch.
 */
class PoolHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly read: (pool: Pool) => DurationHistogram,
    private readonly scrape: () => readonly Scrape[],
  ) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: client.MetricValueWithName<string>[] } {
    const values: client.MetricValueWithName<string>[] = [];
    for (const { pool } of this.scrape()) {
      const { counts, sum } = this.read(pool);
      let cumulative = 0;
      const bucket = (le: number | string, count: number) => {
        cumulative += count;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, pool: pool.name }, value: cumulative });
      };
      this.bounds.forEach((le, i) => bucket(le, counts[i]!));
      bucket('+Inf', counts[this.bounds.length]!);
      values.push({ metricName: `${this.name}_sum`, labels: { pool: pool.name }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { pool: pool.name }, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/**
 * poold's Prometheus metrics, defined once per exposition format: prom-client's
 * OpenMetrics rendering renames a counter in place (dropping `_total`), so a
 * counter shared by both registries would lose its suffix in the other format.
 * Pool and per-worker series are read from the pools at scrape time.
 */
export class PooldMetrics {
  private readonly prometheus = new Registry();
  private readonly openMetrics = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  private scrape: Scrape[] = [];

  constructor(
    private readonly pools: () => readonly Pool[],
    private readonly onAppMetricsError: (message: string) => void,
  ) {
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.define(this.prometheus);
    this.define(this.openMetrics as unknown as client.Registry);
  }

  private define(register: client.Registry): void {
    const registers = [register];
    collectDefaultMetrics({ register });
    // prom-client names these gauges *_total, which Prometheus reserves for
    // counters (promtool check metrics rejects them).
    for (const name of MISNAMED_DEFAULT_METRICS) register.removeSingleMetric(name);
    const scrape = () => this.scrape;
    const histograms = [
      new PoolHistogram(
        'poold_request_duration_seconds',
        'Time workers took to answer requests.',
        DURATION_BUCKETS,
        (pool) => pool.requestDurations(),
        scrape,
      ),
      new PoolHistogram(
        'poold_queue_wait_seconds',
        'Time connections waited in the master queue for a free worker.',
        QUEUE_WAIT_BUCKETS,
        (pool) => pool.stats.queueWaits,
        scrape,
      ),
    ];
    for (const histogram of histograms) register.registerMetric(histogram as unknown as client.Metric);
    const perPool = (name: string, help: string, value: (scrape: Scrape) => number, kind: 'gauge' | 'counter' = 'gauge') => {
      const metrics = this;
      const Metric = kind === 'gauge' ? Gauge : Counter;
      new Metric({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect(this: client.Gauge | client.Counter) {
          this.reset();
          for (const scrape of metrics.scrape) {
            const labels = { pool: scrape.pool.name };
            if (this instanceof Gauge) this.set(labels, value(scrape));
            else (this as client.Counter).inc(labels, value(scrape));
          }
        },
      });
    };
    const header = (scrape: Scrape) => scrape.snapshot?.header;
    perPool('poold_up', 'Whether the pool is serving (1) or not.', (s) => (s.snapshot ? 1 : 0));
    perPool('poold_start_time_seconds', 'When the pool started, in seconds since the epoch.', (s) => s.pool.stats.startTime / 1000);
    perPool('poold_accepted_connections_total', 'Connections accepted by the pool.', (s) => s.pool.stats.acceptedConn, 'counter');
    perPool('poold_listen_queue', 'Connections waiting in the master queue for a free worker.', (s) => header(s)?.listenQueue ?? 0);
    perPool('poold_listen_queue_max', 'Most connections ever waiting in the master queue at once.', (s) => s.pool.stats.maxListenQueue);
    perPool('poold_reading_headers', 'Connections whose request head the master is still reading (not yet in the queue).', (s) => header(s)?.readingHeaders ?? 0);
    perPool('poold_listen_queue_length', 'Capacity of the master queue (listen.queue_max, else listen.backlog).', (s) => header(s)?.listenQueueLen ?? 0);
    perPool('poold_max_active_processes', 'Most workers ever busy at once.', (s) => s.pool.stats.maxActive);
    perPool('poold_max_children_reached_total', 'Times pm.max_children stopped the process manager from starting a worker.', (s) => s.pool.stats.maxChildrenReached, 'counter');
    perPool('poold_slow_requests_total', 'Requests that ran past request_slowlog_timeout.', (s) => s.pool.stats.slowRequests, 'counter');
    perPool(
      'poold_moved_connections_total',
      'Connections a worker gave back for another to serve their next request (it was full, or stopping).',
      (s) => s.pool.stats.moves,
      'counter',
    );
    perPool('poold_max_children', 'The configured pm.max_children.', (s) => s.pool.config.maxChildren);
    perPool('poold_min_spare_servers', 'The configured pm.min_spare_servers (dynamic).', (s) => s.pool.config.minSpareServers);
    perPool('poold_max_spare_servers', 'The configured pm.max_spare_servers (dynamic).', (s) => s.pool.config.maxSpareServers);
    perPool('poold_max_memory_bytes', 'The configured pm.max_memory (0: no limit).', (s) => s.pool.config.maxMemory);
    perPool('poold_upgraded_connections', 'Upgraded connections (WebSockets) open in the workers: not requests.', (s) =>
      (s.snapshot?.slots ?? []).reduce((sum, slot) => sum + (slot.state === 'Free' ? 0 : slot.upgraded), 0),
    );

    new Gauge({
      name: 'poold_build_info',
      help: 'Always 1; the labels say which poold and which Node run.',
      labelNames: ['version', 'node_version'],
      registers,
    }).set({ version: packageVersion(), node_version: process.version }, 1);

    const metrics = this;
    new Gauge({
      name: 'poold_processes',
      help: 'Worker processes by state.',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        this.reset();
        for (const scrape of metrics.scrape) {
          const counts = Object.fromEntries(Object.values(PROCESS_STATES).map((state) => [state, 0]));
          for (const slot of scrape.snapshot?.slots ?? []) {
            if (slot.state !== 'Free') counts[PROCESS_STATES[slot.state]]!++;
          }
          for (const [state, count] of Object.entries(counts)) this.set({ pool: scrape.pool.name, state }, count);
        }
      },
    });
    /** A per-pool counter broken down by one more label, whose values are `keys`. */
    const perPoolBy = <K extends string | number>(
      name: string,
      help: string,
      label: string,
      keys: readonly K[],
      value: (scrape: Scrape, key: K) => number,
    ) =>
      new Counter({
        name,
        help,
        labelNames: ['pool', label],
        registers,
        collect() {
          this.reset();
          for (const scrape of metrics.scrape) {
            for (const key of keys) this.inc({ pool: scrape.pool.name, [label]: String(key) }, value(scrape, key));
          }
        },
      });
    perPoolBy(
      'poold_worker_restarts_total',
      'Workers that ended, by reason (a crash is anything poold did not ask for).',
      'reason',
      RESTART_REASONS,
      (scrape, reason) => scrape.pool.stats.restarts[reason],
    );
    perPoolBy(
      'poold_master_responses_total',
      'Responses the master sent itself, by status code (408, 431, 502, 503, 504).',
      'code',
      MASTER_STATUSES,
      (scrape, code) => scrape.pool.stats.masterResponses[code],
    );
    // `child` is the scoreboard slot, bounded by 2 × pm.max_children: never a pid,
    // which would make a new series for every worker ever started.
    const perSlot = (name: string, help: string, value: (slot: ScoreboardSnapshot['slots'][number]) => number, kind: 'gauge' | 'counter') => {
      const Metric = kind === 'gauge' ? Gauge : Counter;
      new Metric({
        name,
        help,
        labelNames: ['pool', 'child'],
        registers,
        collect(this: client.Gauge | client.Counter) {
          this.reset();
          for (const scrape of metrics.scrape) {
            scrape.snapshot?.slots.forEach((slot, index) => {
              if (slot.state === 'Free' || slot.state === 'Starting') return;
              const labels = { pool: scrape.pool.name, child: String(index) };
              if (this instanceof Gauge) this.set(labels, value(slot));
              else (this as client.Counter).inc(labels, value(slot));
            });
          }
        },
      });
    };
    perSlot('poold_worker_requests_total', 'Requests served by the worker now in this slot.', (slot) => slot.requests, 'counter');
    perSlot('poold_worker_rss_bytes', 'Resident memory of the worker in this slot after its last request.', (slot) => slot.lastRequestMemory, 'gauge');
    perSlot('poold_worker_upgraded_connections', 'Upgraded connections (WebSockets) the worker in this slot holds open.', (slot) => slot.upgraded, 'gauge');
    perSlot('poold_worker_last_request_cpu_ratio', 'CPU share of the last request (1 = one core); on a busy worker, of its last 10 ms or so of work.', (slot) => slot.lastRequestCpu / 100, 'gauge');
  }

  /** The exposition: OpenMetrics when the scraper asks for it, with the apps' metrics summed across workers. */
  async render(openMetrics: boolean): Promise<RenderedMetrics> {
    const registry = openMetrics ? this.openMetrics : this.prometheus;
    const pools = this.pools();
    this.scrape = pools.map((pool) => ({ pool, snapshot: pool.snapshot() }));
    // An app's metric named like one of poold's (prom-client's default process_*
    // metrics, typically) is left out: the master's own are the ones served.
    // (Compared without `_total`: OpenMetrics rendering strips it from counter names in place.)
    const family = (name: string) => name.replace(/_total$/, '');
    const taken = new Set(registry.getMetricsAsArray().map((metric) => family(metric.name)));
    const appData = (await Promise.all(pools.map((pool) => pool.appMetrics(APP_METRICS_TIMEOUT_MS))))
      .flat()
      .map((worker) =>
        worker
          .filter((metric) => !taken.has(family((metric as { name?: string }).name ?? '')))
          .map((metric) => (openMetrics ? asOpenMetricsCounter(metric) : metric)),
      );
    let exposed: client.Registry<client.RegistryContentType> = registry;
    if (appData.length > 0) {
      try {
        // prom-client's typings omit aggregate()'s second parameter, the content type.
        const aggregate = AggregatorRegistry.aggregate as (data: object[], type: string) => client.Registry;
        const apps = aggregate(appData as object[], registry.contentType);
        exposed = Registry.merge([registry as client.Registry, apps]);
      } catch (err) {
        this.onAppMetricsError(`app metrics left out of /metrics: ${(err as Error).message}`);
      }
    }
    return { contentType: registry.contentType, body: await exposed.metrics() };
  }
}
