import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadConfig, type ConfigIssue } from '../../src/config/index.js';
import { issuesOf, lineOf, poolSection, withApp, type Fixture } from '../helpers/config-fixtures.js';

let fx: Fixture;
beforeEach(() => {
  fx = withApp();
});
afterEach(() => fx.cleanup());

/** Loads `text` as poold.conf and returns its issues. */
function issues(text: string): ConfigIssue[] {
  const file = fx.write('poold.conf', text);
  return issuesOf(() => loadConfig(file, {}));
}

/** The issue expected at the line of `needle` in `text` (in poold.conf). */
function at(text: string, needle: string, pool: string | undefined, key: string | undefined, message: string): ConfigIssue {
  const issue: ConfigIssue = { file: fx.path('poold.conf'), line: lineOf(text, needle), message };
  if (pool !== undefined) issue.pool = pool;
  if (key !== undefined) issue.key = key;
  return issue;
}

/** A dynamic pool with the given pm.* lines. */
function dynamic(lines: string): string {
  return `[www]\nlisten = 9000\napp = app.js\npm = dynamic\n${lines}`;
}

describe('mandatory directives', () => {
  it('reports every missing one at the pool section, in one error', () => {
    const text = '[global]\n[www]\nclear_env = yes\n';
    assert.deepEqual(issues(text), [
      at(text, '[www]', 'www', 'listen', 'no listen address have been defined!'),
      at(text, '[www]', 'www', 'app', 'no app has been defined (the path of the worker module)'),
      at(text, '[www]', 'www', 'pm', 'the process manager is missing (static, dynamic or ondemand)'),
      at(text, '[www]', 'www', 'pm.max_children', 'pm.max_children must be a positive value'),
    ]);
  });

  it('rejects an invalid pm without also calling it missing', () => {
    const text = poolSection('www', '9000').replace('pm = static', 'pm = sometimes');
    assert.deepEqual(issues(text), [
      at(text, 'pm = ', 'www', 'pm', "unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)"),
    ]);
  });

  it('rejects pm.max_children = 0 at its line', () => {
    const text = poolSection('www', '9000').replace('pm.max_children = 2', 'pm.max_children = 0');
    assert.deepEqual(issues(text), [at(text, 'max_children', 'www', 'pm.max_children', 'pm.max_children must be a positive value')]);
  });

  it('rejects an unparsable number once, without a follow-up rule message', () => {
    const text = poolSection('www', '9000').replace('pm.max_children = 2', 'pm.max_children = -1');
    assert.deepEqual(issues(text), [
      at(text, 'max_children', 'www', 'pm.max_children', "unable to parse value for entry 'pm.max_children': is not a valid number (greater or equal than zero)"),
    ]);
  });

  it('rejects pm.max_concurrency = 0', () => {
    const text = poolSection('www', '9000', 'pm.max_concurrency = 0\n');
    assert.deepEqual(issues(text), [
      at(text, 'max_concurrency', 'www', 'pm.max_concurrency', 'pm.max_concurrency must be a positive value'),
    ]);
  });
});

describe('app', () => {
  it('must exist', () => {
    const text = poolSection('www', '9000').replace('app = app.js', 'app = missing.js');
    assert.deepEqual(issues(text), [
      at(text, 'app =', 'www', 'app', `the app '${fx.path('missing.js')}' does not exist or is not a file`),
    ]);
  });

  it('must be a file, not a directory', () => {
    const text = poolSection('www', '9000').replace('app = app.js', 'app = .');
    assert.deepEqual(issues(text), [at(text, 'app =', 'www', 'app', `the app '${fx.dir}' does not exist or is not a file`)]);
  });
});

