import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findOverdue, findOverdueWorkers, timeoutCheckInterval } from '../../src/pool/request-timeouts.js';
import { freeSlot, SLOT_STATES, type Slot, type SlotState } from '../../src/scoreboard/layout.js';

const NOW = 1_700_000_000_000;

function slot(pid: number, state: SlotState, startedMsAgo: number): Slot {
  return { ...freeSlot(), pid, state, active: state === 'Running' ? 1 : 0, requestStart: NOW - startedMsAgo, method: 'GET', uri: '/' };
}

const none = new Set<string>();

describe('findOverdue', () => {
  it('reports a running request past request_terminate_timeout as terminate', () => {
    const slots = [slot(10, 'Running', 500), slot(11, 'Running', 30_001)];
    assert.deepEqual(findOverdue(slots, { terminate: 30_000, slowlog: 0 }, NOW, none), [
      { slot: 1, kind: 'terminate', elapsedMs: 30_001 },
    ]);
  });

  it('reports a running request past request_slowlog_timeout as slow', () => {
    const slots = [slot(10, 'Running', 2_500), slot(11, 'Running', 1_999)];
    assert.deepEqual(findOverdue(slots, { terminate: 0, slowlog: 2_000 }, NOW, none), [
      { slot: 0, kind: 'slow', elapsedMs: 2_500 },
    ]);
  });

  it('uses strict "more than": a request exactly at the limit is not overdue', () => {
    const slots = [slot(10, 'Running', 2_000), slot(11, 'Running', 6_000)];
    assert.deepEqual(findOverdue(slots, { terminate: 6_000, slowlog: 2_000 }, NOW, none), [
      { slot: 1, kind: 'slow', elapsedMs: 6_000 },
    ]);
  });

  it('terminate wins over slow: one entry per request', () => {
    const slots = [slot(10, 'Running', 7_000)];
    assert.deepEqual(findOverdue(slots, { terminate: 6_000, slowlog: 2_000 }, NOW, none), [
      { slot: 0, kind: 'terminate', elapsedMs: 7_000 },
    ]);
  });

  it('terminate is reported even when the request was already reported slow', () => {
    const s = slot(10, 'Running', 7_000);
    const seen = new Set([`${s.pid}:${s.requestStart}`]);
    assert.deepEqual(findOverdue([s], { terminate: 6_000, slowlog: 2_000 }, NOW, seen), [
      { slot: 0, kind: 'terminate', elapsedMs: 7_000 },
    ]);
  });

  it('reports a slow request once per `${pid}:${requestStart}`', () => {
    const limits = { terminate: 0, slowlog: 1_000 };
    const s = slot(42, 'Running', 1_500);
    const seen = new Set<string>();
    const first = findOverdue([s], limits, NOW, seen);
    assert.equal(first.length, 1);
    seen.add(`${s.pid}:${s.requestStart}`); // what the pool records
    assert.deepEqual(findOverdue([s], limits, NOW + 5_000, seen), []);
    // the same worker's next request, or another worker with the same start, is new
    assert.equal(findOverdue([{ ...s, requestStart: s.requestStart + 1 }], limits, NOW + 5_000, seen).length, 1);
    assert.equal(findOverdue([{ ...s, pid: 43 }], limits, NOW + 5_000, seen).length, 1);
  });

  it('only looks at Running slots with a request start', () => {
    const limits = { terminate: 1_000, slowlog: 500 };
    const slots = SLOT_STATES.map((state, i) => slot(100 + i, state, 60_000));
    const overdue = findOverdue(slots, limits, NOW, none);
    assert.deepEqual(overdue, [{ slot: SLOT_STATES.indexOf('Running'), kind: 'terminate', elapsedMs: 60_000 }]);
    assert.deepEqual(findOverdue([{ ...slot(7, 'Running', 0), requestStart: 0 }], limits, NOW, none), []);
  });

  it('reports nothing when both limits are off', () => {
    assert.deepEqual(findOverdue([slot(10, 'Running', 10 ** 9)], { terminate: 0, slowlog: 0 }, NOW, none), []);
  });

  it('keeps slot indexes and reports several requests in one pass', () => {
    const slots = [freeSlot(), slot(1, 'Running', 9_000), slot(2, 'Idle', 9_000), slot(3, 'Running', 3_000)];
    assert.deepEqual(findOverdue(slots, { terminate: 8_000, slowlog: 2_000 }, NOW, none), [
      { slot: 1, kind: 'terminate', elapsedMs: 9_000 },
      { slot: 3, kind: 'slow', elapsedMs: 3_000 },
    ]);
  });
});

