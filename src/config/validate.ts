// Cross-field rules, with php-fpm's message texts (fpm_conf_process_all_pools),
// and the defaults that depend on other fields. Every issue is collected.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { globalIssue, poolIssue, type PoolDraft } from './assemble.js';
import { controlSocketPath } from '../control/control-path.js';
import { defaultsOf, POOL_DIRECTIVES, type PoolScalars } from './schema.js';
import { effectiveBacklog } from './system-limits.js';
import type { ConfigIssue, GlobalConfig, ListenAddress, PoolConfig, SourceLocation } from './types.js';
import { ALL_ADDRESSES, listen } from './values.js';

const POOL_DEFAULTS = defaultsOf(POOL_DIRECTIVES);

export function validatePools(drafts: PoolDraft[], mainFile: string): { pools: PoolConfig[]; issues: ConfigIssue[] } {
  if (drafts.length === 0) {
    return {
      pools: [],
      issues: [{ file: mainFile, message: 'No pool defined. at least one pool section must be specified in config file' }],
    };
  }
  const issues: ConfigIssue[] = [];
  const pools: PoolConfig[] = [];
  for (const draft of drafts) {
    const result = validatePool(draft);
    issues.push(...result.issues);
    if (result.pool) pools.push(result.pool);
  }
  issues.push(...listenConflicts(drafts), ...statusPathConflicts(drafts));
  return { pools, issues };
}

/** A pool that could never run all its workers under process.max. */
export function processMaxIssues(global: GlobalConfig, pools: PoolConfig[]): ConfigIssue[] {
  if (global.processMax === 0) return [];
  return pools
    .filter((pool) => pool.maxChildren > global.processMax)
    .map((pool) => ({
      ...pool.sources['pm.max_children'],
      pool: pool.name,
      key: 'pm.max_children',
      message: `pm.max_children(${pool.maxChildren}) can't be greater than process.max(${global.processMax})`,
    }));
}

/** Paths the status listener answers itself, whatever the pools say. */
const RESERVED_STATUS_PATHS = new Set(['/', '/metrics']);

/** Every pool's status and ping paths share the one status listener, so each must be unique. */
function statusPathConflicts(drafts: PoolDraft[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const taken = new Map<string, string>();
  for (const draft of drafts) {
    for (const key of ['pm.status_path', 'ping.path'] as const) {
      const value = key === 'pm.status_path' ? draft.values.statusPath : draft.values.pingPath;
      if (!value) continue;
      const owner = taken.get(value);
      if (RESERVED_STATUS_PATHS.has(value)) {
        issues.push(poolIssue(draft, key, `the path '${value}' is reserved by the status listener`));
      } else if (owner !== undefined) {
        issues.push(poolIssue(draft, key, `the path '${value}' is already used by ${owner}`));
      } else {
        taken.set(value, `${key} of pool '${draft.name}'`);
      }
    }
  }
  return issues;
}

function validatePool(draft: PoolDraft): { pool: PoolConfig | null; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const report = (key: string, message: string): void => void issues.push(poolIssue(draft, key, message));
  // A directive whose value failed to parse was reported already; rules about it would only add noise.
  const parsed = (...keys: string[]): boolean => keys.every((key) => !draft.invalid.has(key));
  const v: Partial<PoolScalars> = { ...POOL_DEFAULTS, ...draft.values };

  if (!v.listen && parsed('listen')) report('listen', 'no listen address have been defined!');
  if (!v.app) {
    if (parsed('app')) report('app', 'no app has been defined (the path of the worker module)');
  } else if (!isFile(v.app)) {
    report('app', `the app '${v.app}' does not exist or is not a file`);
  }
  const chdir = workingDirectory(v, report);
  if (!v.pm && parsed('pm')) report('pm', 'the process manager is missing (static, dynamic or ondemand)');

  // As in php-fpm, an unset number counts as 0.
  const maxChildren = v.maxChildren ?? 0;
  if (maxChildren < 1 && parsed('pm.max_children')) {
    report('pm.max_children', 'pm.max_children must be a positive value');
  }
  if ((v.maxConcurrency ?? 0) < 1 && parsed('pm.max_concurrency')) {
    report('pm.max_concurrency', 'pm.max_concurrency must be a positive value');
  }

  // Spare-server settings only mean something to dynamic; the others get 0, as php-fpm does for ondemand.
  let spare = { startServers: 0, minSpareServers: 0, maxSpareServers: 0 };
  if (v.pm === 'dynamic') {
    spare = dynamicSpares(v, maxChildren, report, parsed);
    if ((v.maxSpawnRate ?? 0) < 1 && parsed('pm.max_spawn_rate')) {
      report('pm.max_spawn_rate', 'pm.max_spawn_rate must be a positive value');
    }
  }
  if (v.pm === 'ondemand' && (v.processIdleTimeout ?? 0) <= 0 && parsed('pm.process_idle_timeout')) {
    report('pm.process_idle_timeout', `pm.process_idle_timeout(${seconds(v.processIdleTimeout)}s) must be greater than 0s`);
  }

  const slowlogTimeout = v.requestSlowlogTimeout ?? 0;
  const terminateTimeout = v.requestTerminateTimeout ?? 0;
  if (slowlogTimeout > 0 && !v.slowlog) {
    report('request_slowlog_timeout', "'slowlog' must be specified for use with 'request_slowlog_timeout'");
  }
  if ((v.requestSlowlogTraceDepth ?? 1) < 1) {
    report('request_slowlog_trace_depth', 'request_slowlog_trace_depth must be a positive value');
  }
  if (terminateTimeout > 0 && slowlogTimeout > terminateTimeout) {
    report(
      'request_slowlog_timeout',
      `'request_slowlog_timeout' (${seconds(slowlogTimeout)}) can't be greater than 'request_terminate_timeout' (${seconds(terminateTimeout)})`,
    );
  }

  // Node's http.Server would throw on the first at worker start, and would
  // silently read a 0 header size as its own default.
  const headersTimeout = v.httpHeadersTimeout ?? 0;
  const requestTimeout = v.httpRequestTimeout ?? 0;
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    report(
      'http.headers_timeout',
      `'http.headers_timeout' (${seconds(headersTimeout)}) can't be greater than 'http.request_timeout' (${seconds(requestTimeout)})`,
    );
  }
  if ((v.httpMaxHeaderSize ?? 0) < 1 && parsed('http.max_header_size')) {
    report('http.max_header_size', 'http.max_header_size must be a positive value');
  }

  const scalars = { ...v, ...spare, chdir, listenQueueMax: queueMaxOf(v) };
  if (issues.length > 0 || draft.invalid.size > 0 || !isComplete(scalars)) return { pool: null, issues };
  return {
    pool: { name: draft.name, ...scalars, env: draft.env, accessSuppressPath: draft.suppressPaths, sources: draft.sources },
    issues,
  };
}

