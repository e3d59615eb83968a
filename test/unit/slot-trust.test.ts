import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freeSlot, type SlotLoad } from '../../src/scoreboard/layout.js';
import { CONTRADICTION_GRACE_MS, LogLimiter, judgeSlot, slotBelongs, type KnownWorker } from '../../src/pool/slot-trust.js';

const NOW = 1_750_000_000_000;
const reading = (over: Partial<SlotLoad> = {}): SlotLoad => ({
  pid: 100,
  load: 0,
  accepted: 3,
  freeSince: NOW - 500,
  finishing: false,
  upgraded: 0,
  ...over,
});
const known = (over: Partial<KnownWorker> = {}): KnownWorker => ({
  pid: 100,
  stopping: false,
  held: 2,
  finishingSince: null,
  excessSince: null,
  ...over,
});

describe('judgeSlot', () => {
  it('takes a slot that agrees with the master as it is', () => {
    const slot = reading({ load: 2 });
    assert.deepEqual(judgeSlot(slot, known(), NOW), { load: slot, finishingSince: null, excessSince: null, contradictions: [] });
  });

  it('keeps the previous reading for a slot not written yet, silently, and for one naming another pid, saying so', () => {
    assert.deepEqual(judgeSlot(reading({ pid: 0 }), known(), NOW), {
      load: null,
      finishingSince: null,
      excessSince: null,
      contradictions: [],
    });
    const other = judgeSlot(reading({ pid: 1 }), known(), NOW);
    assert.equal(other.load, null);
    assert.deepEqual(other.contradictions, [{ kind: 'pid', text: "names pid 1, not its worker's" }]);
  });

  it('believes Finishing for the grace period, then ignores it and says so, unless the master stopped the worker', () => {
    const first = judgeSlot(reading({ finishing: true }), known(), NOW);
    assert.equal(first.load!.finishing, true);
    assert.equal(first.finishingSince, NOW);
    assert.deepEqual(first.contradictions, []);
    const later = judgeSlot(reading({ finishing: true }), known({ finishingSince: NOW }), NOW + CONTRADICTION_GRACE_MS);
    assert.equal(later.load!.finishing, false, 'it gets connections again');
    assert.equal(later.contradictions[0]!.kind, 'finishing');
    assert.match(later.contradictions[0]!.text, /has said Finishing for 1\.0s though it was neither stopped nor retiring/);
    const stopped = judgeSlot(reading({ finishing: true }), known({ stopping: true, finishingSince: NOW - 60_000 }), NOW);
    assert.deepEqual([stopped.load!.finishing, stopped.finishingSince, stopped.contradictions], [true, null, []]);
    const over = judgeSlot(reading(), known({ finishingSince: NOW - 60_000 }), NOW);
    assert.equal(over.finishingSince, null, 'a slot that no longer says it starts the grace afresh');
  });

  it('cuts a load above the connections the worker holds to them at once, and says so once it lasts', () => {
    const first = judgeSlot(reading({ load: 5 }), known({ held: 2 }), NOW);
    assert.equal(first.load!.load, 2);
    assert.equal(first.excessSince, NOW);
    assert.deepEqual(first.contradictions, [], 'a worker counts a connection it gave back an instant late');
    const later = judgeSlot(reading({ load: 5 }), known({ held: 0, excessSince: NOW }), NOW + CONTRADICTION_GRACE_MS);
    assert.equal(later.load!.load, 0);
    assert.deepEqual(later.contradictions, [
      { kind: 'excess', text: 'claims 5 requests and waiting connections on the 0 connections it holds' },
    ]);
  });

  it('reads a freeSince in the future as now', () => {
    assert.equal(judgeSlot(reading({ freeSince: NOW + 3_600_000 }), known(), NOW).load!.freeSince, NOW);
  });
});

describe('slotBelongs', () => {
  it('a Free slot always; any other only under its live worker, by pid or before the worker wrote it', () => {
    assert.equal(slotBelongs(freeSlot(), undefined), true);
    const running = { ...freeSlot(), state: 'Running' as const, pid: 7 };
    assert.equal(slotBelongs(running, { pid: 7 }), true);
    assert.equal(slotBelongs(running, { pid: 8 }), false);
    assert.equal(slotBelongs(running, undefined), false);
    assert.equal(slotBelongs({ ...freeSlot(), state: 'Starting' }, { pid: 8 }), true);
  });
});

describe('LogLimiter', () => {
  it('lets the first line of a kind through, holds back the rest of the interval, and counts them on the next', () => {
    const limiter = new LogLimiter<string>(60_000);
    assert.equal(limiter.admit('x', 'a', NOW), 'a');
    assert.equal(limiter.admit('x', 'b', NOW + 1), null);
    assert.equal(limiter.admit('y', 'other kind', NOW + 2), 'other kind');
    assert.equal(limiter.admit('x', 'c', NOW + 59_999), null);
    assert.equal(limiter.admit('x', 'd', NOW + 60_000), 'd (and 2 more since the last such line)');
    assert.equal(limiter.admit('x', 'e', NOW + 120_000), 'e');
  });
});
