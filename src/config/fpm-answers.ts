// php-fpm.conf directives that poold does not implement, each with its answer:
// ignored (no meaning for a Node worker, and no harm in leaving it) or refused
// (keeping it would silently change what the operator asked for), with what to
// use instead. An operator pointing poold at an existing FPM config gets a reason
// for every line it does not take, never a bare "unknown entry".

export type FpmAnswer =
  | { kind: 'ignored'; why: string }
  | { kind: 'refused'; why: string };

const ignored = (why: string): FpmAnswer => ({ kind: 'ignored', why });
const refused = (why: string): FpmAnswer => ({ kind: 'refused', why });

const SCALARS: Record<string, FpmAnswer> = {
  'events.mechanism': ignored('Node\'s event loop (libuv) always uses epoll on Linux'),
  log_buffering: ignored('poold writes each log line whole, as FPM does with buffering on'),
  'process.dumpable': ignored('a Node worker is dumpable as any process of its user; use rlimit_core to allow core dumps'),
  'security.limit_extensions': ignored('a pool runs the one module named by \'app\', never a script chosen by the request'),
  request_terminate_timeout_track_finished: ignored(
    'a Node response ends when the app ends it; nothing runs after it the way PHP shutdown functions do',
  ),
  chroot: refused(
    'a Node app needs the node binary, its node_modules and /proc inside the root; use systemd\'s RootDirectory= or a container instead',
  ),
  apparmor_hat: refused('use systemd\'s AppArmorProfile= on the poold unit instead'),
  'listen.setfib': refused('routing tables (FIBs) exist on FreeBSD only'),
  'listen.acl_users': refused('use listen.owner, listen.group and listen.mode (0660) instead'),
  'listen.acl_groups': refused('use listen.owner, listen.group and listen.mode (0660) instead'),
  'pm.status_listen': refused('use status.listen in [global]: the master serves every pool\'s status there, even while all workers are busy'),
};

/** PHP ini settings whose Node counterpart is a poold directive. */
const PHP_SETTINGS: Record<string, string> = {
  memory_limit: 'use pm.max_memory (the worker is replaced when it outgrows it) or env[NODE_OPTIONS] = --max-old-space-size=N',
  max_execution_time: 'use request_terminate_timeout',
  max_input_time: 'use http.request_timeout',
  error_log: 'a worker\'s console output goes to the master\'s error_log with catch_workers_output = yes',
  display_errors: 'errors are the app\'s to render',
  upload_max_filesize: 'limit request bodies in the app (or in the proxy: nginx\'s client_max_body_size)',
  post_max_size: 'limit request bodies in the app (or in the proxy: nginx\'s client_max_body_size)',
};

const PHP_ARRAYS = new Set(['php_value', 'php_flag', 'php_admin_value', 'php_admin_flag']);

/** The answer for a directive poold does not implement, or undefined if FPM has no such directive either. */
export function fpmAnswer(key: string, subkey: string | null): FpmAnswer | undefined {
  if (subkey === null) return SCALARS[key];
  if (!PHP_ARRAYS.has(key)) return undefined;
  const instead = PHP_SETTINGS[subkey] ?? 'a Node app reads its settings from its own config or from env[NAME]';
  return refused(`PHP ini settings have no meaning for a Node app: ${instead}`);
}

/** The message for an answered directive, in the form config issues and warnings take. */
export function describeAnswer(key: string, subkey: string | null, answer: FpmAnswer): string {
  const name = subkey === null ? key : `${key}[${subkey}]`;
  return answer.kind === 'ignored'
    ? `'${name}' is ignored: ${answer.why}`
    : `'${name}' is not supported: ${answer.why}`;
}
