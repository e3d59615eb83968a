/** The signals the master acts on. */
export const MASTER_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
export type MasterSignal = (typeof MASTER_SIGNALS)[number];

/**
 * Queues signals instead of acting in the handler, like gunicorn's arbiter:
 * they are handled one at a time, in arrival order, so a signal that arrives
 * mid-reload is seen after the reload step, never interleaved with it.
 * A handler that starts something long (a drain) returns once it has started.
 */
export class SignalQueue {
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners = new Map<MasterSignal, () => void>();

  constructor(private readonly handle: (signal: MasterSignal) => void | Promise<void>) {}

  install(): void {
    for (const signal of MASTER_SIGNALS) {
      const listener = () => this.push(signal);
      this.listeners.set(signal, listener);
      process.on(signal, listener);
    }
  }

  uninstall(): void {
    for (const [signal, listener] of this.listeners) process.off(signal, listener);
    this.listeners.clear();
  }

  push(signal: MasterSignal): void {
    this.chain = this.chain.then(() => this.handle(signal)).catch((err: unknown) => {
      process.emitWarning(`handling ${signal} failed: ${String(err)}`);
    });
  }
}
