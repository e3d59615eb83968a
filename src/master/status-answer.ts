// What the master answers `poold status` with: each pool's scoreboard as it
// reads it, and what only it can add — its workers' usage from /proc, the
// responses it sent itself, its restarts.
import type { PoolStats } from '../pool/accounting.js';
import type { ScoreboardSnapshot } from '../scoreboard/file.js';
import { readProcessUsage, type ProcessUsage } from '../system/process-usage.js';

/** One pool in the answer. */
export interface PoolReading extends ScoreboardSnapshot {
  /** Epoch ms when the master read it: CPU shares and rates are computed between two of these. */
  readAt: number;
  /** One entry for each of `slots` (only the slots that are not Free are sent), in the same order. */
  workers: { index: number; usage: ProcessUsage | null }[];
  masterResponses: PoolStats['masterResponses'];
  restarts: PoolStats['restarts'];
}

/** What the answer needs of a pool. */
export interface ReadablePool {
  readonly stats: PoolStats;
  snapshot(): ScoreboardSnapshot | null;
}

/** The pool as the master sees it now; null before its first header. */
export function readPool(pool: ReadablePool, usageOf: (pid: number) => ProcessUsage | null = readProcessUsage): PoolReading | null {
  const snapshot = pool.snapshot();
  if (!snapshot) return null;
  const readAt = Date.now();
  // Free slots stay out: they say nothing, and a big pool has thousands.
  const busy = snapshot.slots.flatMap((slot, index) => (slot.state === 'Free' ? [] : [{ slot, index }]));
  return {
    header: snapshot.header,
    slots: busy.map(({ slot }) => slot),
    // A slot still Starting has no pid yet.
    workers: busy.map(({ slot, index }) => ({ index, usage: slot.pid > 0 ? usageOf(slot.pid) : null })),
    readAt,
    masterResponses: { ...pool.stats.masterResponses },
    restarts: { ...pool.stats.restarts },
  };
}
