// A pool's logs that name one of the master's descriptors (/dev/stdout,
// /proc/self/fd/N) are handed to each worker as that descriptor, since a
// worker's own descriptor N is something else (its output pipe, or nothing).
import { SCOREBOARD_FD } from '../ipc/records.js';
import { inheritedDescriptor } from '../log/inherited-fd.js';

/** A worker's stdio, IPC, dispatch channel and connection table come first (records.ts); logs follow. */
const FIRST_LOG_FD = SCOREBOARD_FD + 1;

export interface InheritedLogs<K extends string> {
  /** The paths as the worker must see them: /dev/fd/M where M carries the master's descriptor. */
  paths: Record<K, string | null>;
  /** The master's descriptors, for the worker's descriptors 7, 8, … in order. */
  fds: number[];
}

export function inheritLogs<K extends string>(paths: Record<K, string | null>): InheritedLogs<K> {
  const fds: number[] = [];
  const mapped = { ...paths };
  for (const key of Object.keys(paths) as K[]) {
    const fd = paths[key] === null ? null : inheritedDescriptor(paths[key]!);
    if (fd === null) continue;
    let index = fds.indexOf(fd);
    if (index === -1) index = fds.push(fd) - 1;
    mapped[key] = `/dev/fd/${FIRST_LOG_FD + index}`;
  }
  return { paths: mapped, fds };
}
