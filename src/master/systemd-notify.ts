import { execFile, spawnSync } from 'node:child_process';

/**
 * sd_notify through systemd-notify(1): Node cannot open the AF_UNIX datagram
 * NOTIFY_SOCKET itself. Messages are sent one at a time, in order, and only
 * when systemd asked for them (NOTIFY_SOCKET is set).
 */
export class SystemdNotifier {
  private readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  private chain: Promise<void> = Promise.resolve();
  /** Messages (argument lists) waiting for the ones before them to be delivered. */
  private readonly queued: string[][] = [];

  constructor(private readonly onError: (message: string) => void) {
    // The master exits (process.exit) as soon as its pools have stopped, which
    // can be before STOPPING=1 has had its turn (behind a WATCHDOG=1, say).
    if (this.enabled) process.once('exit', () => this.sendQueuedNow());
  }

  get active(): boolean {
    return this.enabled;
  }

  /** Sends `VAR=VALUE` assignments, e.g. `{ READY: '1', STATUS: 'Ready' }`. */
  notify(assignments: Record<string, string>): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    // --pid makes systemd attribute the message to the main process, and
    // systemd-notify waits for systemd to receive it (no --no-block).
    const args = [`--pid=${process.pid}`, ...Object.entries(assignments).map(([name, value]) => `${name}=${value}`)];
    this.queued.push(args);
    this.chain = this.chain.then(async () => {
      const index = this.queued.indexOf(args);
      if (index === -1) return; // sent by sendQueuedNow()
      this.queued.splice(index, 1);
      // Node's execFile, not execa: at the open-file limit execa's spawn
      // throws and leaves an 'error' no one listens to, which kills the
      // master. A message on its way when the master exits is still delivered.
      const err = await new Promise<Error | null>((resolve) =>
        execFile('systemd-notify', args, { timeout: 5000 }, (error) => resolve(error)),
      );
      if (err) this.onError(`systemd-notify ${args.join(' ')} failed: ${err.message.split('\n')[0]}`);
    });
    return this.chain;
  }

  /** At exit: whatever is still queued goes out now, as one message (later values win). */
  private sendQueuedNow(): void {
    if (this.queued.length === 0) return;
    const merged = new Map<string, string>();
    for (const args of this.queued.splice(0)) {
      for (const arg of args.slice(1)) merged.set(arg.slice(0, arg.indexOf('=')), arg);
    }
    spawnSync('systemd-notify', [`--pid=${process.pid}`, ...merged.values()], { stdio: 'ignore', timeout: 5000 });
  }
}

/** The watchdog interval systemd expects pings at, or null when WatchdogSec is not set. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  // Ping at half the deadline, as sd_watchdog_enabled(3) advises.
  return Math.max(500, usec / 1000 / 2);
}

/** CLOCK_MONOTONIC in microseconds, as sd_notify's MONOTONIC_USEC wants it (libuv's hrtime reads that clock). */
export function monotonicUsec(): string {
  return String(process.hrtime.bigint() / 1000n);
}
