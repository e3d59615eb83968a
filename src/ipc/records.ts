// The dispatch channel's records (native/channel.c carries them): what the
// master and a worker tell each other per connection, in 8-byte headers, not
// JSON. The Node IPC channel (protocol.ts) stays for the lifecycle.

/** Master → worker. */
export const MasterRecord = {
  /** A connection (its descriptor) with the bytes the master read from it: at least a whole request head. id: its table entry. */
  connection: 1,
  /** Connections wait in the master's queue (id 1) or no longer do (id 0): while on, say `room` when there is room. */
  watch: 2,
  /**
   * A connection as `connection`, whose client is not its peer: a trusted
   * proxy's PROXY header named it. Payload: `address port\n`, then the bytes
   * the master read.
   */
  connectionFrom: 3,
} as const;

/** Worker → master. */
export const WorkerRecord = {
  /** The channel's other end is gone (the native helper's own type; id: the errno, or 0). */
  gone: 0,
  /**
   * Connection `id` is the master's again: the worker stopped reading it at a
   * request boundary and closed its descriptor.
   */
  handBack: 17,
  /** While watched: its requests in flight went below pm.max_concurrency. */
  room: 18,
  /**
   * Connection `id` arrived when this worker had no room left (a request on
   * one of its kept-alive connections began first): it read nothing of it and
   * closed its descriptor; the master dispatches the request again, first in line.
   */
  returned: 19,
} as const;

/**
 * Each worker's connection table: one byte per connection it holds, in memory
 * shared with the master only (a memfd). The worker writes its state at each
 * request's start, first response byte and end, and when it closes. No
 * message per request, nor per connection: the master sweeps the table for
 * closed connections now and then, and reads the rest only when the worker
 * dies, to know which clients get a 502/504, which requests can go to
 * another worker, and which connections are just closed.
 */
export const ConnectionState = {
  free: 0,
  /** Handed over by the master; no request begun on it by the worker yet. */
  handed: 1,
  /** Between requests. */
  idle: 2,
  /** A request begun, not one byte of its response written. */
  unanswered: 3,
  /** Its response has begun. */
  answering: 4,
  /** The worker closed its descriptor: the master closes its own and frees the entry. */
  closed: 5,
  /**
   * Upgraded to another protocol (a WebSocket): no longer HTTP, so the master
   * has nothing to answer on it; if the worker dies, it just closes it.
   */
  upgraded: 6,
} as const;

/** Bytes of each worker's table: a 24-byte header (connection-table.ts), then one per connection. */
export const CONNECTION_TABLE_SIZE = 65536;
/** The first table entry a connection can have. */
export const FIRST_CONNECTION_ENTRY = 24;
/**
 * While requests wait in the master's queue, a worker keeps the connection of
 * a request that just ended (its next request may reach this worker first)
 * only if the oldest queued request has waited less than FAIR_WAIT_MS and the
 * request that ended took less than SLOW_REQUEST_MS: then a move (a read in
 * the master, a new socket in a worker) would cost more than the overtaking
 * loses. Both bounds stay above what waiting for a CPU alone costs on a
 * loaded machine, 10 ms and more for requests that are fast: a queued
 * request's wait counts it too, and every worker that ends a request gives
 * its connection back once the bound is passed. At 10 ms, on 2 saturated
 * cores with more kept-alive connections than workers, the connections
 * given back queued in turn and waited as long, and 3 to 12 % of requests
 * moved; at 25 ms, under 1 %, for a quarter to a third more throughput.
 */
export const FAIR_WAIT_MS = 25;
/**
 * A connection parked in a full worker (src/worker/parking.ts) goes back to
 * the master if, parked this long with the worker still full, it has a
 * request waiting; the parking thread looks this often. A request that filled
 * the worker and takes less (most do) is followed by the parked one in the
 * same worker, without a move, whose cost (the master's peek and hand-over, a
 * new socket in another worker) is many times such a request's.
 */
export const PARKED_GRACE_MS = 5;
/**
 * The most connections a full worker parks. Parking and unparking cost a few
 * calls per connection and per request, against a move's many times that
 * for the one request that moves: beyond this many idle connections (clients
 * that keep theirs open long, browsers served directly), those idle longest
 * go back to the master, which waits for their next request at no worker's
 * cost.
 */
export const PARKED_MAX = 16;
export const SLOW_REQUEST_MS = 50;
/**
 * A worker's event loop beats in its table header this often (a timer, which
 * runs only when the loop turns). One that has not beaten for LOOP_STALL_MS is
 * stalled (blocked in synchronous code, or stopped): it gets no new
 * connection, which would wait there without limit. The margin covers a
 * loaded machine's late timers and garbage-collection pauses: a worker
 * wrongly thought stalled only misses connections for a moment.
 */
export const HEARTBEAT_MS = 200;
export const LOOP_STALL_MS = 1000;

/** The worker's descriptors for its channel end, its connection table and its pool's scoreboard (stdio entries). */
export const CHANNEL_FD = 4;
export const TABLE_FD = 5;
export const SCOREBOARD_FD = 6;
