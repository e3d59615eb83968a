import fs from 'node:fs';
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

describe('collisions between the files and addresses poold uses', () => {
  // Their directories exist: only the collisions are reported.
  beforeEach(() => {
    fs.mkdirSync(fx.path('run'));
    fs.mkdirSync(fx.path('log'));
  });

  it("refuses a pool socket on the control socket's path, at the listen line", () => {
    const text = `[global]\npid = run/poold.pid\n${poolSection('www', './run/poold.control')}`;
    assert.deepEqual(issues(text), [
      at(
        text,
        'listen',
        'www',
        'listen',
        `'listen' = '${fx.path('run/poold.control')}' is already used by the control socket next to 'pid' (${fx.path('poold.conf')}:2)`,
      ),
    ]);
  });

  it("accepts Debian's names: a pool socket named after the pid file", () => {
    const text = `[global]\npid = run/php-fpm.pid\n${poolSection('www', './run/php-fpm.sock')}`;
    const file = fx.write('poold.conf', text);
    assert.doesNotThrow(() => loadConfig(file, {}));
  });

  it('refuses a socket on the pid file, a log or the status socket, each at its own line', () => {
    const text =
      `[global]\npid = run/p\nerror_log = log/error.log\nstatus.listen = run/status\n` +
      poolSection('a', './run/p') +
      poolSection('b', './log/error.log', 'slowlog = run/status\nrequest_slowlog_timeout = 1s\n');
    const conf = fx.path('poold.conf');
    assert.deepEqual(issues(text), [
      at(text, 'listen = ./run/p', 'a', 'listen', `'listen' = '${fx.path('run/p')}' is already used by 'pid' (${conf}:2)`),
      at(text, 'listen = ./log', 'b', 'listen', `'listen' = '${fx.path('log/error.log')}' is already used by 'error_log' (${conf}:3)`),
      at(text, 'slowlog', 'b', 'slowlog', `'slowlog' = '${fx.path('run/status')}' is already used by 'status.listen' (${conf}:4)`),
    ]);
  });

  it('refuses a pool on the TCP address of status.listen, even by its default', () => {
    const text = poolSection('www', '127.0.0.1:9901');
    assert.deepEqual(issues(text), [
      at(text, 'listen', 'www', 'listen', `'listen' = '127.0.0.1:9901' is already used by 'status.listen'`),
    ]);
    const wildcard = `[global]\nstatus.listen = 127.0.0.1:9000\n${poolSection('www', '9000')}`;
    assert.deepEqual(issues(wildcard), [
      at(wildcard, 'listen = 9000', 'www', 'listen', `'listen' = '[::]:9000' is already used by 'status.listen' (${fx.path('poold.conf')}:2)`),
    ]);
  });

  it('compares paths through symbolic links of their directories', () => {
    fx.write('real/keep', '');
    fs.symlinkSync(fx.path('real'), fx.path('link'));
    const text = `[global]\npid = real/poold.pid\n${poolSection('www', './link/poold.pid')}`;
    assert.equal(issues(text).length, 1);
  });

  it('lets logs share a file: several pools, and the error log', () => {
    const text =
      `[global]\nerror_log = /dev/stderr\n` +
      poolSection('a', '9000', 'access.log = /dev/stderr\n') +
      poolSection('b', '9001', 'access.log = /dev/stderr\nslowlog = /dev/stderr\n');
    const file = fx.write('poold.conf', text);
    assert.doesNotThrow(() => loadConfig(file, {}));
  });
});

