import assert from 'node:assert/strict';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { dumpConfig, loadConfig, type PooldConfig } from '../../src/config/index.js';
import { DIRECTIVES } from '../../src/config/schema.js';
import { poolSection, withApp, type Fixture } from '../helpers/config-fixtures.js';

let fx: Fixture;
beforeEach(() => {
  fx = withApp();
});
afterEach(() => fx.cleanup());

/** The config without what legitimately differs between two files: their names and line numbers. */
function comparable(config: PooldConfig): unknown {
  return { global: config.global, pools: config.pools.map(({ sources: _sources, ...pool }) => pool) };
}

function roundTrip(text: string, env: NodeJS.ProcessEnv = {}): { first: PooldConfig; second: PooldConfig; dump: string } {
  for (const dir of ['run', 'log']) fs.mkdirSync(fx.path(dir), { recursive: true });
  const first = loadConfig(fx.write('poold.conf', text), env).config;
  const dump = dumpConfig(first);
  // Written elsewhere so that nothing can resolve relative to the original directory.
  const second = loadConfig(fx.write('elsewhere/dumped.conf', dump), {}).config;
  return { first, second, dump };
}

describe('dumpConfig', () => {
  it('prints [global] then each pool with every directive, defaults included', () => {
    const { dump } = roundTrip(poolSection('www', '127.0.0.1:9000'));
    const lines = dump.split('\n');
    assert.equal(lines[1], '[global]');
    assert.ok(lines.includes('[www]'));
    for (const directive of DIRECTIVES) {
      assert.ok(
        lines.some((l) => l === `${directive.name} =` || l.startsWith(`${directive.name} = `)),
        `${directive.name} missing from dump`,
      );
    }
    for (const expected of [
      'pid =',
      'log_level = notice',
      'process_control_timeout = 10s',
      'daemonize = no',
      'listen = 127.0.0.1:9000',
      'listen.mode = 0660',
      `app = ${fx.path('app.js')}`,
      'pm = static',
      'pm.max_memory = 0',
      'clear_env = yes',
    ]) {
      assert.ok(lines.includes(expected), `missing line: ${expected}`);
    }
  });

  it('round-trips a config that sets everything', () => {
    const text = [
      '[global]',
      'pid = run/poold.pid',
      'error_log = log/poold.log',
      'log_level = warn',
      'process_control_timeout = 2m',
      'process_start_timeout = 3m',
      'log_limit = 2048',
      'syslog.ident = api',
      'syslog.facility = local1',
      'daemonize = yes',
      '[www]',
      'listen = run/www.sock',
      'listen.owner = www-data',
      'listen.group = www-data',
      'listen.mode = 600',
      'listen.backlog = -1',
      'listen.queue_max = 50',
      'listen.queue_timeout = 1h',
      'app = app.js',
      'pm = dynamic',
      'pm.max_children = 20',
      'pm.max_concurrency = 3',
      'pm.min_spare_servers = 2',
      'pm.max_spare_servers = 6',
      'pm.max_spawn_rate = 4',
      'pm.max_requests = 1000',
      'pm.max_requests_jitter = 100',
      'pm.max_memory = 768M',
      'request_terminate_timeout = 30s',
      'request_slowlog_timeout = 5s',
      'slowlog = log/$pool.slow',
      'http.headers_timeout = 20s',
      'http.request_timeout = 40s',
      'http.keepalive_timeout = 1s',
      'http.max_header_size = 8K',
      'clear_env = no',
      'env[PATH] = /usr/bin:/bin',
      'env[HOME] = $HOME',
      `env[TRICKY] = ' lead ; "quoted" it'"'"'s \${NOT_EXPANDED} '`,
      '[api]',
      'listen = [::1]:9001',
      'app = app.js',
      'pm = ondemand',
      'pm.max_children = 4',
      'pm.process_idle_timeout = 1d',
      '[plain]',
      'listen = 9002',
      'app = app.js',
      'pm = static',
      'pm.max_children = 1',
    ].join('\n');
    const { first, second, dump } = roundTrip(text, { HOME: '/home/app' });
    assert.deepEqual(comparable(second), comparable(first));
    assert.equal(first.pools[0]!.env['TRICKY'], ` lead ; "quoted" it's \${NOT_EXPANDED} `);
    for (const expected of [
      'log_level = warning',
      'process_control_timeout = 120s',
      'listen.mode = 0600',
      'pm.start_servers = 4',
      'pm.max_memory = 768M',
      'http.max_header_size = 8K',
      'listen = [::1]:9001',
      'listen = [::]:9002',
      'pm.process_idle_timeout = 86400s',
      'env[HOME] = /home/app',
    ]) {
      assert.ok(dump.split('\n').includes(expected), `missing line: ${expected}`);
    }
  });

  it('round-trips the defaults of each process manager', () => {
    for (const pm of ['static', 'dynamic', 'ondemand']) {
      const extra = pm === 'dynamic' ? 'pm.min_spare_servers = 1\npm.max_spare_servers = 2\n' : '';
      const { first, second } = roundTrip(poolSection('www', '9000', extra).replace('pm = static', `pm = ${pm}`));
      assert.deepEqual(comparable(second), comparable(first), pm);
    }
  });
});
