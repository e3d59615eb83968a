import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bool,
  coreLimit,
  filePath,
  InvalidValue,
  listen,
  mode,
  oneOf,
  optionalName,
  optionalPath,
  size,
  time,
  uint,
  type ValueType,
} from '../../src/config/values.js';

const ctx = { dir: '/etc/poold/pool.d' };

function rejects<T>(type: ValueType<T>, raw: string, message: string): void {
  assert.throws(
    () => type.parse(raw, ctx),
    (err: unknown) => err instanceof InvalidValue && err.message === message,
    `expected '${raw}' to be rejected with "${message}"`,
  );
}

describe('bool', () => {
  it('accepts yes/no/on/off/true/false/1/0 in any case', () => {
    for (const raw of ['yes', 'YES', 'On', 'true', 'TRUE', '1']) assert.equal(bool.parse(raw, ctx), true, raw);
    for (const raw of ['no', 'No', 'OFF', 'false', 'False', '0']) assert.equal(bool.parse(raw, ctx), false, raw);
  });
  it('rejects anything else', () => {
    for (const raw of ['', 'y', 'enabled', '2', 'yes please']) rejects(bool, raw, 'invalid boolean value');
  });
  it('formats as yes/no', () => {
    assert.equal(bool.format(true), 'yes');
    assert.equal(bool.format(false), 'no');
  });
});

describe('uint', () => {
  it('accepts non-negative integers', () => {
    assert.equal(uint.parse('0', ctx), 0);
    assert.equal(uint.parse('511', ctx), 511);
    assert.equal(uint.parse('007', ctx), 7);
  });
  it('rejects negatives, fractions, signs, words and overflow', () => {
    for (const raw of ['-1', '1.5', '+3', '', 'ten', '10s', '1e3', '99999999999999999999']) {
      rejects(uint, raw, 'is not a valid number (greater or equal than zero)');
    }
  });
});

describe('coreLimit (rlimit_core)', () => {
  it("accepts bytes and 'unlimited' (Infinity) in any case", () => {
    assert.equal(coreLimit.parse('0', ctx), 0);
    assert.equal(coreLimit.parse('1048576', ctx), 1048576);
    assert.equal(coreLimit.parse('Unlimited', ctx), Infinity);
  });
  it('rejects negatives and words', () => {
    for (const raw of ['-1', 'none', '1M']) rejects(coreLimit, raw, 'is not a valid number (greater or equal than zero)');
  });
  it('formats Infinity back as unlimited', () => {
    assert.equal(coreLimit.format(Infinity), 'unlimited');
    assert.equal(coreLimit.format(4096), '4096');
  });
});

describe('time', () => {
  it('returns milliseconds; a bare number is seconds', () => {
    assert.equal(time.parse('0', ctx), 0);
    assert.equal(time.parse('10', ctx), 10_000);
    assert.equal(time.parse('10s', ctx), 10_000);
    assert.equal(time.parse('2m', ctx), 120_000);
    assert.equal(time.parse('3h', ctx), 10_800_000);
    assert.equal(time.parse('1d', ctx), 86_400_000);
    assert.equal(time.parse('5M', ctx), 300_000);
  });
  it('rejects unknown suffixes with the php-fpm message', () => {
    for (const raw of ['10x', '10ms', '5w', 'abc']) rejects(time, raw, 'unknown suffix used in time value');
  });
  it('rejects malformed numbers', () => {
    for (const raw of ['', '-5', '1.5s', 's', ' 5']) rejects(time, raw, 'invalid time value');
  });
  it('rejects values Node timers cannot hold', () => {
    assert.equal(time.parse('24d', ctx), 24 * 86_400_000);
    rejects(time, '25d', 'time value too large (at most 24d)');
    rejects(time, '9999999999999999999999s', 'time value too large (at most 24d)');
  });
  it('formats as whole seconds', () => {
    assert.equal(time.format(0), '0s');
    assert.equal(time.format(3_600_000), '3600s');
  });
});

describe('size', () => {
  it('accepts bytes and K/M/G suffixes in any case', () => {
    assert.equal(size.parse('0', ctx), 0);
    assert.equal(size.parse('1000', ctx), 1000);
    assert.equal(size.parse('4k', ctx), 4096);
    assert.equal(size.parse('512M', ctx), 512 * 1024 ** 2);
    assert.equal(size.parse('512m', ctx), 512 * 1024 ** 2);
    assert.equal(size.parse('2G', ctx), 2 * 1024 ** 3);
  });
  it('rejects unknown suffixes and malformed numbers', () => {
    rejects(size, '10T', 'unknown suffix used in size value');
    rejects(size, '10MB', 'unknown suffix used in size value');
    rejects(size, '-1M', 'invalid size value');
    rejects(size, '', 'invalid size value');
  });
  it('formats with the largest exact suffix', () => {
    assert.equal(size.format(0), '0');
    assert.equal(size.format(1000), '1000');
    assert.equal(size.format(4096), '4K');
    assert.equal(size.format(512 * 1024 ** 2), '512M');
    assert.equal(size.format(2 * 1024 ** 3), '2G');
  });
});

