// Diagnostics only (npm run bench -- --diagnose): preloaded with --import into
// the poold master or the cluster primary, never into workers. Counts, per
// child, the IPC traffic the parent handles — messages it sends (with or
// without a handle), and messages and Node-internal messages it receives —
// plus connections its own net.Server accepted, and writes the totals as JSON
// to $BENCH_IPC_PROBE_OUT when the process exits.
import { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';

const out = process.env.BENCH_IPC_PROBE_OUT;
delete process.env.BENCH_IPC_PROBE_OUT;

const counts = {
  accepted: 0,
  sentWithHandle: 0,
  sentPlain: 0,
  received: {} as Record<string, number>,
  receivedInternal: {} as Record<string, number>,
};

const bump = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);

const wrapped = new WeakSet<ChildProcess>();
type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;
const originalEmit = ChildProcess.prototype.emit as Emit;
ChildProcess.prototype.emit = function (this: ChildProcess, event: string | symbol, ...args: unknown[]): boolean {
  if (!wrapped.has(this) && typeof this.send === 'function') {
    // Node defines send() on each instance when it sets up the IPC channel.
    wrapped.add(this);
    const send = this.send.bind(this) as (...a: unknown[]) => boolean;
    (this as { send: unknown }).send = (...a: unknown[]): boolean => {
      const handle = a[1];
      if (handle && typeof handle === 'object') counts.sentWithHandle++;
      else counts.sentPlain++;
      return send(...a);
    };
  }
  if (event === 'message') {
    const message = args[0] as { t?: string; cmd?: string; act?: string } | undefined;
    bump(counts.received, String(message?.t ?? message?.act ?? message?.cmd ?? typeof message));
  } else if (event === 'internalMessage') {
    const message = args[0] as { cmd?: string; act?: string; ack?: unknown } | undefined;
    const key = message?.cmd === 'NODE_CLUSTER' ? `NODE_CLUSTER:${message.act ?? (message.ack !== undefined ? 'ack' : '?')}` : String(message?.cmd);
    bump(counts.receivedInternal, key);
  }
  return originalEmit.call(this, event, ...args);
} as typeof ChildProcess.prototype.emit;

const originalServerEmit = net.Server.prototype.emit as Emit;
net.Server.prototype.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'connection') counts.accepted++;
  return originalServerEmit.call(this, event, ...args);
} as typeof net.Server.prototype.emit;

if (out) {
  process.on('exit', () => writeFileSync(out, JSON.stringify(counts)));
}
