import type { Slot } from '../scoreboard/layout.js';

export interface TimeoutLimits {
  /** request_terminate_timeout in ms, 0 = off. */
  terminate: number;
  /** request_slowlog_timeout in ms, 0 = off. */
  slowlog: number;
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

/** How often the master checks: often enough that a limit fires at most ~10% late. */
export function timeoutCheckInterval(limits: TimeoutLimits): number | null {
  const active = [limits.terminate, limits.slowlog].filter((ms) => ms > 0);
  if (active.length === 0) return null;
  return Math.min(1000, Math.max(100, Math.min(...active) / 10));
}
