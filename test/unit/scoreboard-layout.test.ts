import assert from 'node:assert/strict';
import { PM_MODES } from '../../src/config/types.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Scoreboard } from '../../src/scoreboard/file.js';
import {
  decodeHeader,
  decodeSlot,
  DURATION_BUCKETS,
  emptyDurations,
  encodeHeader,
  encodeSlot,
  fileSize,
  freeSlot,
  HEADER_SIZE,
  METHOD_WIDTH,
  POOL_NAME_WIDTH,
  SLOT_SIZE,
  SlotEncoder,
  SLOT_STATES,
  slotOffset,
  URI_WIDTH,
  USER_WIDTH,
  type PoolHeader,
  type Slot,
  type SlotLoad,
} from '../../src/scoreboard/layout.js';
import { READING_HEADERS_SHOWN_AFTER_MS, SlotWriter } from '../../src/worker/slot-writer.js';
import { readScoreboard } from '../helpers/scoreboard.js';

const HEADER: PoolHeader = {
  pool: 'www-ü',
  pm: 'ondemand',
  startTime: 1_732_000_000_123,
  acceptedConn: 2 ** 40 + 7,
  listenQueue: 3,
  maxListenQueue: 17,
  listenQueueLen: 511,
  idle: 4,
  active: 5,
  total: 9,
  maxActive: 12,
  maxChildrenReached: 6,
  slowRequests: 2 ** 33 + 1,
  maxChildren: 50,
  minSpareServers: 7,
  maxSpareServers: 20,
  readingHeaders: 13,
  slotCount: 50,
};

const SLOT: Slot = {
  pid: 123_456,
  state: 'Running',
  active: 3,
  waiting: 2,
  accepted: 2 ** 35 + 3,
  // Not 0 as a loaded slot would have: a round trip must see the field.
  freeSince: 1_732_000_050_000.25,
  startTime: 1_732_000_000_001,
  requests: 2 ** 36 + 5,
  requestStart: 1_732_000_100_002.5,
  requestDuration: 123_456.75,
  method: 'PATCH',
  uri: '/api/v1/items?id=42&q=ünï',
  contentLength: 2 ** 33,
  user: 'alice',
  lastRequestCpu: 12.5,
  lastRequestMemory: 48 * 1024 * 1024,
  // A different count in every bucket, so swapped or shifted buckets show.
  durations: { sum: 1234.5625, counts: DURATION_BUCKETS.map((_, i) => i * 3 + 1).concat(2 ** 41 + 9) },
  upgraded: 70_000,
};

function encoded(slot: Slot): Buffer {
  const bytes = Buffer.alloc(SLOT_SIZE);
  encodeSlot(slot, bytes);
  return bytes;
}

/** The text a field reads back as, for a value written into a `width`-byte field. */
function roundTripText(field: 'method' | 'user' | 'uri', value: string): string {
  return decodeSlot(encoded({ ...SLOT, [field]: value }), 0)![field];
}

function assertUtf8Prefix(result: string, original: string, width: number): void {
  assert.ok(!result.includes('\uFFFD'), `a character was split: ${JSON.stringify(result)}`);
  assert.ok(original.startsWith(result), `${JSON.stringify(result)} is not a prefix`);
  assert.ok(Buffer.byteLength(result) <= width - 1, `${Buffer.byteLength(result)} bytes in a ${width}-byte field`);
  // as much as fits: the next character would not have
  const next = original.slice(result.length).codePointAt(0);
  if (next !== undefined) assert.ok(Buffer.byteLength(result) + Buffer.byteLength(String.fromCodePoint(next)) > width - 1);
}

