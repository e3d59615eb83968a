import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inheritedDescriptor } from '../../src/log/inherited-fd.js';
import { inheritLogs } from '../../src/pool/inherited-logs.js';

describe('inheritedDescriptor', () => {
  it('names the descriptor of /dev/stdout, /dev/stderr, /proc/self/fd/N and /dev/fd/N', () => {
    assert.equal(inheritedDescriptor('/dev/stdout'), 1);
    assert.equal(inheritedDescriptor('/dev/stderr'), 2);
    assert.equal(inheritedDescriptor('/proc/self/fd/2'), 2);
    assert.equal(inheritedDescriptor('/dev/fd/7'), 7);
  });

  it('takes any other path as a file', () => {
    for (const file of ['/var/log/poold/access.log', '/proc/1/fd/1', '/dev/fd/x', '/dev/stdout2', '/proc/self/fd/1/x']) {
      assert.equal(inheritedDescriptor(file), null, file);
    }
  });
});

describe('inheritLogs', () => {
  it('gives each master descriptor one worker descriptor from 7 on (6 is the scoreboard), and leaves files alone', () => {
    assert.deepEqual(inheritLogs({ accessLog: '/dev/stdout', slowlog: '/proc/self/fd/1', errors: '/var/log/x.log', none: null }), {
      paths: { accessLog: '/dev/fd/7', slowlog: '/dev/fd/7', errors: '/var/log/x.log', none: null },
      fds: [1],
    });
    assert.deepEqual(inheritLogs({ accessLog: '/dev/stderr', slowlog: '/dev/stdout' }), {
      paths: { accessLog: '/dev/fd/7', slowlog: '/dev/fd/8' },
      fds: [2, 1],
    });
  });
});
