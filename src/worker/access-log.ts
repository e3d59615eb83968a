import { closeSync, openSync, writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileAccessFormat, isSuppressed, type AccessFormatter } from '../log/access-format.js';
import { inheritedDescriptor, writeToDescriptor } from '../log/inherited-fd.js';

export interface AccessLogSettings {
  file: string;
  format: string;
  suppressPaths: string[];
  pool: string;
  app: string;
}

/** What the worker measured of a finished request. */
export interface RequestFacts {
  startedAt: number;
  cpuAtStart: NodeJS.CpuUsage;
  user: string;
  rss: number;
}

/**
 * A pool's access log, written by each worker after each request (as FPM's
 * workers do), with O_APPEND so lines from all workers interleave whole.
 * Reopened on the master's word after logrotate renamed the file.
 */
export class AccessLog {
  private fd: number;
  private readonly format: AccessFormatter;
  /** The master's descriptor (/dev/stdout, …), written to as it is: never opened, never reopened. */
  private readonly inherited: boolean;

  constructor(private readonly settings: AccessLogSettings) {
    this.format = compileAccessFormat(settings.format);
    const fd = inheritedDescriptor(settings.file);
    this.inherited = fd !== null;
    this.fd = fd ?? openSync(settings.file, 'a', 0o640);
  }

  reopen(): void {
    if (this.inherited) return;
    const previous = this.fd;
    this.fd = openSync(this.settings.file, 'a', 0o640);
    closeSync(previous);
  }

  write(req: IncomingMessage, res: ServerResponse, facts: RequestFacts): void {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const uri = queryAt === -1 ? url : url.slice(0, queryAt);
    if (isSuppressed(uri, this.settings.suppressPaths)) return;
    const now = Date.now();
    const durationMs = now - facts.startedAt;
    const cpu = process.cpuUsage(facts.cpuAtStart);
    const percent = (micros: number) => (durationMs > 0 ? (micros / 1000 / durationMs) * 100 : 0);
    const line = this.format(
      {
        remoteAddr: req.socket.remoteAddress ?? '',
        user: facts.user === '-' ? '' : facts.user,
        receivedAt: facts.startedAt,
        method: req.method ?? '',
        uri,
        query: queryAt === -1 ? '' : url.slice(queryAt + 1),
        status: res.statusCode,
        durationMs,
        contentLength: Number(req.headers['content-length'] ?? 0) || 0,
        memory: facts.rss,
        cpu: { user: percent(cpu.user), system: percent(cpu.system) },
        script: this.settings.app,
        pid: process.pid,
        masterPid: process.ppid,
        pool: this.settings.pool,
        requestHeaders: req.headers,
        responseHeaders: res.getHeaders(),
        env: process.env,
      },
      now,
    );
    if (line === '') return;
    if (this.inherited) writeToDescriptor(this.fd, `${line}\n`);
    else writeSync(this.fd, `${line}\n`);
  }
}
