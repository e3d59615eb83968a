// poold vs Node's cluster module (round-robin), same app, same worker count.
//
//   npm run bench                      all three scenarios, ~2 minutes (build first)
//   npm run bench -- --only blocking   one scenario (blocking, keepalive, newconn)
//   npm run bench -- --rounds 3        repeat, alternating which server goes first
//   npm run bench -- --diagnose        also profile the poold master and count its IPC
//   node dist/bench/run.js --help      every option
//
// Prints a table and writes bench/results/latest.json. See docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runClosedLoops, runKeepAlive, type GroupResult, type KeepAliveResult } from './load.js';
import { summarizeProfile, type ProfileSummary } from './profile-summary.js';
import {
  DEFAULT_APP,
  ROOT,
  freePort,
  killEverything,
  killEverythingAndWait,
  startCluster,
  startPoold,
  type RunningServer,
  type StartOptions,
} from './servers.js';
import { groupCpu, machineCpu, round, type CpuTimes } from './stats.js';
import { setUpCpuGroups, type CpuGroups } from './cgroup.js';

type Kind = 'cluster' | 'poold';
type ScenarioName = 'blocking' | 'keepalive' | 'newconn';
const SCENARIOS: ScenarioName[] = ['blocking', 'keepalive', 'newconn'];
/** Above this much CPU (% of one core) used by processes outside the benchmark, a run is flagged. */
const BUSY_MACHINE_PCT = 25;

const USAGE =
  'usage: node dist/bench/run.js [--duration S] [--warmup S] [--workers N] [--connections N]\n' +
  '                              [--block-ms MS] [--only blocking,keepalive,newconn] [--rounds N] [--diagnose]\n' +
  '                              [--poold OTHER/dist/bin/poold.js] [--pool-extra "pm.max_concurrency = 2" ...]\n' +
  '                              [--no-cgroup]\n';

function parseOptions() {
  return parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      workers: { type: 'string', default: '8' },
      connections: { type: 'string', default: '50' },
      'block-ms': { type: 'string', default: '200' },
      only: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      diagnose: { type: 'boolean', default: false },
      poold: { type: 'string' },
      'no-cgroup': { type: 'boolean', default: false },
      'pool-extra': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}`);
  process.exit(64);
}
const args = parsed.values;

if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const positive = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number\n`);
    process.exit(64);
  }
  return n;
};

const DURATION_MS = positive('duration', args.duration) * 1000;
const WARMUP_MS = (Number(args.warmup) === 0 ? 0 : positive('warmup', args.warmup)) * 1000;
const WORKERS = Math.floor(positive('workers', args.workers));
const CONNECTIONS = Math.floor(positive('connections', args.connections));
const BLOCK_MS = Math.floor(positive('block-ms', args['block-ms']));
const ROUNDS = Math.floor(positive('rounds', args.rounds));
const ONLY = (args.only?.split(',').map((s) => s.trim()) ?? SCENARIOS) as ScenarioName[];
for (const name of ONLY) {
  if (!SCENARIOS.includes(name)) {
    process.stderr.write(`unknown scenario '${name}' (known: ${SCENARIOS.join(', ')})\n`);
    process.exit(64);
  }
}
const RESULTS_DIR = path.join(ROOT, 'bench/results');
const POOLD_OVERRIDE = args.poold ? path.resolve(args.poold) : undefined;
const PROBE = fileURLToPath(new URL('./ipc-probe.js', import.meta.url));

// Scheduling groups first, so that every process started later inherits them.
let cpuGroups: CpuGroups | null = null;
let schedulingNote: string;
if (args['no-cgroup']) {
  schedulingNote = 'no cgroup (--no-cgroup): autogroup may favour poold, whose workers run in their own sessions';
} else {
  const groups = setUpCpuGroups();
  if ('error' in groups) {
    schedulingNote = `no cgroup (${groups.error}): autogroup may favour poold, whose workers run in their own sessions`;
  } else {
    cpuGroups = groups;
    schedulingNote = `cpu cgroups ${groups.description}`;
  }
}

