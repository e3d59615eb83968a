import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import type { IdentityContext, RunAs } from '../config/identities.js';
import { WORKER_SETTINGS_ENV, type WorkerSettings } from '../ipc/protocol.js';
import { compileCacheDir } from './compile-cache.js';
import { accountEnv, setprivCredentials } from './run-as.js';

const WORKER_MAIN = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** Environment a worker must never inherit from the master. */
const MASTER_ONLY_ENV = /^(LISTEN_(PID|FDS|FDNAMES)|NOTIFY_SOCKET|WATCHDOG_(USEC|PID)|POOLD_.*)$/;

/** The executable `command` on PATH, or null. */
export function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = path.join(dir || '.', command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

// util-linux's setpriv sets PR_SET_PDEATHSIG before exec'ing node: the kernel
// then kills a worker when the master dies, even a worker stuck in synchronous
// code that would never see its IPC channel close.
const SETPRIV = findOnPath('setpriv');

export const hasParentDeathSignal = SETPRIV !== null;

/** Whether workers can run as a pool's user (config/identities.ts): as FPM, only under root, and through setpriv. */
export function identityContext(): IdentityContext {
  return { isRoot: process.geteuid!() === 0, hasSetpriv: SETPRIV !== null };
}

export interface SpawnOptions {
  /** All but compileCache, which is looked up at each start (compile-cache.ts). */
  settings: Omit<WorkerSettings, 'compileCache'>;
  /** catch_workers_output: pipe stdout/stderr to the master, else discard them. */
  catchOutput: boolean;
  /** The master's descriptors a worker writes logs to (inherited-logs.ts), as its descriptors 6, 7, …. */
  logFds: number[];
  env: Record<string, string>;
  clearEnv: boolean;
  /** The worker's end of its dispatch channel, its connection table and its pool's scoreboard (records.ts: CHANNEL_FD, TABLE_FD, SCOREBOARD_FD). */
  channelFd: number;
  tableFd: number;
  /** The pool's user and group (null: the master's), and its chdir. */
  runAs: RunAs | null;
  cwd: string;
  scoreboardFd: number;
}

/**
 * Starts a worker process. This is the one place that touches execa's
 * subprocess as a raw ChildProcess (the lifecycle messages go through its
 * 'message' events; in execa 10 it is `nodeChildProcess`).
 */
export function spawnWorker(options: SpawnOptions): ChildProcess {
  const { settings, env, clearEnv, catchOutput, logFds, channelFd, tableFd, scoreboardFd, runAs, cwd } = options;
  const workerSettings: WorkerSettings = { ...settings, compileCache: compileCacheDir(runAs) };
  const inherited = clearEnv
    ? {}
    : Object.fromEntries(Object.entries(process.env).filter(([name]) => !MASTER_ONLY_ENV.test(name)));
  const workerEnv = { ...inherited, ...accountEnv(runAs), ...env, [WORKER_SETTINGS_ENV]: JSON.stringify(workerSettings) };
  const [file, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', ...setprivCredentials(runAs), '--', process.execPath, WORKER_MAIN]]
    : [process.execPath, [WORKER_MAIN]];
  const output = catchOutput ? 'pipe' : 'ignore';
  const subprocess = execa(file, args, {
    env: workerEnv as NodeJS.ProcessEnv,
    extendEnv: false,
    cwd,
    // The IPC channel as a plain stdio entry, not execa's `ipc` option: that
    // option also runs execa's own message loop, which takes every message
    // through promises and a scheduler.yield() (about 8 µs of master CPU per
    // message, and the master gets one or two per connection). poold reads
    // the ChildProcess 'message' events itself.
    // Then the dispatch channel, the connection table and the scoreboard, as
    // descriptors 4, 5 and 6, and from 7 on the master's descriptors its logs
    // go to (inherited-logs.ts).
    // (execa passes any descriptor number through; its types list only 3–9.)
    stdio: ['ignore', output, output, 'ipc', channelFd as 3, tableFd as 3, scoreboardFd as 3, ...(logFds as 3[])],
    serialization: 'json',
    // Long-lived: never accumulate output in memory.
    buffer: false,
    reject: false,
    // Its own session: a terminal's Ctrl-C or hangup reaches only the master,
    // which drains workers gracefully instead of losing their requests.
    detached: true,
  });
  // The pool watches the ChildProcess 'exit' event, not this promise.
  subprocess.catch(() => {});
  return subprocess as unknown as ChildProcess;
}
