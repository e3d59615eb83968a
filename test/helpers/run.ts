// Runs a command to completion for a test, with a bound: a command that hangs
// is a failure, not a hung test run.
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** The exit code, or the signal that ended it. */
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Its working directory; this process's by default. */
  cwd?: string;
}

/** Runs `command ARGS`; it is SIGKILLed, and the call rejects, after `timeoutMs`. */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  const { timeoutMs = 30_000, env = {}, input, cwd } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': every byte of its output has been read by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // it may exit before reading everything
      child.stdin.end(input);
    }
  });
}
