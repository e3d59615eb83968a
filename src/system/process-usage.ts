import { readFile } from 'node:fs/promises';

/** What a process uses now, as /proc shows it to anyone. */
export interface ProcessUsage {
  rssBytes: number;
  /** CPU time (user + system) since the process started. */
  cpuSeconds: number;
}

/**
 * The unit of /proc's CPU times: USER_HZ, which the kernel fixes at 100 for
 * user space on every architecture Node runs on, whatever its own HZ.
 */
const USER_HZ = 100;

/** utime + stime of /proc/PID/stat, in seconds; null when the line is not one. */
export function cpuSecondsOf(stat: string): number | null {
  // The command name, in parentheses, may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5); the text after ')' begins with field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) && fields.length > 12 ? (utime + stime) / USER_HZ : null;
}

/** VmRSS of /proc/PID/status, in bytes; null when absent (a zombie has none). */
export function rssBytesOf(status: string): number | null {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * The usage of process `pid`, or null when it is gone (or /proc cannot say).
 * Read asynchronously: the master reads it for every worker, and its event
 * loop must not wait for hundreds of reads.
 */
export async function readProcessUsage(pid: number): Promise<ProcessUsage | null> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    const cpuSeconds = cpuSecondsOf(stat);
    const rssBytes = rssBytesOf(status);
    return cpuSeconds === null || rssBytes === null ? null : { rssBytes, cpuSeconds };
  } catch {
    return null;
  }
}
