import { closeSync, constants, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

export type PidFileState =
  | { kind: 'missing' }
  | { kind: 'stale'; pid: number }
  | { kind: 'running'; pid: number }
  | { kind: 'unreadable'; reason: string; denied?: boolean };

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
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    if (code === 'EACCES') return { kind: 'unreadable', reason: 'permission denied', denied: true };
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'unreadable', reason: `'${text.trim()}' is not a pid` };
  return isAlive(pid) ? { kind: 'running', pid } : { kind: 'stale', pid };
}

/**
 * Writes this process's pid. It goes to a new file beside `file` (O_EXCL and
 * O_NOFOLLOW: never a name someone prepared) that is renamed over it: rename
 * replaces a symlink itself, never the file it points to.
 */
export function writePidFile(file: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    const fd = openSync(temp, flags, 0o644);
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already renamed
    }
    throw new Error(`cannot write the pid file ${file}: ${(err as Error).message}`);
  }
}

/** The command line of a live process (empty when /proc cannot tell). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** True when `argv` is `node …/poold[.js] start …`, the command line of a poold master. */
export function isMasterCommandLine(argv: readonly string[]): boolean {
  const script = argv[1];
  return script !== undefined && /^poold(\.js)?$/.test(path.basename(script)) && argv.slice(2).includes('start');
}

/** Removes the pid file only if it is still ours (a newer master may own it). */
export function removePidFile(file: string): void {
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // already gone
  }
}
