import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError, loadConfig, type PoolConfig } from '../../src/config/index.js';
import { POOL_DIRECTIVES } from '../../src/config/schema.js';
import { issuesOf, lineOf, poolSection, withApp, type Fixture } from '../helpers/config-fixtures.js';

let fx: Fixture;
beforeEach(() => {
  fx = withApp();
});
afterEach(() => fx.cleanup());

describe('loadConfig defaults', () => {
  it('fills every global and pool default', () => {
    const file = fx.write('poold.conf', poolSection('www', '127.0.0.1:9000'));
    const { config, warnings } = loadConfig(file, {});
    assert.deepEqual(warnings, []);
    assert.equal(config.file, file);
    assert.deepEqual(config.global, {
      pid: null,
      errorLog: null,
      logLevel: 'notice',
      logLimit: 1024,
      syslogIdent: 'poold',
      syslogFacility: 'daemon',
      processControlTimeout: 10_000,
      processStartTimeout: 60_000,
      daemonize: false,
      systemdInterval: 10_000,
      emergencyRestartThreshold: 0,
      emergencyRestartInterval: 0,
      processMax: 0,
      processPriority: null,
      statusListen: { kind: 'tcp', host: '127.0.0.1', port: 9901 },
      statusListenOwner: null,
      statusListenGroup: null,
      statusListenMode: 0o660,
      statusAllowedClients: ['127.0.0.1', '::1'],
      statusShowQuery: false,
      rlimitFiles: 0,
      rlimitCore: 0,
    });
    const expected: PoolConfig = {
      name: 'www',
      prefix: null,
      user: null,
      group: null,
      listen: { kind: 'tcp', host: '127.0.0.1', port: 9000 },
      listenBacklog: 511,
      listenOwner: null,
      listenGroup: null,
      listenMode: 0o660,
    listenAllowedClients: ['any'],
    listenTrustedProxies: [],
      listenQueueMax: 511,
      listenQueueTimeout: 10_000,
      app: fx.path('app.js'),
      processPriority: null,
      chdir: fx.dir,
      pm: 'static',
      maxChildren: 2,
      maxConcurrency: 1,
      startServers: 0,
      minSpareServers: 0,
      maxSpareServers: 0,
      maxSpawnRate: 32,
      processIdleTimeout: 10_000,
      maxRequests: 0,
      maxRequestsJitter: 0,
      maxMemory: 0,
      requestTerminateTimeout: 0,
      maxLoopBlock: 10_000,
      requestSlowlogTimeout: 0,
      requestSlowlogTraceDepth: 20,
      slowlog: null,
      httpHeadersTimeout: 60_000,
      httpRequestTimeout: 300_000,
      httpKeepaliveTimeout: 5_000,
      httpMaxHeaderSize: 16 * 1024,
      accessLog: null,
      accessFormat: '%R - %u %t "%m %r" %s',
      accessSuppressPath: [],
      catchWorkersOutput: true,
      decorateWorkersOutput: true,
      statusPath: null,
      pingPath: null,
      pingResponse: 'pong',
      env: {},
      clearEnv: true,
      rlimitFiles: 0,
      rlimitCore: 0,
      sources: {
        listen: { file, line: 2 },
        app: { file, line: 3 },
        pm: { file, line: 4 },
        'pm.max_children': { file, line: 5 },
      },
    };
    assert.deepEqual(config.pools, [expected]);
  });

  it('reads every directive when set', () => {
    const text = [
      '[global]',
      'pid = run/poold.pid',
      'error_log = /var/log/poold.log',
      'log_level = DEBUG',
      'log_limit = 4096',
      'syslog.ident = www-fpm',
      'syslog.facility = LOCAL5',
      'process_control_timeout = 1m',
      'process_start_timeout = 2m',
      'daemonize = yes',
      'systemd_interval = 0',
      'emergency_restart_threshold = 10',
      'emergency_restart_interval = 1m',
      'process.max = 100',
      'process.priority = 5',
      'status.listen = run/status.sock',
      'status.listen.owner = prometheus',
      'status.listen.group = 65534',
      'status.listen.mode = 0600',
      'status.allowed_clients = 10.0.0.1, ::1, 192.168.0.0/16',
      'status.show_query = yes',
      'rlimit_files = 4096',
      'rlimit_core = unlimited',
      '[www]',
      'prefix = .',
      'user = www-data',
      'group = nogroup',
      'listen = sock/www.sock',
      'listen.backlog = 64',
      'listen.owner = www-data',
      'listen.group = 33',
      'listen.mode = 0600',
      'listen.allowed_clients = 127.0.0.1,fd00::/8',
      'listen.trusted_proxies = unix:, 10.0.0.0/8',
      'listen.queue_max = 100',
      'listen.queue_timeout = 30s',
      'app = app.js',
      'process.priority = -3',
      'chdir = sock/..',
      'pm = Dynamic',
      'pm.max_children = 10',
      'pm.max_concurrency = 4',
      'pm.start_servers = 3',
      'pm.min_spare_servers = 2',
      'pm.max_spare_servers = 5',
      'pm.max_spawn_rate = 8',
      'pm.process_idle_timeout = 20s',
      'pm.max_requests = 500',
      'pm.max_requests_jitter = 50',
      'pm.max_memory = 512M',
      'pm.max_loop_block = 3s',
      'request_terminate_timeout = 1m',
      'request_slowlog_timeout = 5',
      'request_slowlog_trace_depth = 5',
      'slowlog = log/$pool.slow',
      'http.headers_timeout = 10s',
      'http.request_timeout = 2m',
      'http.keepalive_timeout = 0',
      'http.max_header_size = 32k',
      'access.log = log/$pool.access.log',
      "access.format = '%R %m %r%Q%q %s %{mili}d'",
      'access.suppress_path[] = /ping',
      'access.suppress_path[] = /health',
      'catch_workers_output = no',
      'decorate_workers_output = no',
      'pm.status_path = /status',
      'ping.path = /ping',
      'ping.response = ok',
      'clear_env = no',
      'env[A] = 1',
      'rlimit_files = 1024',
      'rlimit_core = 0',
    ].join('\n');
    for (const dir of ['run', 'sock', 'log']) fs.mkdirSync(fx.path(dir));
    const { config } = loadConfig(fx.write('poold.conf', text), {});
    assert.deepEqual(config.global, {
      pid: fx.path('run/poold.pid'),
      errorLog: '/var/log/poold.log',
      logLevel: 'debug',
      logLimit: 4096,
      syslogIdent: 'www-fpm',
      syslogFacility: 'local5',
      processControlTimeout: 60_000,
      processStartTimeout: 120_000,
      daemonize: true,
      systemdInterval: 0,
      emergencyRestartThreshold: 10,
      emergencyRestartInterval: 60_000,
      processMax: 100,
      processPriority: 5,
      statusListen: { kind: 'unix', path: fx.path('run/status.sock') },
      statusListenOwner: 'prometheus',
      statusListenGroup: '65534',
      statusListenMode: 0o600,
      statusAllowedClients: ['10.0.0.1', '::1', '192.168.0.0/16'],
      statusShowQuery: true,
      rlimitFiles: 4096,
      rlimitCore: Infinity,
    });
    const { sources, ...pool } = config.pools[0]!;
    assert.deepEqual(pool, {
      name: 'www',
      prefix: fx.dir,
      user: 'www-data',
      group: 'nogroup',
      listen: { kind: 'unix', path: fx.path('sock/www.sock') },
      listenBacklog: 64,
      listenOwner: 'www-data',
      listenGroup: '33',
      listenMode: 0o600,
      listenAllowedClients: ['127.0.0.1', 'fd00::/8'],
      listenTrustedProxies: ['unix:', '10.0.0.0/8'],
      listenQueueMax: 100,
      listenQueueTimeout: 30_000,
      app: fx.path('app.js'),
      processPriority: -3,
      chdir: fx.dir,
      pm: 'dynamic',
      maxChildren: 10,
      maxConcurrency: 4,
      startServers: 3,
      minSpareServers: 2,
      maxSpareServers: 5,
      maxSpawnRate: 8,
      processIdleTimeout: 20_000,
      maxRequests: 500,
      maxRequestsJitter: 50,
      maxMemory: 512 * 1024 * 1024,
      requestTerminateTimeout: 60_000,
      maxLoopBlock: 3_000,
      requestSlowlogTimeout: 5_000,
      requestSlowlogTraceDepth: 5,
      slowlog: fx.path('log/www.slow'),
      httpHeadersTimeout: 10_000,
      httpRequestTimeout: 120_000,
      httpKeepaliveTimeout: 0,
      httpMaxHeaderSize: 32 * 1024,
      accessLog: fx.path('log/www.access.log'),
      accessFormat: '%R %m %r%Q%q %s %{mili}d',
      accessSuppressPath: ['/ping', '/health'],
      catchWorkersOutput: false,
      decorateWorkersOutput: false,
      statusPath: '/status',
      pingPath: '/ping',
      pingResponse: 'ok',
      env: { A: '1' },
      clearEnv: false,
      rlimitFiles: 1024,
      rlimitCore: 0,
    });
    // Every pool directive plus env[A] was set, so every one has a source.
    assert.deepEqual(Object.keys(sources).sort(), [...POOL_DIRECTIVES.map((d) => d.name), 'env[A]'].sort());
    assert.deepEqual(sources['env[A]'], { file: fx.path('poold.conf'), line: lineOf(text, 'env[A]') });
  });

  it('lets a later value override an earlier one, in a reopened pool too', () => {
    const text = `${poolSection('www', '9000')}${poolSection('other', '9001')}[WWW]\npm.max_children = 7\n`;
    const file = fx.write('poold.conf', text);
    const { config } = loadConfig(file, {});
    assert.equal(config.pools[0]!.maxChildren, 7);
    assert.deepEqual(config.pools[0]!.sources['pm.max_children'], { file, line: lineOf(text, '= 7') });
  });

  it('resolves a relative main file path against the cwd', () => {
    const file = fx.write('poold.conf', poolSection('www', '9000'));
    const relative = path.relative(process.cwd(), file);
    assert.equal(loadConfig(relative, {}).config.file, file);
  });

  it('resolves relative paths against the directory of the file that sets them', () => {
    fx.write('apps/app.js', '');
    fs.mkdirSync(fx.path('run'));
    fx.write('pool.d/www.conf', '[www]\nlisten = ../run/www.sock\napp = ../apps/app.js\npm = static\npm.max_children = 1\n');
    const { config } = loadConfig(fx.write('poold.conf', 'include = pool.d/*.conf\n'), {});
    assert.deepEqual(config.pools[0]!.listen, { kind: 'unix', path: fx.path('run/www.sock') });
    assert.equal(config.pools[0]!.app, fx.path('apps/app.js'));
  });
});

