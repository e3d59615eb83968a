// What a worker's exit means and how the log tells it: whether it counts as a
// failed start (and so backs off), and which request it took down with it.
import type { Slot } from '../scoreboard/layout.js';
import { describeExit, type WorkerExit } from './worker-process.js';

/** Signals a process gets from its own fault or abort; any other was sent by someone. */
const FAULT_SIGNALS = new Set<NodeJS.Signals>(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS', 'SIGTRAP']);

/**
 * Whether an exit is a failed start, to back off from: the worker never
 * became ready and the master did not stop it. One killed by a signal someone
 * sent (a kill storm, an operator) is not the app's failure, once the pool has
 * served; before that, every such exit counts, so that an app killed while
 * loading (the OOM killer) still fails the start instead of looping.
 */
export function isStartFailure(exit: WorkerExit, stoppedByMaster: boolean, poolHasServed: boolean): boolean {
  if (!exit.beforeReady || stoppedByMaster) return false;
  if (exit.signal === null || !poolHasServed) return true;
  return FAULT_SIGNALS.has(exit.signal);
}

/** ", during request "GET /uri" (1.204000 sec)" when its slot shows a request running, else "". */
export function inFlightRequest(slot: Slot | null, pid: number, now: number): string {
  if (!slot || slot.pid !== pid || slot.state !== 'Running' || slot.requestStart <= 0) return '';
  const seconds = (Math.max(0, now - slot.requestStart) / 1000).toFixed(6);
  const others = slot.active > 1 ? ` and ${slot.active - 1} other request(s)` : '';
  return `, during request "${slot.method} ${slot.uri}" (${seconds} sec)${others}`;
}

/** FPM's exit line ("child N exited on signal 9 (SIGKILL) after 4.8 seconds from start"), with the request it was serving. */
export function exitLine(prefix: string, exit: WorkerExit, lastSlot: Slot | null, pid: number, now: number): string {
  const uptime = (exit.uptimeMs / 1000).toFixed(6);
  return `${prefix} ${describeExit(exit)} after ${uptime} seconds from start${inFlightRequest(lastSlot, pid, now)}`;
}