// Whatever happens, nothing we started outlives the benchmark.
process.on('exit', () => {
  killEverything();
  cpuGroups?.remove();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping the servers\n`);
    void killEverythingAndWait().finally(() => {
      cpuGroups?.remove();
      process.exit(130);
    });
  });
}

// ---------------------------------------------------------------------------
// CPU accounting over the measured window

interface CpuReport {
  windowSeconds: number;
  /** CPU of the master / primary, in % of one core. */
  masterPct: number;
  masterUserPct: number;
  masterSystemPct: number;
  workersPct: number;
  loadGeneratorPct: number;
  /** Everything else the machine did meanwhile (other users, kernel), % of one core. */
  otherPct: number;
  machineBusyPct: number;
}

interface Snapshot {
  at: number;
  master: CpuTimes | undefined;
  workers: number;
  self: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

function snapshot(server: RunningServer): Snapshot {
  const cpu = groupCpu([server.masterPid, ...server.workerPids]);
  let workers = 0;
  for (const pid of server.workerPids) {
    const t = cpu.get(pid);
    if (t) workers += t.user + t.system;
  }
  return { at: performance.now(), master: cpu.get(server.masterPid), workers, self: process.cpuUsage(), machine: machineCpu() };
}

function cpuBetween(a: Snapshot, b: Snapshot): CpuReport {
  const seconds = (b.at - a.at) / 1000;
  const pct = (s: number) => round((s / seconds) * 100, 1);
  const mu = (b.master?.user ?? 0) - (a.master?.user ?? 0);
  const ms = (b.master?.system ?? 0) - (a.master?.system ?? 0);
  const workers = b.workers - a.workers;
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  const busy = b.machine.busy - a.machine.busy;
  return {
    windowSeconds: round(seconds, 3),
    masterPct: pct(mu + ms),
    masterUserPct: pct(mu),
    masterSystemPct: pct(ms),
    workersPct: pct(workers),
    loadGeneratorPct: pct(self),
    otherPct: pct(Math.max(0, busy - mu - ms - workers - self)),
    machineBusyPct: pct(busy),
  };
}

// ---------------------------------------------------------------------------
// One scenario against one server

interface BlockingResult {
  fast: GroupResult;
  block: GroupResult;
}

interface Measurement<R> {
  kind: Kind;
  result: R;
  cpu: CpuReport;
  /** Master/primary CPU time per completed request, µs. */
  masterUsPerRequest: number;
  /** CPU time per completed request, µs: all workers together, and the load generator. */
  workersUsPerRequest: number;
  loadGeneratorUsPerRequest: number;
  diagnostics?: Diagnostics;
}

interface Diagnostics {
  ipc: Record<string, unknown> & { perRequest: Record<string, number> };
  profile: ProfileSummary | null;
}

async function withServer<R>(
  kind: Kind,
  diagnose: boolean,
  label: string,
  body: (server: RunningServer, hooks: { onMeasureStart: () => void; onMeasureEnd: () => void }) => Promise<R>,
  completedOf: (r: R) => number,
): Promise<Measurement<R>> {
  const port = await freePort();
  const start: StartOptions = {
    port,
    workers: WORKERS,
    app: DEFAULT_APP,
    pooldBin: POOLD_OVERRIDE,
    poolExtra: args['pool-extra'],
    cgroupProcs: cpuGroups?.serverProcs,
  };
  let probeFile: string | undefined;
  let profDir: string | undefined;
  if (diagnose) {
    profDir = path.join(RESULTS_DIR, 'prof', `${label}-${kind}`);
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    probeFile = path.join(profDir, 'ipc.json');
    start.nodeFlags = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--import', `file://${PROBE}`];
    start.env = { BENCH_IPC_PROBE_OUT: probeFile };
  }
  const server = kind === 'poold' ? await startPoold(start) : await startCluster(start);
  let before: Snapshot | undefined;
  let after: Snapshot | undefined;
  let result: R;
  try {
    result = await body(server, {
      onMeasureStart: () => (before = snapshot(server)),
      onMeasureEnd: () => (after = snapshot(server)),
    });
  } finally {
    await server.stop();
  }
  const cpu = cpuBetween(before!, after!);
  const completed = completedOf(result);
  const perRequest = (pct: number) => (completed > 0 ? round(((pct / 100) * cpu.windowSeconds * 1e6) / completed, 1) : NaN);
  const measurement: Measurement<R> = {
    kind,
    result,
    cpu,
    masterUsPerRequest: perRequest(cpu.masterPct),
    workersUsPerRequest: perRequest(cpu.workersPct),
    loadGeneratorUsPerRequest: perRequest(cpu.loadGeneratorPct),
  };
  if (diagnose && probeFile && profDir) {
    // Counts cover the whole life of the master (warm-up included), so divide by
    // the connections it accepted / the requests served in that whole time.
    const ipc = JSON.parse(readFileSync(probeFile, 'utf8')) as {
      accepted: number;
      sentWithHandle: number;
      sentPlain: number;
      received: Record<string, number>;
      receivedInternal: Record<string, number>;
    };
    const perRequest: Record<string, number> = {};
    const base = ipc.sentWithHandle || 1;
    perRequest['handles sent per connection'] = round(ipc.sentWithHandle / base, 3);
    for (const [k, v] of Object.entries(ipc.received)) perRequest[`'${k}' received per handle`] = round(v / base, 3);
    for (const [k, v] of Object.entries(ipc.receivedInternal)) perRequest[`${k} received per handle`] = round(v / base, 3);
    const profFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    measurement.diagnostics = {
      ipc: { ...ipc, perRequest },
      profile: profFile ? summarizeProfile(path.join(profDir, profFile), 15) : null,
    };
  }
  return measurement;
}

