import { Worker } from 'node:worker_threads';

/** What the watchdog thread is given at start. */
export interface WatchdogData {
  shared: SharedArrayBuffer;
  pool: string;
  app: string;
  slowlog: string;
  timeoutMs: number;
  traceDepth: number;
  /** The pool's scoreboard (the thread shares the process's descriptors) and this worker's slot. */
  scoreboardFd: number;
  slot: number;
}

/** Index of the value in the shared Float64Array: when the oldest request in flight began (0: none). */
export const REQUEST_START = 0;

/**
 * The main thread's half of the slowlog: it only publishes when the oldest
 * request in flight began. A separate thread watches that and, once a request runs past
 * request_slowlog_timeout, pauses this thread through the inspector to read its
 * JavaScript stack — which works even while this thread is stuck in
 * synchronous code, the case a slowlog exists for.
 */
export class SlowlogWatchdog {
  private readonly shared = new Float64Array(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT));

  constructor(data: Omit<WatchdogData, 'shared'>) {
    const worker = new Worker(new URL('./slowlog-thread.js', import.meta.url), {
      workerData: { ...data, shared: this.shared.buffer } satisfies WatchdogData,
      stdout: false,
      stderr: false,
    });
    worker.unref();
  }

  /** Publishes when the oldest request in flight began, or null when none runs. */
  track(oldestStart: number | null): void {
    this.shared[REQUEST_START] = oldestStart ?? 0;
  }
}
