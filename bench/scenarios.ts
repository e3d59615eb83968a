// What the comparison runs: the systems under test, and for each scenario its
// load shape, which systems it compares and what it measures, with the target
// each headline number is held to. Data, with the small functions that read a
// metric from a run; bench/runner.ts runs it and bench/report.ts turns the
// runs into the table.
import type { GroupResult, LoopGroup } from './load.js';
import type { Options } from './options.js';
import type { ClusterPolicy } from './servers.js';

export type SystemName = 'poold' | 'poold-mc1' | 'poold-mc4' | 'cluster-rr' | 'cluster-none';

export type System = { name: SystemName; label: string } & (
  | {
      kind: 'poold';
      /** Appended to the pool section after --pool-extra: the last of a directive wins. */
      poolExtra: string[];
    }
  | { kind: 'cluster'; policy: ClusterPolicy }
);

export const SYSTEMS: Record<SystemName, System> = {
  poold: { name: 'poold', label: 'poold', kind: 'poold', poolExtra: [] },
  // Set even though 1 is the default, so that --pool-extra cannot make the label lie.
  'poold-mc1': { name: 'poold-mc1', label: 'poold mc=1', kind: 'poold', poolExtra: ['pm.max_concurrency = 1'] },
  'poold-mc4': { name: 'poold-mc4', label: 'poold mc=4', kind: 'poold', poolExtra: ['pm.max_concurrency = 4'] },
  'cluster-rr': { name: 'cluster-rr', label: 'cluster RR', kind: 'cluster', policy: 'rr' },
  'cluster-none': { name: 'cluster-none', label: 'cluster NONE', kind: 'cluster', policy: 'none' },
};

