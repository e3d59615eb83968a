import { LOOP_STALL_MS } from '../ipc/records.js';
import type { Slot } from '../scoreboard/layout.js';
import type { ScoreboardReading, TimedWorker } from './request-timeouts.js';

/**
 * Whether a worker whose event loop last beat at `lastBeat` (monotonic ms; 0:
 * not yet) is stalled at `now`: it must get no new connection.
 */
export function loopStalled(lastBeat: number, now: number): boolean {
  return lastBeat > 0 && now - lastBeat > LOOP_STALL_MS;
}

/** A worker as the loop watch knows it. */
export interface WatchedWorker extends TimedWorker {
  /** Only a ready worker is judged: one starting has no loop to watch yet, one stopping is bounded by its stop. */
  phase: string;
  /** Its heartbeat (connection-table.ts), monotonic ms. */
  lastBeat: number;
}

export interface BlockedLoop<W> {
  worker: W;
  /** Its slot as read: its last request. */
  slot: Slot;
  blockedMs: number;
}

/**
 * The ready workers whose event loop has not turned for longer than
 * `limitMs` (pm.max_loop_block; 0: none) while no request of theirs runs: a
 * loop blocked inside a request is request_terminate_timeout's, as in FPM.
 * A slot counts only for the worker that owns it by index and pid.
 */
export function findBlockedLoops<W extends WatchedWorker>(
  readings: Iterable<ScoreboardReading<W>>,
  limitMs: number,
  now: number,
): BlockedLoop<W>[] {
  if (limitMs <= 0) return [];
  const found: BlockedLoop<W>[] = [];
  for (const { slots, workers } of readings) {
    for (const worker of workers) {
      const slot = slots[worker.slot];
      if (worker.phase !== 'ready' || worker.lastBeat <= 0 || slot?.pid !== worker.pid || slot.active > 0) continue;
      const blockedMs = now - worker.lastBeat;
      if (blockedMs > limitMs) found.push({ worker, slot, blockedMs });
    }
  }
  return found;
}
