// Turns the runs into the report: per metric, each system's median and spread
// over the rounds, poold's ratios to both cluster policies, and each target
// with PASS/FAIL; a CPU table; warnings; and the JSON file with every number.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Options } from './options.js';
import type { Profiled, Run } from './runner.js';
import { SCENARIOS, SYSTEMS, type Check, type Metric, type ScenarioName, type SystemName } from './scenarios.js';
import { round } from './stats.js';

/** Above this much CPU (% of one core) used by processes outside the benchmark, a run is flagged. */
const BUSY_MACHINE_PCT = 25;

/** One system's values of one metric, in round order. */
export interface Cell {
  system: SystemName;
  rounds: number[];
  median: number;
  min: number;
  max: number;
  /** Failed and non-2xx requests in these runs, all load groups together. */
  failures: number;
}

export interface Verdict {
  /** What is held to the target, e.g. "poold/NONE" or "worst round". */
  checked: string;
  value: number;
  /** value is a ratio of poold to cluster (else in the metric's unit). */
  ratio: boolean;
  target: string;
  pass: boolean;
}

export interface Row {
  scenario: ScenarioName;
  metric: string;
  unit: Metric['unit'];
  poold: Cell;
  clusterRr: Cell;
  clusterNone: Cell;
  /** poold's median over each cluster policy's; NaN where a ratio means nothing. */
  pooldOverNone: number;
  pooldOverRr: number;
  verdict?: Verdict;
}

const median = (values: number[]): number => {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const failuresOf = (run: Run): number =>
  Object.values(run.results).reduce((sum, g) => sum + g.non2xx + Object.values(g.errors).reduce((a, b) => a + b, 0), 0);

function cell(runs: Run[], scenario: ScenarioName, system: SystemName, metric: Metric): Cell {
  const mine = runs.filter((r) => r.scenario === scenario && r.system === system).sort((a, b) => a.round - b.round);
  const rounds = mine.map((r) => metric.value(r.results));
  const finite = rounds.filter(Number.isFinite);
  return {
    system,
    rounds,
    median: median(rounds),
    min: finite.length ? Math.min(...finite) : NaN,
    max: finite.length ? Math.max(...finite) : NaN,
    failures: mine.reduce((sum, r) => sum + failuresOf(r), 0),
  };
}

/** A ratio of counts means nothing (0 slow requests against 12), nor one over zero. */
const ratio = (unit: Metric['unit'], a: number, b: number): number => (unit === 'requests' || !(b > 0) ? NaN : a / b);

/**
 * A request poold failed or answered with an error is not a fast one, so any
 * failure fails the target; so does a value that is missing (NaN compares false).
 */
function verdictOf(check: Check, row: Omit<Row, 'verdict'>, options: Options): Verdict {
  const clean = row.poold.failures === 0;
  if (check.kind === 'every-round') {
    const bound = check.bound(options);
    const note = check.note ? ` (${check.note(options)})` : '';
    const rounds = row.poold.rounds;
    const worst = rounds.length > 0 && rounds.every(Number.isFinite) ? Math.max(...rounds) : NaN;
    return {
      checked: 'worst round',
      value: worst,
      ratio: false,
      target: bound === 0 ? `= 0${note}` : `<= ${withUnit(row.unit, bound)}${note}`,
      pass: clean && worst <= bound,
    };
  }
  const best = Math.max(row.clusterRr.median, row.clusterNone.median);
  const value = check.against === 'cluster-none' ? row.pooldOverNone : row.poold.median / best;
  return {
    checked: check.against === 'cluster-none' ? 'poold/NONE' : 'poold/best',
    value,
    ratio: true,
    target: `${check.op} ${check.bound.toFixed(2)}x`,
    pass: clean && (check.op === '>=' ? value >= check.bound : value <= check.bound),
  };
}

export function summaryRows(runs: Run[], options: Options): Row[] {
  const rows: Row[] = [];
  for (const name of options.only) {
    for (const metric of SCENARIOS[name].metrics) {
      const poold = cell(runs, name, metric.poold ?? 'poold', metric);
      const clusterRr = cell(runs, name, 'cluster-rr', metric);
      const clusterNone = cell(runs, name, 'cluster-none', metric);
      const row: Row = {
        scenario: name,
        metric: metric.label,
        unit: metric.unit,
        poold,
        clusterRr,
        clusterNone,
        pooldOverNone: ratio(metric.unit, poold.median, clusterNone.median),
        pooldOverRr: ratio(metric.unit, poold.median, clusterRr.median),
      };
      if (metric.check) row.verdict = verdictOf(metric.check, row, options);
      rows.push(row);
    }
  }
  return rows;
}

function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 1000 || Number.isInteger(n)) return Math.round(n).toString();
  return n.toFixed(Math.abs(n) >= 100 ? 1 : digits);
}

/** Rates and counts are whole; latencies keep what the clock resolves at their size. */
const fmtIn = (unit: Metric['unit'], n: number): string => (unit === 'ms' ? fmt(n) : fmt(Math.round(n)));
const withUnit = (unit: Metric['unit'], n: number): string => (unit === 'ms' ? `${fmt(n)} ms` : fmtIn(unit, n));

