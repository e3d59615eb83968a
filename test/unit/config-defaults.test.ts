import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { findDirective } from '../../src/config/schema.js';
import { issuesOf, poolSection, withApp, type Fixture } from '../helpers/config-fixtures.js';

let fx: Fixture;
beforeEach(() => {
  fx = withApp();
});
afterEach(() => fx.cleanup());

function pool(extra: string) {
  return loadConfig(fx.write('poold.conf', poolSection('www', '127.0.0.1:9000', extra)), {}).config.pools[0]!;
}

describe('queue bounds by default', () => {
  it('listen.queue_max follows listen.backlog unless set; 0 still means unbounded', () => {
    assert.equal(pool('').listenQueueMax, 511);
    assert.equal(pool('listen.backlog = 64\n').listenQueueMax, 64);
    assert.equal(pool('listen.backlog = 64\nlisten.queue_max = 0\n').listenQueueMax, 0);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const system = pool('listen.backlog = -1\n');
    assert.deepEqual([system.listenBacklog, system.listenQueueMax], [-1, somaxconn]);
  });

  it('listen.queue_timeout is 10s unless set; 0 still turns it off', () => {
    assert.equal(pool('').listenQueueTimeout, 10_000);
    assert.equal(pool('listen.queue_timeout = 0\n').listenQueueTimeout, 0);
  });

  it('listen.backlog accepts -1 and no other negative number', () => {
    const [issue] = issuesOf(() => pool('listen.backlog = -2\n'));
    assert.match(issue!.message, /unable to parse value for entry 'listen.backlog'/);
  });
});

describe('logging directives', () => {
  it('error_log = syslog (any case) is syslog, not a file next to the config; other values are paths', () => {
    const type = findDirective('error_log', 'global')!.type;
    assert.equal(type.parse('SysLog', { dir: '/etc/poold' }), 'syslog');
    assert.equal(type.parse('log/poold.log', { dir: '/etc/poold' }), '/etc/poold/log/poold.log');
    assert.equal(findDirective('syslog.facility', 'global')!.type.parse('LOCAL7', { dir: '/' }), 'local7');
  });

  it('log_limit below 512 and an unknown facility are refused', () => {
    const file = fx.write('poold.conf', `[global]\nlog_limit = 64\nsyslog.facility = local9\n${poolSection('www', '9000')}`);
    const messages = issuesOf(() => loadConfig(file, {})).map((issue) => issue.message);
    assert.ok(messages.includes('log_limit must be greater than 512'), messages.join('\n'));
    assert.ok(messages.some((m) => /entry 'syslog.facility': invalid syslog facility/.test(m)), messages.join('\n'));
  });
});

