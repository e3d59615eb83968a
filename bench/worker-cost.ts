// Diagnostics: what a poold worker costs per kept-alive request, without the
// master. A minimal dispatcher in this process accepts connections and hands
// them round-robin, over IPC as poold's master does, either to poold's own
// worker runtime (dist/src/worker/main.js) or to a bare worker
// (bench/bare-worker.ts: a Node http server given the same sockets the same
// way, running the same app, with none of poold's bookkeeping). Load is
// bench/load.ts's closed loops on 50 kept-alive connections, from this process.
//
//   node dist/bench/worker-cost.js [--rounds 3] [--workers 8] [--duration 8] [--warmup 2]
//
// The two kinds alternate; the table gives each run's req/s and the workers'
// CPU per request. See docs/benchmarks.md, "Where the time goes now".
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { WORKER_SETTINGS_ENV, type MasterMessage, type WorkerSettings } from '../src/ipc/protocol.js';
import { Scoreboard, scoreboardDir } from '../src/scoreboard/file.js';
import { runClosedLoops } from './load.js';
import { DEFAULT_APP, ROOT } from './servers.js';
import { processCpu } from './stats.js';

const POOLD_WORKER = path.join(ROOT, 'dist/src/worker/main.js');
const BARE_WORKER = fileURLToPath(new URL('./bare-worker.js', import.meta.url));

type Kind = 'poold' | 'bare';

function startWorkers(kind: Kind, count: number, scoreboardFile: string): ChildProcess[] {
  return Array.from({ length: count }, (_, slot) => {
    if (kind === 'bare') {
      return fork(BARE_WORKER, [], { env: { POOLD_BENCH_APP: DEFAULT_APP }, execArgv: [] });
    }
    const settings: WorkerSettings = {
      pool: 'bench',
      app: DEFAULT_APP,
      maxConcurrency: 1,
      headersTimeout: 60_000,
      requestTimeout: 300_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
      scoreboard: scoreboardFile,
      slot,
      maxRequests: 0,
      maxMemory: 0,
      slowlogTimeout: 0,
      slowlog: null,
      accessLog: null,
      accessFormat: '',
      accessSuppressPath: [],
    };
    return fork(POOLD_WORKER, [], { env: { [WORKER_SETTINGS_ENV]: JSON.stringify(settings) }, execArgv: [] });
  });
}

const workersCpu = (workers: ChildProcess[]): number =>
  workers.reduce((sum, w) => {
    const cpu = processCpu(w.pid!);
    return sum + (cpu ? cpu.user + cpu.system : 0);
  }, 0);

async function measure(kind: Kind, options: { workers: number; durationMs: number; warmupMs: number }) {
  const dir = mkdtempSync(path.join(scoreboardDir(), 'poold-bench-'));
  const board = new Scoreboard(path.join(dir, 'bench.scoreboard'), options.workers);
  const workers = startWorkers(kind, options.workers, board.file);
  let next = 0;
  let id = 0;
  const dispatcher = net.createServer({ pauseOnConnect: true }, (socket) => {
    const message: MasterMessage = { t: 'conn', id: ++id };
    workers[next++ % workers.length]!.send(message, socket);
  });
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.on('message', (m: { t?: string }) => m.t === 'ready' && resolve());
            w.once('exit', (code, signal) => reject(new Error(`a ${kind} worker exited before it was ready (${code ?? signal})`)));
          }),
      ),
    );
    await new Promise<void>((resolve) => dispatcher.listen(0, '127.0.0.1', resolve));
    let cpuAtStart = 0;
    let cpuUsed = 0;
    const [result] = await runClosedLoops({
      port: (dispatcher.address() as net.AddressInfo).port,
      groups: [{ name: 'hello', path: '/', connections: 50 }],
      keepAlive: true,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      onMeasureStart: () => (cpuAtStart = workersCpu(workers)),
      onMeasureEnd: () => (cpuUsed = workersCpu(workers) - cpuAtStart),
    });
    return { reqPerSec: result!.requestsPerSecond, workerUsPerRequest: (cpuUsed * 1e6) / result!.completed };
  } finally {
    dispatcher.close();
    await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : (w.once('exit', resolve), w.kill('SIGKILL'))))));
    board.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const USAGE = 'usage: node dist/bench/worker-cost.js [--rounds N] [--workers N] [--duration S] [--warmup S] (whole numbers > 0; warm-up ≥ 0)';

function parseOptions(): { rounds: number; workers: number; duration: number; warmup: number } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        rounds: { type: 'string', default: '3' },
        workers: { type: 'string', default: '8' },
        duration: { type: 'string', default: '8' },
        warmup: { type: 'string', default: '2' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(64);
  }
  const [rounds, workers, duration, warmup] = [values.rounds, values.workers, values.duration, values.warmup].map(Number) as [number, number, number, number];
  if (![rounds, workers, duration].every((n) => Number.isInteger(n) && n > 0) || !(Number.isInteger(warmup) && warmup >= 0)) {
    console.error(USAGE);
    process.exit(64);
  }
  return { rounds, workers, duration, warmup };
}

async function main(): Promise<void> {
  const { rounds, workers, duration, warmup } = parseOptions();
  const options = { workers, durationMs: duration * 1000, warmupMs: warmup * 1000 };
  for (let round = 1; round <= rounds; round++) {
    for (const kind of (round % 2 ? ['poold', 'bare'] : ['bare', 'poold']) as Kind[]) {
      const { reqPerSec, workerUsPerRequest } = await measure(kind, options);
      console.log(`round ${round}  ${kind.padEnd(5)}  ${Math.round(reqPerSec)} req/s  workers ${workerUsPerRequest.toFixed(1)} µs/request`);
    }
  }
}

await main();
