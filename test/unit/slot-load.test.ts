import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { Scoreboard } from '../../src/scoreboard/file.js';
import {
  addDurations,
  decodeSlotLoad,
  DURATION_BUCKETS,
  emptyDurations,
  encodeSlot,
  fileSize,
  SLOT_SIZE,
  SLOT_STATES,
  slotOffset,
  type DurationHistogram,
  type Slot,
  type SlotLoad,
} from '../../src/scoreboard/layout.js';
import { READING_HEADERS_SHOWN_AFTER_MS, SlotWriter } from '../../src/worker/slot-writer.js';

/** Until its headers are slow to come, an accepted connection is counted in memory only. */
const untilShownAsReadingHeaders = () => new Promise((resolve) => setTimeout(resolve, READING_HEADERS_SHOWN_AFTER_MS + 50));

const SLOT: Slot = {
  pid: 4321,
  state: 'Running',
  active: 3,
  waiting: 4,
  accepted: 2 ** 34 + 11,
  freeSince: 1_732_000_050_000.5,
  startTime: 1_732_000_000_001,
  requests: 99,
  requestStart: 1_732_000_100_002,
  requestDuration: 1500,
  method: 'GET',
  uri: '/load',
  contentLength: 0,
  user: '-',
  lastRequestCpu: 1,
  lastRequestMemory: 1024,
  durations: { sum: 3.25, counts: DURATION_BUCKETS.map((_, i) => i + 1).concat(7) },
  upgraded: 5,
};

const NEVER_WRITTEN: SlotLoad = { pid: 0, load: 0, accepted: 0, freeSince: 0, finishing: false, upgraded: 0 };

function encoded(slot: Slot): Buffer {
  const bytes = Buffer.alloc(SLOT_SIZE);
  encodeSlot(slot, bytes);
  return bytes;
}

function request(url = '/'): IncomingMessage {
  return { method: 'GET', url, headers: {} } as unknown as IncomingMessage;
}

const total = (durations: DurationHistogram): number => durations.counts.reduce((a, b) => a + b, 0);

/** The bucket a duration belongs in: the first bound it does not exceed, else the overflow. */
function bucketOf(seconds: number): number {
  const index = DURATION_BUCKETS.findIndex((bound) => seconds <= bound);
  return index === -1 ? DURATION_BUCKETS.length : index;
}

describe('decodeSlotLoad', () => {
  it('reads pid, load (in flight + waiting), accepted, freeSince and upgraded connections from an encoded slot', () => {
    assert.deepEqual(decodeSlotLoad(encoded(SLOT), 0), {
      pid: 4321,
      load: 7,
      accepted: 2 ** 34 + 11,
      freeSince: 1_732_000_050_000.5,
      finishing: false,
      upgraded: 5,
    });
  });

  it('is finishing for the Finishing state only', () => {
    for (const state of SLOT_STATES) {
      assert.equal(decodeSlotLoad(encoded({ ...SLOT, state }), 0)!.finishing, state === 'Finishing', state);
    }
  });

  it('reads a slot at an offset, and from a misaligned buffer', () => {
    const file = Buffer.alloc(fileSize(3));
    encodeSlot({ ...SLOT, pid: 1, active: 0, waiting: 0 }, file, slotOffset(0));
    encodeSlot(SLOT, file, slotOffset(1));
    const expected = decodeSlotLoad(encoded(SLOT), 0);
    assert.deepEqual(decodeSlotLoad(file, slotOffset(1)), expected);
    assert.deepEqual(decodeSlotLoad(file, slotOffset(2)), NEVER_WRITTEN);
    const shifted = Buffer.concat([Buffer.alloc(3), file]).subarray(3);
    assert.notEqual(shifted.byteOffset % 8, 0, 'the buffer really is misaligned');
    assert.deepEqual(decodeSlotLoad(shifted, slotOffset(1)), expected);
    assert.equal(decodeSlotLoad(shifted, slotOffset(0))!.pid, 1);
  });

  it('is pid 0 with no load for a never-written (all-zero) slot', () => {
    assert.deepEqual(decodeSlotLoad(Buffer.alloc(SLOT_SIZE), 0), NEVER_WRITTEN);
  });

  it('is null when any byte is flipped', () => {
    const good = encoded(SLOT);
    for (let i = 0; i < SLOT_SIZE; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x5a;
      assert.equal(decodeSlotLoad(bad, 0), null, `byte ${i}`);
    }
  });

  it('is null for a torn record: the start of one encoding and the rest of another', () => {
    // Dispatch must not take a load mixed from two writes for either of them.
    const a = encoded(SLOT);
    const b = encoded({ ...SLOT, state: 'Idle', active: 0, waiting: 0, accepted: SLOT.accepted + 1, freeSince: SLOT.freeSince + 9 });
    for (let split = 4; split < SLOT_SIZE; split += 4) {
      const mixed = Buffer.concat([a.subarray(0, split), b.subarray(split)]);
      if (mixed.equals(a) || mixed.equals(b)) continue;
      assert.equal(decodeSlotLoad(mixed, 0), null, `split at ${split}`);
    }
  });
});

