// error_log = syslog. Node has no unix datagram socket, so the lines go
// through one long-lived logger(1) (util-linux, in every Debian system): it
// reads them on its stdin and sends each to the local syslog socket, with
// the priority poold puts in front of the line.
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import winston from 'winston';
import type TransportStream from 'winston-transport';
import { SYSLOG_SOCKET, type LogLevel } from './levels.js';


/** syslog(3) severities of FPM's levels. */
const SEVERITY: Record<LogLevel, number> = { alert: 1, error: 3, warning: 4, notice: 5, debug: 7 };

/** How long a stopping master waits for logger(1) to send what it was given. */
const DRAIN_MS = 2000;

export interface SyslogSettings {
  ident: string;
  facility: string;
  /** log_limit: logger(1) cuts longer messages itself. */
  limit: number;
  /** Told once if logger(1) cannot run or stops with an error. */
  onFailure: (message: string) => void;
}

// winston exports the transport base class as `Transport`; its types call it `transport`.
const TransportBase = (winston as unknown as { Transport: typeof TransportStream }).Transport;

export class SyslogTransport extends TransportBase {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(settings: SyslogSettings) {
    super();
    const subprocess = execa(
      'logger',
      ['--prio-prefix', `--id=${process.pid}`, '-t', settings.ident, '-p', `${settings.facility}.notice`, '-S', String(settings.limit), '-u', SYSLOG_SOCKET],
      // Its own session, as the workers: a terminal's Ctrl-C must not take the log away while the master drains.
      { stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, detached: true },
    );
    this.child = subprocess as unknown as ChildProcess;
    let stderr = '';
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    this.child.stdin?.on('error', () => {}); // logger(1) gone: reported by its exit below
    this.exited = subprocess.then(({ failed, message }) => {
      if (failed) settings.onFailure(`error_log = syslog: logger(1) failed: ${stderr.trim() || message}`);
    });
  }

  override log(info: { level: string; message: unknown }, next: () => void): void {
    const severity = SEVERITY[info.level as LogLevel] ?? SEVERITY.notice;
    // One message per line: a line break inside one would start another.
    const text = String(info.message).replaceAll('\n', ' ');
    this.child.stdin?.write(`<${severity}>${info.level.toUpperCase()}: ${text}\n`);
    next();
  }

  override close(): void {
    this.child.stdin?.end();
  }

  /** Closes logger(1)'s input and resolves once it has sent everything (or after a bound). */
  drain(): Promise<void> {
    this.close();
    return Promise.race([this.exited, new Promise<void>((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
  }
}