describe('timeoutCheckInterval', () => {
  it('is null when no limit is set', () => {
    assert.equal(timeoutCheckInterval({ terminate: 0, slowlog: 0 }), null);
    assert.equal(timeoutCheckInterval({ terminate: 0, slowlog: 0, loopBlock: 0 }), null);
  });

  it('is a tenth of the smallest active limit', () => {
    assert.equal(timeoutCheckInterval({ terminate: 6_000, slowlog: 2_000 }), 200);
    assert.equal(timeoutCheckInterval({ terminate: 5_000, slowlog: 0 }), 500);
    assert.equal(timeoutCheckInterval({ terminate: 0, slowlog: 3_000 }), 300);
    assert.equal(timeoutCheckInterval({ terminate: 4_000, slowlog: 9_000 }), 400);
    assert.equal(timeoutCheckInterval({ terminate: 0, slowlog: 0, loopBlock: 2_000 }), 200);
    assert.equal(timeoutCheckInterval({ terminate: 6_000, slowlog: 0, loopBlock: 3_000 }), 300);
  });

  it('is bounded to [100 ms, 1000 ms]', () => {
    assert.equal(timeoutCheckInterval({ terminate: 30_000, slowlog: 20_000 }), 1000);
    assert.equal(timeoutCheckInterval({ terminate: 3_600_000, slowlog: 0 }), 1000);
    assert.equal(timeoutCheckInterval({ terminate: 500, slowlog: 0 }), 100);
    assert.equal(timeoutCheckInterval({ terminate: 0, slowlog: 1 }), 100);
    for (let ms = 1; ms <= 100_000; ms = Math.ceil(ms * 1.7)) {
      const interval = timeoutCheckInterval({ terminate: ms, slowlog: 0 })!;
      assert.ok(interval >= 100 && interval <= 1000, `${ms} → ${interval}`);
    }
  });
});

describe('findOverdueWorkers', () => {
  const limits = { terminate: 1_000, slowlog: 0 };

  it('checks every scoreboard, matching a slot to the worker that writes it there, by index and pid', () => {
    // After a reload that grew the scoreboard: slot 0 exists in both files, for two different workers.
    const old = { slot: 0, pid: 10, held: 1, name: 'old' };
    const fresh = { slot: 0, pid: 20, held: 1, name: 'new' };
    const readings = [
      { slots: [slot(20, 'Running', 5_000), slot(0, 'Free', 0)], workers: [fresh] },
      { slots: [slot(10, 'Running', 3_000)], workers: [old] },
    ];
    const found = findOverdueWorkers(readings, limits, NOW, none);
    assert.deepEqual(
      found.map(({ worker, kind, elapsedMs }) => [worker.name, kind, elapsedMs]),
      [
        ['new', 'terminate', 5_000],
        ['old', 'terminate', 3_000],
      ],
    );
    assert.equal(found[0]!.slot.pid, 20);
  });

  it('ignores a slot whose pid is not its worker\'s, and a slot no live worker writes', () => {
    const readings = [{ slots: [slot(99, 'Running', 5_000), slot(11, 'Running', 5_000)], workers: [{ slot: 0, pid: 10, held: 1 }] }];
    assert.deepEqual(findOverdueWorkers(readings, limits, NOW, none), []);
  });

  it('ignores a running request on a worker that holds no connection: its slot cannot get it killed', () => {
    const idle = { slot: 0, pid: 10, held: 0 };
    const busy = { slot: 1, pid: 11, held: 2 };
    const readings = [{ slots: [slot(10, 'Running', 5_000), slot(11, 'Running', 5_000)], workers: [idle, busy] }];
    assert.deepEqual(
      findOverdueWorkers(readings, limits, NOW, none).map(({ worker }) => worker),
      [busy],
    );
  });
});
