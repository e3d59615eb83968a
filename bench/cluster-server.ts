// The comparison server: Node's cluster module, in either of its scheduling
// policies. The primary forks N workers; each loads the same app module poold
// would load and listens on a port the primary's first bind picks (port 0).
//
//   node dist/bench/cluster-server.js APP_PATH WORKERS rr|none
//
//   rr    SCHED_RR, cluster's default on Linux: the primary accepts every
//         connection and hands it to the workers in turn.
//   none  SCHED_NONE: the workers share the listening socket and the kernel
//         wakes whichever of them is waiting in accept().
//
// Prints one JSON line on stdout once every worker listens:
//   {"ready":true,"port":PORT,"primary":PID,"workers":[PID,...]}
// Stops its workers and exits on SIGTERM/SIGINT, or when its stdin closes (the
// benchmark that started it is gone).
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

type Handler = http.RequestListener;

const POLICIES = { rr: cluster.SCHED_RR, none: cluster.SCHED_NONE } as const;
const isPolicy = (name: string | undefined): name is keyof typeof POLICIES => name === 'rr' || name === 'none';

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
  // Exit through process.exit() on SIGTERM, so exit hooks run (e.g. --cpu-prof
  // in NODE_OPTIONS writes its profile), as poold's workers do when stopped.
  process.on('SIGTERM', () => process.exit(0));
  const handler = await loadHandler(process.env.BENCH_APP!);
  // Port 0 in every worker is one shared port: the primary binds it on the
  // first worker's request and gives the later ones the same socket.
  http.createServer(handler).listen(0, '127.0.0.1');
}

function primary(): void {
  const [appPath, workersArg, policy] = process.argv.slice(2);
  const count = Number(workersArg);
  if (!appPath || !Number.isInteger(count) || count < 1 || !isPolicy(policy)) {
    console.error('usage: cluster-server.js APP_PATH WORKERS rr|none');
    process.exit(64);
  }
  // Set explicitly, before setupPrimary() freezes it, so that
  // NODE_CLUSTER_SCHED_POLICY in the environment cannot change the comparison.
  // Workers get no inherited execArgv (no profiler or preload), like poold's workers.
  cluster.schedulingPolicy = POLICIES[policy];
  cluster.setupPrimary({ execArgv: [] });

  let stopping = false;
  const ports = new Set<number>();
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
  cluster.on('listening', (_worker, address: AddressInfo) => {
    ports.add(address.port);
    if (++listening < count) return;
    if (ports.size !== 1) {
      console.error(`the workers listen on different ports (${[...ports].join(', ')}); stopping`);
      stop();
      return;
    }
    process.stdout.write(`${JSON.stringify({ ready: true, port: [...ports][0], primary: process.pid, workers: pids })}\n`);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  for (let i = 0; i < count; i++) {
    const w = cluster.fork({ BENCH_APP: appPath });
    pids.push(w.process.pid!);
  }
}

if (cluster.isPrimary) primary();
else void worker();
