import { Worker } from 'node:worker_threads';

/** What the watchdog thread is given at start. */
export interface WatchdogData {
  shared: SharedArrayBuffer;
  pool: string;
  app: string;
  slowlog: string;
  timeoutMs: number;
  scoreboard: string;
  slot: number;
}

/** Index of each value in the shared Float64Array. */
export const REQUEST_START = 0;
export const REQUEST_SEQ = 1;

/**
 * The main thread's half of the slowlog: it only publishes when the current
 * request began. A separate thread watches that and, once a request runs past
 * request_slowlog_timeout, pauses this thread through the inspector to read its
 * JavaScript stack — which works even while this thread is stuck in
 * synchronous code, the case a slowlog exists for.
 */
export class SlowlogWatchdog {
  private readonly shared = new Float64Array(new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT));

  constructor(data: Omit<WatchdogData, 'shared'>) {
    const worker = new Worker(new URL('./slowlog-thread.js', import.meta.url), {
      workerData: { ...data, shared: this.shared.buffer } satisfies WatchdogData,
      stdout: false,
      stderr: false,
    });
    worker.unref();
  }

  begin(startedAt: number): void {
    this.shared[REQUEST_SEQ]!++;
    this.shared[REQUEST_START] = startedAt;
  }

  /** No request runs any more (or the latest one still does: `startedAt` of it). */
  end(stillRunningSince: number | null): void {
    this.shared[REQUEST_START] = stillRunningSince ?? 0;
  }
}
