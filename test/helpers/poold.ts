// Starts the real daemon for integration tests and cleans up after it:
// every process a test starts (master and workers) is tracked by pid and killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const POOLD_BIN = path.join(ROOT, 'dist/bin/poold.js');
export const FIXTURES = path.join(ROOT, 'test/fixtures');

export function tempDir(prefix = 'poold-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Ports the kernel never picks on its own: below the ephemeral range it takes
 * client ports from (and port 0 binds from). A port found free there stays
 * free until the test binds it, whatever thousands of client connections the
 * other tests open meanwhile, and a connection to it once closed cannot
 * connect to itself (a client socket whose ephemeral port equals its target).
 */
function portRange(): { low: number; high: number } {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux's /proc: keep the usual range
  }
  return { low: Math.max(1024, ephemeralLow - 20_000), high: ephemeralLow - 1 };
}

const PORTS = portRange();
/** Ports this test process handed out: a test asking for two gets two, before binding either. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free loopback TCP port, outside the ephemeral range, for a daemon a test starts. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORTS.low + Math.floor(Math.random() * (PORTS.high - PORTS.low + 1));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORTS.low}-${PORTS.high} after 200 tries`);
}

/** As root, a pool without `user` warns that its workers run as root: tests run as root, and expect it. */
export function isUnexpectedWarning(line: string): boolean {
  return /WARNING/.test(line) && !/the workers of this pool run as root/.test(line);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 25 ms until it returns a value other than undefined/false, or times out. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RunningPoold {
  master: ChildProcess;
  pid: number;
  /** Every log line so far (stderr of the master). */
  lines: string[];
  /** Pids of every worker the log announced as started. */
  workerPids(): number[];
  /** Pids of workers announced as started and not announced as exited. */
  liveWorkerPids(): number[];
  waitForLine(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) when the master exits. */
  exited: Promise<number | string>;
  /** SIGKILLs the master and every worker still alive. Idempotent. */
  kill(): void;
  dir: string;
}

export interface StartOptions {
  /** Extra arguments after `start -c FILE`. */
  args?: string[];
  /** Don't wait for "ready to handle connections". */
  noWait?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Another copy of dist/bin/poold.js to run. */
  bin?: string;
  /** A command that execs the master, e.g. ['prlimit', '--nofile=128:128', '--']: the pid stays the master's. */
  execThrough?: string[];
}

/**
 * The status listener defaults to a fixed port, which concurrent test daemons
 * would fight over: unless a test chooses one, each gets a socket in its own dir.
 */
export function withPrivateStatusListener(config: string): string {
  if (/^\s*status\.listen\s*=/m.test(config)) return config;
  if (/^\s*\[global\]/m.test(config)) return config.replace(/^(\s*\[global\][^\n]*\n)/m, '$1status.listen = @DIR@/status.sock\n');
  return `[global]\nstatus.listen = @DIR@/status.sock\n${config}`;
}

/** Writes `config` to a file in a fresh temp dir and starts poold on it in the foreground. */
export async function startPoold(config: string, options: StartOptions = {}): Promise<RunningPoold> {
  const dir = tempDir();
  const file = path.join(dir, 'poold.conf');
  writeFileSync(file, withPrivateStatusListener(config).replaceAll('@DIR@', dir).replaceAll('@FIXTURES@', FIXTURES));
  const [command, ...args] = [
    ...(options.execThrough ?? []),
    process.execPath,
    options.bin ?? POOLD_BIN,
    'start',
    '-c',
    file,
    ...(options.args ?? []),
  ];
  const master = spawn(command!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  };
  master.stderr!.on('data', onData);
  master.stdout!.on('data', onData);
  const exited = new Promise<number | string>((resolve) =>
    master.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const started = () => lines.flatMap((line) => [...line.matchAll(/child (\d+) started/g)].map((m) => Number(m[1])));
  const gone = () =>
    new Set(lines.flatMap((line) => [...line.matchAll(/child (\d+) exited/g)].map((m) => Number(m[1]))));
  const poold: RunningPoold = {
    master,
    pid: master.pid!,
    lines,
    dir,
    exited,
    workerPids: started,
    liveWorkerPids: () => {
      const exitedPids = gone();
      return started().filter((pid) => !exitedPids.has(pid));
    },
    waitForLine: (pattern, timeoutMs = 15_000, from = 0) =>
      waitFor(`a log line matching ${pattern}\n--- log so far:\n${lines.join('\n')}`, () =>
        lines.slice(from).find((line) => pattern.test(line)),
      timeoutMs),
    kill: () => {
      for (const pid of [master.pid!, ...started()]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
  if (!options.noWait) {
    try {
      await Promise.race([
        poold.waitForLine(/ready to handle connections/),
        exited.then((code) => {
          throw new Error(`poold exited (${code}) before it was ready:\n${lines.join('\n')}`);
        }),
      ]);
    } catch (err) {
      // The caller never gets a handle to clean up with: a master left running
      // here would keep the test file's process alive (its stdio pipes) forever.
      await cleanup(poold);
      throw err;
    }
  }
  return poold;
}

/** Kills what the test started and removes its temp dir; use in t.after(). */
export async function cleanup(poold: RunningPoold | undefined): Promise<void> {
  if (!poold) return;
  poold.kill();
  await Promise.race([poold.exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  rmSync(poold.dir, { recursive: true, force: true });
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET on a new connection (no keep-alive agent) to a TCP port or a unix socket, bounded in time. */
export function getFrom(
  target: { host: string; port: number } | { socketPath: string },
  urlPath: string,
  timeoutMs = 10_000,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...target, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** One GET to 127.0.0.1:port on a new connection, bounded in time. */
export function get(port: number, urlPath: string, timeoutMs = 10_000): Promise<Response> {
  return getFrom({ host: '127.0.0.1', port }, urlPath, timeoutMs);
}

/** A pool section for tests: short timeouts, loopback only. */
export function poolSection(name: string, port: number, app: string, extra = ''): string {
  return `[${name}]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 2\n${extra}\n`;
}

export function globalSection(extra = ''): string {
  return `[global]\npid = @DIR@/poold.pid\nprocess_control_timeout = 3s\n${extra}\n`;
}
