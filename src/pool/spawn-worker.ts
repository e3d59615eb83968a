import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import type { IdentityContext, RunAs } from '../config/identities.js';
import { coreLimit } from '../config/values.js';
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

// util-linux's prlimit sets a pool's rlimit_files and rlimit_core before the
// rest of the chain runs: as root, before any privilege drop, so a pool may
// get a higher hard limit than the master's (as FPM's children set theirs
// before setuid). Without it on the PATH, such a pool's workers fail to start
// with ENOENT, which is logged.
const PRLIMIT = findOnPath('prlimit') ?? 'prlimit';

/** The pool's own limits for its workers (0: the master's, inherited). */
export interface WorkerLimits {
  rlimitFiles: number;
  rlimitCore: number;
}

/** The prlimit arguments that give a worker its pool's limits; none when the pool sets none. */
function prlimitArgs({ rlimitFiles, rlimitCore }: WorkerLimits): string[] {
  const args: string[] = [];
  if (rlimitFiles > 0) args.push(`--nofile=${rlimitFiles}:${rlimitFiles}`);
  // prlimit spells an infinite limit 'unlimited', as rlimit_core does.
  const core = coreLimit.format(rlimitCore);
  if (rlimitCore > 0) args.push(`--core=${core}:${core}`);
  return args;
}

/** The environment a worker starts with: the pool's env[] over the master's (unless clear_env) and its user's USER and HOME. */
export function workerEnvironment(env: Record<string, string>, clearEnv: boolean, runAs: RunAs | null): Record<string, string> {
  const inherited = clearEnv
    ? {}
    : Object.fromEntries(
        Object.entries(process.env).filter(
          (entry): entry is [string, string] => entry[1] !== undefined && !MASTER_ONLY_ENV.test(entry[0]),
        ),
      );
  return { ...inherited, ...accountEnv(runAs), ...env };
}

export interface SpawnOptions {
  /** All but compileCache, which is looked up at each start (compile-cache.ts). */
  settings: Omit<WorkerSettings, 'compileCache'>;
  limits: WorkerLimits;
  /** catch_workers_output: pipe stdout/stderr to the master, else discard them. */
  catchOutput: boolean;
  /** The master's descriptors a worker writes logs to (inherited-logs.ts), as its descriptors 7, 8, …. */
  logFds: number[];
  env: Record<string, string>;
  clearEnv: boolean;
  /** The worker's end of its dispatch channel, its connection table and its pool's scoreboard (records.ts: CHANNEL_FD, TABLE_FD, SCOREBOARD_FD). */
  channelFd: number;
  tableFd: number;
  scoreboardFd: number;
  /** The pool's user and group (null: the master's), and its chdir. */
  runAs: RunAs | null;
  cwd: string;
}

/**
 * Starts a worker process. Node's own spawn(), not execa: when spawn() fails
 * for lack of descriptors (EMFILE), Node returns a ChildProcess with no pid and
 * no stdio and emits 'error' on the next tick; execa then throws on the
 * missing stdio, and the 'error' of the ChildProcess it made reaches no
 * listener, which kills the master. Here the caller gets the ChildProcess
 * either way: without a pid, its 'error' says why it did not start.
 */
export function spawnWorker(options: SpawnOptions): ChildProcess {
  const { settings, limits, env, clearEnv, catchOutput, logFds, channelFd, tableFd, scoreboardFd, runAs, cwd } = options;
  const workerSettings: WorkerSettings = { ...settings, compileCache: compileCacheDir(runAs) };
  const workerEnv = { ...workerEnvironment(env, clearEnv, runAs), [WORKER_SETTINGS_ENV]: JSON.stringify(workerSettings) };
  let [file, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', ...setprivCredentials(runAs), '--', process.execPath, WORKER_MAIN]]
    : [process.execPath, [WORKER_MAIN]];
  const limitArgs = prlimitArgs(limits);
  if (limitArgs.length > 0) [file, args] = [PRLIMIT, [...limitArgs, '--', file, ...args]];
  const output = catchOutput ? 'pipe' : 'ignore';
  return spawn(file, args, {
    env: workerEnv,
    cwd,
    // The IPC channel is read through the ChildProcess 'message' events.
    // Then the dispatch channel, the connection table and the scoreboard, as
    // descriptors 4, 5 and 6, and from 7 on the master's descriptors its logs
    // go to (inherited-logs.ts).
    stdio: ['ignore', output, output, 'ipc', channelFd, tableFd, scoreboardFd, ...logFds],
    serialization: 'json',
    // Its own session: a terminal's Ctrl-C or hangup reaches only the master,
    // which drains workers gracefully instead of losing their requests.
    detached: true,
  });
}
