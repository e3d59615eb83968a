// Files a pool's workers write when they run as another user than the master:
// the master (root) makes the ones it creates theirs.
import { chownSync, closeSync, constants, fchownSync, openSync } from 'node:fs';
import type { RunAs } from '../config/identities.js';
import type { PoolConfig } from '../config/types.js';

/** Created like a worker creates its access log. */
const LOG_MODE = 0o640;

/**
 * Creates the pool's access log and slowlog, when missing, owned by the pool's
 * user, so that its workers can open them (before they start, and after
 * logrotate renamed them). An existing file is left as it is: a file that is
 * someone else's, or a link, is never given away. Returns what failed.
 */
export function prepareWorkerLogs(config: Pick<PoolConfig, 'accessLog' | 'slowlog'>, runAs: RunAs | null): string[] {
  if (runAs === null) return [];
  const problems: string[] = [];
  for (const [key, file] of [['access.log', config.accessLog], ['slowlog', config.slowlog]] as const) {
    if (file === null) continue;
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, LOG_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') problems.push(`cannot create ${key} '${file}': ${(err as Error).message}`);
      continue;
    }
    try {
      fchownSync(fd, runAs.uid ?? -1, runAs.gid);
    } catch (err) {
      problems.push(`cannot give ${key} '${file}' to the pool's user: ${(err as Error).message}`);
    } finally {
      closeSync(fd);
    }
  }
  return problems;
}

/** Gives a file the master created for the pool's workers (their scoreboard) to the pool's user. */
export function giveToWorkers(file: string, runAs: RunAs | null): void {
  if (runAs !== null) chownSync(file, runAs.uid ?? -1, runAs.gid);
}
