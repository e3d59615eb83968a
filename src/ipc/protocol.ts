// Lifecycle messages between the master and a worker, as JSON over Node's IPC
// channel. What concerns each connection travels on the dispatch channel
// instead (records.ts): a descriptor and a few bytes per record, no JSON.

/** Settings a worker needs before it can load the app; passed in its environment. */
export interface WorkerSettings {
  pool: string;
  app: string;
  maxConcurrency: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxHeaderSize: number;
  /** This worker's slot in the pool's scoreboard (records.ts: SCOREBOARD_FD). */
  slot: number;
  /** Requests to serve before asking to be replaced (0 = no limit); jitter already applied. */
  maxRequests: number;
  /** RSS in bytes above which, after a request, it asks to be replaced (0 = no limit). */
  maxMemory: number;
  /** request_slowlog_timeout in ms (0 = off) and the slowlog file. */
  slowlogTimeout: number;
  slowlog: string | null;
  slowlogTraceDepth: number;
  /** listen.trusted_proxies: peers whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** access.log (null = none), access.format and access.suppress_path[]. */
  accessLog: string | null;
  accessFormat: string;
  accessSuppressPath: string[];
  /**
   * Where the worker keeps the app's compiled code (Node >= 22.1; null: no
   * cache). NODE_COMPILE_CACHE in the worker's environment takes precedence.
   */
  compileCache: string | null;
}

export type RetireReason = 'max_requests' | 'max_memory';

export const WORKER_SETTINGS_ENV = 'POOLD_WORKER_SETTINGS';

export type MasterMessage =
  /**
   * Finish in-flight requests, run shutdown(), exit. With handBack, idle
   * kept-alive connections go back to the master (a reload's replacement
   * serves their next requests) instead of being closed. Upgraded
   * connections the app leaves open are closed `upgradedGraceMs` after this
   * message (the drain deadline), or right after shutdown() when that is 0.
   */
  | { t: 'stop'; handBack: boolean; upgradedGraceMs: number }
  /** Send the app's prom-client metrics (getMetricsAsJSON) back as 'appMetrics' with this id. */
  | { t: 'metrics'; id: number }
  /** Reopen the access log: logrotate renamed it. */
  | { t: 'reopen' };

export type WorkerMessage =
  /** The app is loaded and init() resolved: the worker may receive connections. */
  | { t: 'ready' }
  /** Loading the app or init() failed; the worker exits right after. */
  | { t: 'fail'; error: string }
  /** The app's metrics, answering 'metrics' `id`; null when the app has none. */
  | { t: 'appMetrics'; id: number; data: unknown[] | null }
  /** It reached a recycling limit: the master starts a replacement and stops it gracefully. */
  | { t: 'retire'; reason: RetireReason };