const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** "median (min-max)", or the value alone after one round. */
const spread = (unit: Metric['unit'], c: Cell): string =>
  c.rounds.length > 1 ? `${fmtIn(unit, c.median)} (${fmtIn(unit, c.min)}-${fmtIn(unit, c.max)})` : fmtIn(unit, c.median);

export function formatSummary(rows: Row[]): string {
  return table(
    ['scenario', 'metric', 'poold', 'cluster RR', 'cluster NONE', 'poold/NONE', 'poold/RR', 'checked', 'target', 'result'],
    rows.map((r) => [
      r.scenario,
      r.metric,
      spread(r.unit, r.poold),
      spread(r.unit, r.clusterRr),
      spread(r.unit, r.clusterNone),
      times(r.pooldOverNone),
      times(r.pooldOverRr),
      r.verdict ? `${r.verdict.checked} ${r.verdict.ratio ? times(r.verdict.value) : withUnit(r.unit, r.verdict.value)}` : '',
      r.verdict?.target ?? '',
      !r.verdict ? '' : r.verdict.pass ? 'PASS' : r.poold.failures ? `FAIL (${r.poold.failures} failed requests)` : 'FAIL',
    ]),
  );
}

/** Per scenario and system, the medians over the rounds (other: the largest). */
export function formatCpu(runs: Run[], options: Options): string {
  const rows: string[][] = [];
  for (const name of options.only) {
    for (const system of SCENARIOS[name].systems) {
      const mine = runs.filter((r) => r.scenario === name && r.system === system);
      const m = (f: (r: Run) => number) => fmt(median(mine.map(f)), 1);
      rows.push([
        name,
        SYSTEMS[system].label,
        m((r) => r.cpu.masterPct),
        m((r) => r.cpu.workersPct),
        m((r) => r.cpu.loadGeneratorPct),
        fmt(Math.max(...mine.map((r) => r.cpu.otherPct)), 1),
        m((r) => r.usPerRequest.master),
        m((r) => r.usPerRequest.workers),
        m((r) => r.usPerRequest.loadGenerator),
      ]);
    }
  }
  return table(['scenario', 'system', 'master %', 'workers %', 'loadgen %', 'other % (max)', 'µs/req: master', 'workers', 'loadgen'], rows);
}

export function warningsFor(runs: Run[]): string[] {
  const warnings: string[] = [];
  for (const run of runs) {
    const where = `${run.scenario}/${run.system} round ${run.round}`;
    for (const g of Object.values(run.results)) {
      if (g.non2xx > 0 || Object.keys(g.errors).length > 0) {
        warnings.push(`${where} ${g.name}: ${g.non2xx} non-2xx, errors ${JSON.stringify(g.errors)}`);
      }
    }
    if (run.cpu.otherPct > BUSY_MACHINE_PCT) {
      warnings.push(
        `${where}: other processes used ${fmt(run.cpu.otherPct, 0)}% of a core during the measurement; ` +
          'this run competed for CPU and its numbers are unreliable',
      );
    }
  }
  return warnings;
}

/** One line per run while the benchmark goes. */
export function describeRun(run: Run): string {
  const groups = Object.values(run.results).map(
    (g) =>
      `${g.name} ${fmt(g.requestsPerSecond, 0)} req/s p50 ${fmt(g.latency.p50)} p99 ${fmt(g.latency.p99)} max ${fmt(g.latency.max)} ms` +
      (SCENARIOS[run.scenario].slowMs === undefined ? '' : ` (${g.slow} >= ${SCENARIOS[run.scenario].slowMs} ms)`),
  );
  return `${groups.join('; ')}; CPU master ${fmt(run.cpu.masterPct, 1)}% other ${fmt(run.cpu.otherPct, 1)}%`;
}

export function formatDiagnostics(profiled: Profiled[]): string {
  const out: string[] = [];
  for (const { scenario, system, measurement: m, profile } of profiled) {
    out.push('');
    out.push(`[diagnose ${scenario}/${system}] master CPU ${fmt(m.cpu.masterPct, 1)}%, ${fmt(m.usPerRequest.master, 1)} µs/request`);
    if (!profile) {
      out.push('  no profile was written');
      continue;
    }
    out.push(`  profile: ${fmt(profile.totalMs - profile.idleMs, 0)} ms busy of ${fmt(profile.totalMs, 0)} ms; self time by file:`);
    for (const e of profile.byFile.slice(0, 8)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.name}`);
    out.push('  top functions:');
    for (const e of profile.byFunction.slice(0, 12)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.name}`);
  }
  return out.join('\n');
}

/** Writes latest.json and a time-stamped copy; returns the path of latest.json. */
export function writeJson(dir: string, startedAt: Date, report: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(report, roundFloats, 2)}\n`;
  const latest = path.join(dir, 'latest.json');
  writeFileSync(latest, json);
  writeFileSync(path.join(dir, `run-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), json);
  return latest;
}

/** Microseconds of a millisecond latency are noise in the file. */
function roundFloats(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? round(value, 3) : value;
}
