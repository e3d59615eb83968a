import { EventEmitter } from 'node:events';
import { DispatchQueue } from './dispatch-queue.js';
import { selectWorker, type Candidate } from './select-worker.js';

/** A request waiting for a worker: a connection whose head has arrived. */
export interface Waiter {
  /** When it began to wait (epoch ms); reset when it is queued. */
  since: number;
  /** The client is gone (an error closed it): nothing to hand over. */
  readonly closed: boolean;
}

/** A worker as dispatch sees it. */
export interface DispatchTarget<C extends Waiter> extends Candidate {
  /** Hands the connection over; false when the worker cannot take it now (it stays with the dispatcher). */
  hand(connection: C): boolean;
  /** Connections are queued (on) or have not been for a while (off): while on, it reports room ('free'). */
  watch(on: boolean): void;
  /** Since when (epoch ms) the oldest queued request waits, 0 when none (no linger): it then keeps no idle connection. */
  queueWaitingSince(since: number): void;
}

export interface DispatchSettings {
  maxConcurrency: number;
  /** listen.queue_max (0: unbounded) and listen.queue_timeout in ms (0: none). */
  queueMax: number;
  queueTimeout: number;
}

/** The edges: where loads are read from, and how a request the pool will not serve is answered. */
export interface DispatchEdges<C, W> {
  /** Brings each worker's `load` up to date (its scoreboard slot). */
  refreshLoads(workers: Iterable<W>): void;
  /** Answers 503 and closes. */
  refuse(connection: C): void;
}

interface DispatcherEvents {
  /** A request reached a worker after waiting this long in the queue. */
  handed: [waitedSeconds: number];
  /** A request joined the queue, now this long. */
  queued: [length: number];
}

/**
 * Workers report room only while requests are queued, and a little after:
 * the rest of the time the dispatcher reads loads when it needs them. Short,
 * because while it lasts every request a worker ends sends a record.
 */
const WATCH_LINGER_MS = 100;

/**
 * Who serves each request: a worker with room now, else the FIFO queue
 * (bounded by listen.queue_max, timed by listen.queue_timeout) until one has
 * room. Knows the workers that take new requests, not how they run.
 */
export class Dispatcher<C extends Waiter, W extends DispatchTarget<C>> extends EventEmitter<DispatcherEvents> {
  private readonly queue = new DispatchQueue<C>();
  private readonly workers = new Set<W>();
  private queueTimer: NodeJS.Timeout | null = null;
  /** Last time (epoch ms) a request was waiting in the queue. */
  private lastQueuedAt = 0;
  /** What the workers were last told of the oldest queued request's wait. */
  private toldQueueSince = 0;

  constructor(
    private settings: DispatchSettings,
    private readonly edges: DispatchEdges<C, W>,
  ) {
    super();
  }

  get queued(): number {
    return this.queue.length;
  }

  configure(settings: DispatchSettings): void {
    this.settings = settings;
  }

  /** Workers that take new requests from now on. */
  add(worker: W): void {
    this.workers.add(worker);
    worker.queueWaitingSince(this.toldQueueSince);
  }

  remove(worker: W): void {
    this.workers.delete(worker);
  }

  /** Routes to these workers only (a reload's switch to the new generation). */
  replaceWorkers(workers: Iterable<W>): void {
    for (const worker of this.workers) worker.watch(false);
    this.workers.clear();
    for (const worker of workers) this.add(worker);
  }

  /** A request has arrived: to a worker with room, else to the queue, else refused. */
  offer(connection: C): void {
    if (connection.closed) return;
    if (this.queue.length === 0) {
      this.edges.refreshLoads(this.workers);
      const worker = selectWorker(this.workers, this.settings.maxConcurrency);
      if (worker?.hand(connection)) {
        this.emit('handed', 0);
        return;
      }
    }
    const { queueMax } = this.settings;
    if (queueMax > 0 && this.queue.length >= queueMax) {
      this.edges.refuse(connection);
      return;
    }
    connection.since = Date.now();
    this.queue.push(connection);
    this.armQueueTimeout();
    this.syncWatch();
    // The workers were told of the queue only now: one that freed up since
    // their loads were read may have ended its request without reporting room
    // (it saw no queue). Its slot shows the room, read again here.
    if (this.queue.length === 1) this.drain();
    if (this.queue.length === 0) return;
    this.emit('queued', this.queue.length);
  }

  /**
   * A request handed to a worker that turned out to have no room (it gave it
   * back unread): it was at the head of the line, and goes first again.
   */
  retry(connection: C): void {
    if (connection.closed) return;
    this.queue.unshift(connection);
    this.drain();
    if (this.queue.length > 0) {
      this.armQueueTimeout();
      this.emit('queued', this.queue.length);
    }
  }

  /** Room may have appeared (a worker ready, a request ended, a worker gone): serve the queue in order. */
  drain(): void {
    const hadQueue = this.queue.length > 0;
    if (hadQueue) {
      this.edges.refreshLoads(this.workers);
      // A worker that could not take one (its channel full) is not asked again in this pass.
      const refused = new Set<W>();
      while (this.queue.length > 0) {
        const worker = selectWorker(this.candidates(refused), this.settings.maxConcurrency);
        if (!worker) break;
        const next = this.queue.shift()!;
        if (next.closed) continue;
        if (worker.hand(next)) this.emit('handed', (Date.now() - next.since) / 1000);
        else {
          this.queue.unshift(next);
          refused.add(worker);
        }
      }
      // The watch lingers from the moment the queue emptied, not from when it was last seen waiting.
      this.lastQueuedAt = Date.now();
    }
    this.syncWatch();
  }

  /** Answers everything queued with 503 (an immediate stop). */
  refuseAll(): void {
    for (const connection of this.queue.drain()) this.edges.refuse(connection);
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = null;
  }

  /** Asks for room reports while requests wait, and for a little while after. */
  syncWatch(): void {
    const now = Date.now();
    if (this.queue.length > 0) this.lastQueuedAt = now;
    const on = now - this.lastQueuedAt < WATCH_LINGER_MS;
    const since = this.queue.peek()?.since ?? 0;
    for (const worker of this.workers) {
      worker.watch(on);
      if (since !== this.toldQueueSince) worker.queueWaitingSince(since);
    }
    this.toldQueueSince = since;
  }

  private *candidates(except: ReadonlySet<W>): Generator<W> {
    for (const worker of this.workers) if (!except.has(worker)) yield worker;
  }

  /** listen.queue_timeout: a request that waited too long gets 503 instead of hanging. */
  private armQueueTimeout(): void {
    const timeout = this.settings.queueTimeout;
    if (timeout <= 0 || this.queueTimer || this.queue.length === 0) return;
    const oldest = this.queue.peek()!;
    this.queueTimer = setTimeout(
      () => {
        this.queueTimer = null;
        const cutoff = Date.now() - this.settings.queueTimeout;
        while (this.queue.length > 0 && this.queue.peek()!.since <= cutoff) this.edges.refuse(this.queue.shift()!);
        // The oldest waiting request is another one now (or none): the workers go by its wait.
        this.syncWatch();
        this.armQueueTimeout();
      },
      Math.max(0, oldest.since + timeout - Date.now()),
    );
  }
}
