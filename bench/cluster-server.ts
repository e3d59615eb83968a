// The comparison server: Node's cluster module with its default round-robin
// scheduling. The primary forks N workers; each loads the same app module
// poold would load and listens on the shared port.
//
//   node dist/bench/cluster-server.js APP_PATH PORT WORKERS
//
// Prints one JSON line on stdout once every worker listens:
//   {"ready":true,"primary":PID,"workers":[PID,...]}
// Stops its workers and exits on SIGTERM/SIGINT, or when its stdin closes (the
// benchmark that started it is gone).
import cluster from 'node:cluster';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

type Handler = http.RequestListener;

async function loadHandler(appPath: string): Promise<Handler> {
  const mod = (await import(pathToFileURL(appPath).href)) as { default?: unknown };
  const exported = mod.default as Handler | { handler: Handler; init?: () => unknown } | undefined;
  if (typeof exported === 'function') return exported;
  if (exported && typeof exported.handler === 'function') {
    await exported.init?.();
    return exported.handler;
  }
  throw new TypeError(`${appPath}: no request handler in the default export`);
}

async function worker(): Promise<void> {
  const { BENCH_APP, BENCH_PORT } = process.env;
  // Exit through process.exit() on SIGTERM, so exit hooks run (e.g. --cpu-prof
  // in NODE_OPTIONS writes its profile), as poold's workers do when stopped.
  process.on('SIGTERM', () => process.exit(0));
  const handler = await loadHandler(BENCH_APP!);
  http.createServer(handler).listen(Number(BENCH_PORT), '127.0.0.1');
}

function primary(): void {
  const [appPath, portArg, workersArg] = process.argv.slice(2);
  const port = Number(portArg);
  const count = Number(workersArg);
  if (!appPath || !port || !count) {
    console.error('usage: cluster-server.js APP_PATH PORT WORKERS');
    process.exit(64);
  }
  // Round-robin is already Node's default on Linux; set it so that
  // NODE_CLUSTER_SCHED_POLICY in the environment cannot change the comparison.
  // Workers get no inherited execArgv (no profiler or preload), like poold's workers.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  cluster.setupPrimary({ execArgv: [] });

  let stopping = false;
  let listening = 0;
  const pids: number[] = [];
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }, 3000).unref();
  };
  cluster.on('exit', (w, code, signal) => {
    if (!stopping) {
      console.error(`cluster worker ${w.process.pid} died (${code ?? signal}); stopping`);
      stop();
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(stopping ? 0 : 1);
  });
  cluster.on('listening', () => {
    if (++listening === count) {
      process.stdout.write(`${JSON.stringify({ ready: true, primary: process.pid, workers: pids })}\n`);
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  for (let i = 0; i < count; i++) {
    const w = cluster.fork({ BENCH_APP: appPath, BENCH_PORT: String(port) });
    pids.push(w.process.pid!);
  }
}

if (cluster.isPrimary) primary();
else void worker();
