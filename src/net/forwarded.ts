// The client behind trusted proxies, from X-Forwarded-For (or RFC 7239's
// Forwarded when there is none), as nginx's real_ip module with
// real_ip_recursive on: the addresses are read from the right (the nearest
// hop first), trusted proxies are skipped, and the first other one is the
// client. Each proxy appends the address it got the request from, so the
// addresses a client wrote itself can only sit to the left of it.
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/** The addresses a request passed through, nearest last; empty when it names none. */
function forwardedChain(headers: IncomingHttpHeaders): string[] {
  const xff = headers['x-forwarded-for'];
  // (Node joins repeated X-Forwarded-For lines with ", ", as proxies expect.)
  if (xff !== undefined) return [xff].flat().join(',').split(',').map((entry) => entry.trim());
  const forwarded = headers.forwarded;
  if (forwarded === undefined) return [];
  return forwarded.split(',').flatMap((element) => {
    const pair = element.split(';').map((part) => part.trim()).find((part) => part.toLowerCase().startsWith('for='));
    if (!pair) return [];
    // for="[2001:db8::1]:4711", for=192.0.2.60, for="_hidden"
    const value = pair.slice(4).replace(/^"|"$/g, '');
    const bracketed = /^\[([^\]]+)\]/.exec(value);
    if (bracketed) return [bracketed[1]!];
    return [value.replace(/:\d+$/, '')];
  });
}

/**
 * The client address a request's forwarding headers give, or null when they
 * give none that is an IP address. Call only when the peer is a trusted proxy.
 */
export function forwardedClient(headers: IncomingHttpHeaders, trusted: (address: string) => boolean): string | null {
  const chain = forwardedChain(headers);
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = chain[i]!;
    if (net.isIP(address) === 0) return null;
    if (i === 0 || !trusted(address)) return address;
  }
  return null;
}
