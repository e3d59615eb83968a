// Where workers keep V8's compiled code of the app between starts (Node's
// module compile cache, Node >= 22.1), so that each new worker of a pool
// starts faster than the first. Compiled code is code: the directory must be
// writable by the pool's user alone. One directory per user, in a root only
// the master's user can write to:
//   $RUNTIME_DIRECTORY/compile-cache/UID   (systemd's RuntimeDirectory=)
//   $TMPDIR/poold-compile-cache-EUID/UID   (otherwise; TMPDIR defaults to /tmp)
import { chmodSync, chownSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { RunAs } from '../config/identities.js';

/** Workers run the master's node: whether it has a module compile cache. */
export const hasCompileCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache === 'function';

/** The root: traversable by the pools' users, writable by the master's only (and trusted when no one else may write to it). */
const ROOT_MODE = 0o711;
const ROOT_TRUSTED_MODE = 0o755;
/** A user's cache: theirs alone. */
const USER_MODE = 0o700;

function cacheRoot(): string {
  const runtime = process.env.RUNTIME_DIRECTORY?.split(':')[0];
  return runtime ? path.join(runtime, 'compile-cache') : path.join(os.tmpdir(), `poold-compile-cache-${process.geteuid!()}`);
}

/** Who the pool's workers run as. */
function workerIds(runAs: RunAs | null): { uid: number; gid: number } {
  return { uid: runAs?.uid ?? process.geteuid!(), gid: runAs?.gid ?? process.getegid!() };
}

/** Why `stats` is not a directory owned by `uid` with at most the permissions in `mode`, or null. */
function distrust(stats: Stats, uid: number, mode: number): string | null {
  if (!stats.isDirectory()) return 'it is not a directory';
  if (stats.uid !== uid) return `it belongs to uid ${stats.uid}, not ${uid}`;
  if ((stats.mode & 0o777 & ~mode) !== 0) return `its mode is ${(stats.mode & 0o777).toString(8)}, more than ${mode.toString(8)}`;
  return null;
}

/** Why `dir` cannot be trusted (a missing one cannot), or null. Reads only. */
function problemWith(dir: string, uid: number, mode: number): string | null {
  try {
    return distrust(lstatSync(dir), uid, mode);
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The compile cache directory for workers running as `runAs` if it exists and
 * can be trusted, else null (the workers then run without one). Reads only:
 * prepareCompileCache() creates it.
 */
export function compileCacheDir(runAs: RunAs | null): string | null {
  if (!hasCompileCache) return null;
  const root = cacheRoot();
  const { uid } = workerIds(runAs);
  const dir = path.join(root, String(uid));
  return (problemWith(root, process.geteuid!(), ROOT_TRUSTED_MODE) ?? problemWith(dir, uid, USER_MODE)) === null ? dir : null;
}

/** Creates `dir` with `mode` unless it exists; true when it did. */
function create(dir: string, mode: number): boolean {
  try {
    mkdirSync(dir, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  chmodSync(dir, mode); // mkdir's mode went through the umask
  return true;
}

/**
 * Creates the compile cache directory of the workers running as `runAs`, owned
 * by their user. An existing one someone else could write to is left as it is
 * and not used. Returns what failed.
 */
export function prepareCompileCache(runAs: RunAs | null): string[] {
  if (!hasCompileCache) return [];
  const root = cacheRoot();
  const { uid, gid } = workerIds(runAs);
  const dir = path.join(root, String(uid));
  try {
    create(root, ROOT_MODE);
    const rootProblem = problemWith(root, process.geteuid!(), ROOT_TRUSTED_MODE);
    if (rootProblem) return [`not using compile cache directory '${root}': ${rootProblem}`];
    if (create(dir, USER_MODE) && uid !== process.geteuid!()) chownSync(dir, uid, gid);
  } catch (err) {
    return [`cannot create compile cache directory '${dir}': ${(err as Error).message}`];
  }
  const problem = problemWith(dir, uid, USER_MODE);
  return problem ? [`not using compile cache directory '${dir}': ${problem}`] : [];
}
