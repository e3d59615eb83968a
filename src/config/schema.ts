// Every directive poold accepts, in php-fpm.conf.in order: where it may
// appear, which config field it sets, how its value parses, and its default.
import { AccessFormatError, DEFAULT_ACCESS_FORMAT, compileAccessFormat } from '../log/access-format.js';
import { LOG_LEVELS } from '../log/levels.js';
import type { GlobalConfig, LogLevel, PmMode, PoolConfig } from './types.js';
import {
  backlog,
  bool,
  clientList,
  coreLimit,
  errorLog,
  filePath,
  listen,
  mode,
  oneOf,
  optionalInt,
  optionalName,
  optionalListen,
  optionalPath,
  proxyList,
  size,
  text,
  time,
  InvalidValue,
  uint,
  urlPath,
  type ValueType,
} from './values.js';

/** An access.format, checked by compiling it as the workers will. */
const accessFormat: ValueType<string> = {
  parse(raw) {
    try {
      compileAccessFormat(raw);
    } catch (err) {
      if (err instanceof AccessFormatError) throw new InvalidValue(err.message);
      throw err;
    }
    return raw;
  },
  format: (value) => value,
};

export type Section = 'global' | 'pool';

/** The pool fields set by scalar directives (env[] and bookkeeping excluded). */
export type PoolScalars = Omit<PoolConfig, 'name' | 'env' | 'accessSuppressPath' | 'sources'>;

type DirectiveOf<S extends Section, C> = {
  [K in keyof C]-?: {
    section: S;
    name: string;
    field: K;
    type: ValueType<C[K]>;
    /** undefined: no default; validate.ts requires the directive or computes the value. */
    default: C[K] | undefined;
  };
}[keyof C];

export type GlobalDirective = DirectiveOf<'global', GlobalConfig>;
export type PoolDirective = DirectiveOf<'pool', PoolScalars>;
export type Directive = GlobalDirective | PoolDirective;

/** The array directives, pool sections only: `env[NAME] = value` and `access.suppress_path[] = /path`. */
export const ENV_DIRECTIVE = 'env';
export const SUPPRESS_PATH_DIRECTIVE = 'access.suppress_path';
/** `prefix`: the other relative paths of its pool start there (assemble.ts). */
export const PREFIX_DIRECTIVE = 'prefix';

// Keyed by config field so that a field added to types.ts without a
// directive here is a compile error; key order is the order of the dump.
type Spec<C> = { [K in keyof C]-?: { name: string; type: ValueType<C[K]>; default: C[K] | undefined } };

const logLevel = oneOf<LogLevel>(
  LOG_LEVELS,
  "invalid value for 'log_level'",
  { warn: 'warning' }, // php-fpm accepts this spelling too
);
const syslogFacility = oneOf(
  [
    'auth', 'authpriv', 'cron', 'daemon', 'ftp', 'kern', 'lpr', 'mail', 'news', 'syslog', 'user', 'uucp',
    'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
  ] as const,
  'invalid syslog facility (daemon, user, local0 … local7, …)',
);
const pm = oneOf<PmMode>(
  ['static', 'dynamic', 'ondemand'],
  'invalid process manager (static, dynamic or ondemand)',
);

// FPM's range of nice values, and its words.
const priority = optionalInt(-19, 20, 'must be included into [-19,20]');

