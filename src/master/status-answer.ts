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

type UsageReader = (pid: number) => Promise<ProcessUsage | null>;

/** The pool as the master sees it now; null before its first header. */
export async function readPool(pool: ReadablePool, usageOf: UsageReader = readProcessUsage): Promise<PoolReading | null> {
  const snapshot = pool.snapshot();
  if (!snapshot) return null;
  const readAt = Date.now();
  // Free slots stay out: they say nothing, and a big pool has thousands.
  const busy = snapshot.slots.flatMap((slot, index) => (slot.state === 'Free' ? [] : [{ slot, index }]));
  // A slot still Starting has no pid yet.
  const usages = await Promise.all(busy.map(({ slot }) => (slot.pid > 0 ? usageOf(slot.pid) : null)));
  return {
    header: snapshot.header,
    slots: busy.map(({ slot }) => slot),
    workers: busy.map(({ index }, i) => ({ index, usage: usages[i] ?? null })),
    readAt,
    masterResponses: { ...pool.stats.masterResponses },
    restarts: { ...pool.stats.restarts },
  };
}

/** Every pool that has a header, in order. */
export async function readPools(pools: readonly ReadablePool[]): Promise<PoolReading[]> {
  const readings = await Promise.all(pools.map((pool) => readPool(pool)));
  return readings.filter((reading) => reading !== null);
}
