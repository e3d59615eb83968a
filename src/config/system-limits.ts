// Limits of the machine that a configuration must fit, read where the kernel
// publishes them. Shared by the checks (`poold test`) and by the master.
import { readFileSync } from 'node:fs';
import { SYSTEM_BACKLOG } from './values.js';


/** sun_path of struct sockaddr_un on Linux, terminating NUL included. */
export const UNIX_PATH_MAX = 108;

/** The kernel's default net.core.somaxconn since Linux 5.4, when /proc cannot say. */
const DEFAULT_SOMAXCONN = 4096;

/** The backlog a listen() gets: listen.backlog, or the system maximum for -1. */
export function effectiveBacklog(backlog: number): number {
  if (backlog !== SYSTEM_BACKLOG) return backlog;
  try {
    const value = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isSafeInteger(value) && value > 0 ? value : DEFAULT_SOMAXCONN;
  } catch {
    return DEFAULT_SOMAXCONN;
  }
}

/** True when `path` fits in a unix socket address. */
export function fitsUnixSocket(path: string): boolean {
  return Buffer.byteLength(path) + 1 <= UNIX_PATH_MAX;
}