const GLOBAL: Spec<GlobalConfig> = {
  pid: { name: 'pid', type: optionalPath, default: null },
  errorLog: { name: 'error_log', type: errorLog, default: null },
  logLevel: { name: 'log_level', type: logLevel, default: 'notice' },
  logLimit: { name: 'log_limit', type: uint, default: 1024 },
  syslogIdent: { name: 'syslog.ident', type: text, default: 'poold' },
  syslogFacility: { name: 'syslog.facility', type: syslogFacility, default: 'daemon' },
  // php-fpm defaults to 0, which kills in-flight requests on every reload.
  processControlTimeout: { name: 'process_control_timeout', type: time, default: 10_000 },
  // Loading an app and its init() can take longer than draining requests does.
  processStartTimeout: { name: 'process_start_timeout', type: time, default: 60_000 },
  // poold runs in the foreground unless asked, which is what systemd and containers want.
  daemonize: { name: 'daemonize', type: bool, default: false },
  systemdInterval: { name: 'systemd_interval', type: time, default: 10_000 },
  emergencyRestartThreshold: { name: 'emergency_restart_threshold', type: uint, default: 0 },
  emergencyRestartInterval: { name: 'emergency_restart_interval', type: time, default: 0 },
  processMax: { name: 'process.max', type: uint, default: 0 },
  processPriority: { name: 'process.priority', type: priority, default: null },
  // Served by the master itself, so it answers while every worker is busy.
  statusListen: {
    name: 'status.listen',
    type: optionalListen,
    default: { kind: 'tcp', host: '127.0.0.1', port: 9901 },
  },
  statusListenOwner: { name: 'status.listen.owner', type: optionalName, default: null },
  statusListenGroup: { name: 'status.listen.group', type: optionalName, default: null },
  statusListenMode: { name: 'status.listen.mode', type: mode, default: 0o660 },
  statusAllowedClients: { name: 'status.allowed_clients', type: clientList, default: ['127.0.0.1', '::1'] },
  // Every local user can reach a loopback TCP listener: query strings carry tokens and session ids.
  statusShowQuery: { name: 'status.show_query', type: bool, default: false },
  // The master's own limits (its workers inherit them); 0: as poold was started.
  rlimitFiles: { name: 'rlimit_files', type: uint, default: 0 },
  rlimitCore: { name: 'rlimit_core', type: coreLimit, default: 0 },
};

