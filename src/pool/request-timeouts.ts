import type { Slot } from '../scoreboard/layout.js';

export interface TimeoutLimits {
  /** request_terminate_timeout in ms, 0 = off. */
  terminate: number;
  /** request_slowlog_timeout in ms, 0 = off. */
  slowlog: number;
  /** pm.max_loop_block in ms, 0 or absent = off (loop-watch.ts): checked on the same timer. */
  loopBlock?: number;
}

export interface OverdueRequest {
  slot: number;
  kind: 'terminate' | 'slow';
  elapsedMs: number;
}

/**
 * Requests past a limit, from a scoreboard snapshot. Only running requests
 * count: slow request headers are http.headers_timeout's job. `slowSeen` holds the
 * `${pid}:${requestStart}` keys of requests already reported slow, so each is
 * reported once.
 */
export function findOverdue(
  slots: readonly Slot[],
  limits: TimeoutLimits,
  now: number,
  slowSeen: ReadonlySet<string>,
): OverdueRequest[] {
  const overdue: OverdueRequest[] = [];
  slots.forEach((slot, index) => {
    if (slot.state !== 'Running' || slot.requestStart <= 0) return;
    const elapsedMs = now - slot.requestStart;
    if (limits.terminate > 0 && elapsedMs > limits.terminate) {
      overdue.push({ slot: index, kind: 'terminate', elapsedMs });
    } else if (
      limits.slowlog > 0 &&
      elapsedMs > limits.slowlog &&
      !slowSeen.has(`${slot.pid}:${slot.requestStart}`)
    ) {
      overdue.push({ slot: index, kind: 'slow', elapsedMs });
    }
  });
  return overdue;
}

/** A worker as the checks know it: the slot it writes in its scoreboard, its pid, and the connections it holds. */
export interface TimedWorker {
  slot: number;
  pid: number;
  held: number;
}

/** One scoreboard as read, and the live workers that write it. */
export interface ScoreboardReading<W extends TimedWorker> {
  slots: readonly Slot[];
  workers: readonly W[];
}

export interface OverdueWorker<W> {
  worker: W;
  /** Its slot as read: what it runs. */
  slot: Slot;
  kind: 'terminate' | 'slow';
  elapsedMs: number;
}

/**
 * The workers whose request is past a limit, across every scoreboard a live
 * worker writes (after a reload that grew it, the old generation keeps the
 * previous one, and slot numbers repeat between them). A slot counts only
 * for the worker that owns it by index in that scoreboard and by pid, and
 * only if that worker holds a connection: a request runs on one, and a slot
 * that says otherwise must not get a worker killed.
 */
export function findOverdueWorkers<W extends TimedWorker>(
  readings: Iterable<ScoreboardReading<W>>,
  limits: TimeoutLimits,
  now: number,
  slowSeen: ReadonlySet<string>,
): OverdueWorker<W>[] {
  const found: OverdueWorker<W>[] = [];
  for (const { slots, workers } of readings) {
    const bySlot = new Map(workers.map((worker) => [worker.slot, worker]));
    for (const overdue of findOverdue(slots, limits, now, slowSeen)) {
      const slot = slots[overdue.slot]!;
      const worker = bySlot.get(overdue.slot);
      if (worker && worker.pid === slot.pid && worker.held > 0) found.push({ worker, slot, kind: overdue.kind, elapsedMs: overdue.elapsedMs });
    }
  }
  return found;
}

/** How often the master checks: often enough that a limit fires at most ~10% late. */
export function timeoutCheckInterval(limits: TimeoutLimits): number | null {
  const active = [limits.terminate, limits.slowlog, limits.loopBlock ?? 0].filter((ms) => ms > 0);
  if (active.length === 0) return null;
  return Math.min(1000, Math.max(100, Math.min(...active) / 10));
}
