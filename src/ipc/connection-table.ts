import { closeSync } from 'node:fs';
import { nativeBinding } from '../native/binding.js';
import { CONNECTION_TABLE_SIZE } from './records.js';

/** Int32 words of the header, after the float64 at bytes 0–7. */
const OFFERED = 0;
const FULL = 1;
/**
 * An atomic read-modify-write on a header word is a full memory barrier
 * (x86: a locked instruction): no load after it is done before a store
 * before it, which a plain write then read of shared memory would allow.
 */
function fence(words: Int32Array): void {
  Atomics.add(words, OFFERED, 0);
}

/**
 * The heartbeat's clock, and the slot writer's for request durations:
 * CLOCK_MONOTONIC (what process.hrtime reads), one clock for every process of
 * the machine, and not moved by a change of the wall clock. Not
 * performance.now(): the global `performance` loads node:perf_hooks on first
 * use, which costs a worker's first request 1–2 ms (and ondemand's cold start
 * waits for that request).
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/**
 * The header of a worker's connection table: what the master and the worker
 * must tell each other at once, without a record.
 *
 * - Bytes 0–7, a float64: since when (epoch ms) the oldest request in the
 *   master's queue has waited, 0 when none does. A worker that ends a request
 *   while one has waited FAIR_WAIT_MS gives the connection back rather than
 *   keep it: its next request must queue behind those, not reach this worker
 *   first and overtake them.
 * - Bytes 8–11, `offered`: connections the master has handed over or is
 *   handing over right now. Bytes 12–15, `full`: 1 while the worker runs as
 *   many requests as it may. The master picks a worker by its slot, read a
 *   moment before it sends; a request of the worker's own kept-alive
 *   connections may begin in between. So the two hand-shake, as in Dekker's
 *   algorithm: the master counts its offer, then gives it up if the worker is
 *   full; the worker marks itself full, then takes in (and gives back) every
 *   offer counted until then. Whatever the timing, either the master sees
 *   `full` or the worker sees the offer. Atomics, because each side's write
 *   must be visible before its read of the other's.
 * - Bytes 16–23, a float64: the worker's heartbeat, when (monotonicMs()) its
 *   event loop last turned (records.ts, HEARTBEAT_MS); 0 before the first.
 *   The master reads it to leave out, then replace, a worker whose loop is
 *   blocked (src/pool/loop-watch.ts). Here and not in the scoreboard: only
 *   the master needs it, and only the worker writes it.
 */
export class TableHeader {
  private readonly since: Float64Array;
  private readonly words: Int32Array;
  private readonly heartbeat: Float64Array;
  /** The worker's side: what it last stored in `full`, which only it writes (an atomic store costs a locked instruction). */
  private full = false;

  constructor(table: Uint8Array) {
    this.since = new Float64Array(table.buffer, table.byteOffset, 1);
    this.words = new Int32Array(table.buffer, table.byteOffset + 8, 2);
    this.heartbeat = new Float64Array(table.buffer, table.byteOffset + 16, 1);
  }

  /** When (monotonicMs()) the worker's event loop last beat; 0 before its first beat. */
  get lastBeat(): number {
    return this.heartbeat[0]!;
  }

  /** The worker: its event loop turns now. */
  beat(now: number): void {
    this.heartbeat[0] = now;
  }

  get queueSince(): number {
    return this.since[0]!;
  }

  /**
   * The master: tells the wait of the oldest queued request. Fenced: the
   * master reads the workers' slots after it, and a worker reads it after
   * writing its slot (queueWaits), so that a worker freed while a request was
   * being queued is either seen free by the master or sees the queue.
   */
  set queueSince(epochMs: number) {
    this.since[0] = epochMs;
    fence(this.words);
  }

  /** The worker, once its slot shows its room: whether requests wait in the master's queue. */
  queueWaits(): boolean {
    fence(this.words);
    return this.since[0] !== 0;
  }

  /** The master: counts a hand-over it is about to send; false (given up) when the worker is full. */
  offer(): boolean {
    Atomics.add(this.words, OFFERED, 1);
    if (Atomics.load(this.words, FULL) === 0) return true;
    this.withdraw();
    return false;
  }

  /** The master: a counted hand-over that was not sent after all. */
  withdraw(): void {
    Atomics.sub(this.words, OFFERED, 1);
  }

  /** The worker: whether it runs as many requests as it may. */
  setFull(full: boolean): void {
    if (full === this.full) return;
    this.full = full;
    Atomics.store(this.words, FULL, full ? 1 : 0);
  }

  /** The worker: hand-overs counted by the master so far. */
  offered(): number {
    return Atomics.load(this.words, OFFERED);
  }
}

/** A worker's connection table (records.ts, ConnectionState), mapped from its memfd. */
export function mapConnectionTable(fd: number): Uint8Array {
  return new Uint8Array(nativeBinding().map(fd, CONNECTION_TABLE_SIZE));
}

/** A new table: its descriptor (for the worker) and the master's mapping of it. */
export function createConnectionTable(): { fd: number; table: Uint8Array } {
  const fd = nativeBinding().anonymousMemory(CONNECTION_TABLE_SIZE);
  try {
    return { fd, table: mapConnectionTable(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