describe('addDurations', () => {
  it('adds the sum and each bucket, leaving the added histogram as it was', () => {
    const into: DurationHistogram = { sum: 1.5, counts: DURATION_BUCKETS.map((_, i) => i).concat(100) };
    const more: DurationHistogram = { sum: 0.25, counts: DURATION_BUCKETS.map((_, i) => 10 * i + 1).concat(2 ** 40) };
    const moreBefore = structuredClone(more);
    addDurations(into, more);
    assert.equal(into.sum, 1.75);
    assert.deepEqual(
      into.counts,
      DURATION_BUCKETS.map((_, i) => 11 * i + 1).concat(100 + 2 ** 40),
    );
    assert.deepEqual(more, moreBefore);
  });

  it('adding an empty histogram changes nothing; adding into an empty one copies', () => {
    const some: DurationHistogram = { sum: 2, counts: DURATION_BUCKETS.map((_, i) => i % 3).concat(5) };
    const copy = structuredClone(some);
    addDurations(copy, emptyDurations());
    assert.deepEqual(copy, some);
    const empty = emptyDurations();
    addDurations(empty, some);
    assert.deepEqual(empty, some);
    assert.notEqual(empty.counts, some.counts, 'counts are added, not shared');
  });
});

describe('Scoreboard.loads and a SlotWriter', () => {

  /** A scoreboard with `count` slots, all allocated, and a path that opens it; closed after `body`. */
  async function withBoard(name: string, count: number, body: (board: Scoreboard, file: string) => void | Promise<void>): Promise<void> {
    const board = new Scoreboard(name, count);
    try {
      for (let i = 0; i < count; i++) assert.equal(board.allocate(), i);
      await body(board, `/proc/self/fd/${board.fd}`);
    } finally {
      board.close();
    }
  }

  it('loads: in the order asked, in one span, a slot reserved for a worker not yet started as pid 0', () =>
    withBoard('span', 4, async (board) => {
      const first = new SlotWriter(board.fd, 0);
      const third = new SlotWriter(board.fd, 2);
      first.idle();
      third.idle();
      third.connectionAccepted();
      third.connectionAccepted();
      first.connectionAccepted();
      await untilShownAsReadingHeaders();
      const [two, zero, one] = board.loads([2, 0, 1]);
      assert.equal(two!.load, 2);
      assert.equal(two!.accepted, 2);
      assert.equal(zero!.load, 1);
      assert.equal(zero!.accepted, 1);
      assert.equal(zero!.pid, process.pid);
      // Allocated by the master, its worker not started: nobody to hand a connection to.
      assert.deepEqual(one, NEVER_WRITTEN);
      assert.deepEqual(board.loads([2]), [two]);
      assert.deepEqual(board.loads([]), []);
    }));

  it('a slot that stays torn loads as null and reads as null; its neighbours still read', () =>
    withBoard('torn', 3, async (board, file) => {
      for (const index of [0, 1, 2]) new SlotWriter(board.fd, index).connectionAccepted();
      await untilShownAsReadingHeaders();
      const fd = fs.openSync(file, 'r+');
      try {
        const byte = Buffer.alloc(1);
        fs.readSync(fd, byte, 0, 1, slotOffset(1) + 100);
        byte[0]! ^= 0xff;
        fs.writeSync(fd, byte, 0, 1, slotOffset(1) + 100);
      } finally {
        fs.closeSync(fd);
      }
      const loads = board.loads([0, 1, 2]);
      assert.equal(loads[1], null);
      assert.equal(loads[0]!.load, 1);
      assert.equal(loads[2]!.load, 1);
      assert.equal(board.readSlot(1), null);
      assert.equal(board.readSlot(2)!.state, 'Reading headers');
    }));

  it('a handed-over connection: Reading headers, then Running, then Idle with its duration counted', () =>
    withBoard('lifecycle', 2, async (board) => {
      const writer = new SlotWriter(board.fd, 1);
      writer.idle();
      const started = board.loads([1])[0]!;
      assert.deepEqual(started, { pid: process.pid, load: 0, accepted: 0, freeSince: writer.slot.startTime, finishing: false, upgraded: 0 });
      assert.ok(started.freeSince > 0, 'free since it started');

      writer.connectionAccepted();
      // Not written yet: the master counts it as in transit meanwhile, the same load.
      assert.deepEqual(board.loads([1])[0], started);
      await untilShownAsReadingHeaders();
      assert.deepEqual(board.loads([1])[0], { pid: process.pid, load: 1, accepted: 1, freeSince: 0, finishing: false, upgraded: 0 });
      let slot = board.readSlot(1)!;
      assert.equal(slot.state, 'Reading headers');
      assert.deepEqual([slot.active, slot.waiting], [0, 1]);
      assert.equal(writer.load(), 1);

      const trace = writer.begin(request('/one'), true);
      assert.deepEqual(board.loads([1])[0], { pid: process.pid, load: 1, accepted: 1, freeSince: 0, finishing: false, upgraded: 0 });
      slot = board.readSlot(1)!;
      assert.equal(slot.state, 'Running');
      assert.deepEqual([slot.active, slot.waiting], [1, 0]);
      assert.equal(writer.load(), 1);

      // 300 ms ago: the request lands in the (0.25, 0.5] bucket however slow this machine is now.
      trace.startedHr -= 300;
      const beforeEnd = Date.now();
      writer.end(trace);
      const load = board.loads([1])[0]!;
      assert.equal(load.load, 0);
      assert.equal(load.accepted, 1);
      assert.ok(load.freeSince >= beforeEnd && load.freeSince <= Date.now(), `freeSince ${load.freeSince}`);
      slot = board.readSlot(1)!;
      assert.equal(slot.state, 'Idle');
      assert.equal(total(slot.durations), 1);
      assert.ok(slot.durations.sum >= 0.3 && slot.durations.sum < 0.5, `sum ${slot.durations.sum}`);
      assert.equal(slot.durations.counts[DURATION_BUCKETS.indexOf(0.5)], 1);
      assert.ok(Math.abs(slot.durations.sum - slot.requestDuration / 1e6) < 1e-9, 'the same duration as the slot shows');
      assert.equal(writer.load(), 0);
    }));

  it('counts a duration in the first bucket whose bound it does not exceed: on a bound, in that bucket', (t) =>
    withBoard('buckets', 1, async (board) => {
      // A fake clock: only exact durations can tell ≤ from < at a bound.
      let clock = 1000;
      t.mock.method(process, 'hrtime', () => [Math.floor(clock / 1000), (clock % 1000) * 1e6]);
      const writer = new SlotWriter(board.fd, 0);
      const boundsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];
      assert.deepEqual(boundsMs.map((ms) => ms / 1000), [...DURATION_BUCKETS], 'the bounds under test are the real ones');
      const tookMs = [...boundsMs, ...boundsMs.map((ms) => ms + 1), 40_000, 0];
      for (const ms of tookMs) {
        writer.connectionAccepted();
        const trace = writer.begin(request(), true);
        clock += ms;
        writer.end(trace);
      }
      const durations = board.readSlot(0)!.durations;
      const expected = emptyDurations().counts;
      for (const ms of tookMs) expected[bucketOf(ms / 1000)]!++;
      assert.deepEqual(durations.counts, expected);
      // Spelled out: each bound, and one past the bound below; the overflow has 30.001 s and 40 s.
      assert.deepEqual(durations.counts, [2, ...new Array<number>(DURATION_BUCKETS.length - 1).fill(2), 2]);
      const seconds = tookMs.reduce((a, b) => a + b, 0) / 1000;
      assert.ok(Math.abs(durations.sum - seconds) < 1e-5, `sum ${durations.sum}, expected ${seconds}`);
      assert.equal(board.loads([0])[0]!.accepted, tookMs.length);
    }));

  it('an end() is in the slot as soon as it returns: the master may read it at any moment', () =>
    withBoard('immediate', 1, async (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.connectionAccepted();
      writer.end(writer.begin(request('/a'), true));
      assert.equal(board.loads([0])[0]!.load, 0);
      const slot = board.readSlot(0)!;
      assert.deepEqual([slot.state, slot.uri, slot.requests, total(slot.durations)], ['Idle', '/a', 1, 1]);
    }));

  it('a connection closed before its first request leaves the worker Idle with no load', () =>
    withBoard('abandoned', 1, (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.idle();
      writer.connectionAccepted();
      const beforeClose = Date.now();
      writer.connectionAbandoned();
      const load = board.loads([0])[0]!;
      assert.equal(load.load, 0);
      assert.equal(load.accepted, 1, 'it still counts as accepted');
      assert.ok(load.freeSince >= beforeClose);
      assert.equal(board.readSlot(0)!.state, 'Idle');
      assert.equal(total(board.readSlot(0)!.durations), 0, 'no request ran');
    }));

  it('with a second connection waiting, the end of a request leaves it Reading headers and loaded', () =>
    withBoard('two', 1, async (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.connectionAccepted();
      writer.connectionAccepted();
      const trace = writer.begin(request(), true);
      assert.equal(board.loads([0])[0]!.load, 2);
      writer.end(trace);
      assert.deepEqual(board.loads([0])[0], { pid: process.pid, load: 1, accepted: 2, freeSince: 0, finishing: false, upgraded: 0 });
      assert.equal(board.readSlot(0)!.state, 'Reading headers');
      writer.connectionAbandoned();
      const load = board.loads([0])[0]!;
      assert.equal(load.load, 0);
      assert.ok(load.freeSince > 0);
      assert.equal(board.readSlot(0)!.state, 'Idle');
    }));

  it('a keep-alive request (not the first on its connection) does not count down waiting connections', () =>
    withBoard('keepalive', 1, async (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.connectionAccepted();
      writer.connectionAccepted();
      writer.end(writer.begin(request('/first'), true));
      const again = writer.begin(request('/second'), false);
      // One in flight on the first connection, the second connection still waiting.
      assert.equal(board.loads([0])[0]!.load, 2);
      assert.deepEqual([board.readSlot(0)!.active, board.readSlot(0)!.waiting], [1, 1]);
      writer.end(again);
      assert.equal(board.loads([0])[0]!.load, 1);
    }));

  it('an upgraded connection releases the load it held and is counted on its own until it closes', () =>
    withBoard('upgraded', 1, async (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.idle();
      writer.connectionAccepted();
      writer.connectionAccepted();
      // The first connection's first request is an Upgrade: no request ran, no load is left for it.
      writer.connectionUpgraded(true);
      assert.deepEqual(board.loads([0])[0], { pid: process.pid, load: 1, accepted: 2, freeSince: 0, finishing: false, upgraded: 1 });
      // The second one upgrades after a kept-alive request.
      writer.end(writer.begin(request('/first'), true));
      writer.connectionUpgraded(false);
      const load = board.loads([0])[0]!;
      assert.deepEqual([load.load, load.upgraded], [0, 2]);
      assert.ok(load.freeSince > 0, 'a worker holding only upgraded connections is free');
      assert.equal(board.readSlot(0)!.state, 'Idle');
      assert.equal(board.readSlot(0)!.requests, 1, 'an upgrade is not a request');
      writer.upgradedClosed();
      writer.upgradedClosed();
      assert.equal(board.readSlot(0)!.upgraded, 0);
    }));

  it('once finishing, the slot stays Finishing through later connections and requests', () =>
    withBoard('finishing', 1, async (board) => {
      const writer = new SlotWriter(board.fd, 0);
      writer.connectionAccepted();
      const inFlight = writer.begin(request('/before'), true);
      writer.finishing();
      assert.equal(board.readSlot(0)!.state, 'Finishing');
      assert.equal(board.loads([0])[0]!.finishing, true);

      writer.end(inFlight);
      assert.equal(board.readSlot(0)!.state, 'Finishing', 'not Idle after its last request');
      let load = board.loads([0])[0]!;
      assert.equal(load.finishing, true);
      assert.equal(load.load, 0);
      assert.ok(load.freeSince > 0);

      // A connection already on its way when it started finishing is still served.
      writer.connectionAccepted();
      assert.equal(board.readSlot(0)!.state, 'Finishing');
      const late = writer.begin(request('/late'), true);
      assert.equal(board.readSlot(0)!.state, 'Finishing');
      assert.equal(board.loads([0])[0]!.load, 1);
      writer.end(late);
      const slot = board.readSlot(0)!;
      assert.equal(slot.state, 'Finishing');
      assert.equal(slot.uri, '/late');
      assert.equal(total(slot.durations), 2);
      load = board.loads([0])[0]!;
      assert.deepEqual([load.finishing, load.load, load.accepted], [true, 0, 2]);

      writer.connectionAccepted();
      writer.connectionAbandoned();
      assert.equal(board.readSlot(0)!.state, 'Finishing');
      assert.equal(board.loads([0])[0]!.finishing, true);
    }));
});
