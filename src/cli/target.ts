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

/** Finds the running master through its pid file, or says why not (and returns the exit code). */
export function findMaster(options: TargetOptions): Target | number {
  let pidFile = options.pid ? path.resolve(options.pid) : null;
  let processControlTimeout: number | null = null;
  let configFile: string | null = null;
  if (pidFile === null) {
    const loaded = loadConfigOrReport(path.resolve(options.config));
    if (!loaded) return EXIT.CONFIG;
    configFile = loaded.config.file;
    pidFile = loaded.config.global.pid;
    processControlTimeout = loaded.config.global.processControlTimeout;
    if (pidFile === null) {
      process.stderr.write(`ERROR: no pid file: set 'pid' in [global] of ${options.config} or pass --pid\n`);
      return EXIT.USAGE;
    }
  }
  const state = readPidFile(pidFile);
  switch (state.kind) {
    case 'missing':
      process.stderr.write(`ERROR: poold is not running (no pid file at ${pidFile})\n`);
      return EXIT.UNAVAILABLE;
    case 'stale':
      process.stderr.write(`ERROR: poold is not running (stale pid file ${pidFile}: pid ${state.pid} is gone)\n`);
      return EXIT.UNAVAILABLE;
    case 'unreadable':
      process.stderr.write(`ERROR: cannot read pid file ${pidFile}: ${state.reason}\n`);
      return state.denied ? EXIT.NOPERM : EXIT.UNAVAILABLE;
    case 'running':
      return { pidFile, pid: state.pid, processControlTimeout, configFile };
  }
}
