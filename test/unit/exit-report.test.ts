import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThrottledLog } from '../../src/log/throttle.js';
import { exitLine, inFlightRequest, isStartFailure } from '../../src/pool/exit-report.js';
import type { WorkerExit } from '../../src/pool/worker-process.js';
import { freeSlot, type Slot } from '../../src/scoreboard/layout.js';

const NOW = 1_800_000_000_000;

function exit(overrides: Partial<WorkerExit> = {}): WorkerExit {
  return { code: 1, signal: null, beforeReady: true, uptimeMs: 80, spawnError: null, ...overrides };
}

function running(overrides: Partial<Slot> = {}): Slot {
  return { ...freeSlot(), pid: 42, state: 'Running', active: 1, requestStart: NOW - 1204, method: 'GET', uri: '/report?id=7', ...overrides };
}

describe('isStartFailure', () => {
  it('counts an exit before ready that the master did not ask for', () => {
    assert.equal(isStartFailure(exit(), false, true), true);
    assert.equal(isStartFailure(exit({ beforeReady: false }), false, true), false);
    assert.equal(isStartFailure(exit(), true, true), false);
  });
  it('once the pool has served, a worker killed by a signal someone sent is not a failed start; a fault is', () => {
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
      assert.equal(isStartFailure(exit({ code: null, signal }), false, true), false, signal);
    }
    for (const signal of ['SIGSEGV', 'SIGABRT', 'SIGBUS'] as const) {
      assert.equal(isStartFailure(exit({ code: null, signal }), false, true), true, signal);
    }
  });
  it('before the pool has served, every death before ready counts (an app the OOM killer stops while loading)', () => {
    assert.equal(isStartFailure(exit({ code: null, signal: 'SIGKILL' }), false, false), true);
  });
});

describe('inFlightRequest and exitLine', () => {
  it('names the request its slot shows running, with how long it ran', () => {
    assert.equal(inFlightRequest(running(), 42, NOW), ', during request "GET /report?id=7" (1.204000 sec)');
    assert.equal(
      inFlightRequest(running({ active: 3 }), 42, NOW),
      ', during request "GET /report?id=7" (1.204000 sec) and 2 other request(s)',
    );
  });
  it('says nothing for an idle slot, a slot of another pid, or none', () => {
    assert.equal(inFlightRequest(running({ state: 'Idle' }), 42, NOW), '');
    assert.equal(inFlightRequest(running({ pid: 43 }), 42, NOW), '');
    assert.equal(inFlightRequest(null, 42, NOW), '');
  });
  it("extends FPM's exit line", () => {
    assert.equal(
      exitLine('[pool www] child 42', exit({ code: null, signal: 'SIGKILL', beforeReady: false, uptimeMs: 4812 }), running(), 42, NOW),
      '[pool www] child 42 exited on signal 9 (SIGKILL) after 4.812000 seconds from start, during request "GET /report?id=7" (1.204000 sec)',
    );
  });
});

describe('ThrottledLog', () => {
  it('writes one line per interval and counts those held back', () => {
    const written: string[] = [];
    const log = new ThrottledLog(10_000, (line) => written.push(line));
    for (const at of [0, 1, 9_999, 10_000, 20_000]) log.report('full', NOW + at);
    assert.deepEqual(written, ['full', 'full (2 more since the last report)', 'full']);
  });
});