export const SCENARIO_NAMES = ['newconn', 'keepalive', 'blocking-new', 'blocking-ka', 'ka-blocking-fifo'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One run's results, by load group name. */
export type Results = Record<string, GroupResult>;

/**
 * What a headline number is held to:
 *  - ratio: poold's median over cluster NONE's, or over the better of the two
 *    cluster policies (higher is better there);
 *  - every-round: poold's largest value over the rounds must not exceed a
 *    bound, because "no slow request" or "never above" must hold in each run,
 *    not in a median.
 */
export type Check =
  | { kind: 'ratio'; against: 'cluster-none' | 'best-cluster'; op: '>=' | '<='; bound: number }
  | { kind: 'every-round'; bound: (o: Options) => number; note?: (o: Options) => string };

export interface Metric {
  label: string;
  unit: 'req/s' | 'ms' | 'requests';
  value: (r: Results) => number;
  /** The system in the report's poold column; 'poold' unless the scenario runs variants. */
  poold?: SystemName;
  check?: Check;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  /** Each loop reuses its connection (true) or opens one per request (false). */
  keepAlive: boolean;
  groups: (o: Options) => LoopGroup[];
  /** Requests at least this slow (ms) are counted per group. */
  slowMs?: number;
  systems: SystemName[];
  metrics: Metric[];
}

/** Fast requests at least this slow waited behind a blocked worker. */
const SLOW_MS = 50;

const BLOCKING_CONNECTIONS = 4;
const FAST_CONNECTIONS = 4;
const FIFO_CONNECTIONS = 12;
const CLUSTERS: SystemName[] = ['cluster-rr', 'cluster-none'];

const blockPath = (o: Options) => `/block?ms=${o.blockMs}`;
const mixedGroups = (o: Options): LoopGroup[] => [
  { name: 'block', path: blockPath(o), connections: BLOCKING_CONNECTIONS },
  { name: 'fast', path: '/', connections: FAST_CONNECTIONS },
];

/**
 * The latency bound of a fair FIFO queue in front of the workers: with c
 * closed loops on w workers, a request waits for at most ceil(c/w) - 1 others.
 */
const fifoReferenceMs = (o: Options): number => o.blockMs * Math.ceil(FIFO_CONNECTIONS / o.workers);
/** The FIFO target leaves 10 % for the hand-over and the scheduler. */
const fifoBoundMs = (o: Options): number => Math.round(fifoReferenceMs(o) * 1.1);

const g = (name: string) => (r: Results): GroupResult => {
  const group = r[name];
  if (!group) throw new Error(`no results for load group '${name}'`);
  return group;
};
const fast = g('fast');
const block = g('block');

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  newconn: {
    name: 'newconn',
    title: 'hello, new connection per request',
    keepAlive: false,
    groups: (o) => [{ name: 'fast', path: '/', connections: o.connections }],
    systems: ['poold', ...CLUSTERS],
    metrics: [
      {
        label: 'req/s',
        unit: 'req/s',
        value: (r) => fast(r).requestsPerSecond,
        check: { kind: 'ratio', against: 'cluster-none', op: '>=', bound: 1.0 },
      },
      { label: 'p99 (ms)', unit: 'ms', value: (r) => fast(r).latency.p99 },
    ],
  },
  keepalive: {
    name: 'keepalive',
    title: 'hello, keep-alive',
    keepAlive: true,
    groups: (o) => [{ name: 'fast', path: '/', connections: o.connections }],
    systems: ['poold-mc1', 'poold-mc4', ...CLUSTERS],
    metrics: [
      {
        label: 'req/s, poold mc=1',
        unit: 'req/s',
        poold: 'poold-mc1',
        value: (r) => fast(r).requestsPerSecond,
        check: { kind: 'ratio', against: 'best-cluster', op: '>=', bound: 0.5 },
      },
      {
        label: 'req/s, poold mc=4',
        unit: 'req/s',
        poold: 'poold-mc4',
        value: (r) => fast(r).requestsPerSecond,
        check: { kind: 'ratio', against: 'best-cluster', op: '>=', bound: 0.95 },
      },
      { label: 'p99 (ms), poold mc=1', unit: 'ms', poold: 'poold-mc1', value: (r) => fast(r).latency.p99 },
      { label: 'p99 (ms), poold mc=4', unit: 'ms', poold: 'poold-mc4', value: (r) => fast(r).latency.p99 },
    ],
  },
  'blocking-new': {
    name: 'blocking-new',
    title: 'blocking route + fast route, new connection per request',
    keepAlive: false,
    groups: mixedGroups,
    slowMs: SLOW_MS,
    systems: ['poold', ...CLUSTERS],
    metrics: [
      {
        label: 'fast p99 (ms)',
        unit: 'ms',
        value: (r) => fast(r).latency.p99,
        check: { kind: 'ratio', against: 'cluster-none', op: '<=', bound: 0.5 },
      },
      {
        label: `fast >= ${SLOW_MS} ms`,
        unit: 'requests',
        value: (r) => fast(r).slow,
        check: { kind: 'every-round', bound: () => 0 },
      },
      {
        label: 'fast req/s',
        unit: 'req/s',
        value: (r) => fast(r).requestsPerSecond,
        check: { kind: 'ratio', against: 'cluster-none', op: '>=', bound: 1.0 },
      },
      { label: 'fast p50 (ms)', unit: 'ms', value: (r) => fast(r).latency.p50 },
      { label: 'block p50 (ms)', unit: 'ms', value: (r) => block(r).latency.p50 },
    ],
  },
  'blocking-ka': {
    name: 'blocking-ka',
    title: 'blocking route + fast route, keep-alive',
    keepAlive: true,
    groups: mixedGroups,
    slowMs: SLOW_MS,
    systems: ['poold', ...CLUSTERS],
    metrics: [
      {
        label: `fast >= ${SLOW_MS} ms`,
        unit: 'requests',
        value: (r) => fast(r).slow,
        check: { kind: 'every-round', bound: () => 0 },
      },
      { label: 'fast max (ms)', unit: 'ms', value: (r) => fast(r).latency.max },
      { label: 'fast p99 (ms)', unit: 'ms', value: (r) => fast(r).latency.p99 },
      { label: 'fast req/s', unit: 'req/s', value: (r) => fast(r).requestsPerSecond },
    ],
  },
  'ka-blocking-fifo': {
    name: 'ka-blocking-fifo',
    title: `${FIFO_CONNECTIONS} keep-alive connections on the blocking route`,
    keepAlive: true,
    groups: (o) => [{ name: 'block', path: blockPath(o), connections: FIFO_CONNECTIONS }],
    systems: ['poold', ...CLUSTERS],
    metrics: [
      {
        label: 'p99 (ms)',
        unit: 'ms',
        value: (r) => block(r).latency.p99,
        check: { kind: 'every-round', bound: fifoBoundMs, note: (o) => `fair FIFO: ${fifoReferenceMs(o)} ms` },
      },
      {
        label: 'max (ms)',
        unit: 'ms',
        value: (r) => block(r).latency.max,
        check: { kind: 'every-round', bound: fifoBoundMs, note: (o) => `fair FIFO: ${fifoReferenceMs(o)} ms` },
      },
    ],
  },
};
