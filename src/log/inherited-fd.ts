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
