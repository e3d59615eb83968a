import { execa } from 'execa';

/**
 * sd_notify through systemd-notify(1): Node cannot open the AF_UNIX datagram
 * NOTIFY_SOCKET itself. Messages are sent one at a time, in order, and only
 * when systemd asked for them (NOTIFY_SOCKET is set).
 */
export class SystemdNotifier {
  private readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (message: string) => void) {}

  get active(): boolean {
    return this.enabled;
  }

  /** Sends `VAR=VALUE` assignments, e.g. `{ READY: '1', STATUS: 'Ready' }`. */
  notify(assignments: Record<string, string>): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    // --pid makes systemd attribute the message to the main process, and
    // systemd-notify waits for systemd to receive it (no --no-block).
    const args = [`--pid=${process.pid}`, ...Object.entries(assignments).map(([name, value]) => `${name}=${value}`)];
    this.chain = this.chain.then(async () => {
      try {
        await execa('systemd-notify', args, { timeout: 5000, stdin: 'ignore' });
      } catch (err) {
        this.onError(`systemd-notify ${args.join(' ')} failed: ${(err as Error).message.split('\n')[0]}`);
      }
    });
    return this.chain;
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