describe('scoreboard layout: header', () => {
  it('round-trips every field', () => {
    const bytes = encodeHeader(HEADER);
    assert.equal(bytes.length, HEADER_SIZE);
    assert.deepEqual(decodeHeader(bytes), HEADER);
  });

  it('round-trips every pm mode', () => {
    for (const pm of PM_MODES) assert.equal(decodeHeader(encodeHeader({ ...HEADER, pm }))!.pm, pm);
  });

  it('encodes into a given buffer, fully overwriting a previous header', () => {
    const into = Buffer.alloc(HEADER_SIZE);
    encodeHeader({ ...HEADER, pool: 'a-much-longer-pool-name-than-the-next' }, into);
    const second = { ...HEADER, pool: 'b', idle: 0, acceptedConn: 1 };
    assert.equal(encodeHeader(second, into), into);
    assert.deepEqual(decodeHeader(into), second);
  });

  it('truncates the pool name to its width without splitting a character', () => {
    const long = 'p'.repeat(100);
    assert.equal(decodeHeader(encodeHeader({ ...HEADER, pool: long }))!.pool, 'p'.repeat(POOL_NAME_WIDTH - 1));
    const wide = 'x' + '€'.repeat(40);
    assertUtf8Prefix(decodeHeader(encodeHeader({ ...HEADER, pool: wide }))!.pool, wide, POOL_NAME_WIDTH);
  });

  it('is null when any byte is flipped', () => {
    const good = encodeHeader(HEADER);
    for (let i = 0; i < HEADER_SIZE; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x5a;
      assert.equal(decodeHeader(bad), null, `byte ${i}`);
    }
  });

  it('is null for a mix of two headers, a zeroed or short buffer', () => {
    const a = encodeHeader(HEADER);
    const b = encodeHeader({ ...HEADER, idle: 40, active: 1, acceptedConn: 99 });
    for (let split = 4; split < HEADER_SIZE; split += 4) {
      const mixed = Buffer.concat([a.subarray(0, split), b.subarray(split)]);
      if (mixed.equals(a) || mixed.equals(b)) continue;
      assert.equal(decodeHeader(mixed), null, `split at ${split}`);
    }
    assert.equal(decodeHeader(Buffer.alloc(HEADER_SIZE)), null);
    assert.equal(decodeHeader(a.subarray(0, HEADER_SIZE - 1)), null);
  });
});