function runScenario(name: ScenarioName, kind: Kind, diagnose = false): Promise<Measurement<unknown>> {
  const label = diagnose ? `${name}-diagnose` : name;
  switch (name) {
    case 'blocking':
      return withServer<BlockingResult>(
        kind,
        diagnose,
        label,
        async (server, hooks) => {
          const [block, fast] = await runClosedLoops({
            port: server.port,
            groups: [
              { name: 'block', path: `/block?ms=${BLOCK_MS}`, connections: 4 },
              { name: 'fast', path: '/', connections: 4 },
            ],
            warmupMs: WARMUP_MS,
            durationMs: DURATION_MS,
            ...hooks,
          });
          return { block: block!, fast: fast! };
        },
        (r) => r.fast.completed + r.block.completed,
      );
    case 'keepalive':
      return withServer<KeepAliveResult>(
        kind,
        diagnose,
        label,
        (server, hooks) =>
          runKeepAlive({
            port: server.port,
            path: '/',
            connections: CONNECTIONS,
            warmupMs: WARMUP_MS,
            durationMs: DURATION_MS,
            ...hooks,
          }),
        (r) => r.completed,
      );
    case 'newconn':
      return withServer<{ fast: GroupResult }>(
        kind,
        diagnose,
        label,
        async (server, hooks) => {
          const [fast] = await runClosedLoops({
            port: server.port,
            groups: [{ name: 'fast', path: '/', connections: CONNECTIONS }],
            warmupMs: WARMUP_MS,
            durationMs: DURATION_MS,
            ...hooks,
          });
          return { fast: fast! };
        },
        (r) => r.fast.completed,
      );
  }
}

// ---------------------------------------------------------------------------
// Report

