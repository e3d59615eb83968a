import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { effectiveBacklog } from '../config/system-limits.js';
import type { ListenAddress, PoolConfig } from '../config/types.js';


export class ListenError extends Error {}

export function describeAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Resolves a user or group name (or a number) through /etc/passwd or /etc/group. */
function lookupId(database: '/etc/passwd' | '/etc/group', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  for (const line of readFileSync(database, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return Number(fields[2]);
  }
  throw new ListenError(`unknown ${database === '/etc/passwd' ? 'user' : 'group'} '${name}'`);
}

/** listen.mode, listen.owner and listen.group, on a bound unix socket. */
export function applyUnixSocketPermissions(
  path: string,
  pool: Pick<PoolConfig, 'listenMode' | 'listenOwner' | 'listenGroup'>,
): void {
  chmodSync(path, pool.listenMode);
  if (pool.listenOwner !== null || pool.listenGroup !== null) {
    const uid = pool.listenOwner === null ? -1 : lookupId('/etc/passwd', pool.listenOwner);
    const gid = pool.listenGroup === null ? -1 : lookupId('/etc/group', pool.listenGroup);
    chownSync(path, uid, gid);
  }
}

/** True when something accepts connections on the unix socket at `path`. */
function unixSocketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

async function clearStaleUnixSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new ListenError(`'${path}' exists and is not a socket`);
  if (await unixSocketAnswers(path)) {
    throw new ListenError(`another poold instance seems to already listen on ${path}`);
  }
  unlinkSync(path);
}

function listen(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** How a socket is bound: its address and, for unix sockets, its permissions. */
export interface BindOptions extends Pick<PoolConfig, 'listenBacklog' | 'listenMode' | 'listenOwner' | 'listenGroup'> {
  address: ListenAddress;
  /** Prefix of error messages, e.g. "[pool www]". */
  label: string;
}

/** Makes `server` listen on an address, with FPM's checks and messages. */
export async function listenOn(server: net.Server, options: BindOptions): Promise<void> {
  const { address } = options;
  const backlog = effectiveBacklog(options.listenBacklog);
  try {
    if (address.kind === 'tcp') {
      // A bare port means every address: leaving the host out lets Node fall back
      // from '::' to 0.0.0.0 on a machine without IPv6.
      const host = address.host === '::' ? undefined : address.host;
      await listen(server, { host, port: address.port, backlog, exclusive: true });
      return;
    }
    await clearStaleUnixSocket(address.path);
    // The socket must never exist with looser permissions than listen.mode,
    // even for an instant: bind under a umask that already enforces it.
    // (Node binds synchronously inside listen(), so the umask is restored at once.)
    const previousUmask = process.umask(0o777 & ~options.listenMode);
    let listening: Promise<void>;
    try {
      listening = listen(server, { path: address.path, backlog, exclusive: true });
    } finally {
      process.umask(previousUmask);
    }
    await listening;
    applyUnixSocketPermissions(address.path, options);
  } catch (err) {
    server.close();
    if (err instanceof ListenError) throw new ListenError(`${options.label} ${err.message}`);
    const reason = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'Address already in use' : (err as Error).message;
    throw new ListenError(
      `${options.label} unable to bind listening socket for address '${describeAddress(address)}': ${reason}`,
    );
  }
}

/**
 * Binds and listens on a pool's address in the master. New connections are
 * paused: the master first looks whether their request head is there, and
 * reads from them only when it is not.
 */
export async function bindListener(pool: PoolConfig): Promise<net.Server> {
  // noDelay: Node sets TCP_NODELAY only on connections its own http server accepts;
  // these are accepted here and handed over, so without it a response written in
  // several chunks stalls on Nagle's algorithm (~40 ms per exchange).
  const server = net.createServer({ pauseOnConnect: true, noDelay: true });
  await listenOn(server, { ...pool, address: pool.listen, label: `[pool ${pool.name}]` });
  return server;
}