describe('loadConfig env[]', () => {
  it('copies $NAME values from the given environment and warns when unset', () => {
    const text = poolSection('www', '9000', 'env[HOME] = $HOME\nenv[MISSING] = $NOPE\nenv[LIT] = a$b\n');
    const file = fx.write('poold.conf', text);
    const { config, warnings } = loadConfig(file, { HOME: '/home/app' });
    assert.deepEqual(config.pools[0]!.env, { HOME: '/home/app', MISSING: '', LIT: 'a$b' });
    assert.deepEqual(warnings, [
      `[${file}:${lineOf(text, 'MISSING')}] [pool www] env[MISSING]: environment variable 'NOPE' is not set, using an empty value`,
    ]);
  });

  it('uses ${NAME} from the given environment in any value', () => {
    const file = fx.write('poold.conf', poolSection('www', '${PORT}', 'pm.max_requests = ${MAXREQ}\n'));
    const { config } = loadConfig(file, { PORT: '9100', MAXREQ: '42' });
    assert.deepEqual(config.pools[0]!.listen, { kind: 'tcp', host: '::', port: 9100 });
    assert.equal(config.pools[0]!.maxRequests, 42);
  });
});

describe('loadConfig failures', () => {
  it('reports a missing main file as a ConfigError', () => {
    const missing = fx.path('nope.conf');
    const issues = issuesOf(() => loadConfig(missing, {}));
    assert.deepEqual(issues, [
      { message: `failed to open configuration file '${missing}': No such file or directory` },
    ]);
  });

  it('formats issues as [file:line] [pool name] message, one per line', () => {
    const text = poolSection('www', '9000', 'pm.max_requests = lots\nfoo = 1\n');
    const file = fx.write('poold.conf', text);
    assert.throws(
      () => loadConfig(file, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message ===
          `[${file}:6] [pool www] unable to parse value for entry 'pm.max_requests': is not a valid number (greater or equal than zero)\n` +
            `[${file}:7] [pool www] unknown entry 'foo'`,
    );
  });

  it('keeps include warnings alongside a successful load', () => {
    const file = fx.write('poold.conf', `include = none/*.conf\n${poolSection('www', '9000')}`);
    const { warnings } = loadConfig(file, {});
    assert.deepEqual(warnings, [
      `Nothing matches the include pattern '${fx.path('none/*.conf')}' from ${file} at line 1.`,
    ]);
  });
});
