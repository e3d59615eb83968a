import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { isAlive, readPidFile } from '../master/pidfile.js';
import { EXIT } from './exit-codes.js';
import { loadConfigOrReport } from './load-config.js';

export interface StopOptions {
  config: string;
  pid?: string;
  timeout?: number;
}

/** Margin on top of process_control_timeout: the master's SIGTERM→SIGKILL step and its exit. */
const STOP_MARGIN_MS = 5000;
const POLL_MS = 100;

export async function stopCommand(options: StopOptions): Promise<number> {
  let pidFile = options.pid ? path.resolve(options.pid) : null;
  let timeoutMs = options.timeout === undefined ? null : options.timeout * 1000;
  if (pidFile === null || timeoutMs === null) {
    const loaded = loadConfigOrReport(path.resolve(options.config));
    if (!loaded) return EXIT.CONFIG;
    pidFile ??= loaded.config.global.pid;
    timeoutMs ??= loaded.config.global.processControlTimeout + STOP_MARGIN_MS;
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
      return EXIT.UNAVAILABLE;
    case 'running':
      break;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(state.pid)) {
    if (Date.now() >= deadline) {
      process.stderr.write(`ERROR: poold (pid ${state.pid}) is still running after ${timeoutMs / 1000}s\n`);
      return EXIT.SOFTWARE;
    }
    await sleep(POLL_MS);
  }
  process.stderr.write(`NOTICE: poold (pid ${state.pid}) stopped\n`);
  return EXIT.OK;
}