const median = (values: number[]): number => {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

interface Row {
  scenario: string;
  metric: string;
  cluster: number;
  poold: number;
  ratio?: number;
  ratioLabel?: string;
  target?: string;
  pass?: boolean;
}

function errorsOf(r: GroupResult): number {
  return r.non2xx + Object.values(r.errors).reduce((a, b) => a + b, 0);
}

function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toString();
  return n.toFixed(digits);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Which poold was measured: the tree its dist/bin/poold.js was built from, that
 * tree's commit (when it is a git checkout), whether its src/ had local changes,
 * and a hash of its src/.
 */
function sourceState(): { tree: string; commit: string; srcDirty: boolean; srcHash: string } {
  const tree = POOLD_OVERRIDE ? path.resolve(POOLD_OVERRIDE, '../../..') : ROOT.replace(/\/$/, '');
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', ['-C', tree, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) hash.update(path.relative(tree, full)).update(readFileSync(full));
    }
  };
  try {
    walk(path.join(tree, 'src'));
  } catch {
    // no src/ (installed package): the hash stays that of nothing
  }
  // Only when the tree is the top of its own checkout (not, say, a copy under /tmp).
  const isCheckout = git('rev-parse', '--show-toplevel') === tree;
  return {
    tree,
    commit: (isCheckout && git('rev-parse', '--short', 'HEAD')) || 'unknown (not a git checkout)',
    srcDirty: isCheckout && git('status', '--porcelain', '--', 'src') !== '',
    srcHash: hash.digest('hex').slice(0, 12),
  };
}

