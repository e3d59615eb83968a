// Where a Node app looks for its client, `req.socket.remoteAddress` (and
// remotePort, remoteFamily), shows the client behind a trusted proxy: the one
// its PROXY protocol header named (the master read it), or the one its
// X-Forwarded-For names on each request. The access log's %R and Express's
// req.ip follow, since they read the same properties.
import net, { type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { proxyFilter } from '../net/client-list.js';
import { forwardedClient } from '../net/forwarded.js';
import type { ProxiedClient } from '../net/proxy-protocol.js';

interface RemoteEnd {
  address: string | undefined;
  port: number | undefined;
}

/** The socket's own peer, kept once its properties show someone else. */
const PEER = Symbol('poold.peer');
/** Set on connections whose client came in a PROXY header: their requests' headers are not asked. */
const FROM_PROXY_HEADER = Symbol('poold.proxied');

type Tracked = Socket & { [PEER]?: RemoteEnd; [FROM_PROXY_HEADER]?: true };

function show(socket: Tracked, end: RemoteEnd): void {
  socket[PEER] ??= { address: socket.remoteAddress, port: socket.remotePort };
  const family = end.address === undefined ? undefined : net.isIPv6(end.address) ? 'IPv6' : 'IPv4';
  // Own properties shadow net.Socket's getters, which ask the kernel for the peer.
  Object.defineProperties(socket, {
    remoteAddress: { value: end.address, configurable: true },
    remotePort: { value: end.port, configurable: true },
    remoteFamily: { value: family, configurable: true },
  });
}

/** A connection whose PROXY header named `client`. */
export function showProxiedClient(socket: Socket, client: ProxiedClient): void {
  show(socket, client);
  (socket as Tracked)[FROM_PROXY_HEADER] = true;
}

/** For listen.trusted_proxies: sets each request's client from its forwarding headers, when its peer is trusted. */
export function forwardedClients(trustedProxies: readonly string[]): ((req: IncomingMessage) => void) | null {
  if (trustedProxies.length === 0) return null;
  const trusted = proxyFilter(trustedProxies);
  return (req) => {
    const socket = req.socket as Tracked;
    if (socket[FROM_PROXY_HEADER]) return;
    const peer = socket[PEER] ?? { address: socket.remoteAddress, port: socket.remotePort };
    if (!trusted(peer.address)) return;
    const client = forwardedClient(req.headers, (address) => trusted(address));
    // Each request of a kept-alive connection may come from another client.
    show(socket, client === null ? peer : { address: client, port: undefined });
  };
}