describe('dynamic', () => {
  it('requires positive min and max spare servers', () => {
    const text = dynamic('pm.max_children = 5\npm.min_spare_servers = 0\n');
    assert.deepEqual(issues(text), [
      at(text, 'min_spare', 'www', 'pm.min_spare_servers', 'pm.min_spare_servers(0) must be a positive value'),
      at(text, '[www]', 'www', 'pm.max_spare_servers', 'pm.max_spare_servers(0) must be a positive value'),
    ]);
  });

  it('rejects spare servers above pm.max_children', () => {
    const text = dynamic('pm.max_children = 5\npm.min_spare_servers = 6\npm.max_spare_servers = 7\n');
    assert.deepEqual(issues(text), [
      at(text, 'max_spare', 'www', 'pm.max_spare_servers', 'pm.min_spare_servers(6) and pm.max_spare_servers(7) cannot be greater than pm.max_children(5)'),
    ]);
  });

  it('allows pm.max_spare_servers equal to pm.max_children', () => {
    const file = fx.write('poold.conf', dynamic('pm.max_children = 5\npm.min_spare_servers = 5\npm.max_spare_servers = 5\n'));
    const pool = loadConfig(file, {}).config.pools[0]!;
    assert.deepEqual([pool.minSpareServers, pool.maxSpareServers, pool.startServers], [5, 5, 5]);
  });

  it('rejects max spare below min spare', () => {
    const text = dynamic('pm.max_children = 5\npm.min_spare_servers = 3\npm.max_spare_servers = 2\n');
    assert.deepEqual(issues(text), [
      at(text, 'max_spare', 'www', 'pm.max_spare_servers', 'pm.max_spare_servers(2) must not be less than pm.min_spare_servers(3)'),
    ]);
  });

  it('rejects pm.start_servers outside the spare range', () => {
    const text = dynamic('pm.max_children = 9\npm.start_servers = 5\npm.min_spare_servers = 2\npm.max_spare_servers = 4\n');
    assert.deepEqual(issues(text), [
      at(text, 'start_servers', 'www', 'pm.start_servers', 'pm.start_servers(5) must not be less than pm.min_spare_servers(2) and not greater than pm.max_spare_servers(4)'),
    ]);
    const low = dynamic('pm.max_children = 9\npm.start_servers = 1\npm.min_spare_servers = 2\npm.max_spare_servers = 4\n');
    assert.equal(issues(low)[0]!.message, 'pm.start_servers(1) must not be less than pm.min_spare_servers(2) and not greater than pm.max_spare_servers(4)');
  });

  it('defaults pm.start_servers to min + (max - min) / 2, rounded down; 0 means unset', () => {
    const cases: [string, number][] = [
      ['pm.min_spare_servers = 2\npm.max_spare_servers = 5\n', 3],
      ['pm.min_spare_servers = 1\npm.max_spare_servers = 4\n', 2],
      ['pm.min_spare_servers = 3\npm.max_spare_servers = 3\npm.start_servers = 0\n', 3],
    ];
    for (const [lines, expected] of cases) {
      const file = fx.write('poold.conf', dynamic(`pm.max_children = 10\n${lines}`));
      assert.equal(loadConfig(file, {}).config.pools[0]!.startServers, expected, lines);
    }
  });

  it('rejects pm.max_spawn_rate = 0 for dynamic only', () => {
    const text = dynamic('pm.max_children = 5\npm.min_spare_servers = 1\npm.max_spare_servers = 2\npm.max_spawn_rate = 0\n');
    assert.deepEqual(issues(text), [
      at(text, 'spawn_rate', 'www', 'pm.max_spawn_rate', 'pm.max_spawn_rate must be a positive value'),
    ]);
    const file = fx.write('poold.conf', poolSection('www', '9000', 'pm.max_spawn_rate = 0\n'));
    assert.equal(loadConfig(file, {}).config.pools[0]!.maxSpawnRate, 0);
  });
});

describe('ondemand', () => {
  it('rejects pm.process_idle_timeout = 0s', () => {
    const text = poolSection('www', '9000', 'pm.process_idle_timeout = 0\n').replace('pm = static', 'pm = ondemand');
    assert.deepEqual(issues(text), [
      at(text, 'idle_timeout', 'www', 'pm.process_idle_timeout', 'pm.process_idle_timeout(0s) must be greater than 0s'),
    ]);
  });

  it('zeroes the spare-server settings, as php-fpm does', () => {
    const text = poolSection('www', '9000', 'pm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n');
    const file = fx.write('poold.conf', text.replace('pm = static', 'pm = ondemand'));
    const pool = loadConfig(file, {}).config.pools[0]!;
    assert.deepEqual([pool.startServers, pool.minSpareServers, pool.maxSpareServers], [0, 0, 0]);
  });
});

