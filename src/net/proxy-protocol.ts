// The PROXY protocol header (haproxy.org/download/2.9/doc/proxy-protocol.txt)
// a trusted proxy sends before the client's bytes: nginx's `proxy_protocol`
// (version 1), HAProxy's `send-proxy` (1) and `send-proxy-v2` (2).
import net from 'node:net';

export interface ProxiedClient {
  address: string;
  port: number;
}

export type ProxyHeader =
  /** The bytes do not begin with a PROXY header. */
  | { kind: 'none' }
  /** The beginning of one: more bytes are needed. */
  | { kind: 'incomplete' }
  /** A malformed header: the connection is to be closed. */
  | { kind: 'invalid'; reason: string }
  /** `length` bytes of header; `client` null when it names none (LOCAL, UNKNOWN, unix sockets). */
  | { kind: 'header'; length: number; client: ProxiedClient | null };

const V1_PREFIX = Buffer.from('PROXY ');
/** Version 1's longest header, CRLF included. */
const V1_MAX = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

/** Whether `bytes` are a beginning of `prefix` or begin with all of it. */
function startsLike(bytes: Buffer, prefix: Buffer): 'all' | 'part' | 'no' {
  const n = Math.min(bytes.length, prefix.length);
  if (bytes.subarray(0, n).compare(prefix.subarray(0, n)) !== 0) return 'no';
  return n === prefix.length ? 'all' : 'part';
}

export function parseProxyHeader(bytes: Buffer): ProxyHeader {
  const v2 = startsLike(bytes, V2_SIGNATURE);
  if (v2 === 'all') return parseV2(bytes);
  const v1 = startsLike(bytes, V1_PREFIX);
  if (v1 === 'all') return parseV1(bytes);
  // Either may still come (an empty read, or a few bytes so far).
  return v1 === 'part' || v2 === 'part' ? { kind: 'incomplete' } : { kind: 'none' };
}

function parseV1(bytes: Buffer): ProxyHeader {
  const end = bytes.subarray(0, V1_MAX).indexOf('\r\n');
  if (end === -1) {
    return bytes.length >= V1_MAX ? { kind: 'invalid', reason: 'a PROXY v1 header longer than 107 bytes' } : { kind: 'incomplete' };
  }
  const fields = bytes.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length, client: null };
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) {
    return { kind: 'invalid', reason: `a malformed PROXY v1 header '${fields.join(' ')}'` };
  }
  const [, family, source, , sourcePort] = fields as [string, string, string, string, string, string];
  const port = /^\d{1,5}$/.test(sourcePort) ? Number(sourcePort) : NaN;
  const valid = family === 'TCP4' ? net.isIPv4(source) : net.isIPv6(source);
  if (!valid || !(port <= 65535)) return { kind: 'invalid', reason: `a malformed PROXY v1 header '${fields.join(' ')}'` };
  return { kind: 'header', length, client: { address: source, port } };
}

function parseV2(bytes: Buffer): ProxyHeader {
  if (bytes.length < V2_FIXED) return { kind: 'incomplete' };
  const versionCommand = bytes[12]!;
  const family = bytes[13]!;
  const length = V2_FIXED + bytes.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: `PROXY v2 header of version ${versionCommand >> 4}` };
  if (bytes.length < length) return { kind: 'incomplete' };
  const command = versionCommand & 0x0f;
  // LOCAL: the proxy's own connection (a health check): the peer is the client.
  if (command === 0) return { kind: 'header', length, client: null };
  if (command !== 1) return { kind: 'invalid', reason: `PROXY v2 header with command ${command}` };
  const body = bytes.subarray(V2_FIXED, length);
  if (family === 0x11 && body.length >= 12) {
    return { kind: 'header', length, client: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) } };
  }
  if (family === 0x21 && body.length >= 36) {
    const groups = Array.from({ length: 8 }, (_, i) => body.readUInt16BE(i * 2).toString(16));
    // The URL parser writes an IPv6 address in its canonical form (RFC 5952).
    const address = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    return { kind: 'header', length, client: { address, port: body.readUInt16BE(32) } };
  }
  // AF_UNSPEC, AF_UNIX, datagrams: no client address to take.
  return { kind: 'header', length, client: null };
}
