// Every directive poold accepts, in php-fpm.conf.in order: where it may
// appear, which config field it sets, how its value parses, and its default.
import { AccessFormatError, DEFAULT_ACCESS_FORMAT, compileAccessFormat } from '../log/access-format.js';
import type { GlobalConfig, LogLevel, PmMode, PoolConfig } from './types.js';
import {
  addressList,
  bool,
  coreLimit,
  filePath,
  listen,
  mode,
  oneOf,
  optionalName,
  optionalListen,
  optionalPath,
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

// Keyed by config field so that a field added to types.ts without a
// directive here is a compile error; key order is the order of the dump.
type Spec<C> = { [K in keyof C]-?: { name: string; type: ValueType<C[K]>; default: C[K] | undefined } };

const logLevel = oneOf<LogLevel>(
  ['alert', 'error', 'warning', 'notice', 'debug'],
  "invalid value for 'log_level'",
  { warn: 'warning' }, // php-fpm accepts this spelling too
);
const pm = oneOf<PmMode>(
  ['static', 'dynamic', 'ondemand'],
  'invalid process manager (static, dynamic or ondemand)',
);

const GLOBAL: Spec<GlobalConfig> = {
  pid: { name: 'pid', type: optionalPath, default: null },
  errorLog: { name: 'error_log', type: optionalPath, default: null },
  logLevel: { name: 'log_level', type: logLevel, default: 'notice' },
  // php-fpm defaults to 0, which kills in-flight requests on every reload.
  processControlTimeout: { name: 'process_control_timeout', type: time, default: 10_000 },
  // poold runs in the foreground unless asked, which is what systemd and containers want.
  daemonize: { name: 'daemonize', type: bool, default: false },
  // Served by the master itself, so it answers while every worker is busy.
  statusListen: {
    name: 'status.listen',
    type: optionalListen,
    default: { kind: 'tcp', host: '127.0.0.1', port: 9901 },
  },
  statusAllowedClients: { name: 'status.allowed_clients', type: addressList, default: ['127.0.0.1', '::1'] },
  // The master's own limits (its workers inherit them); 0: as poold was started.
  rlimitFiles: { name: 'rlimit_files', type: uint, default: 0 },
  rlimitCore: { name: 'rlimit_core', type: coreLimit, default: 0 },
};

const POOL: Spec<PoolScalars> = {
  listen: { name: 'listen', type: listen, default: undefined },
  listenBacklog: { name: 'listen.backlog', type: uint, default: 511 },
  listenOwner: { name: 'listen.owner', type: optionalName, default: null },
  listenGroup: { name: 'listen.group', type: optionalName, default: null },
  listenMode: { name: 'listen.mode', type: mode, default: 0o660 },
  listenQueueMax: { name: 'listen.queue_max', type: uint, default: 0 },
  listenQueueTimeout: { name: 'listen.queue_timeout', type: time, default: 0 },
  app: { name: 'app', type: filePath, default: undefined },
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
  requestTerminateTimeout: { name: 'request_terminate_timeout', type: time, default: 0 },
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

/**
 * Looks a directive up by its lower-case name: the one of `section` when both
 * sections have it (rlimit_files), else the other section's.
 */
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
