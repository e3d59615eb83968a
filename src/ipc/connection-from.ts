// The payload of a MasterRecord.connectionFrom record (records.ts): the client
// a PROXY header named, as one `address port\n` line, then the bytes the
// master read from the connection.
import type { ProxiedClient } from '../net/proxy-protocol.js';

export function joinClient(client: ProxiedClient, head: Buffer | null): Buffer {
  const line = Buffer.from(`${client.address} ${client.port}\n`, 'latin1');
  return head ? Buffer.concat([line, head]) : line;
}

export function splitClient(payload: Buffer): { client: ProxiedClient; head: Buffer | undefined } {
  const end = payload.indexOf(0x0a);
  const [address, port] = payload.subarray(0, end).toString('latin1').split(' ') as [string, string];
  const head = payload.subarray(end + 1);
  return { client: { address, port: Number(port) }, head: head.length > 0 ? head : undefined };
}
