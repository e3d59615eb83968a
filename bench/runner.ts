// Runs the comparison: every selected scenario, round after round, against
// each of its systems, one server at a time. Each run starts its server
// afresh, loads it, and stops it completely before the next one starts.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cpuBetween, snapshot, type CpuReport, type CpuSnapshot } from './cpu-window.js';
import { runClosedLoops, type GroupResult } from './load.js';
import type { Options } from './options.js';
import { summarizeProfile, type ProfileSummary } from './profile-summary.js';
import { SCENARIOS, SYSTEMS, type Results, type Scenario, type ScenarioName, type System, type SystemName } from './scenarios.js';
import { startCluster, startPoold, type RunningServer, type StartOptions } from './servers.js';
import { round } from './stats.js';

export interface RunContext {
  options: Options;
  /** The servers' cpu cgroup (cgroup.ts), when the benchmark has one. */
  cgroupProcs: string | undefined;
}

export interface Measurement {
  results: Results;
  cpu: CpuReport;
  /** CPU time per request completed in the window, µs. */
  usPerRequest: { master: number; workers: number; loadGenerator: number };
}

export interface Run extends Measurement {
  scenario: ScenarioName;
  system: SystemName;
  /** 1-based. */
  round: number;
  /** Where the system ran in its round, 1-based. */
  position: number;
}

function start(system: System, ctx: RunContext, nodeFlags: string[] | undefined): Promise<RunningServer> {
  const common: StartOptions = { workers: ctx.options.workers, cgroupProcs: ctx.cgroupProcs, nodeFlags };
  if (system.kind === 'cluster') return startCluster({ ...common, policy: system.policy });
  return startPoold({
    ...common,
    pooldBin: ctx.options.pooldBin,
    poolExtra: [...ctx.options.poolExtra, ...system.poolExtra],
  });
}

/** One scenario against one system, from start to a stopped server. */
async function measure(scenario: Scenario, system: System, ctx: RunContext, nodeFlags?: string[]): Promise<Measurement> {
  const { options } = ctx;
  const server = await start(system, ctx, nodeFlags);
  let before: CpuSnapshot | undefined;
  let after: CpuSnapshot | undefined;
  let groups: GroupResult[];
  try {
    groups = await runClosedLoops({
      port: server.port,
      groups: scenario.groups(options),
      keepAlive: scenario.keepAlive,
      slowMs: scenario.slowMs,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      onMeasureStart: () => (before = snapshot(server)),
      onMeasureEnd: () => (after = snapshot(server)),
    });
  } finally {
    await server.stop();
  }
  const cpu = cpuBetween(before!, after!);
  const completed = groups.reduce((sum, g) => sum + g.completed, 0);
  const perRequest = (pct: number) => (completed > 0 ? round(((pct / 100) * cpu.windowSeconds * 1e6) / completed, 1) : NaN);
  return {
    results: Object.fromEntries(groups.map((g) => [g.name, g])),
    cpu,
    usPerRequest: {
      master: perRequest(cpu.masterPct),
      workers: perRequest(cpu.workersPct),
      loadGenerator: perRequest(cpu.loadGeneratorPct),
    },
  };
}

/** Round r (0-based) starts at the r-th system, so each takes every place in turn and drift is shared. */
function orderOf(systems: SystemName[], r: number): SystemName[] {
  const k = r % systems.length;
  return [...systems.slice(k), ...systems.slice(0, k)];
}

/** Every selected scenario, `rounds` times against each of its systems. */
export async function runComparison(ctx: RunContext, onRun: (run: Run) => void): Promise<Run[]> {
  const runs: Run[] = [];
  for (const name of ctx.options.only) {
    const scenario = SCENARIOS[name];
    for (let r = 0; r < ctx.options.rounds; r++) {
      const order = orderOf(scenario.systems, r);
      for (const [i, systemName] of order.entries()) {
        const m = await measure(scenario, SYSTEMS[systemName], ctx);
        const run: Run = { scenario: name, system: systemName, round: r + 1, position: i + 1, ...m };
        runs.push(run);
        onRun(run);
      }
    }
  }
  return runs;
}

export interface Profiled {
  scenario: ScenarioName;
  system: SystemName;
  measurement: Measurement;
  /** Self time in the master / primary (V8's sampling profiler); null if it wrote no profile. */
  profile: ProfileSummary | null;
}

/**
 * The scenario once more with V8's profiler in the master / primary only (its
 * numbers are slower than the comparison's). The profile stays in `dir`.
 */
export async function profileOnce(name: ScenarioName, systemName: SystemName, ctx: RunContext, dir: string): Promise<Profiled> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const measurement = await measure(SCENARIOS[name], SYSTEMS[systemName], ctx, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return {
    scenario: name,
    system: systemName,
    measurement,
    profile: file ? summarizeProfile(path.join(dir, file), 15) : null,
  };
}
