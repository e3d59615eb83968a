import { setTimeout as sleep } from 'node:timers/promises';
import { identifyMaster } from '../master/master-identity.js';
import { isAlive } from '../control/pidfile.js';
import { EXIT } from '../control/exit-codes.js';
import { findMaster, type TargetOptions } from './target.js';

export interface StopOptions extends TargetOptions {
  timeout?: number;
}

/** Margin on top of process_control_timeout: the master's SIGTERM→SIGKILL step and its exit. */
const STOP_MARGIN_MS = 5000;
/** Without the config, the default process_control_timeout. */
const DEFAULT_CONTROL_TIMEOUT_MS = 10_000;
const POLL_MS = 100;

/** SIGTERM (graceful); false when the master is not ours to signal. */
function signal(pid: number): boolean {
  try {
    process.kill(pid, 'SIGTERM');
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return false;
    throw err;
  }
}

/** Signals the master (SIGTERM: graceful) and waits until it has gone. */
export async function stopCommand(options: StopOptions): Promise<number> {
  const target = findMaster(options);
  if (typeof target === 'number') return target;
  const timeoutMs =
    options.timeout !== undefined
      ? options.timeout * 1000
      : (target.processControlTimeout ?? DEFAULT_CONTROL_TIMEOUT_MS) + STOP_MARGIN_MS;
  const identity = await identifyMaster(target.pid, target.pidFile, target.configFile);
  if (identity.kind === 'foreign') {
    process.stderr.write(
      `ERROR: poold is not running: pid file ${target.pidFile} names pid ${target.pid}, which is not its master (${identity.reason})\n`,
    );
    return EXIT.UNAVAILABLE;
  }
  if (identity.kind === 'denied' || !signal(target.pid)) {
    process.stderr.write(`ERROR: permission denied: poold (pid ${target.pid}) runs as another user\n`);
    return EXIT.NOPERM;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(target.pid)) {
    if (Date.now() >= deadline) {
      process.stderr.write(`ERROR: poold (pid ${target.pid}) is still running after ${timeoutMs / 1000}s\n`);
      return EXIT.SOFTWARE;
    }
    await sleep(POLL_MS);
  }
  process.stderr.write(`NOTICE: poold (pid ${target.pid}) stopped\n`);
  return EXIT.OK;
}
