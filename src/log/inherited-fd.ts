import { writeSync } from 'node:fs';
// Log paths that name one of the process's own descriptors, the usual
// container setting (`access.log = /dev/stdout`). Opening them again does not
// work when the descriptor is a socket (ENXIO: a journald stream, or a worker's
// catch_workers_output pipe); poold writes to the descriptor itself instead.

const NAMED: Record<string, number> = { '/dev/stdout': 1, '/dev/stderr': 2 };
const NUMBERED = /^\/(?:proc\/self|dev)\/fd\/(\d{1,4})$/;

/** The descriptor `file` names (/dev/stdout → 1, /proc/self/fd/N → N), or null for an ordinary path. */
export function inheritedDescriptor(file: string): number | null {
  const named = NAMED[file];
  if (named !== undefined) return named;
  const match = NUMBERED.exec(file);
  return match ? Number(match[1]) : null;
}

/** How often a write to a full non-blocking descriptor is retried before the line is dropped. */
const FULL_RETRIES = 100;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to a descriptor poold did not open. It may be
 * non-blocking (a socket the master's Node set so), so a full one is waited
 * on briefly, a bounded number of times; a reader that never drains loses
 * lines rather than stalling the writer forever. Returns false when dropped.
 */
export function writeToDescriptor(fd: number, text: string): boolean {
  let bytes = Buffer.from(text);
  for (let attempt = 0; attempt < FULL_RETRIES; ) {
    try {
      const written = writeSync(fd, bytes);
      if (written === bytes.length) return true;
      bytes = bytes.subarray(written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      attempt++;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
  return false;
}
