// Process-level helpers for the integration tests: running the CLI to
// completion, waiting for a started poold to exit, and telling whether a pid
// is still a running process. Every wait here is bounded.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand, type CommandResult } from './run.js';
import { FIXTURES, POOLD_BIN, tempDir, waitFor, withPrivateStatusListener, type RunningPoold } from './poold.js';

/**
 * True while `pid` is a live process. A zombie counts as dead: it runs no code
 * and holds no socket. This matters here because an orphan (a worker of a
 * SIGKILLed master, a daemonized master) is reparented to PID 1, and in a
 * container or micro-VM PID 1 does not always reap, so `kill(pid, 0)` would
 * keep succeeding on a process that is long gone.
 */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** SIGKILLs each pid that is still running; never throws. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Resolves with the master's exit code (or signal name), or throws after `timeoutMs` with the log. */
export async function waitExit(poold: RunningPoold, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`poold did not exit within ${timeoutMs} ms\n--- log:\n${poold.lines.join('\n')}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([poold.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the master's stderr and stdout have been read to the end, so `lines` is complete. */
export async function waitLogEnd(poold: RunningPoold): Promise<void> {
  const ended = () =>
    [poold.master.stderr!, poold.master.stdout!].every((stream) => stream.readableEnded || stream.destroyed);
  await waitFor('the end of the master log', ended, 5000);
}

/** The last non-empty log line. */
export function lastLine(poold: RunningPoold): string {
  return poold.lines.filter((line) => line.trim() !== '').at(-1) ?? '';
}

/** Lines the fixture app appended to REQUEST_LOG (`URL PID` each). */
export function requestLog(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, 'requests.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Writes a config (with @DIR@ and @FIXTURES@ substituted) into a fresh temp
 * dir, with a private status listener unless it sets one, as startPoold does.
 */
export function writeConfig(text: string, dir = tempDir()): { dir: string; file: string } {
  const file = path.join(dir, 'poold.conf');
  writeFileSync(file, withPrivateStatusListener(text).replaceAll('@DIR@', dir).replaceAll('@FIXTURES@', FIXTURES));
  return { dir, file };
}

export type CliResult = CommandResult;

/**
 * Runs `poold ARGS` to completion. It is SIGKILLed, and the call rejects, if it
 * takes longer than `timeoutMs`: a CLI command that hangs is a failure.
 */
export function runPoold(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCommand(process.execPath, [POOLD_BIN, ...args], { timeoutMs, env });
}

/** The pid of a process that existed and is gone (reaped): for stale pid files. */
export function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(child.pid!));
  });
}
