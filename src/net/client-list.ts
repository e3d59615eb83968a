// Who may connect: listen.allowed_clients and status.allowed_clients. Entries
// are addresses, CIDR subnets or `any`, IPv4 and IPv6; an IPv4 client of a
// dual-stack socket (::ffff:a.b.c.d) matches its IPv4 entries.
import net from 'node:net';

export const ANY_CLIENT = 'any';

/** Why `entry` is not a client-list entry, or null when it is one. */
export function clientEntryProblem(entry: string): string | null {
  if (entry === ANY_CLIENT) return null;
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = net.isIP(address);
  if (family === 0) return `'${entry}' is not an IP address, a subnet (address/prefix) or 'any'`;
  if (slash === -1) return null;
  const prefix = entry.slice(slash + 1);
  const maxPrefix = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
    return `'${entry}': the prefix length must be a number from 0 to ${maxPrefix}`;
  }
  return null;
}

/**
 * A predicate over a peer's address. A peer without one (a unix socket
 * client) is always allowed: the socket file's permissions vet it.
 */
export function clientFilter(entries: readonly string[]): (address: string | undefined) => boolean {
  if (entries.includes(ANY_CLIENT)) return () => true;
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = net.isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return (address) => {
    if (address === undefined) return true;
    return list.check(address, net.isIPv4(address) ? 'ipv4' : 'ipv6');
  };
}

/** A listen.trusted_proxies entry that trusts every peer of a unix socket (nginx's `set_real_ip_from unix:`). */
export const UNIX_PEERS = 'unix:';

/** Whether a peer is a trusted proxy: listed by address or subnet, or a unix socket peer when `unix:` is listed. */
export function proxyFilter(entries: readonly string[]): (address: string | undefined) => boolean {
  const unix = entries.includes(UNIX_PEERS);
  const addresses = entries.filter((entry) => entry !== UNIX_PEERS);
  const listed = addresses.length > 0 ? clientFilter(addresses) : () => false;
  return (address) => (address === undefined ? unix : listed(address));
}
