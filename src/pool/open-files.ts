import { closeSync, openSync, readdirSync } from 'node:fs';
import { nativeBinding } from '../native/binding.js';

/** Descriptors left free below which the master counts as at its limit: libuv's reserve and the probe itself. */
const AT_LIMIT_MARGIN = 4;

/** True for the errors that say "no descriptor left": the process's limit (EMFILE) or the system's (ENFILE). */
export function isDescriptorShortage(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
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
