import { createWriteStream } from 'node:fs';
import winston from 'winston';
import { LOG_LEVELS, SYSLOG, type LogLevel } from './levels.js';
import { inheritedDescriptor } from './inherited-fd.js';
import { SyslogTransport } from './syslog-transport.js';
import { fpmTimestamp } from './timestamp.js';

/** FPM's levels, most severe first, so `log_level` filters the same way. */
const LEVELS = Object.fromEntries(LOG_LEVELS.map((level, rank) => [level, rank])) as Record<LogLevel, number>;

export type Logger = winston.Logger & Record<LogLevel, winston.LeveledLogMethod>;

/** What FPM's zlog puts at the end of a line cut at log_limit. */
const CUT_MARK = '...';

/**
 * A pool's lines (a child logger with `{ pool }`, see forPool) begin with
 * `[pool www]`, as FPM's: before any transport, syslog's too, sees the message.
 */
const poolPrefix = winston.format((info) => {
  if (typeof info.pool === 'string') info.message = `[pool ${info.pool}] ${String(info.message)}`;
  return info;
});

/** The master's logger for one pool's lines. */
export function forPool(logger: Logger, pool: string): Logger {
  return logger.child({ pool }) as Logger;
}

/** `[22-Nov-2026 01:02:03] NOTICE: [pool www] child 1234 started`, as FPM writes it, cut at `limit` bytes. */
function fpmLine(limit: number): winston.Logform.Format {
  return winston.format.printf((info) => {
    const line = `[${fpmTimestamp()}] ${info.level.toUpperCase()}: ${String(info.message)}`;
    if (Buffer.byteLength(line) <= limit) return line;
    return `${Buffer.from(line).subarray(0, limit - CUT_MARK.length).toString('utf8').replace(/\uFFFD$/, '')}${CUT_MARK}`;
  });
}

/** Where the master's log goes: error_log, log_limit, syslog.ident and syslog.facility. */
export interface LogSettings {
  errorLog: string | null;
  logLimit: number;
  syslogIdent: string;
  syslogFacility: string;
}

function transportFor({ errorLog, logLimit, syslogIdent, syslogFacility }: LogSettings): winston.transport {
  if (errorLog === null) {
    return new winston.transports.Console({ stderrLevels: Object.keys(LEVELS) });
  }
  if (errorLog === SYSLOG) {
    return new SyslogTransport({
      ident: syslogIdent,
      facility: syslogFacility,
      limit: logLimit,
      onFailure: (message) => process.stderr.write(`poold: ${message}\n`),
    });
  }
  const fd = inheritedDescriptor(errorLog);
  if (fd !== null) {
    // Written to as inherited: opening /dev/stderr again fails when it is a socket (journald).
    const stream = fd === 1 ? process.stdout : fd === 2 ? process.stderr : createWriteStream('', { fd, autoClose: false });
    return new winston.transports.Stream({ stream });
  }
  return new winston.transports.File({ filename: errorLog, options: { flags: 'a' } });
}

export function createLogger(settings: LogSettings, level: LogLevel): Logger {
  const logger = winston.createLogger({
    levels: LEVELS,
    level,
    format: winston.format.combine(poolPrefix(), fpmLine(settings.logLimit)),
    transports: [transportFor(settings)],
  }) as Logger;
  logger.on('error', (err: unknown) => {
    // The log itself failed (disk full, file removed): stderr is all that is left.
    process.stderr.write(`poold: cannot write the error log: ${String(err)}\n`);
  });
  return logger;
}

/** Resolves once every line logged so far has been written out. */
export async function flushLogger(logger: Logger): Promise<void> {
  const syslog = logger.transports.filter((transport) => transport instanceof SyslogTransport);
  await new Promise<void>((resolve) => {
    logger.once('finish', () => resolve());
    logger.end();
  });
  await Promise.all(syslog.map((transport) => transport.drain()));
}

/**
 * Reopens the error log file after logrotate renamed it. winston has no reopen
 * (winstonjs/winston#943): the new transport is added before the old one is
 * removed, so no line is lost, and the old one is awaited until closed.
 */
export async function reopenLogger(logger: Logger, settings: LogSettings): Promise<void> {
  if (settings.errorLog === null) return;
  const previous = logger.transports.slice();
  logger.add(transportFor(settings));
  await Promise.all(
    previous.map((transport) => {
      // Only a file transport closes; a descriptor's stream stays open for the process.
      if (!(transport instanceof winston.transports.File)) return void logger.remove(transport);
      return new Promise<void>((resolve) => {
        transport.once('closed', () => resolve());
        logger.remove(transport);
      });
    }),
  );
}
