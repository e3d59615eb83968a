// How a worker is started as its pool's user: setpriv's options and the
// environment FPM gives such a worker.
import type { RunAs } from '../config/identities.js';

/**
 * setpriv's credential options. setpriv applies them before --pdeathsig (the
 * kernel clears a parent-death signal when credentials change, so the reverse
 * order, or a worker dropping privileges itself, would lose it).
 */
export function setprivCredentials(runAs: RunAs | null): string[] {
  if (runAs === null) return [];
  const uid = runAs.uid === null ? [] : ['--reuid', String(runAs.uid)];
  return [...uid, '--regid', String(runAs.gid), `--${runAs.groups}-groups`];
}

/** USER and HOME of the pool's user, as FPM sets them; the pool's env[] entries still win. */
export function accountEnv(runAs: RunAs | null): Record<string, string> {
  if (runAs?.user == null) return {};
  return { USER: runAs.user, ...(runAs.home ? { HOME: runAs.home } : {}) };
}
