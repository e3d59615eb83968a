// Whether the pid in a pid file is the poold master of that pid file, before
// anyone signals it or refuses to start because of it: a pid file outlives
// its master, and the kernel hands its pid to any later process.
import { sendControl } from '../control/client.js';
import { controlSocketPath } from '../control/control-path.js';
import { commandLine, isMasterCommandLine } from '../control/pidfile.js';

/** What a master says about itself on its control socket ('identify'). */
export interface MasterIdentity {
  pid: number;
  /** Absolute path of the configuration it runs. */
  config: string;
}

export type Identification =
  | { kind: 'ours' }
  | { kind: 'foreign'; reason: string }
  /** It may be ours, but it belongs to another user: neither its socket nor a signal reaches it. */
  | { kind: 'denied' };

const IDENTIFY_TIMEOUT_MS = 5000;

/**
 * Asks the master on the pid file's control socket who it is; when the socket
 * cannot answer (a master still starting), its command line must be poold's.
 * With `configFile`, a master of another configuration is not ours either.
 */
export async function identifyMaster(pid: number, pidFile: string, configFile: string | null): Promise<Identification> {
  const argv = commandLine(pid);
  if (argv.length > 0 && !isMasterCommandLine(argv)) {
    return { kind: 'foreign', reason: `it runs '${argv.join(' ')}'` };
  }
  let identity: MasterIdentity | undefined;
  try {
    identity = (await sendControl(controlSocketPath(pidFile), { cmd: 'identify' }, IDENTIFY_TIMEOUT_MS)).data as
      | MasterIdentity
      | undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? { kind: 'denied' } : { kind: 'ours' };
  }
  if (identity === undefined) return { kind: 'ours' };
  if (identity.pid !== pid) return { kind: 'foreign', reason: `the master on its control socket is pid ${identity.pid}` };
  if (configFile !== null && identity.config !== configFile) {
    return { kind: 'foreign', reason: `it is the master of ${identity.config}` };
  }
  return { kind: 'ours' };
}
