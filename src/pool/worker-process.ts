import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createInterface } from 'node:readline';
import { DispatchChannel } from '../ipc/channel.js';
import { createConnectionTable, TableHeader } from '../ipc/connection-table.js';
import { joinClient } from '../ipc/connection-from.js';
import type { MasterMessage, RetireReason, WorkerMessage } from '../ipc/protocol.js';
import {
  CONNECTION_TABLE_SIZE,
  ConnectionState,
  FIRST_CONNECTION_ENTRY,
  MasterRecord,
  WorkerRecord,
} from '../ipc/records.js';
import { nativeBinding } from '../native/binding.js';
import type { Scoreboard } from '../scoreboard/file.js';
import type { SlotLoad } from '../scoreboard/layout.js';
import type { ClientConnection } from './client-connection.js';
import { killLadder } from './kill-ladder.js';
import { NO_CONTRADICTIONS, judgeSlot, type Contradiction } from './slot-trust.js';
import { loopStalled } from './loop-watch.js';
import { spawnFailure, type SpawnFailure } from './open-files.js';
import { spawnWorker, type SpawnOptions } from './spawn-worker.js';

/** After a worker exits, how long its last IPC messages may take to arrive. */
const EXIT_DRAIN_MS = 200;
/**
 * How often the master looks for connections the worker closed, to close its
 * own descriptor: a record per close would wake the master (and cost the
 * worker a system call) for every connection. A connection the worker closed
 * without shutting it down (a keep-alive timeout) sends its FIN this much later.
 */
const CLOSED_SWEEP_MS = 50;

export type WorkerPhase = 'starting' | 'ready' | 'stopping' | 'exited';

/** Why the master ended a worker; anything it did not end itself is a crash. */
export type StopReason = RetireReason | 'idle' | 'terminate_timeout' | 'loop_block' | 'reload' | 'shutdown';

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it exited before ever becoming ready. */
  beforeReady: boolean;
  uptimeMs: number;
  /** Why its process could not be started at all (it never ran), else null. */
  spawnError: SpawnFailure | null;
}

export function describeExit({ code, signal }: WorkerExit): string {
  if (signal) return `exited on signal ${osConstants.signals[signal] ?? '?'} (${signal})`;
  return `exited with code ${code}`;
}

interface WorkerEvents {
  ready: [];
  fail: [error: string];
  free: [];
  /** A kept-alive connection it gave back between two requests: the master reads its next head. */
  handBack: [connection: ClientConnection];
  /** A connection whose request it never began (it died first): the request goes to another worker as it is. */
  unserved: [connection: ClientConnection];
  /** A request it gave back unread (it had no room left when it arrived): dispatched again, first in line. */
  returned: [connection: ClientConnection];
  retire: [reason: RetireReason];
  output: [stream: 'stdout' | 'stderr', line: string];
  exit: [exit: WorkerExit];
}

/**
 * The master's handle on one worker process: its phase, its load (as its
 * scoreboard slot last showed it, plus requests handed over since), its
 * dispatch channel, and the master's own copy of every connection it holds —
 * so that, if it dies, a request it never began goes to another worker, one it
 * began but had not answered gets 502 (504 after request_terminate_timeout),
 * and an idle one is closed.
 */