describe('mode', () => {
  it('parses octal with or without a leading 0', () => {
    assert.equal(mode.parse('0660', ctx), 0o660);
    assert.equal(mode.parse('660', ctx), 0o660);
    assert.equal(mode.parse('0600', ctx), 0o600);
    assert.equal(mode.parse('1777', ctx), 0o1777);
  });
  it('rejects non-octal digits and words', () => {
    for (const raw of ['0680', '9', 'rw-rw----', '', '06600']) rejects(mode, raw, 'invalid octal mode (e.g. 0660)');
  });
  it('formats as 0NNN', () => {
    assert.equal(mode.format(0o660), '0660');
    assert.equal(mode.format(0o7), '0007');
    assert.equal(mode.format(0o1777), '01777');
  });
});

describe('paths and names', () => {
  it('resolves relative paths against the directory of the file', () => {
    assert.equal(filePath.parse('app.js', ctx), '/etc/poold/pool.d/app.js');
    assert.equal(filePath.parse('../apps/x.js', ctx), '/etc/poold/apps/x.js');
    assert.equal(filePath.parse('/srv/app.js', ctx), '/srv/app.js');
    rejects(filePath, '', 'empty value');
  });
  it('reads an empty optional path or name as "not set"', () => {
    assert.equal(optionalPath.parse('', ctx), null);
    assert.equal(optionalPath.parse('run/poold.pid', ctx), '/etc/poold/pool.d/run/poold.pid');
    assert.equal(optionalPath.format(null), '');
    assert.equal(optionalName.parse('', ctx), null);
    assert.equal(optionalName.parse('www-data', ctx), 'www-data');
  });
});

describe('oneOf', () => {
  const level = oneOf(['notice', 'warning'], 'bad level', { warn: 'warning' });
  it('matches case-insensitively and through aliases', () => {
    assert.equal(level.parse('NOTICE', ctx), 'notice');
    assert.equal(level.parse('Warn', ctx), 'warning');
  });
  it('rejects other words with the given message', () => {
    rejects(level, 'info', 'bad level');
  });
});

describe('listen', () => {
  it('reads a bare port as all addresses (dual-stack ::)', () => {
    assert.deepEqual(listen.parse('9000', ctx), { kind: 'tcp', host: '::', port: 9000 });
  });
  it('reads host:port for IPv4, bracketed IPv6 and names', () => {
    assert.deepEqual(listen.parse('127.0.0.1:9000', ctx), { kind: 'tcp', host: '127.0.0.1', port: 9000 });
    assert.deepEqual(listen.parse('[::1]:9000', ctx), { kind: 'tcp', host: '::1', port: 9000 });
    assert.deepEqual(listen.parse('localhost:80', ctx), { kind: 'tcp', host: 'localhost', port: 80 });
    assert.deepEqual(listen.parse('0.0.0.0:65535', ctx), { kind: 'tcp', host: '0.0.0.0', port: 65535 });
  });
  it('reads anything with a slash as a unix socket, relative to the file', () => {
    assert.deepEqual(listen.parse('/run/poold/www.sock', ctx), { kind: 'unix', path: '/run/poold/www.sock' });
    assert.deepEqual(listen.parse('./www.sock', ctx), { kind: 'unix', path: '/etc/poold/pool.d/www.sock' });
    assert.deepEqual(listen.parse('run/a:b.sock', ctx), { kind: 'unix', path: '/etc/poold/pool.d/run/a:b.sock' });
  });
  it('rejects ports outside 1..65535', () => {
    rejects(listen, '0', "invalid port value '0'");
    rejects(listen, '65536', "invalid port value '65536'");
    rejects(listen, '127.0.0.1:0', "invalid port value '0'");
    rejects(listen, '127.0.0.1:http', "invalid port value 'http'");
    rejects(listen, '127.0.0.1:', "invalid port value ''");
  });
  it('rejects malformed addresses', () => {
    const form = "(expected port, host:port, [ipv6]:port or a path containing '/')";
    rejects(listen, 'www.sock', `invalid listen address 'www.sock' ${form}`);
    rejects(listen, '::1:9000', `invalid listen address '::1:9000' ${form}`);
    rejects(listen, '', `invalid listen address '' ${form}`);
    rejects(listen, '[127.0.0.1]:9000', "invalid IPv6 address '127.0.0.1'");
    rejects(listen, '999.0.0.1:9000', "invalid host '999.0.0.1'");
    rejects(listen, 'bad_host:9000', "invalid host 'bad_host'");
  });
  it('formats back to a form that parses to the same address', () => {
    for (const raw of ['9000', '127.0.0.1:9000', '[::1]:9000', 'localhost:80', '/run/x.sock']) {
      const parsed = listen.parse(raw, ctx);
      assert.deepEqual(listen.parse(listen.format(parsed), ctx), parsed, raw);
    }
    assert.equal(listen.format({ kind: 'tcp', host: '::', port: 9000 }), '[::]:9000');
  });
});
