// Starts and stops the servers under test, tracking every pid they create so
// that each one can be stopped completely (by pid, never by name).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath } from '../src/pool/spawn-worker.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POOLD_BIN = path.join(ROOT, 'dist/bin/poold.js');
const CLUSTER_SERVER = fileURLToPath(new URL('./cluster-server.js', import.meta.url));
export const DEFAULT_APP = path.join(ROOT, 'examples/hello/app.js');

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** Every pid any server in this run announced; killed on the way out whatever happens. */
const everyPid = new Set<number>();
/** Every server's temporary directory that still exists. */
const everyDir = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Last resort (bench interrupted or crashed): SIGKILL whatever we started and remove its files. */
export function killEverything(): void {
  for (const pid of everyPid) signal(pid, 'SIGKILL');
  for (const dir of everyDir) removeDir(dir);
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  everyDir.delete(dir);
}

/** killEverything(), then waits (bounded) until those processes are gone. */
export async function killEverythingAndWait(timeoutMs = 3000): Promise<void> {
  killEverything();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && [...everyPid].some(isAlive)) await new Promise((r) => setTimeout(r, 25));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(25);
  }
  return check();
}

/** An unused loopback port (bound then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing accepts connections on 127.0.0.1:port any more. */
function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

export interface RunningServer {
  port: number;
  /** The master (poold) or primary (cluster). */
  masterPid: number;
  workerPids: number[];
  /** Stops master and workers; resolves once every pid is gone and the port refuses. */
  stop(): Promise<void>;
}

interface Spawned {
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
}

// util-linux's setpriv: the server gets SIGTERM if the benchmark dies, even by
// SIGKILL, which no exit handler of ours would see.
const SETPRIV = findOnPath('setpriv');

/**
 * Starts `node ARGS` (the same pid throughout: every wrapper execs). Through
 * setpriv --pdeathsig when available, and with `cgroupProcs` through a shell
 * that first moves itself into that cgroup, so the server and every process it
 * forks are in the group from their first instruction.
 */
function spawnTracked(args: string[], cgroupProcs?: string): Spawned {
  let argv = [process.execPath, ...args];
  if (SETPRIV) argv = [SETPRIV, '--pdeathsig', 'SIGTERM', '--', ...argv];
  if (cgroupProcs) argv = ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, ...argv];
  const [file, ...rest] = argv as [string, ...string[]];
  const child = spawn(file, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  everyPid.add(child.pid!);
  const output: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    output.push(...lines);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output, exited };
}

