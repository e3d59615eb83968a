import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { SocketIds } from '../config/identities.js';
import { effectiveBacklog } from '../config/system-limits.js';
import type { ListenAddress, PoolConfig } from '../config/types.js';
import { nativeBinding } from '../native/binding.js';

export class ListenError extends Error {}

export function describeAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}


/** listen.mode, listen.owner and listen.group, on a bound unix socket. */
export function applyUnixSocketPermissions(path: string, mode: number, owner: SocketIds): void {
  chmodSync(path, mode);
  if (owner.socketUid !== -1 || owner.socketGid !== -1) chownSync(path, owner.socketUid, owner.socketGid);
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
export interface BindOptions extends Pick<PoolConfig, 'listenBacklog' | 'listenMode'> {
  owner: SocketIds;
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
    applyUnixSocketPermissions(address.path, options.listenMode, options.owner);
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
export async function bindListener(pool: PoolConfig, owner: SocketIds): Promise<net.Server> {
  // noDelay: Node sets TCP_NODELAY only on connections its own http server accepts;
  // these are accepted here and handed over, so without it a response written in
  // several chunks stalls on Nagle's algorithm (~40 ms per exchange).
  const server = net.createServer({ pauseOnConnect: true, noDelay: true });
  await listenOn(server, { ...pool, owner, address: pool.listen, label: `[pool ${pool.name}]` });
  return server;
}

/**
 * How long a stopping listener still accepts after it stops taking new
 * connections: a handshake under way then (its SYN answered, its last ACK not
 * in yet) completes within a round trip. Below a second, the first SYN
 * retransmission of a client turned away meets the closed socket: refused.
 */
const LISTENER_DRAIN_MS = 500;

/** A listener on its way out: `closed` settles once its socket is closed. */
export interface ClosingListener {
  closed: Promise<void>;
  /** Cuts the drain short (an immediate stop). */
  closeNow(): void;
}

/**
 * Closes a listener without resetting a connection the kernel has accepted
 * for it. close() alone would: every connection still in the accept queue
 * (handshake done, its request perhaps sent) gets an RST from a TCP socket
 * and ECONNRESET from a unix one. So new connections are turned away first
 * (TCP: the native helper's filter drops new SYNs, see native/listener.c;
 * unix: the socket's path is removed, so connect() finds nothing), the
 * server goes on accepting what the kernel had queued or was completing for
 * LISTENER_DRAIN_MS, and only then closes. `onError`: the filter could not be
 * attached (the drain then only narrows the race). Only for sockets poold
 * bound itself: one a service manager passed in, and keeps a copy of, would
 * keep the filter (and drop every new connection) after poold closed its copy.
 */
export function closeGracefully(server: net.Server, onError: (err: Error) => void): ClosingListener {
  const address = server.address();
  try {
    if (typeof address === 'string') unlinkSync(address);
    else if (address) nativeBinding().dropNewConnections((server as unknown as { _handle: { fd: number } })._handle.fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError(err as Error);
  }
  let close!: () => void;
  const closed = new Promise<void>((resolve) => {
    const timer = setTimeout(() => close(), LISTENER_DRAIN_MS);
    close = () => {
      clearTimeout(timer);
      // Its callback would wait for every connection it accepted: resolved at once instead.
      server.close();
      resolve();
    };
  });
  return { closed, closeNow: () => close() };
}