type Report = (key: string, message: string) => void;

/** `prefix` and `chdir` must be directories (FPM's messages); chdir defaults to the app module's directory. */
function workingDirectory(v: Partial<PoolScalars>, report: Report): string | undefined {
  if (v.prefix && !isDirectory(v.prefix)) {
    report('prefix', `the prefix '${v.prefix}' does not exist or is not a directory`);
  }
  if (v.chdir && !isDirectory(v.chdir)) {
    report('chdir', `the chdir path '${v.chdir}' does not exist or is not a directory`);
  }
  return v.chdir ?? (v.app ? path.dirname(v.app) : undefined);
}

/** listen.queue_max, unset: as many as the kernel's accept queue holds, so the bound is on by default. */
function queueMaxOf(v: Partial<PoolScalars>): number | undefined {
  return v.listenQueueMax ?? (v.listenBacklog === undefined ? undefined : effectiveBacklog(v.listenBacklog));
}

/** php-fpm's dynamic rules, in its order; pm.start_servers defaults to the middle of the spare range. */
function dynamicSpares(
  v: Partial<PoolScalars>,
  maxChildren: number,
  report: Report,
  parsed: (...keys: string[]) => boolean,
): { startServers: number; minSpareServers: number; maxSpareServers: number } {
  const min = v.minSpareServers ?? 0;
  const max = v.maxSpareServers ?? 0;
  let start = v.startServers ?? 0;
  let usable = maxChildren >= 1 && parsed('pm.min_spare_servers', 'pm.max_spare_servers', 'pm.start_servers');
  if (min <= 0 && parsed('pm.min_spare_servers')) {
    report('pm.min_spare_servers', `pm.min_spare_servers(${min}) must be a positive value`);
    usable = false;
  }
  if (max <= 0 && parsed('pm.max_spare_servers')) {
    report('pm.max_spare_servers', `pm.max_spare_servers(${max}) must be a positive value`);
    usable = false;
  }
  if (usable) {
    if (min > maxChildren || max > maxChildren) {
      report(
        max > maxChildren ? 'pm.max_spare_servers' : 'pm.min_spare_servers',
        `pm.min_spare_servers(${min}) and pm.max_spare_servers(${max}) cannot be greater than pm.max_children(${maxChildren})`,
      );
    } else if (max < min) {
      report('pm.max_spare_servers', `pm.max_spare_servers(${max}) must not be less than pm.min_spare_servers(${min})`);
    } else if (start <= 0) {
      // php-fpm treats 0 as "not set" too.
      start = min + Math.floor((max - min) / 2);
    } else if (start < min || start > max) {
      report(
        'pm.start_servers',
        `pm.start_servers(${start}) must not be less than pm.min_spare_servers(${min}) and not greater than pm.max_spare_servers(${max})`,
      );
    }
  }
  return { startServers: start, minSpareServers: min, maxSpareServers: max };
}