const POOL: Spec<PoolScalars> = {
  prefix: { name: PREFIX_DIRECTIVE, type: optionalPath, default: null },
  user: { name: 'user', type: optionalName, default: null },
  group: { name: 'group', type: optionalName, default: null },
  listen: { name: 'listen', type: listen, default: undefined },
  listenBacklog: { name: 'listen.backlog', type: backlog, default: 511 },
  listenOwner: { name: 'listen.owner', type: optionalName, default: null },
  listenGroup: { name: 'listen.group', type: optionalName, default: null },
  listenMode: { name: 'listen.mode', type: mode, default: 0o660 },
  // FPM checks in the worker after accept; the master checks before any worker sees the connection.
  listenAllowedClients: { name: 'listen.allowed_clients', type: clientList, default: ['any'] },
  listenTrustedProxies: { name: 'listen.trusted_proxies', type: proxyList, default: [] },
  // Unset, it follows listen.backlog (validate.ts): the master queues no more than the kernel would.
  listenQueueMax: { name: 'listen.queue_max', type: uint, default: undefined },
  // A request that waited this long for a worker gets 503 rather than waiting for the client to give up.
  listenQueueTimeout: { name: 'listen.queue_timeout', type: time, default: 10_000 },
  app: { name: 'app', type: filePath, default: undefined },
  processPriority: { name: 'process.priority', type: priority, default: null },
  // Computed by validate.ts: the app module's directory.
  chdir: { name: 'chdir', type: filePath, default: undefined },
  pm: { name: 'pm', type: pm, default: undefined },
  maxChildren: { name: 'pm.max_children', type: uint, default: undefined },
  maxConcurrency: { name: 'pm.max_concurrency', type: uint, default: 1 },
  startServers: { name: 'pm.start_servers', type: uint, default: undefined },
  minSpareServers: { name: 'pm.min_spare_servers', type: uint, default: undefined },
  maxSpareServers: { name: 'pm.max_spare_servers', type: uint, default: undefined },
  maxSpawnRate: { name: 'pm.max_spawn_rate', type: uint, default: 32 },
  processIdleTimeout: { name: 'pm.process_idle_timeout', type: time, default: 10_000 },
  maxRequests: { name: 'pm.max_requests', type: uint, default: 0 },
  maxRequestsJitter: { name: 'pm.max_requests_jitter', type: uint, default: 0 },
  maxMemory: { name: 'pm.max_memory', type: size, default: 0 },
  slowlog: { name: 'slowlog', type: optionalPath, default: null },
  requestSlowlogTimeout: { name: 'request_slowlog_timeout', type: time, default: 0 },
  requestSlowlogTraceDepth: { name: 'request_slowlog_trace_depth', type: uint, default: 20 },
  requestTerminateTimeout: { name: 'request_terminate_timeout', type: time, default: 0 },
  // No request is lost by replacing a worker blocked outside any request: on by default.
  maxLoopBlock: { name: 'pm.max_loop_block', type: time, default: 10_000 },
  // Node's own http.Server defaults.
  httpHeadersTimeout: { name: 'http.headers_timeout', type: time, default: 60_000 },
  httpRequestTimeout: { name: 'http.request_timeout', type: time, default: 300_000 },
  httpKeepaliveTimeout: { name: 'http.keepalive_timeout', type: time, default: 5_000 },
  httpMaxHeaderSize: { name: 'http.max_header_size', type: size, default: 16 * 1024 },
  accessLog: { name: 'access.log', type: optionalPath, default: null },
  accessFormat: { name: 'access.format', type: accessFormat, default: DEFAULT_ACCESS_FORMAT },
  // php-fpm sends worker output to /dev/null unless asked; a Node app's console
  // output is usually wanted, so poold keeps it by default.
  catchWorkersOutput: { name: 'catch_workers_output', type: bool, default: true },
  decorateWorkersOutput: { name: 'decorate_workers_output', type: bool, default: true },
  statusPath: { name: 'pm.status_path', type: urlPath('status'), default: null },
  pingPath: { name: 'ping.path', type: urlPath('ping'), default: null },
  pingResponse: { name: 'ping.response', type: text, default: 'pong' },
  clearEnv: { name: 'clear_env', type: bool, default: true },
  // The workers' limits; 0: the master's.
  rlimitFiles: { name: 'rlimit_files', type: uint, default: 0 },
  rlimitCore: { name: 'rlimit_core', type: coreLimit, default: 0 },
};

function directivesOf<S extends Section, C>(section: S, spec: Spec<C>): DirectiveOf<S, C>[] {
  // Object.keys loses the pairing of each field with its own spec, which Spec<C> guarantees.
  return (Object.keys(spec) as (keyof C)[]).map((field) => ({ section, field, ...spec[field] }) as DirectiveOf<S, C>);
}

export const GLOBAL_DIRECTIVES = directivesOf('global', GLOBAL);
export const POOL_DIRECTIVES = directivesOf('pool', POOL);
/** Every directive, global section first, in php-fpm.conf.in order where php-fpm has them. */
export const DIRECTIVES: readonly Directive[] = [...GLOBAL_DIRECTIVES, ...POOL_DIRECTIVES];

/** Looks a directive up by its lower-case name: the section's own first (some exist in both), else the other's. */
export function findDirective(name: string, section: Section): Directive | undefined {
  return DIRECTIVES.find((d) => d.name === name && d.section === section) ?? DIRECTIVES.find((d) => d.name === name);
}

/** Stores a parsed value; generic so each directive's field and value types stay paired. */
export function setField<C, K extends keyof C>(target: Partial<C>, field: K, value: C[K]): void {
  target[field] = value;
}

/** The defaults of a section's directives, as a partial config (fields without a default stay absent). */
export function defaultsOf<C>(directives: readonly DirectiveOf<Section, C>[]): Partial<C> {
  const defaults: Partial<C> = {};
  for (const d of directives) {
    if (d.default !== undefined) setField(defaults, d.field, d.default);
  }
  return defaults;
}