describe('slowlog', () => {
  it("requires 'slowlog' with request_slowlog_timeout", () => {
    const text = poolSection('www', '9000', 'request_slowlog_timeout = 5s\n');
    assert.deepEqual(issues(text), [
      at(text, 'request_slowlog_timeout', 'www', 'request_slowlog_timeout', "'slowlog' must be specified for use with 'request_slowlog_timeout'"),
    ]);
  });

  it('rejects a slowlog timeout above a non-zero terminate timeout', () => {
    const text = poolSection('www', '9000', 'slowlog = slow.log\nrequest_slowlog_timeout = 10s\nrequest_terminate_timeout = 5s\n');
    assert.deepEqual(issues(text), [
      at(text, 'request_slowlog_timeout', 'www', 'request_slowlog_timeout', "'request_slowlog_timeout' (10) can't be greater than 'request_terminate_timeout' (5)"),
    ]);
    const unlimited = fx.write('poold.conf', poolSection('www', '9000', 'slowlog = slow.log\nrequest_slowlog_timeout = 10s\n'));
    assert.equal(loadConfig(unlimited, {}).config.pools[0]!.requestSlowlogTimeout, 10_000);
  });
});

describe('http', () => {
  it('rejects a headers timeout above a non-zero request timeout', () => {
    const text = poolSection('www', '9000', 'http.headers_timeout = 2m\nhttp.request_timeout = 1m\n');
    assert.deepEqual(issues(text), [
      at(text, 'headers_timeout', 'www', 'http.headers_timeout', "'http.headers_timeout' (120) can't be greater than 'http.request_timeout' (60)"),
    ]);
    const off = fx.write('poold.conf', poolSection('www', '9000', 'http.headers_timeout = 2m\nhttp.request_timeout = 0\n'));
    assert.equal(loadConfig(off, {}).config.pools[0]!.httpHeadersTimeout, 120_000);
  });

  it('rejects http.max_header_size = 0', () => {
    const text = poolSection('www', '9000', 'http.max_header_size = 0\n');
    assert.deepEqual(issues(text), [
      at(text, 'max_header_size', 'www', 'http.max_header_size', 'http.max_header_size must be a positive value'),
    ]);
  });
});

describe('listen address conflicts', () => {
  it('rejects a second pool on the same address, at its listen line', () => {
    const text = poolSection('www', '127.0.0.1:9000') + poolSection('api', '127.0.0.1:9000');
    const lines = text.split('\n');
    const apiListen = lines.findIndex((l, i) => i > 1 && l.startsWith('listen')) + 1;
    assert.deepEqual(issues(text), [
      {
        file: fx.path('poold.conf'),
        line: apiListen,
        pool: 'api',
        key: 'listen',
        message: "unable to set listen address as it's already used in another pool 'www'",
      },
    ]);
  });

  it('rejects the same unix socket path written two ways', () => {
    const text = poolSection('www', '/tmp/x/www.sock') + poolSection('api', '/tmp/x/../x/www.sock');
    assert.deepEqual(
      issues(text).map((i) => [i.pool, i.message]),
      [['api', "unable to set listen address as it's already used in another pool 'www'"]],
    );
  });

  it('rejects a specific address under a wildcard on the same port', () => {
    for (const [a, b] of [
      ['9000', '127.0.0.1:9000'],
      ['[::1]:9000', '9000'],
      ['0.0.0.0:9000', 'localhost:9000'],
    ]) {
      const found = issues(poolSection('www', a!) + poolSection('api', b!));
      assert.deepEqual(
        found.map((i) => i.message),
        ["unable to set listen address as it's already used in another pool 'www'"],
        `${a} vs ${b}`,
      );
    }
  });

  it('accepts distinct ports, and 0.0.0.0 beside an IPv6 address', () => {
    for (const [a, b] of [
      ['127.0.0.1:9000', '127.0.0.1:9001'],
      ['127.0.0.1:9000', '[::1]:9000'],
      ['0.0.0.0:9000', '[::1]:9000'],
      ['/tmp/a.sock', '/tmp/b.sock'],
    ]) {
      const file = fx.write('poold.conf', poolSection('www', a!) + poolSection('api', b!));
      assert.equal(loadConfig(file, {}).config.pools.length, 2, `${a} vs ${b}`);
    }
  });
});