async function stopTracked(spawned: Spawned, masterPid: number, workerPids: () => number[], port: number): Promise<void> {
  signal(masterPid, 'SIGTERM');
  const masterGone = await Promise.race([spawned.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
  if (!masterGone) signal(masterPid, 'SIGKILL');
  // Workers should be gone with their master; give them a moment, then insist.
  const all = () => [masterPid, ...workerPids()];
  if (!(await waitUntil(() => all().every((pid) => !isAlive(pid)), 5000))) {
    for (const pid of all()) signal(pid, 'SIGKILL');
    await waitUntil(() => all().every((pid) => !isAlive(pid)), 5000);
  }
  spawned.child.stdin?.destroy();
  const leftovers = all().filter(isAlive);
  if (leftovers.length > 0) throw new Error(`could not stop pids ${leftovers.join(', ')}`);
  // Gone: from now on these pids may be reused by processes that are not ours.
  for (const pid of all()) everyPid.delete(pid);
  if (!(await portRefuses(port))) {
    throw new Error(`port ${port} still accepts connections after the server stopped`);
  }
}

export interface StartOptions {
  workers: number;
  /** Extra node flags for the master/primary only (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** poold only: another build's dist/bin/poold.js, to compare a patched tree. */
  pooldBin?: string;
  /** poold only: extra directives appended to the pool section. */
  poolExtra?: string[];
  /** A cgroup.procs file to start the server in (see cgroup.ts). */
  cgroupProcs?: string;
}

/** How often startPoold() tries another port when the one it picked was taken meanwhile. */
const PORT_ATTEMPTS = 3;

class PortTaken extends Error {}

/**
 * poold has no way to report a port the kernel picked, so it gets a port that
 * was free a moment ago; if something took it in between, poold fails to bind
 * and exits, and the next attempt picks another.
 */
export async function startPoold(options: StartOptions): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPooldOn(await freePort(), options);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

async function startPooldOn(port: number, options: StartOptions): Promise<RunningServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'poold-bench-'));
  everyDir.add(dir);
  const configFile = path.join(dir, 'poold.conf');
  writeFileSync(
    configFile,
    [
      '[global]',
      'log_level = notice',
      'process_control_timeout = 3s',
      '',
      '[bench]',
      `listen = 127.0.0.1:${port}`,
      `app = ${DEFAULT_APP}`,
      'pm = static',
      `pm.max_children = ${options.workers}`,
      ...(options.poolExtra ?? []),
      '',
    ].join('\n'),
  );
  const spawned = spawnTracked(
    [...(options.nodeFlags ?? []), options.pooldBin ?? POOLD_BIN, 'start', '-c', configFile],
    options.cgroupProcs,
  );
  const masterPid = spawned.child.pid!;
  const workerPids = () => {
    const pids = spawned.output.flatMap((line) => [...line.matchAll(/child (\d+) started/g)].map((m) => Number(m[1])));
    for (const pid of pids) everyPid.add(pid);
    return pids;
  };
  let exitedEarly = false;
  void spawned.exited.then(() => (exitedEarly = true));
  const ready = await waitUntil(
    () => exitedEarly || spawned.output.some((line) => line.includes('ready to handle connections')),
    START_TIMEOUT_MS,
  );
  const server: RunningServer = {
    port,
    masterPid,
    workerPids: workerPids(),
    stop: async () => {
      await stopTracked(spawned, masterPid, workerPids, port);
      removeDir(dir);
    },
  };
  if (!ready || exitedEarly) {
    await server.stop().catch(() => {});
    const log = spawned.output.join('\n');
    if (log.includes('Address already in use')) throw new PortTaken(`port ${port} was taken`);
    throw new Error(`poold did not become ready:\n${log}`);
  }
  if (server.workerPids.length !== options.workers) {
    await server.stop().catch(() => {});
    throw new Error(`poold started ${server.workerPids.length} workers, expected ${options.workers}`);
  }
  return server;
}

export type ClusterPolicy = 'rr' | 'none';

export async function startCluster(options: StartOptions & { policy: ClusterPolicy }): Promise<RunningServer> {
  const spawned = spawnTracked(
    [...(options.nodeFlags ?? []), CLUSTER_SERVER, DEFAULT_APP, String(options.workers), options.policy],
    options.cgroupProcs,
  );
  const masterPid = spawned.child.pid!;
  let info: { port: number; workers: number[] } | undefined;
  let exitedEarly = false;
  void spawned.exited.then(() => (exitedEarly = true));
  await waitUntil(() => {
    const line = spawned.output.find((l) => l.startsWith('{"ready":true'));
    if (line) info = JSON.parse(line) as { port: number; workers: number[] };
    return exitedEarly || info !== undefined;
  }, START_TIMEOUT_MS);
  const workerPids = info?.workers ?? [];
  for (const pid of workerPids) everyPid.add(pid);
  const port = info?.port ?? 0;
  const server: RunningServer = {
    port,
    masterPid,
    workerPids,
    stop: () => stopTracked(spawned, masterPid, () => workerPids, port),
  };
  if (!info || exitedEarly) {
    await server.stop().catch(() => {});
    throw new Error(`the cluster server did not become ready:\n${spawned.output.join('\n')}`);
  }
  return server;
}