describe('scoreboard layout: slot', () => {
  it('round-trips every field', () => {
    assert.equal(SLOT.durations.counts.length, DURATION_BUCKETS.length + 1, 'the fixture fills every bucket and the overflow');
    assert.deepEqual(decodeSlot(encoded(SLOT), 0), SLOT);
  });

  it('decodes from a buffer whose slot is not 8-byte aligned (a copy is read instead)', () => {
    const misaligned = Buffer.concat([Buffer.alloc(3), encoded(SLOT)]).subarray(3);
    assert.notEqual(misaligned.byteOffset % 8, 0, 'the buffer really is misaligned');
    assert.deepEqual(decodeSlot(misaligned, 0), SLOT);
    // At an offset the text fields are read from the copy: this catches reading them at the caller's offset.
    const file = Buffer.alloc(fileSize(3));
    encodeSlot(SLOT, file, slotOffset(1));
    encodeSlot({ ...SLOT, method: 'HEAD', uri: '/neighbour', user: 'zed' }, file, slotOffset(0));
    const shifted = Buffer.concat([Buffer.alloc(5), file]).subarray(5);
    assert.notEqual((shifted.byteOffset + slotOffset(1)) % 8, 0);
    assert.deepEqual(decodeSlot(shifted, slotOffset(1)), SLOT);
    assert.deepEqual(decodeSlot(Buffer.concat([Buffer.alloc(1), Buffer.alloc(SLOT_SIZE)]).subarray(1), 0), freeSlot());
  });

  it('checksums with four-lane FNV-1a over the native 32-bit words before the checksum, text fields apart', () => {
    // Computed here independently, so a change to the algorithm or its range is caught.
    const fnv = (hash: number, word: number): number => Math.imul(hash ^ word, 0x01000193);
    const fold = (seed: number, words: Uint32Array, from: number, to: number): number => {
      const lanes = [0x811c9dc5, 0x811c9dc5 ^ 1, 0x811c9dc5 ^ 2, 0x811c9dc5 ^ 3];
      for (let i = from; i < to; i++) lanes[(i - from) % 4] = fnv(lanes[(i - from) % 4]!, words[i]!);
      return lanes.reduce(fnv, seed);
    };
    const bytes = encoded(SLOT);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, SLOT_SIZE / 4);
    // method, user and uri: bytes 64 to 368.
    const text = fold(0x811c9dc5, words, 16, 92);
    let hash = fold(fold(0x811c9dc5, words, 0, 16), words, 92, 124);
    for (let i = 124; i < words.length - 1; i++) hash = fnv(hash, words[i]!);
    hash = fnv(hash, text) >>> 0;
    assert.equal(words[words.length - 1], hash || 1);
  });

  it("the worker's encoder writes what encodeSlot writes, whether or not a text field changed", () => {
    const encoder = new SlotEncoder();
    const sequence: Slot[] = [
      SLOT,
      { ...SLOT, requests: SLOT.requests + 1, state: 'Idle' },
      { ...SLOT, uri: '/next?q=1' },
      { ...SLOT, uri: '/next?q=1', requests: 7 },
      { ...SLOT, method: 'POST', uri: '/next?q=1' },
      { ...SLOT, user: 'someone-else', uri: '/' },
      { ...SLOT, user: 'someone-else', uri: '/', active: 0 },
    ];
    for (const slot of sequence) {
      const bytes = encoder.encode(slot);
      assert.deepEqual(bytes, encoded(slot));
      assert.deepEqual(decodeSlot(bytes, 0), slot);
    }
  });

  it('round-trips every state', () => {
    for (const state of SLOT_STATES) assert.equal(decodeSlot(encoded({ ...SLOT, state }), 0)!.state, state);
  });

  it('encodes at an offset without touching its neighbours', () => {
    const file = Buffer.alloc(fileSize(3), 0xaa);
    encodeSlot(SLOT, file, slotOffset(1));
    assert.deepEqual(decodeSlot(file, slotOffset(1)), SLOT);
    assert.ok(file.subarray(0, slotOffset(1)).every((b) => b === 0xaa));
    assert.ok(file.subarray(slotOffset(2)).every((b) => b === 0xaa));
  });

  it('clears the rest of a text field when a shorter value replaces a longer one in the same buffer', () => {
    const bytes = Buffer.alloc(SLOT_SIZE);
    encodeSlot({ ...SLOT, method: 'OPTIONS', user: 'a-long-user-name', uri: '/' + 'z'.repeat(200) }, bytes);
    encodeSlot({ ...SLOT, method: 'GET', user: 'bo', uri: '/a' }, bytes);
    const slot = decodeSlot(bytes, 0)!;
    assert.equal(slot.method, 'GET');
    assert.equal(slot.user, 'bo');
    assert.equal(slot.uri, '/a');
  });

  it('keeps text that exactly fills a field (width − 1 bytes) and cuts longer ASCII to it', () => {
    for (const [field, width] of [
      ['method', METHOD_WIDTH],
      ['user', USER_WIDTH],
      ['uri', URI_WIDTH],
    ] as const) {
      const fits = 'f'.repeat(width - 1);
      assert.equal(roundTripText(field, fits), fits, field);
      assert.equal(roundTripText(field, fits + 'gh'), fits, field);
    }
  });

  it('truncates method, user and uri without splitting a UTF-8 character', () => {
    const cases: [field: 'method' | 'user' | 'uri', width: number, value: string][] = [
      ['method', METHOD_WIDTH, 'G' + '😀'.repeat(5)], // 1 + 4k bytes: 13 fit, the 4th emoji would make 17
      ['method', METHOD_WIDTH, 'GE' + 'é'.repeat(10)],
      ['user', USER_WIDTH, 'é'.repeat(20)], // 30 bytes fit, 32 would not
      ['user', USER_WIDTH, 'ab' + '€'.repeat(12)],
      ['uri', URI_WIDTH, '/' + '€'.repeat(100)], // 1 + 3·84 = 253 bytes
      ['uri', URI_WIDTH, '/x' + '😀'.repeat(70)],
      ['uri', URI_WIDTH, '/xyz' + '€'.repeat(84)], // 4 + 252 = 256: the last € must go
    ];
    for (const [field, width, value] of cases) {
      const result = roundTripText(field, value);
      assertUtf8Prefix(result, value, width);
      assert.ok(result.length > 0);
    }
    assert.equal(roundTripText('method', 'G' + '😀'.repeat(5)), 'G😀😀😀');
    assert.equal(roundTripText('uri', '/' + '€'.repeat(100)), '/' + '€'.repeat(84));
  });

  it('is null when any byte is flipped', () => {
    const good = encoded(SLOT);
    for (let i = 0; i < SLOT_SIZE; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x5a;
      assert.equal(decodeSlot(bad, 0), null, `byte ${i}`);
    }
  });

  it('is null for a torn record: the first part of one encoding and the rest of another', () => {
    const a = encoded(SLOT);
    const b = encoded({
      ...SLOT,
      state: 'Idle',
      active: 0,
      waiting: 0,
      accepted: SLOT.accepted + 1,
      freeSince: SLOT.freeSince + 1,
      requests: SLOT.requests + 1,
      uri: '/other',
      requestDuration: 9,
      durations: { sum: SLOT.durations.sum + 9e-6, counts: SLOT.durations.counts.map((n, i) => (i === 0 ? n + 1 : n)) },
    });
    let torn = 0;
    for (let split = 1; split < SLOT_SIZE; split++) {
      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        const mixed = Buffer.concat([first.subarray(0, split), second.subarray(split)]);
        if (mixed.equals(a) || mixed.equals(b)) continue;
        torn++;
        assert.equal(decodeSlot(mixed, 0), null, `split at ${split}`);
      }
    }
    assert.ok(torn > SLOT_SIZE, 'the two encodings differ in many places');
  });

  it('decodes a zeroed (never written) slot as Free', () => {
    assert.deepEqual(decodeSlot(Buffer.alloc(SLOT_SIZE), 0), freeSlot());
    assert.deepEqual(decodeSlot(Buffer.alloc(fileSize(4)), slotOffset(3)), freeSlot());
    assert.equal(freeSlot().state, 'Free');
    assert.deepEqual(freeSlot().durations, emptyDurations());
    assert.equal(emptyDurations().counts.length, DURATION_BUCKETS.length + 1);
  });

  it('clamps the in-flight and waiting counts to 16 bits', () => {
    assert.equal(decodeSlot(encoded({ ...SLOT, active: 70_000 }), 0)!.active, 0xffff);
    const waiting = decodeSlot(encoded({ ...SLOT, waiting: 70_000 }), 0)!;
    assert.equal(waiting.waiting, 0xffff);
    assert.equal(waiting.active, SLOT.active, 'waiting does not spill into active');
  });
});

