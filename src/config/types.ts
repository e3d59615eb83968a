// The effective configuration, after parsing, defaults and validation.
// Times are milliseconds, sizes are bytes, paths are absolute.

export type { LogLevel } from '../log/levels.js';
import type { LogLevel } from '../log/levels.js';
export type PmMode = 'static' | 'dynamic' | 'ondemand';

export type ListenAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

/** Where a directive was set, so validation errors can point at it. */
export interface SourceLocation {
  file: string;
  line: number;
}

export interface GlobalConfig {
  pid: string | null;
  errorLog: string | null;
  logLevel: LogLevel;
  /** `log_limit`: the longest error log line in bytes; longer ones are cut, as FPM's. */
  logLimit: number;
  /** `syslog.ident` and `syslog.facility`, for `error_log = syslog`. */
  syslogIdent: string;
  syslogFacility: string;
  processControlTimeout: number;
  /** `process_start_timeout`: how long new workers have to become ready (reload, `start -D`). */
  processStartTimeout: number;
  daemonize: boolean;
  /** `systemd_interval`: how often systemd gets a STATUS= line (0 = never). */
  systemdInterval: number;
  /** `emergency_restart_threshold` crashes within `emergency_restart_interval` ms reload poold (0 = off). */
  emergencyRestartThreshold: number;
  emergencyRestartInterval: number;
  /** `process.max`: the most workers all pools may run together (0 = no limit). */
  processMax: number;
  /** `process.priority`: the master's nice value (null = as started); workers inherit it. */
  processPriority: number | null;
  /** `status.listen`: where the master serves status pages, ping and /metrics (null = off). */
  statusListen: ListenAddress | null;
  /** `status.listen.owner`, `.group`, `.mode`: a unix status socket's permissions. */
  statusListenOwner: string | null;
  statusListenGroup: string | null;
  statusListenMode: number;
  /** `status.allowed_clients`: who may use a TCP status listener (net/client-list.ts entries). */
  statusAllowedClients: string[];
  /** `status.show_query`: status pages show request URIs' query strings (default: hidden). */
  statusShowQuery: boolean;
  /** `rlimit_files`: the master's open-file limit, soft and hard (0 = as started; Node raises the soft one to the hard one). */
  rlimitFiles: number;
  /** `rlimit_core`: the master's core-file size limit in bytes (0 = as started, Infinity = unlimited). */
  rlimitCore: number;
}

export interface PoolConfig {
  name: string;
  /** `prefix`: where the pool's relative paths start (null: the directory of the file that sets each). */
  prefix: string | null;
  /** `user` and `group`: whom the workers run as when the master runs as root (null: not set). */
  user: string | null;
  group: string | null;
  listen: ListenAddress;
  /** `listen.backlog`; -1 (SYSTEM_BACKLOG) is the system maximum, as in FPM. */
  listenBacklog: number;
  listenOwner: string | null;
  listenGroup: string | null;
  listenMode: number;
  /** `listen.allowed_clients`: who may connect over TCP (net/client-list.ts entries). */
  listenAllowedClients: string[];
  /** `listen.trusted_proxies`: peers whose PROXY header or X-Forwarded-For names the client (entries, or `unix:`). */
  listenTrustedProxies: string[];
  app: string;
  /** `process.priority`: the workers' nice value (null = the master's). */
  processPriority: number | null;
  /** `chdir`: the workers' working directory (default: the app module's directory). */
  chdir: string;
  pm: PmMode;
  maxChildren: number;
  maxConcurrency: number;
  startServers: number;
  minSpareServers: number;
  maxSpareServers: number;
  maxSpawnRate: number;
  processIdleTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  maxMemory: number;
  requestTerminateTimeout: number;
  /** `pm.max_loop_block` (default 10s, 0 = off): a worker whose event loop is blocked this long outside any request is replaced. */
  maxLoopBlock: number;
  requestSlowlogTimeout: number;
  /** `request_slowlog_trace_depth`: the most stack frames a slowlog entry shows. */
  requestSlowlogTraceDepth: number;
  slowlog: string | null;
  listenQueueMax: number;
  listenQueueTimeout: number;
  /** `http.headers_timeout` (default 60s): a client must send its request headers within this. */
  httpHeadersTimeout: number;
  /** `http.request_timeout` (default 300s): a client must send its whole request within this. */
  httpRequestTimeout: number;
  /** `http.keepalive_timeout` (default 5s): an idle kept-alive connection is closed after this. */
  httpKeepaliveTimeout: number;
  /** `http.max_header_size` (size, default 16K): larger request headers get 431. */
  httpMaxHeaderSize: number;
  /** `pm.status_path`: this pool's FPM status page, on the status listener. */
  statusPath: string | null;
  /** `ping.path` and `ping.response`, on the status listener. */
  pingPath: string | null;
  pingResponse: string;
  /** `access.log`: the pool's access log (null = none), written by the workers. */
  accessLog: string | null;
  /** `access.format`, FPM's % codes. */
  accessFormat: string;
  /** `access.suppress_path[]`: request paths (%r) never logged, e.g. health checks. */
  accessSuppressPath: string[];
  /** `catch_workers_output`: worker stdout/stderr into the error log (FPM: off, /dev/null). */
  catchWorkersOutput: boolean;
  /** `decorate_workers_output`: prefix each line with FPM's `child N said into stderr:`. */
  decorateWorkersOutput: boolean;
  env: Record<string, string>;
  clearEnv: boolean;
  /** `rlimit_files`: the workers' open-file limit, soft and hard (0 = the master's). */
  rlimitFiles: number;
  /** `rlimit_core`: the workers' core-file size limit in bytes (0 = the master's, Infinity = unlimited). */
  rlimitCore: number;
  /** Directive name → where it was set; directives left at their default are absent. */
  sources: Record<string, SourceLocation>;
}

export interface PooldConfig {
  /** Absolute path of the main config file. */
  file: string;
  global: GlobalConfig;
  pools: PoolConfig[];
}

export interface ConfigIssue {
  file?: string;
  line?: number;
  pool?: string;
  key?: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  /** Warnings found on the way: an operator fixing the errors needs them too. */
  readonly warnings: string[];
  constructor(issues: ConfigIssue[], warnings: string[] = []) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
    this.warnings = warnings;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file ? `[${issue.file}${issue.line ? `:${issue.line}` : ''}] ` : '';
  const pool = issue.pool ? `[pool ${issue.pool}] ` : '';
  return `${where}${pool}${issue.message}`;
}