async function main(): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const startedAt = new Date();
  const machine = {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
  const source = sourceState();
  process.stderr.write(
    `poold vs cluster (round-robin): ${WORKERS} workers, app ${path.relative(ROOT, DEFAULT_APP)}, ` +
      `${WARMUP_MS / 1000}s warm-up + ${DURATION_MS / 1000}s per run, ${ROUNDS} round(s)\n` +
      `machine: ${machine.nproc} cpus (${machine.cpuModel}), node ${machine.node}, load avg ${machine.loadAverageAtStart.join(' ')}\n` +
      `poold: ${POOLD_OVERRIDE ?? 'dist/bin/poold.js'} (tree ${source.tree}, commit ${source.commit}` +
      `${source.srcDirty ? ' + local src changes' : ''}, src hash ${source.srcHash})` +
      `${args['pool-extra'] ? `, pool extra: ${args['pool-extra'].join('; ')}` : ''}\n` +
      `scheduling: ${schedulingNote}\n`,
  );

  const runs: Record<ScenarioName, Measurement<unknown>[]> = { blocking: [], keepalive: [], newconn: [] };
  for (const scenario of ONLY) {
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      // Alternate which server goes first, so drift in the machine's load is shared.
      const order: Kind[] = round_ % 2 === 0 ? ['cluster', 'poold'] : ['poold', 'cluster'];
      for (const kind of order) {
        process.stderr.write(`  ${scenario} / ${kind} (round ${round_ + 1}) ... `);
        const m = await runScenario(scenario, kind);
        runs[scenario].push(m);
        process.stderr.write(`${describe(scenario, m)}\n`);
      }
    }
  }

  const pick = (scenario: ScenarioName, kind: Kind, value: (m: Measurement<unknown>) => number) =>
    median(runs[scenario].filter((m) => m.kind === kind).map(value));

  const rows: Row[] = [];
  const cpuRows: string[][] = [];
  const warnings: string[] = [];
  if (!cpuGroups) warnings.push(`scheduling: ${schedulingNote}`);
  for (const scenario of ONLY) {
    for (const m of runs[scenario]) {
      const groups =
        scenario === 'keepalive'
          ? []
          : scenario === 'blocking'
            ? [(m.result as BlockingResult).fast, (m.result as BlockingResult).block]
            : [(m.result as { fast: GroupResult }).fast];
      for (const g of groups) {
        if (errorsOf(g) > 0) {
          warnings.push(`${scenario}/${m.kind} ${g.name}: ${g.non2xx} non-2xx, errors ${JSON.stringify(g.errors)}`);
        }
      }
      if (scenario === 'keepalive') {
        const r = m.result as KeepAliveResult;
        if (r.errors || r.non2xx || r.timeouts) {
          warnings.push(`keepalive/${m.kind}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
        }
      }
      if (m.cpu.otherPct > BUSY_MACHINE_PCT) {
        warnings.push(
          `${scenario}/${m.kind}: other processes used ${fmt(m.cpu.otherPct, 0)}% of a core during the measurement; ` +
            'this run competed for CPU and its numbers are unreliable',
        );
      }
      cpuRows.push([
        scenario,
        m.kind,
        fmt(m.cpu.masterPct, 1),
        `${fmt(m.cpu.masterUserPct, 1)}/${fmt(m.cpu.masterSystemPct, 1)}`,
        fmt(m.cpu.workersPct, 1),
        fmt(m.cpu.loadGeneratorPct, 1),
        fmt(m.cpu.otherPct, 1),
        fmt(m.masterUsPerRequest, 1),
        fmt(m.workersUsPerRequest, 1),
        fmt(m.loadGeneratorUsPerRequest, 1),
      ]);
    }
    if (scenario === 'blocking') {
      const fast = (m: Measurement<unknown>) => (m.result as BlockingResult).fast;
      const block = (m: Measurement<unknown>) => (m.result as BlockingResult).block;
      for (const p of ['p50', 'p99', 'max'] as const) {
        const c = pick(scenario, 'cluster', (m) => fast(m).latency[p]);
        const d = pick(scenario, 'poold', (m) => fast(m).latency[p]);
        const row: Row = { scenario: 'blocking mix', metric: `fast ${p} (ms)`, cluster: c, poold: d, ratio: c / d, ratioLabel: 'cluster/poold' };
        if (p === 'p99') Object.assign(row, { target: '>= 20x lower', pass: c / d >= 20 });
        rows.push(row);
      }
      rows.push({
        scenario: 'blocking mix',
        metric: 'fast req/s',
        cluster: pick(scenario, 'cluster', (m) => fast(m).requestsPerSecond),
        poold: pick(scenario, 'poold', (m) => fast(m).requestsPerSecond),
      });
      rows.push({
        scenario: 'blocking mix',
        metric: `block p50 (ms)`,
        cluster: pick(scenario, 'cluster', (m) => block(m).latency.p50),
        poold: pick(scenario, 'poold', (m) => block(m).latency.p50),
      });
    } else {
      const rps = (m: Measurement<unknown>) =>
        scenario === 'keepalive'
          ? (m.result as KeepAliveResult).requestsPerSecond
          : (m.result as { fast: GroupResult }).fast.requestsPerSecond;
      const c = pick(scenario, 'cluster', rps);
      const d = pick(scenario, 'poold', rps);
      const target = scenario === 'keepalive' ? 0.9 : 1.0;
      rows.push({
        scenario: scenario === 'keepalive' ? 'hello, keep-alive' : 'hello, new conn/request',
        metric: 'req/s',
        cluster: c,
        poold: d,
        ratio: d / c,
        ratioLabel: 'poold/cluster',
        target: `>= ${target.toFixed(1)}x`,
        pass: d / c >= target,
      });
      if (scenario === 'newconn') {
        rows.push({
          scenario: 'hello, new conn/request',
          metric: 'p99 (ms)',
          cluster: pick(scenario, 'cluster', (m) => (m.result as { fast: GroupResult }).fast.latency.p99),
          poold: pick(scenario, 'poold', (m) => (m.result as { fast: GroupResult }).fast.latency.p99),
        });
      }
    }
  }

  let diagnostics: Record<string, Measurement<unknown>> | undefined;
  if (args.diagnose) {
    diagnostics = {};
    process.stderr.write('\ndiagnostics (profiler + IPC probe in the master/primary; numbers are slower than above):\n');
    for (const scenario of ONLY) {
      for (const kind of ['cluster', 'poold'] as Kind[]) {
        process.stderr.write(`  ${scenario} / ${kind} ... `);
        const m = await runScenario(scenario, kind, true);
        diagnostics[`${scenario}/${kind}`] = m;
        process.stderr.write(`${describe(scenario, m)}\n`);
      }
    }
  }

  const out: string[] = [];
  out.push('');
  out.push(
    table(
      ['scenario', 'metric', 'cluster', 'poold', 'ratio', 'target', 'result'],
      rows.map((r) => [
        r.scenario,
        r.metric,
        fmt(r.cluster),
        fmt(r.poold),
        r.ratio === undefined ? '' : `${fmt(r.ratio)}x ${r.ratioLabel}`,
        r.target ?? '',
        r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL',
      ]),
    ),
  );
  out.push('');
  out.push('CPU during the measured window, % of one core (2 cores = 200%):');
  out.push(
    table(
      ['scenario', 'server', 'master', 'usr/sys', 'workers', 'loadgen', 'other', 'µs/req: master', 'workers', 'loadgen'],
      cpuRows,
    ),
  );
  if (diagnostics) {
    for (const [key, m] of Object.entries(diagnostics)) {
      const d = m.diagnostics;
      if (!d) continue;
      out.push('');
      out.push(`[diagnose ${key}] master CPU ${fmt(m.cpu.masterPct, 1)}%, ${fmt(m.masterUsPerRequest, 1)} µs/request`);
      out.push(`  IPC per handed-over connection: ${JSON.stringify(d.ipc.perRequest)}`);
      out.push(`  IPC totals: accepted=${String(d.ipc.accepted)} handles=${String(d.ipc.sentWithHandle)} plain sends=${String(d.ipc.sentPlain)} received=${JSON.stringify(d.ipc.received)} internal=${JSON.stringify(d.ipc.receivedInternal)}`);
      if (d.profile) {
        const busy = d.profile.totalMs - d.profile.idleMs;
        out.push(`  profile: ${fmt(busy, 0)} ms busy of ${fmt(d.profile.totalMs, 0)} ms; self time by file:`);
        for (const e of d.profile.byFile.slice(0, 8)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.name}`);
        out.push('  top functions:');
        for (const e of d.profile.byFunction.slice(0, 12)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.name}`);
      }
    }
  }
  if (warnings.length > 0) {
    out.push('');
    out.push('WARNINGS (treat the numbers concerned with care):');
    for (const w of warnings) out.push(`  ${w}`);
  }
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);

  const report = {
    date: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    settings: {
      workers: WORKERS,
      connections: CONNECTIONS,
      blockMs: BLOCK_MS,
      warmupSeconds: WARMUP_MS / 1000,
      durationSeconds: DURATION_MS / 1000,
      rounds: ROUNDS,
      app: path.relative(ROOT, DEFAULT_APP),
      pooldBin: POOLD_OVERRIDE ?? 'dist/bin/poold.js',
      poolExtra: args['pool-extra'] ?? [],
      scheduling: schedulingNote,
    },
    source,
    summary: rows.map((r) => ({ ...r, ratio: r.ratio === undefined ? undefined : round(r.ratio, 3) })),
    warnings,
    runs,
    diagnostics,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json);
  writeFileSync(path.join(RESULTS_DIR, `run-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), json);
  process.stderr.write(`wrote ${path.relative(ROOT, path.join(RESULTS_DIR, 'latest.json'))}\n`);
  cpuGroups?.remove();
}

function describe(scenario: ScenarioName, m: Measurement<unknown>): string {
  if (scenario === 'blocking') {
    const { fast, block } = m.result as BlockingResult;
    return (
      `fast p50 ${fmt(fast.latency.p50, 3)} p99 ${fmt(fast.latency.p99, 3)} max ${fmt(fast.latency.max, 1)} ms ` +
      `(${fmt(fast.requestsPerSecond, 0)} req/s), block p50 ${fmt(block.latency.p50, 1)} ms; master ${fmt(m.cpu.masterPct, 1)}%`
    );
  }
  const rps =
    scenario === 'keepalive'
      ? (m.result as KeepAliveResult).requestsPerSecond
      : (m.result as { fast: GroupResult }).fast.requestsPerSecond;
  return (
    `${fmt(rps, 0)} req/s; CPU master ${fmt(m.cpu.masterPct, 1)}% workers ${fmt(m.cpu.workersPct, 1)}% ` +
    `loadgen ${fmt(m.cpu.loadGeneratorPct, 1)}% other ${fmt(m.cpu.otherPct, 1)}%; ` +
    `µs/req master ${fmt(m.masterUsPerRequest, 0)} workers ${fmt(m.workersUsPerRequest, 0)}`
  );
}

main().catch(async (err: unknown) => {
  process.stderr.write(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  await killEverythingAndWait();
  cpuGroups?.remove();
  process.exit(1);
});
