// poold against Node's cluster module in both of its scheduling policies
// (round-robin and SCHED_NONE): same app, same worker count, side by side.
//
//   npm run bench                                     every scenario, 3 rounds (~18 minutes)
//   npm run bench -- --only newconn --rounds 1 --duration 3 --warmup 1    a quick smoke run
//   node dist/bench/run.js --help                     every option
//
// Prints a table and writes bench/results/latest.json. The scenarios and their
// targets are in bench/scenarios.ts; see docs/benchmarks.md.
import path from 'node:path';
import { setUpCpuGroups, type CpuGroups } from './cgroup.js';
import { parseOptions, USAGE, UsageError, type Options } from './options.js';
import { machine, sourceState } from './provenance.js';
import { describeRun, formatCpu, formatDiagnostics, formatSummary, summaryRows, warningsFor, writeJson } from './report.js';
import { profileOnce, runComparison, type Profiled, type RunContext } from './runner.js';
import { SCENARIOS, SYSTEMS } from './scenarios.js';
import { DEFAULT_APP, killEverything, killEverythingAndWait, ROOT } from './servers.js';

const RESULTS_DIR = path.join(ROOT, 'bench/results');

function options(): Options {
  try {
    const parsed = parseOptions(process.argv.slice(2));
    if (parsed !== 'help') return parsed;
    process.stdout.write(USAGE);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}`);
    process.exit(64);
  }
}

/**
 * Scheduling groups first, so that every process started later inherits them;
 * then the handlers that stop, by pid, whatever the benchmark started, however
 * it ends.
 */
function setUp(o: Options): { cpuGroups: CpuGroups | null; schedulingNote: string } {
  let cpuGroups: CpuGroups | null = null;
  let schedulingNote: string;
  const unfair = 'autogroup may favour poold, whose workers run in their own sessions';
  if (!o.cgroup) {
    schedulingNote = `no cgroup (--no-cgroup): ${unfair}`;
  } else {
    const groups = setUpCpuGroups();
    if ('error' in groups) {
      schedulingNote = `no cgroup (${groups.error}): ${unfair}`;
    } else {
      cpuGroups = groups;
      schedulingNote = `cpu cgroups ${groups.description}`;
    }
  }
  process.on('exit', () => {
    killEverything();
    cpuGroups?.remove();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping the servers\n`);
      void killEverythingAndWait().finally(() => process.exit(130));
    });
  }
  return { cpuGroups, schedulingNote };
}

async function main(): Promise<void> {
  const o = options();
  const { cpuGroups, schedulingNote } = setUp(o);
  const startedAt = new Date();
  const host = machine();
  const source = sourceState(o.pooldBin);
  process.stderr.write(
    `poold vs cluster (RR and SCHED_NONE): ${o.workers} workers, app ${path.relative(ROOT, DEFAULT_APP)}, ` +
      `${o.warmupMs / 1000}s warm-up + ${o.durationMs / 1000}s per run, ${o.rounds} round(s)\n` +
      `machine: ${host.nproc} cpus (${host.cpuModel}), node ${host.node}, load avg ${host.loadAverageAtStart.join(' ')}\n` +
      `poold: ${o.pooldBin ?? 'dist/bin/poold.js'} (tree ${source.tree}, commit ${source.commit}` +
      `${source.srcDirty ? ' + local src changes' : ''}, src hash ${source.srcHash})` +
      `${o.poolExtra.length ? `, pool extra: ${o.poolExtra.join('; ')}` : ''}\n` +
      `scheduling: ${schedulingNote}\n`,
  );
  const ctx: RunContext = { options: o, cgroupProcs: cpuGroups?.serverProcs };

  const runs = await runComparison(ctx, (run) =>
    process.stderr.write(`  ${run.scenario} / ${SYSTEMS[run.system].label} (round ${run.round}): ${describeRun(run)}\n`),
  );

  const profiled: Profiled[] = [];
  if (o.diagnose) {
    process.stderr.write('\ndiagnostics (V8 profiler in the master/primary; numbers are slower than above):\n');
    for (const name of o.only) {
      for (const system of SCENARIOS[name].systems) {
        const dir = path.join(RESULTS_DIR, 'prof', `${name}-${system}`);
        profiled.push(await profileOnce(name, system, ctx, dir));
        process.stderr.write(`  ${name} / ${SYSTEMS[system].label}: profile in ${path.relative(ROOT, dir)}\n`);
      }
    }
  }

  const rows = summaryRows(runs, o);
  const warnings = warningsFor(runs);
  if (!cpuGroups) warnings.unshift(`scheduling: ${schedulingNote}`);
  const out = [
    '',
    formatSummary(rows),
    '',
    `CPU in the measured window, % of one core (${host.nproc} cores = ${host.nproc * 100}%), medians over the rounds:`,
    formatCpu(runs, o),
  ];
  if (profiled.length) out.push(formatDiagnostics(profiled));
  if (warnings.length) out.push('', 'WARNINGS (treat the numbers concerned with care):', ...warnings.map((w) => `  ${w}`));
  process.stdout.write(`${out.join('\n')}\n\n`);

  const latest = writeJson(RESULTS_DIR, startedAt, {
    date: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: host,
    settings: { ...o, pooldBin: o.pooldBin ?? 'dist/bin/poold.js', app: path.relative(ROOT, DEFAULT_APP), scheduling: schedulingNote },
    source,
    summary: rows,
    warnings,
    runs,
    diagnostics: profiled.length ? profiled : undefined,
  });
  process.stderr.write(`wrote ${path.relative(ROOT, latest)}\n`);
  cpuGroups?.remove();
}

main().catch(async (err: unknown) => {
  process.stderr.write(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  await killEverythingAndWait();
  process.exit(1);
});
