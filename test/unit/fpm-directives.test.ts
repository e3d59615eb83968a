// Every directive of php-fpm.conf has an answer in poold: taken, ignored with a
// warning, or refused with what to use instead. None is an "unknown entry".
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError, loadConfig, type ConfigIssue } from '../../src/config/index.js';
import { poolSection, withApp, type Fixture } from '../helpers/config-fixtures.js';

/** php-fpm.conf's [global] directives (php-fpm.conf.in, fpm_conf.c), each with a value FPM accepts. */
const GLOBAL: Record<string, string> = {
  pid: 'poold.pid',
  error_log: 'error.log',
  'syslog.facility': 'daemon',
  'syslog.ident': 'php-fpm',
  log_level: 'notice',
  log_limit: '4096',
  log_buffering: 'yes',
  emergency_restart_threshold: '10',
  emergency_restart_interval: '1m',
  process_control_timeout: '10s',
  'process.max': '128',
  'process.priority': '-19',
  daemonize: 'no',
  rlimit_files: '1024',
  rlimit_core: 'unlimited',
  'events.mechanism': 'epoll',
  systemd_interval: '10',
};

/** A pool section's directives (www.conf.in), each with a value FPM accepts. */
const POOL: Record<string, string> = {
  prefix: '.',
  user: 'nobody',
  group: 'nogroup',
  'listen.backlog': '511',
  'listen.owner': 'nobody',
  'listen.group': 'nogroup',
  'listen.mode': '0660',
  'listen.acl_users': 'nobody',
  'listen.acl_groups': 'nogroup',
  'listen.allowed_clients': '127.0.0.1',
  'listen.setfib': '1',
  'process.priority': '-19',
  'process.dumpable': 'yes',
  'pm.start_servers': '2',
  'pm.max_spawn_rate': '32',
  'pm.process_idle_timeout': '10s',
  'pm.max_requests': '500',
  'pm.status_listen': '127.0.0.1:9001',
  'pm.status_path': '/status',
  'ping.path': '/ping',
  'ping.response': 'pong',
  'access.log': 'access.log',
  'access.format': '"%R - %u %t \\"%m %r\\" %s"',
  'access.suppress_path[]': '/ping',
  slowlog: 'slow.log',
  request_slowlog_timeout: '5s',
  request_slowlog_trace_depth: '20',
  request_terminate_timeout: '30s',
  request_terminate_timeout_track_finished: 'no',
  rlimit_files: '1024',
  rlimit_core: '0',
  chroot: '/srv',
  chdir: '.',
  catch_workers_output: 'yes',
  decorate_workers_output: 'no',
  clear_env: 'no',
  'security.limit_extensions': '.php',
  apparmor_hat: 'www',
  'env[HOSTNAME]': '$HOSTNAME',
  'php_value[memory_limit]': '128M',
  'php_flag[display_errors]': 'off',
  'php_admin_value[error_log]': '/var/log/fpm-php.www.log',
  'php_admin_flag[log_errors]': 'on',
};

/** The issues loading `file` reports (none when it loads). */
function issuesOfLoading(file: string): ConfigIssue[] {
  try {
    loadConfig(file, { HOSTNAME: 'h' });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

let fx: Fixture;
beforeEach(() => {
  fx = withApp();
});
afterEach(() => fx.cleanup());

describe('every php-fpm.conf directive has an answer', () => {
  for (const [section, directives] of [['global', GLOBAL], ['pool', POOL]] as const) {
    for (const [name, value] of Object.entries(directives)) {
      it(`${section}: ${name}`, () => {
        const line = `${name} = ${value}`;
        const text = section === 'global' ? `[global]\n${line}\n${poolSection('www', '9000')}` : poolSection('www', '9000', `${line}\n`);
        const file = fx.write('poold.conf', text);
        const unknown = issuesOfLoading(file).filter((issue) => /unknown entry/.test(issue.message));
        assert.deepEqual(unknown, [], `${name} must be taken, ignored with a warning, or refused with a reason`);
      });
    }
  }
});