/** A file or address poold uses, and who configured it. */
interface Use {
  address: ListenAddress;
  /** Logs are appended with O_APPEND: several may share one file (or /dev/stderr). */
  isLog: boolean;
  /** How another issue names this use. */
  what: string;
  where: ConfigIssue;
}

/**
 * No two of the pid file, the control socket, the logs, the status listener
 * and the pools' sockets may be the same file or address: binding one socket
 * unlinks a stale file at its path, so a collision destroys the other file or
 * takes over its address. Logs may share a file with logs. Two pools' sockets
 * are listenConflicts' business.
 */
export function pathCollisions(
  global: GlobalConfig,
  globalSources: Record<string, SourceLocation>,
  drafts: PoolDraft[],
  mainFile: string,
): ConfigIssue[] {
  const uses: Use[] = [];
  const add = (
    value: ListenAddress | string | null | undefined,
    key: string,
    isLog: boolean,
    where: ConfigIssue,
    label = `'${key}'`,
  ): void => {
    if (!value) return;
    const address: ListenAddress = typeof value === 'string' ? { kind: 'unix', path: value } : value;
    const at = where.line ? ` (${where.file}:${where.line})` : '';
    uses.push({ address, isLog, what: `${label}${at}`, where: { ...where, key } });
  };
  const globalAt = (key: string): ConfigIssue => globalIssue({ globalSources }, mainFile, key, '');
  add(global.pid, 'pid', false, globalAt('pid'));
  if (global.pid) add(controlSocketPath(global.pid), 'pid', false, globalAt('pid'), "the control socket next to 'pid'");
  add(global.errorLog, 'error_log', true, globalAt('error_log'));
  add(global.statusListen, 'status.listen', false, globalAt('status.listen'));
  for (const draft of drafts) {
    const poolAt = (key: string): ConfigIssue => poolIssue(draft, key, '');
    const ofPool = (key: string): string => `'${key}' of pool '${draft.name}'`;
    add(draft.values.listen, 'listen', false, poolAt('listen'), ofPool('listen'));
    add(draft.values.accessLog, 'access.log', true, poolAt('access.log'), ofPool('access.log'));
    add(draft.values.slowlog, 'slowlog', true, poolAt('slowlog'), ofPool('slowlog'));
  }
  const issues: ConfigIssue[] = [];
  uses.forEach((use, i) => {
    const other = uses.slice(0, i).find((earlier) => collide(earlier, use));
    if (other) {
      const value = listen.format(use.address);
      issues.push({ ...use.where, message: `'${use.where.key}' = '${value}' is already used by ${other.what}` });
    }
  });
  return issues;
}

function collide(a: Use, b: Use): boolean {
  if (a.isLog && b.isLog) return false;
  // Pool against pool: listenConflicts reports it, in FPM's words.
  if (a.where.key === 'listen' && b.where.key === 'listen') return false;
  if (a.address.kind === 'unix' && b.address.kind === 'unix') {
    return canonicalPath(a.address.path) === canonicalPath(b.address.path);
  }
  return conflicts(a.address, b.address);
}

/** The path with its directory's symbolic links resolved (/var/run/x is /run/x on Debian). */
function canonicalPath(file: string): string {
  try {
    return path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
  } catch {
    return file;
  }
}

function listenConflicts(drafts: PoolDraft[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  drafts.forEach((draft, i) => {
    const mine = draft.values.listen;
    const other = mine && drafts.slice(0, i).find((d) => d.values.listen && conflicts(d.values.listen, mine));
    if (other) {
      issues.push({
        ...(draft.sources['listen'] ?? { file: draft.file, line: draft.line }),
        pool: draft.name,
        key: 'listen',
        message: `unable to set listen address as it's already used in another pool '${other.name}'`,
      });
    }
  });
  return issues;
}

/** True when both pools could not bind: same socket path, or overlapping TCP addresses on one port. */
function conflicts(a: ListenAddress, b: ListenAddress): boolean {
  if (a.kind === 'unix' || b.kind === 'unix') {
    return a.kind === 'unix' && b.kind === 'unix' && a.path === b.path;
  }
  if (a.port !== b.port) return false;
  const [x, y] = [a.host.toLowerCase(), b.host.toLowerCase()];
  return x === y || covers(x, y) || covers(y, x);
}

// A wildcard bind holds the port on every address it covers: '::' is
// dual-stack on Linux, '0.0.0.0' covers IPv4 (and names that may resolve to it).
function covers(wildcard: string, host: string): boolean {
  return wildcard === ALL_ADDRESSES || (wildcard === '0.0.0.0' && !net.isIPv6(host));
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function isComplete(values: Partial<PoolScalars>): values is PoolScalars {
  return POOL_DIRECTIVES.every((d) => values[d.field] !== undefined);
}

function seconds(ms: number | undefined): number {
  return (ms ?? 0) / 1000;
}
