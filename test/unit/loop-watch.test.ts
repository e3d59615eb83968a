import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOOP_STALL_MS } from '../../src/ipc/records.js';
import { findBlockedLoops, loopStalled } from '../../src/pool/loop-watch.js';
import { freeSlot, type Slot } from '../../src/scoreboard/layout.js';

const NOW = 5_000_000;

function slot(pid: number, active = 0): Slot {
  return { ...freeSlot(), pid, state: active > 0 ? 'Running' : 'Idle', active, requestStart: NOW - 60_000, method: 'GET', uri: '/x' };
}

function worker(pid: number, blockedMs: number, phase = 'ready', index = 0) {
  return { slot: index, pid, phase, held: 0, lastBeat: NOW - blockedMs };
}

describe('loopStalled', () => {
  it('is stalled once the last beat is older than LOOP_STALL_MS, not before', () => {
    assert.equal(loopStalled(NOW - LOOP_STALL_MS, NOW), false);
    assert.equal(loopStalled(NOW - LOOP_STALL_MS - 1, NOW), true);
    assert.equal(loopStalled(NOW - 10, NOW), false);
  });

  it('a worker that has not beaten yet is not stalled (it is not ready either)', () => {
    assert.equal(loopStalled(0, NOW), false);
  });
});

describe('findBlockedLoops', () => {
  it('finds a ready worker blocked past the limit with no request running, and how long', () => {
    const stuck = worker(10, 3_500);
    const found = findBlockedLoops([{ slots: [slot(10)], workers: [stuck] }], 3_000, NOW);
    assert.deepEqual(
      found.map(({ worker: w, blockedMs, slot: s }) => [w.pid, blockedMs, s.uri]),
      [[10, 3_500, '/x']],
    );
  });

  it('leaves a loop blocked inside a request to request_terminate_timeout', () => {
    assert.deepEqual(findBlockedLoops([{ slots: [slot(10, 1)], workers: [worker(10, 60_000)] }], 3_000, NOW), []);
  });

  it('ignores workers under the limit, not ready, never beaten, or whose slot is not theirs', () => {
    const readings = [
      {
        slots: [slot(10), slot(11), slot(12), slot(99), slot(14)],
        workers: [
          worker(10, 2_999, 'ready', 0),
          worker(11, 60_000, 'stopping', 1),
          worker(12, 60_000, 'starting', 2),
          worker(13, 60_000, 'ready', 3),
          { ...worker(14, 0, 'ready', 4), lastBeat: 0 },
        ],
      },
    ];
    assert.deepEqual(findBlockedLoops(readings, 3_000, NOW), []);
  });

  it('finds nothing when pm.max_loop_block is 0 (off)', () => {
    assert.deepEqual(findBlockedLoops([{ slots: [slot(10)], workers: [worker(10, 10 ** 9)] }], 0, NOW), []);
  });

  it('checks every scoreboard, matching slots by index and pid in each', () => {
    const readings = [
      { slots: [slot(20)], workers: [worker(20, 5_000)] },
      { slots: [slot(10)], workers: [worker(10, 4_000)] },
    ];
    assert.deepEqual(
      findBlockedLoops(readings, 3_000, NOW).map(({ worker: w }) => w.pid),
      [20, 10],
    );
  });
});
