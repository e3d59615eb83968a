// The master log's vocabulary, owned here: config reads it, never the reverse.
/** FPM's log levels, most severe first (log_level). */
export const LOG_LEVELS = ['alert', 'error', 'warning', 'notice', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** error_log's value that sends the log to syslog, as in FPM. */
export const SYSLOG = 'syslog';

/** Where local syslog daemons and journald listen for datagrams. */
export const SYSLOG_SOCKET = '/dev/log';