describe('scoreboard', () => {
  const header = (slotCount: number): PoolHeader => ({ ...HEADER, pm: 'dynamic', slotCount, maxChildren: slotCount });
  /** A path that opens the board's memfd, as a test can reach it. */
  const pathOf = (board: Scoreboard): string => `/proc/self/fd/${board.fd}`;

  it('reads back the header, with never-written slots as Free; null before the header is written', () => {
    const board = new Scoreboard('header', 3);
    try {
      const file = pathOf(board);
      assert.equal(fs.statSync(file).size, fileSize(3));
      assert.equal(readScoreboard(file), null);
      assert.equal(board.read(), null);
      board.writeHeader(header(3));
      const snapshot = readScoreboard(file)!;
      assert.deepEqual(snapshot.header, header(3));
      assert.deepEqual(snapshot.slots, [freeSlot(), freeSlot(), freeSlot()]);
      assert.deepEqual(board.read(), snapshot);
    } finally {
      board.close();
    }
  });

  it('is a memfd named after the pool whose size no one can change, not even through its own descriptor', () => {
    const board = new Scoreboard('www', 3);
    try {
      assert.equal(fs.readlinkSync(pathOf(board)), '/memfd:poold-scoreboard:www (deleted)');
      for (const size of [0, fileSize(3) - 1, fileSize(3) + 1]) {
        assert.throws(() => fs.ftruncateSync(board.fd, size), { code: 'EPERM' }, `ftruncate to ${size}`);
        assert.throws(() => fs.truncateSync(pathOf(board), size), { code: 'EPERM' }, `truncate of a new open to ${size}`);
      }
      assert.equal(fs.fstatSync(board.fd).size, fileSize(3));
    } finally {
      board.close();
    }
  });

  it('reports the header it wrote, whatever a worker wrote over it', () => {
    const board = new Scoreboard('header', 2);
    try {
      board.writeHeader(header(2));
      fs.writeSync(board.fd, encodeHeader({ ...header(2), idle: 99, pool: 'forged' }), 0, HEADER_SIZE, 0);
      assert.equal(readScoreboard(pathOf(board))!.header.pool, 'forged', 'the shared memory was overwritten');
      assert.deepEqual(board.read()!.header, header(2));
      assert.equal(board.read()!.slots.length, 2);
    } finally {
      board.close();
    }
  });

  it('allocates free slots as Starting, null when full, and releases them as Free', () => {
    const board = new Scoreboard('alloc', 3);
    const file = pathOf(board);
    try {
      board.writeHeader(header(3));
      assert.deepEqual([board.allocate(), board.allocate(), board.allocate()], [0, 1, 2]);
      assert.equal(board.allocate(), null);
      assert.deepEqual(
        readScoreboard(file)!.slots.map((s) => s.state),
        ['Starting', 'Starting', 'Starting'],
      );
      board.release(1);
      assert.deepEqual(
        readScoreboard(file)!.slots.map((s) => s.state),
        ['Starting', 'Free', 'Starting'],
      );
      assert.deepEqual(readScoreboard(file)!.slots[1], freeSlot());
      assert.equal(board.allocate(), 1);
      assert.equal(board.allocate(), null);
    } finally {
      board.close();
    }
  });

  it('shows what a SlotWriter writes: begin → Running with method, URI and Basic-auth user; end → Idle', async () => {
    const board = new Scoreboard('writer', 3);
    const file = pathOf(board);
    try {
      board.writeHeader(header(3));
      board.allocate();
      const index = board.allocate()!;
      const writer = new SlotWriter(board.fd, index);
      const req = {
        method: 'PUT',
        url: '/upload?name=a%20b',
        headers: {
          authorization: 'Basic ' + Buffer.from('alice:s3cr:et').toString('base64'),
          'content-length': '42',
        },
      } as unknown as IncomingMessage;
      writer.connectionAccepted();
      const before = Date.now();
      const trace = writer.begin(req, true);
      let slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.state, 'Running');
      assert.equal(slot.pid, process.pid);
      assert.equal(slot.method, 'PUT');
      assert.equal(slot.uri, '/upload?name=a%20b');
      assert.equal(slot.user, 'alice');
      assert.equal(slot.contentLength, 42);
      assert.equal(slot.requests, 1);
      assert.equal(slot.active, 1);
      assert.equal(slot.waiting, 0, 'its first request began');
      assert.equal(slot.accepted, 1);
      assert.equal(slot.freeSince, 0);
      assert.ok(slot.requestStart >= before && slot.requestStart <= Date.now());
      assert.deepEqual(readScoreboard(file)!.slots[0]!.state, 'Starting', 'other slots untouched');

      await sleep(20);
      writer.end(trace);
      slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.state, 'Idle');
      assert.equal(slot.requests, 1);
      assert.equal(slot.active, 0);
      assert.ok(slot.requestDuration >= 15_000, `duration ${slot.requestDuration} µs`);
      assert.ok(slot.lastRequestMemory > 0);
      assert.equal(slot.durations.counts.reduce((a, b) => a + b), 1);
      assert.ok(slot.freeSince > 0);
      assert.equal(slot.uri, '/upload?name=a%20b', 'the last request stays visible');
      assert.deepEqual(slot, { ...writer.slot });

      // two requests at once (pm.max_concurrency > 1): the slot shows the oldest in flight
      const t2 = writer.begin({ method: 'GET', url: '/first', headers: {} } as unknown as IncomingMessage, false);
      slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.requests, 2);
      assert.equal(slot.user, '-');
      assert.equal(slot.contentLength, 0);
      await sleep(5);
      const t3 = writer.begin({ method: 'POST', url: '/second', headers: {} } as unknown as IncomingMessage, false);
      slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.active, 2);
      assert.equal(slot.uri, '/first', 'the oldest request in flight is shown');
      assert.equal(slot.requestStart, t2.startedAt);
      writer.end(t2);
      slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.state, 'Running');
      assert.equal(slot.uri, '/second', 'then the oldest one left');
      assert.equal(slot.requestStart, t3.startedAt);
      writer.end(t3);
      slot = readScoreboard(file)!.slots[index]!;
      assert.equal(slot.state, 'Idle');
      assert.equal(slot.durations.counts.reduce((a, b) => a + b), 3);
      assert.equal(slot.accepted, 1, 'requests on connections already counted add no connection');
    } finally {
      board.close();
    }
  });

  it('takes the user from Basic auth only', () => {
    const board = new Scoreboard('auth', 1);
    const file = pathOf(board);
    try {
      board.writeHeader(header(1));
      const writer = new SlotWriter(board.fd, board.allocate()!);
      const userFor = (authorization: string | undefined): string => {
        const headers = authorization === undefined ? {} : { authorization };
        const trace = writer.begin({ method: 'GET', url: '/', headers } as unknown as IncomingMessage, false);
        const user = readScoreboard(file)!.slots[0]!.user;
        writer.end(trace);
        return user;
      };
      assert.equal(userFor(undefined), '-');
      assert.equal(userFor('Bearer abc'), '-');
      assert.equal(userFor('Basic ' + Buffer.from('no-colon').toString('base64')), '-');
      assert.equal(userFor('Basic ' + Buffer.from(':pw').toString('base64')), '-');
      assert.equal(userFor('Basic ' + Buffer.from('bob:').toString('base64')), 'bob');
      const long = 'u'.repeat(40);
      assert.equal(userFor('Basic ' + Buffer.from(`${long}:pw`).toString('base64')), 'u'.repeat(USER_WIDTH - 1));
    } finally {
      board.close();
    }
  });

  it('shows Reading headers (once the headers are slow to come) and Finishing states', async () => {
    const board = new Scoreboard('states', 1);
    const file = pathOf(board);
    try {
      board.writeHeader(header(1));
      const writer = new SlotWriter(board.fd, board.allocate()!);
      const state = (): string => readScoreboard(file)!.slots[0]!.state;
      writer.idle();
      assert.equal(state(), 'Idle');
      writer.connectionAccepted();
      assert.equal(state(), 'Idle', 'a prompt request would be written along with the connection');
      await sleep(READING_HEADERS_SHOWN_AFTER_MS + 50);
      assert.equal(state(), 'Reading headers');
      writer.begin({ method: 'GET', url: '/', headers: {} } as unknown as IncomingMessage, true);
      assert.equal(state(), 'Running');
      writer.connectionAccepted(); // a second connection while a request runs: still Running
      assert.equal(state(), 'Running');
      writer.finishing();
      assert.equal(state(), 'Finishing');
    } finally {
      board.close();
    }
  });

  /** Two slot contents a writer alternates between, every field different. */
  const a: Slot = {
    ...SLOT,
    pid: 1111,
    state: 'Idle',
    active: 0,
    requests: 1,
    method: 'A'.repeat(METHOD_WIDTH - 1),
    uri: '/' + 'a'.repeat(URI_WIDTH - 2),
    user: 'a'.repeat(USER_WIDTH - 1),
  };
  const b: Slot = {
    pid: 2222,
    state: 'Finishing',
    active: 7,
    waiting: 2,
    accepted: 2,
    freeSince: 2,
    startTime: 2,
    requests: 2,
    requestStart: 2,
    requestDuration: 2,
    method: 'B'.repeat(METHOD_WIDTH - 1),
    uri: '/' + 'b'.repeat(URI_WIDTH - 2),
    contentLength: 2,
    user: 'b'.repeat(USER_WIDTH - 1),
    lastRequestCpu: 2,
    lastRequestMemory: 2,
    durations: { sum: 2, counts: new Array<number>(DURATION_BUCKETS.length + 1).fill(2) },
    upgraded: 2,
  };
  const loadOf = (slot: Slot): SlotLoad => ({
    pid: slot.pid,
    load: slot.active + slot.waiting,
    accepted: slot.accepted,
    freeSince: slot.freeSince,
    finishing: slot.state === 'Finishing',
    upgraded: slot.upgraded,
  });

  interface RaceStats {
    reads: number;
    seenA: number;
    seenB: number;
    seenFree: number;
    rawReads: number;
    rawTorn: number;
    loadReads: number;
    loadTorn: number;
  }

  /**
   * For ~1 s, reads slot `index` every way the project does while another
   * process rewrites it with SlotWriter's own write path, alternating a and b,
   * `pauseUs` apart (0: nonstop). Returns what the reads saw, and up to 3
   * reads that decoded to neither content.
   */
  async function raceWriter(pauseUs: number): Promise<{ stats: RaceStats; mixes: unknown[] }> {
    const slotCount = 24;
    const index = 20; // a slot in the file's third page
    const stats: RaceStats = { reads: 0, seenA: 0, seenB: 0, seenFree: 0, rawReads: 0, rawTorn: 0, loadReads: 0, loadTorn: 0 };
    const mixes: unknown[] = [];
    // Records are page-aligned: a slot never straddles two 4 KiB pages.
    assert.equal(Math.floor(slotOffset(index) / 4096), Math.floor((slotOffset(index) + SLOT_SIZE - 1) / 4096));
    const board = new Scoreboard('race', slotCount);
    // The other process opens it as only this process's user can.
    const file = `/proc/${process.pid}/fd/${board.fd}`;
    board.writeHeader(header(slotCount));
    board.allocate();
    const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const writerUrl = pathToFileURL(path.join(distRoot, 'src/worker/slot-writer.js')).href;
    const script = `
      const { SlotWriter } = await import(${JSON.stringify(writerUrl)});
      const w = new SlotWriter((await import('node:fs')).openSync(${JSON.stringify(file)}, 'r+'), ${index});
      const a = ${JSON.stringify(a)}, b = ${JSON.stringify(b)};
      Object.assign(w.slot, a); w.idle();
      process.stdout.write('ready\\n');
      const deadline = Date.now() + 15000; // its own bound, should the test fail to kill it
      const pause = ${pauseUs * 1000}n;
      let n = 0;
      while (Date.now() < deadline) {
        for (let i = 0; i < 500; i++, n++) {
          if (n & 1) { Object.assign(w.slot, b); w.finishing(); } else { Object.assign(w.slot, a); w.idle(); }
          for (const until = process.hrtime.bigint() + pause; pause > 0n && process.hrtime.bigint() < until; );
        }
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    try {
      const [chunk] = (await Promise.race([
        once(child.stdout!, 'data'),
        exited.then(() => assert.fail('the writer exited before it was ready')),
      ])) as [Buffer];
      assert.equal(chunk.toString().trim(), 'ready');

      const raw = Buffer.alloc(SLOT_SIZE);
      const fd = fs.openSync(file, 'r');
      try {
        const end = Date.now() + 1000;
        while (Date.now() < end) {
          const slot = readScoreboard(file)!.slots[index]!;
          stats.reads++;
          if (isDeepStrictEqual(slot, a)) stats.seenA++;
          else if (isDeepStrictEqual(slot, b)) stats.seenB++;
          else if (isDeepStrictEqual(slot, freeSlot())) stats.seenFree++;
          else if (mixes.length < 3) mixes.push(slot);
          // the same race without readScoreboard's retries: the checksum alone
          fs.readSync(fd, raw, 0, SLOT_SIZE, slotOffset(index));
          const decoded = decodeSlot(raw, 0);
          stats.rawReads++;
          if (decoded === null) stats.rawTorn++;
          else if (!isDeepStrictEqual(decoded, a) && !isDeepStrictEqual(decoded, b) && mixes.length < 3) mixes.push(decoded);
          // dispatch's read, through the master's own mapping of the file
          const [load] = board.loads([index]);
          stats.loadReads++;
          if (load === null) stats.loadTorn++;
          else if (!isDeepStrictEqual(load, loadOf(a)) && !isDeepStrictEqual(load, loadOf(b)) && mixes.length < 3) mixes.push(load);
        }
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
      board.close();
    }
    return { stats, mixes };
  }

  describe('a reader racing another process that rewrites one slot nonstop for ~1 s', () => {
    let race: Awaited<ReturnType<typeof raceWriter>>;
    before(async () => {
      race = await raceWriter(0);
    });

    it('never returns a mix of the two contents, and both were seen', (t) => {
      const { stats, mixes } = race;
      t.diagnostic(JSON.stringify(stats));
      assert.deepEqual(mixes, [], 'a read decoded to neither content');
      // Free is readScoreboard's documented answer for a slot still torn after all its retries.
      assert.equal(stats.seenA + stats.seenB + stats.seenFree, stats.reads);
      assert.ok(stats.seenA > 0 && stats.seenB > 0, 'the writer was rewriting the slot while the reader read it');
      assert.ok(stats.loadTorn < stats.loadReads, 'dispatch read the slot intact at least once');
    });
  });

  // A busy worker writes its slot twice per request; 200,000 writes a second is
  // far beyond that, and still leaves the retries a whole record between two.
  describe('a reader racing another process that rewrites one slot every 5 µs for ~1 s', () => {
    let race: Awaited<ReturnType<typeof raceWriter>>;
    before(async () => {
      race = await raceWriter(5);
    });

    it('every readScoreboard read is one of the two contents (never the Free fallback)', (t) => {
      const { stats, mixes } = race;
      t.diagnostic(JSON.stringify(stats));
      assert.deepEqual(mixes, [], 'a read decoded to neither content');
      assert.equal(stats.seenFree, 0, `${stats.seenFree} of ${stats.reads} reads came back as Free`);
      assert.equal(stats.seenA + stats.seenB, stats.reads);
      assert.ok(stats.seenA > 0 && stats.seenB > 0, 'the writer was rewriting the slot while the reader read it');
    });
  });
});
