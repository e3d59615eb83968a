import path from 'node:path';
import { readPidFile } from '../control/pidfile.js';
import { EXIT } from '../control/exit-codes.js';
import { loadConfigOrReport } from './load-config.js';

/** Options every command that talks to a running master accepts. */
export interface TargetOptions {
  config: string;
  pid?: string;
}

export interface Target {
  pidFile: string;
  pid: number;
  /** The config's process_control_timeout, when the config was read. */
  processControlTimeout: number | null;
  /** The configuration file, when the pid file came from it (not from --pid). */
  configFile: string | null;
}

/** What `options` name: the pid file (from --pid, or the config's `pid`), or the exit code after saying why not. */
export function targetPidFile(options: TargetOptions): Omit<Target, 'pid'> | number {
  if (options.pid) return { pidFile: path.resolve(options.pid), processControlTimeout: null, configFile: null };
  const loaded = loadConfigOrReport(path.resolve(options.config));
  if (!loaded) return EXIT.CONFIG;
  const pidFile = loaded.config.global.pid;
  if (pidFile === null) {
    process.stderr.write(`ERROR: no pid file: set 'pid' in [global] of ${options.config} or pass --pid\n`);
    return EXIT.USAGE;
  }
  return { pidFile, processControlTimeout: loaded.config.global.processControlTimeout, configFile: loaded.config.file };
}

/** The master behind `pidFile`, or why it cannot be reached (the message, and the exit code it calls for). */
export function masterOf(pidFile: string): { pid: number } | { code: number; message: string } {
  const state = readPidFile(pidFile);
  switch (state.kind) {
    case 'missing':
      return { code: EXIT.UNAVAILABLE, message: `poold is not running (no pid file at ${pidFile})` };
    case 'stale':
      return { code: EXIT.UNAVAILABLE, message: `poold is not running (stale pid file ${pidFile}: pid ${state.pid} is gone)` };
    case 'unreadable':
      return { code: state.denied ? EXIT.NOPERM : EXIT.UNAVAILABLE, message: `cannot read pid file ${pidFile}: ${state.reason}` };
    case 'running':
      return { pid: state.pid };
  }
}

/** Finds the running master through its pid file, or says why not (and returns the exit code). */
export function findMaster(options: TargetOptions): Target | number {
  const named = targetPidFile(options);
  if (typeof named === 'number') return named;
  const master = masterOf(named.pidFile);
  if ('message' in master) {
    process.stderr.write(`ERROR: ${master.message}\n`);
    return master.code;
  }
  return { ...named, pid: master.pid };
}