export class WorkerProcess extends EventEmitter<WorkerEvents> {
  readonly pid: number;
  readonly startedAt = Date.now();
  phase: WorkerPhase = 'starting';
  /** When (epoch ms) its load last dropped to zero or it became ready: "idle longest" and idle timeouts. */
  lastFreeAt = Date.now();
  /** Requests handed over since it started; its slot counts those it received. */
  private dispatched = 0;
  /** Its slot as last read. */
  private slotLoad = 0;
  private slotAccepted = 0;
  /** Upgraded connections (WebSockets) it holds, as its slot last showed them. */
  upgraded = 0;
  /** Its slot says Finishing: retiring, it must get nothing new. */
  private finishing = false;
  /** Its slot as last read intact, and since when it has contradicted the master (slot-trust.ts). */
  private reading: SlotLoad | null = null;
  private finishingSince: number | null = null;
  private excessSince: number | null = null;
  /** Its event loop had not beaten for a while when last read (loop-watch.ts): it must get nothing new. */
  private stalled = false;
  /** Whether it was last told to report room (requests are queued). */
  private watched = false;
  stopReason: StopReason | null = null;
  private readonly child: ChildProcess;
  private readonly channel: DispatchChannel;
  /** Its connection table (records.ts), shared with it; read when it dies. */
  private readonly table: Uint8Array;
  private readonly header: TableHeader;
  /** The connections it holds, by their entry in the table. */
  private readonly connections = new Map<number, ClientConnection>();
  /** Table entries free for the next connection handed over. */
  private readonly freeEntries: number[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly metricsReplies = new Map<number, (data: unknown[] | null) => void>();
  private nextMetricsId = 1;
  private unansweredStatus: 502 | 504 = 502;

  constructor(
    options: Omit<SpawnOptions, 'channelFd' | 'tableFd' | 'scoreboardFd'>,
    /** Its scoreboard (a reload may start a bigger one for the next generation) and slot in it. */
    readonly scoreboard: Scoreboard,
    readonly slot: number,
    /** Which configuration generation it runs; a reload starts the next one. */
    readonly generation: number,
  ) {
    super();
    // Each step may fail for lack of descriptors (EMFILE): whatever was
    // opened before it is closed, and the error goes to the pool.
    const [masterEnd, workerEnd] = nativeBinding().socketpair();
    let channel: DispatchChannel | null = null;
    let tableFd = -1;
    try {
      channel = new DispatchChannel(masterEnd, 0, (type, id) => this.onRecord(type, id));
      const created = createConnectionTable();
      tableFd = created.fd;
      this.table = created.table;
      this.child = spawnWorker({ ...options, channelFd: workerEnd, tableFd, scoreboardFd: scoreboard.fd });
    } catch (err) {
      if (channel) channel.close();
      else closeSync(masterEnd);
      throw err;
    } finally {
      // The child has its copies now; the mapping outlives the table's descriptor.
      closeSync(workerEnd);
      if (tableFd >= 0) closeSync(tableFd);
    }
    this.channel = channel;
    this.header = new TableHeader(this.table);
    for (let entry = CONNECTION_TABLE_SIZE - 1; entry >= FIRST_CONNECTION_ENTRY; entry--) this.freeEntries.push(entry);
    this.pid = this.child.pid ?? -1;
    this.child.on('message', (message: WorkerMessage) => this.onMessage(message));
    // A spawn that failed (EMFILE, EAGAIN, ENOENT) left no pid: its 'error'
    // follows on the next tick, and no 'exit' ever will.
    this.child.on('error', (err) => {
      if (this.pid < 0 && this.phase !== 'exited') this.onExit(null, null, spawnFailure(err));
    });
    this.child.once('exit', (code, signal) => {
      // Messages the worker sent just before dying may still be unread: wait
      // for the channel to close ('close'), but not forever.
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onExit(code, signal);
      };
      const timer = setTimeout(settle, EXIT_DRAIN_MS);
      this.child.once('close', settle);
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = this.child[stream];
      if (!readable) continue;
      createInterface({ input: readable, crlfDelay: Infinity }).on('line', (line) =>
        this.emit('output', stream, line),
      );
    }
  }

  get accepting(): boolean {
    return this.phase === 'ready' && !this.finishing && !this.stalled && this.child.connected;
  }

  /** When (monotonic ms) its event loop last beat in its connection table; 0 before the first beat. */
  get lastBeat(): number {
    return this.header.lastBeat;
  }

  /** Client connections it holds that may bring a request, idle kept-alive ones included (not upgraded ones). */
  get held(): number {
    return Math.max(0, this.connections.size - this.upgraded);
  }

  /**
   * Requests in flight: what its slot last showed, plus the requests handed
   * over since that the worker had not counted yet (in transit).
   */
  get load(): number {
    if (this.phase === 'exited') return 0;
    // Each request and each connection in transit is one it holds, whatever its slot says.
    return Math.min(this.slotLoad + Math.max(0, this.dispatched - this.slotAccepted), this.connections.size);
  }

  /**
   * Takes its load from its scoreboard slot (null: torn, then the last
   * reading stands, judged again), as far as it agrees with what the master
   * knows, and whether its event loop is stalled at `beat` (monotonic ms) from
   * its heartbeat; returns what contradicted the master.
   */
  updateLoad(slot: SlotLoad | null, now: number, beat: number): readonly Contradiction[] {
    this.stalled = loopStalled(this.header.lastBeat, beat);
    this.reading = slot ?? this.reading;
    if (!this.reading) return NO_CONTRADICTIONS;
    const judged = judgeSlot(
      this.reading,
      {
        pid: this.pid,
        stopping: this.phase === 'stopping' || this.phase === 'exited',
        held: this.connections.size,
        finishingSince: this.finishingSince,
        excessSince: this.excessSince,
      },
      now,
    );
    this.finishingSince = judged.finishingSince;
    this.excessSince = judged.excessSince;
    const load = judged.load;
    if (load) {
      this.slotLoad = load.load;
      this.slotAccepted = load.accepted;
      this.finishing = load.finishing;
      // Each upgraded connection is one it holds, whatever its slot says.
      this.upgraded = Math.min(load.upgraded, this.connections.size);
      if (load.freeSince > 0) this.lastFreeAt = load.freeSince;
    }
    return judged.contradictions;
  }

  /**
   * Hands over a connection whose request head has arrived: one record on its
   * channel, the descriptor attached, with the bytes the master read if it
   * read any. False when it cannot take it now (full, channel full or gone,
   * table full).
   */
  hand(connection: ClientConnection): boolean {
    if (this.freeEntries.length === 0) this.sweepClosed();
    if (connection.fd < 0 || this.freeEntries.length === 0 || !this.header.offer()) return false;
    const entry = this.freeEntries.pop()!;
    this.table[entry] = ConnectionState.handed;
    let sent = false;
    try {
      sent = connection.client
        ? this.channel.trySend(MasterRecord.connectionFrom, entry, connection.fd, joinClient(connection.client, connection.buffered))
        : this.channel.trySend(MasterRecord.connection, entry, connection.fd, connection.buffered ?? undefined);
    } catch {
      // Its end is gone: it is exiting, and its exit answers for what it holds.
    }
    if (!sent) {
      this.header.withdraw();
      this.table[entry] = ConnectionState.free;
      this.freeEntries.push(entry);
      return false;
    }
    this.connections.set(entry, connection);
    this.dispatched++;
    this.sweepTimer ??= setTimeout(() => this.sweepClosed(), CLOSED_SWEEP_MS);
    return true;
  }

  /** Closes the master's descriptors of connections the worker has closed. */
  private sweepClosed(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (const [entry, connection] of this.connections) {
      if (this.table[entry] !== ConnectionState.closed) continue;
      this.release(entry);
      // destroy() closes only the master's descriptor; end() would shut down the connection for both.
      connection.socket.destroy();
    }
    if (this.connections.size > 0 && this.phase !== 'exited') {
      this.sweepTimer = setTimeout(() => this.sweepClosed(), CLOSED_SWEEP_MS);
    }
  }

  /**
   * Graceful: finish in-flight requests, run the app's shutdown(), exit. With
   * `handBack`, its idle kept-alive connections come back to the master (a
   * replacement will serve their next requests) instead of being closed.
   * `upgradedGraceMs`: until when, from now, its upgraded connections
   * (WebSockets) may stay open for the app to close them (the drain deadline).
   */
  stop(reason: StopReason, handBack = false, upgradedGraceMs = 0): void {
    if (this.phase === 'exited' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.stopReason ??= reason;
    const message: MasterMessage = { t: 'stop', handBack, upgradedGraceMs };
    if (this.child.connected) this.child.send(message, (err: Error | null) => err && this.kill('SIGTERM'));
    else this.kill('SIGTERM');
  }

  /** Tells it, through its connection table, since when the oldest queued request waits (0: none). */
  queueWaitingSince(since: number): void {
    if (this.phase !== 'exited') this.header.queueSince = since;
  }

  /** Asks it to report room whenever it can take a request (on), or to stop (off). */
  watch(on: boolean): void {
    if (this.watched === on || this.phase !== 'ready') return;
    this.watched = on;
    this.channel.send(MasterRecord.watch, on ? 1 : 0);
  }

  reopenLogs(): void {
    const message: MasterMessage = { t: 'reopen' };
    if (this.child.connected) this.child.send(message, () => {});
  }

  /**
   * The app's prom-client metrics as JSON, or null when it has none or does
   * not answer within `timeoutMs` (a worker stuck in synchronous code).
   */
  requestMetrics(timeoutMs: number): Promise<unknown[] | null> {
    if (!this.child.connected || this.phase === 'starting') return Promise.resolve(null);
    const id = this.nextMetricsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (data: unknown[] | null) => {
        clearTimeout(timer);
        this.metricsReplies.delete(id);
        resolve(data);
      };
      this.metricsReplies.set(id, finish);
      const message: MasterMessage = { t: 'metrics', id };
      this.child.send(message, (err: Error | null) => err && finish(null));
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.phase !== 'exited') this.child.kill(signal);
  }

  /**
   * Kills it for running past request_terminate_timeout, or for an event
   * loop blocked past pm.max_loop_block: SIGTERM, then SIGKILL a second later
   * if the app kept it alive. Requests it had not started answering get 504
   * instead of 502; connections whose request it never began go to another
   * worker when it has exited.
   */
  killOverdue(reason: 'terminate_timeout' | 'loop_block'): void {
    if (this.phase === 'exited' || this.stopReason === 'terminate_timeout' || this.stopReason === 'loop_block') return;
    this.stopReason = reason;
    this.phase = 'stopping';
    this.unansweredStatus = 504;
    killLadder([this]);
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.t) {
      case 'ready':
        if (this.phase === 'starting') this.phase = 'ready';
        this.lastFreeAt = Date.now();
        this.emit('ready');
        return;
      case 'fail':
        this.emit('fail', message.error);
        return;
      case 'appMetrics':
        this.metricsReplies.get(message.id)?.(message.data);
        return;
      case 'retire':
        this.emit('retire', message.reason);
        return;
    }
  }

  private onRecord(type: number, entry: number): void {
    if (type === WorkerRecord.room) {
      this.emit('free');
      return;
    }
    const connection = this.connections.get(entry);
    if (!connection) return;
    if (type === WorkerRecord.handBack) {
      this.release(entry);
      this.emit('handBack', connection);
    } else if (type === WorkerRecord.returned) {
      this.release(entry);
      // Its slot does not count this one (or no longer does).
      this.dispatched--;
      this.emit('returned', connection);
    }
  }

  private release(entry: number): void {
    this.connections.delete(entry);
    this.table[entry] = ConnectionState.free;
    this.freeEntries.push(entry);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError: SpawnFailure | null = null): void {
    const beforeReady = this.phase === 'starting';
    this.phase = 'exited';
    this.channel.close();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const [entry, connection] of [...this.connections]) {
      const state = this.table[entry];
      this.release(entry);
      if (state === ConnectionState.handed) this.emit('unserved', connection);
      // No byte of the response was written: an answer from the master is clean.
      else if (state === ConnectionState.unanswered) connection.answer(this.unansweredStatus);
      else connection.socket.destroy();
    }
    this.emit('exit', { code, signal, beforeReady, uptimeMs: Date.now() - this.startedAt, spawnError });
  }
}
