// Messages between the master and a worker. Each one wakes the other process,
// which on a loaded machine costs more than the message itself: a kept-alive
// request sends none (the worker's load is in its scoreboard slot), a handed-over
// connection one ('s'), and 'f' flows only while connections wait in the queue.

/** Settings a worker needs before it can load the app; passed in its environment. */
export interface WorkerSettings {
  pool: string;
  app: string;
  maxConcurrency: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxHeaderSize: number;
  /** The pool's scoreboard file and this worker's slot in it. */
  scoreboard: string;
  slot: number;
  /** Requests to serve before asking to be replaced (0 = no limit); jitter already applied. */
  maxRequests: number;
  /** RSS in bytes above which, after a request, it asks to be replaced (0 = no limit). */
  maxMemory: number;
  /** request_slowlog_timeout in ms (0 = off) and the slowlog file. */
  slowlogTimeout: number;
  slowlog: string | null;
  /** access.log (null = none), access.format and access.suppress_path[]. */
  accessLog: string | null;
  accessFormat: string;
  accessSuppressPath: string[];
}

export type RetireReason = 'max_requests' | 'max_memory';

export const WORKER_SETTINGS_ENV = 'POOLD_WORKER_SETTINGS';

export type MasterMessage =
  /** A connection handed over with this message; `id` names it in replies. */
  | { t: 'conn'; id: number }
  /** Stop taking connections, finish in-flight requests, run shutdown(), exit. */
  | { t: 'stop' }
  /** Send the app's prom-client metrics (getMetricsAsJSON) back as 'm' with this id. */
  | { t: 'metrics'; id: number }
  /** Reopen the access log: logrotate renamed it. */
  | { t: 'reopen' }
  /**
   * Connections are queued (on) or the queue has been empty for a while (off):
   * while on, the worker says 'f' whenever it can take one more connection.
   */
  | { t: 'watch'; on: boolean };

export type WorkerMessage =
  /** The app is loaded and init() resolved: the worker may receive connections. */
  | { t: 'ready' }
  /** Loading the app or init() failed; the worker exits right after. */
  | { t: 'fail'; error: string }
  /** The master may drop its copy of handed-over connection `id`: its first
   *  response byte is about to be written (a 502 could no longer be sent
   *  cleanly), or it closed before one was. */
  | { t: 's'; id: number }
  /** While watched: load went below pm.max_concurrency, it can take a connection. */
  | { t: 'f' }
  /** The app's metrics, answering 'metrics' `id`; null when the app has none. */
  | { t: 'm'; id: number; data: unknown[] | null }
  /** It reached a recycling limit: the master starts a replacement and stops it gracefully. */
  | { t: 'r'; reason: RetireReason };
