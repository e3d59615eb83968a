import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

export type PidFileState =
  | { kind: 'missing' }
  | { kind: 'stale'; pid: number }
  | { kind: 'running'; pid: number }
  | { kind: 'unreadable'; reason: string };

/** A zombie has exited but still answers kill(pid, 0) until its parent reaps it. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

export function readPidFile(file: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'unreadable', reason: `'${text.trim()}' is not a pid` };
  return isAlive(pid) ? { kind: 'running', pid } : { kind: 'stale', pid };
}

export function writePidFile(file: string): void {
  writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
}

/** Removes the pid file only if it is still ours (a newer master may own it). */
export function removePidFile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // already gone
  }
}
