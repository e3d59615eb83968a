// Process-manager benchmarks (docs/benchmarks.md):
//  - ondemand cold start: the first request on an empty pool, against the time
//    to start a bare `node` that loads the same app (median of N each, taken
//    in turn so both see the machine in the same state);
//    target ≤ 1.5×.
//  - dynamic burst: pm.min_spare_servers = 2 and 32 concurrent 1 s requests
//    arriving at once: all 32 must be running within 1 s (FPM's 1-2-4-8-16
//    doubling needs about 5 s).
//
//   node dist/bench/pm.js [--samples N]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = path.join(ROOT, 'examples/hello/app.js');
const POOLD = path.join(ROOT, 'dist/bin/poold.js');
const { values } = parseArgs({ options: { samples: { type: 'string', default: '20' } } });
const SAMPLES = Number(values.samples);
const BURST = 32;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** ms from spawning `node` until it has imported the app and said so. */
function bareNodeStart(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(APP).href)}); process.stdout.write('x');`],
      // The environment a worker gets with clear_env = yes (the default): none.
      // An inherited one can slow every Node start by more than poold costs
      // (NODE_EXTRA_CA_CERTS adds ~80 ms on Node 20), flattering the ratio.
      { env: {} },
    );
    child.stdout.once('data', () => resolve(performance.now() - started));
    child.on('error', reject);
  });
}

interface Daemon {
  child: ChildProcess;
  port: number;
  statusPort: number;
  dir: string;
}

async function startPoold(pool: string): Promise<Daemon> {
  const [port, statusPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'poold-bench-pm-'));
  const config = path.join(dir, 'poold.conf');
  writeFileSync(
    config,
    `[global]\nstatus.listen = 127.0.0.1:${statusPort}\nprocess_control_timeout = 2s\n` +
      `[bench]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm.status_path = /status\n${pool}\n`,
  );
  const child = spawn(process.execPath, [POOLD, 'start', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk;
      if (log.includes('ready to handle connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`poold exited (${code}):\n${log}`)));
  });
  return { child, port, statusPort, dir };
}

async function stopPoold(daemon: Daemon): Promise<void> {
  const exited = new Promise((resolve) => daemon.child.once('exit', resolve));
  daemon.child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  daemon.child.kill('SIGKILL');
  rmSync(daemon.dir, { recursive: true, force: true });
}

async function totalProcesses(daemon: Daemon): Promise<number> {
  const { body } = await get(daemon.statusPort, '/status?json');
  return (JSON.parse(body) as { 'total processes': number })['total processes'];
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function ondemandColdStart(): Promise<{ bare: number; poold: number }> {
  const daemon = await startPoold('pm = ondemand\npm.max_children = 1\npm.process_idle_timeout = 1s');
  const bare: number[] = [];
  const first: number[] = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      await waitUntil('an empty pool', async () => (await totalProcesses(daemon)) === 0, 10_000);
      // Each cold request right after a bare start: both see the machine in the same state.
      bare.push(await bareNodeStart());
      const started = performance.now();
      const { status } = await get(daemon.port, '/');
      if (status !== 200) throw new Error(`cold request answered ${status}`);
      first.push(performance.now() - started);
    }
  } finally {
    await stopPoold(daemon);
  }
  return { bare: median(bare), poold: median(first) };
}

/**
 * ms from the burst until the last of its requests began running. Each request
 * blocks its worker for exactly BLOCK_MS, so it began BLOCK_MS before its answer
 * (minus a transfer time that only makes this estimate pessimistic).
 */
async function dynamicBurst(): Promise<number> {
  const BLOCK_MS = 1000;
  const daemon = await startPoold(
    `pm = dynamic\npm.max_children = ${BURST}\npm.start_servers = 2\npm.min_spare_servers = 2\npm.max_spare_servers = 4`,
  );
  try {
    await sleep(1500); // settle at the spare count
    const started = performance.now();
    const answeredAt = await Promise.all(
      Array.from({ length: BURST }, async () => {
        const { status } = await get(daemon.port, `/block?ms=${BLOCK_MS}`);
        if (status !== 200) throw new Error(`a burst request answered ${status}`);
        return performance.now() - started;
      }),
    );
    return Math.max(...answeredAt) - BLOCK_MS;
  } finally {
    await stopPoold(daemon);
  }
}

const cold = await ondemandColdStart();
const burst = await dynamicBurst();
const ratio = cold.poold / cold.bare;
process.stdout.write(
  `machine: ${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n` +
    `ondemand cold start (median of ${SAMPLES}): bare node + app ${cold.bare.toFixed(1)} ms, ` +
    `first request on an empty pool ${cold.poold.toFixed(1)} ms → ${ratio.toFixed(2)}× ${ratio <= 1.5 ? 'PASS' : 'FAIL'} (≤ 1.5×)\n` +
    `dynamic burst: the last of ${BURST} concurrent 1 s requests began running after ${burst.toFixed(0)} ms ` +
    `${burst <= 1000 ? 'PASS' : 'FAIL'} (≤ 1000 ms)\n`,
);
