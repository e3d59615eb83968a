// Messages between the master and a worker. Kept tiny: they cross the IPC
// channel for every dispatched connection, so each costs master CPU.

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
  | { t: 'reopen' };

export type WorkerMessage =
  /** The app is loaded and init() resolved: the worker may receive connections. */
  | { t: 'ready' }
  /** Loading the app or init() failed; the worker exits right after. */
  | { t: 'fail'; error: string }
  /** The first response byte of dispatched connection `id` is about to be written:
   *  the master drops its copy, since it can no longer answer 502 cleanly. */
  | { t: 's'; id: number }
  /** A request on an already-kept-alive connection began: one more unit of load. */
  | { t: 'b' }
  /** A unit of load ended: a request finished (`d`: its duration in ms), or
   *  dispatched connection `id` closed before its first request finished (then
   *  the copy is dropped too). */
  | { t: 'f'; id?: number; d?: number }
  /** The app's metrics, answering 'metrics' `id`; null when the app has none. */
  | { t: 'm'; id: number; data: unknown[] | null }
  /** It reached a recycling limit: the master starts a replacement and stops it gracefully. */
  | { t: 'r'; reason: RetireReason };
