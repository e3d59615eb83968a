import { closeSync, openSync, readdirSync } from 'node:fs';
import { nativeBinding } from '../native/binding.js';

/** Descriptors left free below which the master counts as at its limit: libuv's reserve and the probe itself. */
const AT_LIMIT_MARGIN = 4;

/**
 * Descriptors a pool keeps free by refusing new connections (503) instead
 * of holding them: starting a worker takes about ten at once, and refused
 * connections hold theirs while their 503 goes out.
 */
export const CONNECTION_RESERVE = 32;

/** True for the errors that say "no descriptor left": the process's limit (EMFILE) or the system's (ENFILE). */
export function isDescriptorShortage(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** Why a worker could not be started at all, as the pool judges it. */
export interface SpawnFailure {
  message: string;
  /**
   * For lack of a resource (descriptors, processes, memory): it passes when
   * the resource comes back, so it backs off but never fails a start.
   */
  shortage: boolean;
}

const SHORTAGES = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);

export function spawnFailure(err: unknown): SpawnFailure {
  return { message: describeError(err), shortage: SHORTAGES.has((err as NodeJS.ErrnoException | null)?.code ?? '') };
}

/** An error as a log line tells it: a descriptor shortage with the count and the limit. */
export function describeError(err: unknown): string {
  const message = (err as Error | null)?.message ?? String(err);
  return isDescriptorShortage(err) ? `${message} (${describeOpenFiles()})` : message;
}

/**
 * "open files: N of LIMIT", for log lines about a shortage. At the limit,
 * /proc/self/fd cannot even be opened to count: then every one is taken.
 */
export function describeOpenFiles(): string {
  const limit = nativeBinding().getrlimit('files').soft;
  let open: number;
  try {
    // Less the descriptor readdir itself holds.
    open = readdirSync('/proc/self/fd').length - 1;
  } catch (err) {
    if (!isDescriptorShortage(err)) throw err;
    open = limit;
  }
  return `open files: ${open} of ${limit}`;
}

/**
 * Whether this process is at its open-file limit: it cannot open one more
 * descriptor, or the lowest free one is at the limit's edge (every descriptor
 * below it is open). Two system calls: cheap enough for every tick.
 */
export function atOpenFileLimit(): boolean {
  let fd: number;
  try {
    fd = openSync('/dev/null', 'r');
  } catch (err) {
    if (isDescriptorShortage(err)) return true;
    throw err;
  }
  closeSync(fd);
  return fd >= nativeBinding().getrlimit('files').soft - AT_LIMIT_MARGIN;
}

/**
 * Whether a connection just accepted on descriptor `fd` leaves fewer than
 * CONNECTION_RESERVE descriptors free. The kernel gives the lowest free
 * number, so every descriptor below `fd` is open: no count needed.
 */
export function inConnectionReserve(fd: number): boolean {
  return fd >= nativeBinding().getrlimit('files').soft - CONNECTION_RESERVE;
}
