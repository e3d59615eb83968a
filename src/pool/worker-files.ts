// Files a pool's workers write when they run as another user than the master:
// the master (root) makes the ones it creates theirs.
import { closeSync, constants, fchownSync, openSync } from 'node:fs';
import type { RunAs } from '../config/identities.js';
import type { PoolConfig } from '../config/types.js';
import { prepareCompileCache } from './compile-cache.js';

/** Created like a worker creates its access log. */
const LOG_MODE = 0o640;

/**
 * Makes what the pool's workers write theirs when they run as `runAs`: creates
 * the access log and slowlog, when missing, owned by their user (the
 * scoreboard reaches them as a descriptor), so that the workers can open them
 * (before they start, and after logrotate renamed them). An existing log is
 * left as it is: a file that is someone else's, or a link, is never given
 * away. And their compile cache directory (compile-cache.ts). Returns what failed.
 */
export function prepareWorkerFiles(
  config: Pick<PoolConfig, 'accessLog' | 'slowlog'>,
  runAs: RunAs | null,
): string[] {
  const problems = prepareCompileCache(runAs);
  if (runAs === null) return problems;
  const give = (what: string, change: () => void): void => {
    try {
      change();
    } catch (err) {
      problems.push(`cannot give ${what} to the pool's user: ${(err as Error).message}`);
    }
  };
  for (const [key, file] of [['access.log', config.accessLog], ['slowlog', config.slowlog]] as const) {
    if (file === null) continue;
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, LOG_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        problems.push(`cannot create ${key} '${file}': ${(err as Error).message}`);
      }
      continue;
    }
    give(`${key} '${file}'`, () => fchownSync(fd, runAs.uid ?? -1, runAs.gid));
    closeSync(fd);
  }
  return problems;
}