describe('structure', () => {
  it('requires at least one pool', () => {
    const text = '[global]\nlog_level = debug\n';
    assert.deepEqual(issues(text), [
      { file: fx.path('poold.conf'), message: 'No pool defined. at least one pool section must be specified in config file' },
    ]);
  });

  it('rejects unknown entries in either section', () => {
    const text = `[global]\nfoo = 1\n${poolSection('www', '9000', 'user = www-data\n')}`;
    assert.deepEqual(issues(text), [
      at(text, 'foo', undefined, 'foo', "unknown entry 'foo'"),
      at(text, 'user', 'www', 'user', "unknown entry 'user'"),
    ]);
  });

  it('rejects arrays in the global section', () => {
    const text = `env[A] = 1\n${poolSection('www', '9000')}`;
    assert.deepEqual(issues(text), [at(text, 'env[A]', undefined, 'env', 'Array are not allowed in the global section')]);
  });

  it('rejects a directive in the wrong section', () => {
    const text = `[global]\npm = static\n${poolSection('www', '9000', 'daemonize = yes\n')}`;
    assert.deepEqual(issues(text), [
      at(text, 'pm = static', undefined, 'pm', "'pm' is a pool directive, it is not allowed in the global section"),
      at(text, 'daemonize', 'www', 'daemonize', "'daemonize' is a global directive, it is not allowed in a pool section"),
    ]);
  });

  it('checks env[] keys and values and unknown arrays', () => {
    const text = poolSection('www', '9000', 'env[] = x\nenv[EMPTY] =\nphp_value[memory_limit] = 1G\n');
    assert.deepEqual(issues(text), [
      at(text, 'env[] ', 'www', 'env', "You must provide a key for field 'env'"),
      at(text, 'env[EMPTY]', 'www', 'env', "empty value for 'env[EMPTY]'"),
      at(text, 'php_value', 'www', 'php_value', "unknown entry 'php_value'"),
    ]);
  });

  it('rejects bad global values with php-fpm messages', () => {
    const text = `[global]\nlog_level = verbose\ndaemonize = maybe\nprocess_control_timeout = 10x\n${poolSection('www', '9000')}`;
    assert.deepEqual(issues(text), [
      at(text, 'log_level', undefined, 'log_level', "unable to parse value for entry 'log_level': invalid value for 'log_level'"),
      at(text, 'daemonize', undefined, 'daemonize', "unable to parse value for entry 'daemonize': invalid boolean value"),
      at(text, 'process_control', undefined, 'process_control_timeout', "unable to parse value for entry 'process_control_timeout': unknown suffix used in time value"),
    ]);
  });

  it('reads rlimit_files and rlimit_core in either section, and rejects bad values with file:line', () => {
    const text = `[global]\nrlimit_files = lots\n${poolSection('www', '9000', 'rlimit_core = -1\n')}`;
    assert.deepEqual(issues(text), [
      at(text, 'rlimit_files', undefined, 'rlimit_files', "unable to parse value for entry 'rlimit_files': is not a valid number (greater or equal than zero)"),
      at(text, 'rlimit_core', 'www', 'rlimit_core', "unable to parse value for entry 'rlimit_core': is not a valid number (greater or equal than zero)"),
    ]);
  });

  it('collects every issue across files and pools instead of stopping at the first', () => {
    fx.write('pool.d/b.conf', '[b]\nlisten = 9000\napp = ../app.js\npm = static\npm.max_children = 0\n');
    const text = `[global]\nbogus line\ninclude = pool.d/*.conf\n${poolSection('a', '9000', 'pm.max_memory = 1T\n')}`;
    const main = fx.path('poold.conf');
    const b = fx.path('pool.d/b.conf');
    assert.deepEqual(
      issues(text).map((i) => [i.file, i.line, i.pool, i.message]),
      [
        [main, 2, undefined, "syntax error: expected 'key = value', '[section]' or a comment"],
        [main, lineOf(text, 'max_memory'), 'a', "unable to parse value for entry 'pm.max_memory': unknown suffix used in size value"],
        [b, 5, 'b', 'pm.max_children must be a positive value'],
        [main, lineOf(text, 'listen'), 'a', "unable to set listen address as it's already used in another pool 'b'"],
      ],
    );
  });
});