describe('prefix and chdir', () => {
  it("starts the pool's relative paths at prefix, wherever it is set; a relative prefix at its file", () => {
    fx.write('srv/app.js', 'export default () => {};\n');
    fx.write('srv/log/.keep', '');
    const text = '[www]\nlisten = ./www.sock\napp = app.js\npm = static\npm.max_children = 1\n' +
      'access.log = log/access.log\nchdir = .\nprefix = srv\n[other]\nlisten = 9000\napp = app.js\npm = static\npm.max_children = 1\n';
    const [www, other] = loadConfig(fx.write('poold.conf', text), {}).config.pools;
    assert.equal(www!.prefix, fx.path('srv'));
    assert.deepEqual(www!.listen, { kind: 'unix', path: fx.path('srv/www.sock') });
    assert.equal(www!.app, fx.path('srv/app.js'));
    assert.equal(www!.accessLog, fx.path('srv/log/access.log'));
    assert.equal(www!.chdir, fx.path('srv'));
    assert.equal(other!.app, fx.path('app.js'), 'another pool keeps its own paths');
  });

  it("defaults chdir to the app module's directory", () => {
    fx.write('lib/server.js', 'export default () => {};\n');
    const text = poolSection('www', '9000').replace('app = app.js', 'app = lib/server.js');
    assert.equal(loadConfig(fx.write('poold.conf', text), {}).config.pools[0]!.chdir, fx.path('lib'));
  });

  it('refuses a prefix or chdir that is not a directory, with FPM\'s messages', () => {
    const text = poolSection('www', '9000', 'chdir = app.js\n') + 'prefix = /nonexistent-poold-prefix\n';
    assert.deepEqual(issues(text), [
      at(text, 'app = ', 'www', 'app', "the app '/nonexistent-poold-prefix/app.js' does not exist or is not a file"),
      at(text, 'prefix', 'www', 'prefix', "the prefix '/nonexistent-poold-prefix' does not exist or is not a directory"),
      at(text, 'chdir', 'www', 'chdir', "the chdir path '/nonexistent-poold-prefix/app.js' does not exist or is not a directory"),
    ]);
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
    const text = `[global]\nfoo = 1\n${poolSection('www', '9000', 'bar = www-data\n')}`;
    assert.deepEqual(issues(text), [
      at(text, 'foo', undefined, 'foo', "unknown entry 'foo'"),
      at(text, 'bar', 'www', 'bar', "unknown entry 'bar'"),
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
    const text = poolSection('www', '9000', 'env[] = x\nenv[EMPTY] =\nfoo[bar] = 1\n');
    assert.deepEqual(issues(text), [
      at(text, 'env[] ', 'www', 'env', "You must provide a key for field 'env'"),
      at(text, 'env[EMPTY]', 'www', 'env', "empty value for 'env[EMPTY]'"),
      at(text, 'foo[bar]', 'www', 'foo', "unknown entry 'foo'"),
    ]);
  });
});

describe('process.max', () => {
  it('refuses a pool that could never run all its workers', () => {
    const text = `[global]\nprocess.max = 3\n${poolSection('www', '9000')}[big]\nlisten = 9001\napp = app.js\npm = static\npm.max_children = 4\n`;
    assert.deepEqual(issues(text), [
      at(text, 'pm.max_children = 4', 'big', 'pm.max_children', "pm.max_children(4) can't be greater than process.max(3)"),
    ]);
  });
});

describe('process.priority', () => {
  it('takes FPM\'s range in either section, and says so outside it', () => {
    const text = `[global]\nprocess.priority = 21\n${poolSection('www', '9000', 'process.priority = -20\n')}`;
    assert.deepEqual(issues(text), [
      at(text, 'process.priority = 21', undefined, 'process.priority', "unable to parse value for entry 'process.priority': must be included into [-19,20]"),
      at(text, 'process.priority = -20', 'www', 'process.priority', "unable to parse value for entry 'process.priority': must be included into [-19,20]"),
    ]);
  });
});

describe('php-fpm directives poold does not implement', () => {
  it('refuses PHP ini settings with what to use instead', () => {
    const text = poolSection(
      'www',
      '9000',
      'php_value[memory_limit] = 1G\nphp_admin_value[max_execution_time] = 30\nphp_flag[display_errors] = off\nphp_admin_flag[log_errors] = on\n',
    );
    assert.deepEqual(issues(text), [
      at(
        text,
        'php_value[memory_limit]',
        'www',
        'php_value',
        "'php_value[memory_limit]' is not supported: PHP ini settings have no meaning for a Node app: use pm.max_memory (the worker is replaced when it outgrows it) or env[NODE_OPTIONS] = --max-old-space-size=N",
      ),
      at(
        text,
        'php_admin_value',
        'www',
        'php_admin_value',
        "'php_admin_value[max_execution_time]' is not supported: PHP ini settings have no meaning for a Node app: use request_terminate_timeout",
      ),
      at(
        text,
        'php_flag',
        'www',
        'php_flag',
        "'php_flag[display_errors]' is not supported: PHP ini settings have no meaning for a Node app: errors are the app's to render",
      ),
      at(
        text,
        'php_admin_flag',
        'www',
        'php_admin_flag',
        "'php_admin_flag[log_errors]' is not supported: PHP ini settings have no meaning for a Node app: a Node app reads its settings from its own config or from env[NAME]",
      ),
    ]);
  });

  it('refuses directives that would change what was asked, saying what to use instead', () => {
    const text = poolSection('www', '9000', 'chroot = /srv\npm.status_listen = 127.0.0.1:9001\n');
    const found = issues(text);
    assert.deepEqual(
      found.map((issue) => [issue.line, issue.key]),
      [
        [lineOf(text, 'chroot'), 'chroot'],
        [lineOf(text, 'pm.status_listen'), 'pm.status_listen'],
      ],
    );
    assert.match(found[0]!.message, /^'chroot' is not supported: .*RootDirectory=/);
    assert.match(found[1]!.message, /^'pm.status_listen' is not supported: use status.listen in \[global\]/);
  });

  it('accepts harmless ones with a warning that names file and line, errors or not', () => {
    const text = `[global]\nevents.mechanism = epoll\n${poolSection('www', '9000', 'security.limit_extensions = .php\n')}`;
    const file = fx.write('poold.conf', text);
    const { warnings } = loadConfig(file, {});
    assert.deepEqual(warnings, [
      `[${file}:2] 'events.mechanism' is ignored: Node's event loop (libuv) always uses epoll on Linux`,
      `[${file}:${lineOf(text, 'security')}] [pool www] 'security.limit_extensions' is ignored: a pool runs the one module named by 'app', never a script chosen by the request`,
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
