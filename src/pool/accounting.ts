// A pool's counters and the scoreboard header made of them: FPM's pool
// fields, which outlive its workers and its reloads.
import { effectiveBacklog } from '../config/system-limits.js';
import type { PoolConfig } from '../config/types.js';
import { countInto, emptyHistogram, type DurationHistogram, type PoolHeader } from '../scoreboard/layout.js';
import { MASTER_STATUSES, type MasterStatus } from './raw-response.js';
import type { StopReason, WorkerPhase } from './worker-process.js';

export type RestartReason = StopReason | 'crash';

/** Upper bounds, in seconds, of poold_queue_wait_seconds (one more bucket counts everything slower). */
export const QUEUE_WAIT_BUCKETS = [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] as const;

/**
 * Counts one dispatch's wait. The pool keeps the counts and metrics read them
 * when scraped: a prom-client histogram's observe() hashes its labels on
 * every call, which cost a fiftieth of the master's time per connection.
 */
export function countQueueWait(waits: DurationHistogram, seconds: number): void {
  countInto(waits, QUEUE_WAIT_BUCKETS, seconds);
}

/** FPM's pool counters, plus poold's own; they live as long as the pool, across reloads. */
export interface PoolStats {
  startTime: number;
  acceptedConn: number;
  maxListenQueue: number;
  maxActive: number;
  maxChildrenReached: number;
  slowRequests: number;
  /**
   * Connections a worker gave back for another to serve their next request
   * (it was full, or stopping): each costs about a new connection's dispatch.
   */
  moves: number;
  restarts: Record<RestartReason, number>;
  /** Responses the master sent itself, by status. */
  masterResponses: Record<MasterStatus, number>;
  /** Connections by their wait in the master's queue, over QUEUE_WAIT_BUCKETS. */
  queueWaits: DurationHistogram;
}

export function newStats(): PoolStats {
  return {
    startTime: Date.now(),
    acceptedConn: 0,
    maxListenQueue: 0,
    maxActive: 0,
    maxChildrenReached: 0,
    slowRequests: 0,
    moves: 0,
    restarts: {
      crash: 0,
      max_requests: 0,
      max_memory: 0,
      idle: 0,
      terminate_timeout: 0,
      loop_block: 0,
      reload: 0,
      shutdown: 0,
    },
    masterResponses: Object.fromEntries(MASTER_STATUSES.map((status) => [status, 0])) as Record<MasterStatus, number>,
    queueWaits: emptyHistogram(QUEUE_WAIT_BUCKETS),
  };
}

/** What the header needs of a worker. */
export interface CountedWorker {
  phase: WorkerPhase;
  load: number;
}

/** Idle (ready, nothing in flight) and active (the rest) live workers, as FPM counts them. */
export function countWorkers(workers: Iterable<CountedWorker>): { idle: number; active: number } {
  let idle = 0;
  let active = 0;
  for (const worker of workers) {
    if (worker.phase === 'exited') continue;
    if (worker.phase === 'ready' && worker.load === 0) idle++;
    else active++;
  }
  return { idle, active };
}

/** The pool's scoreboard header. */
export function poolHeader(
  config: PoolConfig,
  stats: PoolStats,
  now: { workers: Iterable<CountedWorker>; listenQueue: number; readingHeaders: number; slotCount: number },
): PoolHeader {
  const { idle, active } = countWorkers(now.workers);
  return {
    pool: config.name,
    pm: config.pm,
    startTime: stats.startTime,
    acceptedConn: stats.acceptedConn,
    listenQueue: now.listenQueue,
    maxListenQueue: stats.maxListenQueue,
    // The queue's capacity; unbounded, the kernel backlog behind it is the limit.
    listenQueueLen: config.listenQueueMax || effectiveBacklog(config.listenBacklog),
    idle,
    active,
    total: idle + active,
    maxActive: stats.maxActive,
    maxChildrenReached: stats.maxChildrenReached,
    slowRequests: stats.slowRequests,
    maxChildren: config.maxChildren,
    minSpareServers: config.minSpareServers,
    maxSpareServers: config.maxSpareServers,
    readingHeaders: now.readingHeaders,
    slotCount: now.slotCount,
  };
}
