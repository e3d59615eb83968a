// One definition, for every status view (FPM's formats, /metrics, poold
// status), of whether a slot's request is in flight and how long it has run.
import type { Slot } from '../scoreboard/layout.js';

/**
 * Whether the slot's request is under way. Reading headers is not: a
 * connection is there, but no request has begun, and the slot still holds the
 * previous request's start.
 */
export function requestInFlight(slot: Slot): boolean {
  return slot.state === 'Running' || slot.active > 0;
}

/** µs: the request in flight so far (now − its start), else the last request's duration. */
export function requestDurationUs(slot: Slot, now: number): number {
  if (requestInFlight(slot) && slot.requestStart > 0) return Math.max(0, Math.round((now - slot.requestStart) * 1000));
  return Math.max(0, Math.round(slot.requestDuration));
}
