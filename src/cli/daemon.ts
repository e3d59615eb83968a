import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { EXIT } from '../control/exit-codes.js';

/** Set in the detached master's environment: the fd on which it reports its start. */
const REPORT_FD_ENV = 'POOLD_DAEMON_REPORT_FD';

interface StartReport {
  ok: boolean;
  code: number;
  message: string;
}

/** True in the process that a `start -D` launched. */
export function isDaemonChild(): boolean {
  return process.env[REPORT_FD_ENV] !== undefined;
}

/**
 * The launching side of `daemonize`: starts the master detached (own session,
 * no terminal) and exits only once it reports, so `poold start -D` returns 0
 * when poold serves and the error with its exit code when it could not start.
 * A master not serving within `timeoutMs` is stopped and the launch fails:
 * an init system or script waiting on `start -D` never waits forever.
 */
export function launchDaemon(args: string[], timeoutMs: number): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [REPORT_FD_ENV]: '3' },
  });
  const reportStream = child.stdio[3] as import('node:stream').Readable;
  let text = '';
  reportStream.setEncoding('utf8');
  reportStream.on('data', (chunk: string) => (text += chunk));
  return new Promise((resolve) => {
    let finished = false;
    const finish = (fallback: StartReport) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      let report = fallback;
      try {
        if (text.trim()) report = JSON.parse(text) as StartReport;
      } catch {
        // a truncated report: keep the fallback
      }
      if (report.ok) {
        process.stderr.write(`NOTICE: poold started in the background (pid ${child.pid})\n`);
      } else {
        process.stderr.write(`ERROR: ${report.message}\n`);
      }
      child.unref();
      reportStream.destroy();
      resolve(report.code);
    };
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      finish({
        ok: false,
        code: EXIT.SOFTWARE,
        message: `poold was not serving within ${timeoutMs / 1000}s (process_start_timeout and a margin): stopped it; see its error_log`,
      });
    }, timeoutMs);
    reportStream.on('end', () =>
      finish({ ok: false, code: EXIT.SOFTWARE, message: 'the background master exited before it was ready' }),
    );
    child.on('error', (err) => finish({ ok: false, code: EXIT.SOFTWARE, message: err.message }));
  });
}

/** The daemon's side: tell the launcher how the start went, once. */
export function reportToLauncher(report: StartReport): void {
  const fdText = process.env[REPORT_FD_ENV];
  if (fdText === undefined) return;
  delete process.env[REPORT_FD_ENV];
  const fd = Number(fdText);
  try {
    writeSync(fd, JSON.stringify(report));
    closeSync(fd);
  } catch {
    // the launcher is gone; nothing to tell
  }
}
