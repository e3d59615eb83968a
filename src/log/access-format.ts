import { Buffer } from 'node:buffer';
import { compileStrftime } from './strftime.js';

/**
 * FPM's `access.format` (fpm_log.c), compiled once per pool into a function
 * that the worker runs after every request.
 *
 * The format is parsed by `compileAccessFormat`, which returns a closure over
 * a flat list of parts: a request costs one string concatenation per part and
 * no regex or re-parsing. Times (%t, %T) are rendered at most once per second
 * per part and reused, since no supported strftime code is finer than that.
 */

/**
 * FPM formats each access line in a fixed `FPM_LOG_BUFFER` of 1024 bytes and
 * truncates what does not fit (with the NOTICE `ACCESS_LOG_TRUNCATED_NOTICE`).
 * A formatted line is at most this many UTF-8 bytes, the newline not counted.
 */
export const ACCESS_LOG_BUFFER = 1024;

/** FPM's NOTICE when a line hit `ACCESS_LOG_BUFFER`. */
export const ACCESS_LOG_TRUNCATED_NOTICE = `the log buffer is full (${ACCESS_LOG_BUFFER}). The access log request has been truncated.`;

/** FPM's `access.format` default. */
export const DEFAULT_ACCESS_FORMAT = '%R - %u %t "%m %r" %s';

/** What %t and %T print without a `%{strftime}` modifier, as FPM does. */
export const DEFAULT_TIME_FORMAT = '%d/%b/%Y:%H:%M:%S %z';

type HeaderValue = number | string | readonly string[] | undefined;
type Headers = Readonly<Record<string, HeaderValue>>;

/** One finished request, as the worker saw it. */
export interface AccessRecord {
  /** %R — the client IP; '-' is printed when empty. */
  remoteAddr: string;
  /**
   * %u — the authenticated user, printed as is. FPM prints nothing when there
   * is none (OBSERVED `127.0.0.1 -  21/Nov/…`: two spaces), so '' reproduces
   * FPM's lines and '-' gives Apache's common log shape.
   */
  user: string;
  /** %t — when the request was received, epoch ms. */
  receivedAt: number;
  /** %m — '-' is printed when empty. */
  method: string;
  /** %r — the path, without the query string. */
  uri: string;
  /** %q — the query string, without '?'. */
  query: string;
  /** %s */
  status: number;
  /** %d — wall time of the request, ms. */
  durationMs: number;
  /** %l — the request's content-length. */
  contentLength: number;
  /** %M — bytes (RSS; FPM: PHP's peak memory). */
  memory: number;
  /** %C — CPU used, in % of the request's wall time. */
  cpu: { user: number; system: number };
  /** %f — the pool's app path (FPM: SCRIPT_FILENAME); '-' is printed when empty. */
  script: string;
  /** %p */
  pid: number;
  /** %P */
  masterPid: number;
  /** %n — '-' is printed when empty. */
  pool: string;
  /** %{Name}i — request headers, looked up case-insensitively. */
  requestHeaders: Headers;
  /** %{Name}o — response headers, looked up case-insensitively. */
  responseHeaders: Headers;
  /** %{VAR}e */
  env: Readonly<Record<string, string | undefined>>;
}

/** Renders one access line, without the trailing newline. `writtenAt` (epoch ms, default now) feeds %T. */
export type AccessFormatter = (record: AccessRecord, writtenAt?: number) => string;

export interface AccessFormatOptions {
  /** Called when a line was cut to `ACCESS_LOG_BUFFER` bytes (FPM logs `ACCESS_LOG_TRUNCATED_NOTICE`). */
  onTruncated?: () => void;
}

/**
 * An invalid `access.format`. `message` starts with FPM's error text,
 * `wrong format for access.format '<format>'`, followed by `: <reason>`;
 * `reason` alone is the WARNING FPM logs just before that error.
 */
export class AccessFormatError extends Error {
  override readonly name = 'AccessFormatError';

  constructor(
    readonly format: string,
    readonly reason: string,
  ) {
    super(`wrong format for access.format '${format}': ${reason}`);
  }
}

type Part = (record: AccessRecord, writtenAt: number | undefined) => string;

const modifierNotAllowed = (code: string) => `embrace is not allowed for modifier %${code}`;

/**
 * Parses an `access.format` once and returns its formatter.
 *
 * Like FPM: `%{…}` modifiers of %C, %d and %M are case-insensitive; `%{}x` is
 * the same as `%x`; a `%` at the very end prints nothing; an empty line is
 * possible (FPM then writes nothing, and so should the caller).
 *
 * @throws AccessFormatError for an unknown code, a `%{` without `}` or without
 * a code after it, a bad modifier, or a modifier on a code that takes none.
 */
export function compileAccessFormat(format: string, options: AccessFormatOptions = {}): AccessFormatter {
  const parts: Part[] = [];
  let literal = '';
  const fail = (reason: string): never => {
    throw new AccessFormatError(format, reason);
  };

  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf('%', i);
    if (percent === -1) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, percent);
    i = percent + 1;
    if (i >= format.length) break; // a trailing '%': FPM prints nothing for it

    let modifier = '';
    if (format[i] === '{') {
      const close = format.indexOf('}', i + 1);
      if (close === -1 || close === format.length - 1) {
        fail('missing closing embrace in the access.format');
      }
      modifier = format.slice(i + 1, close);
      i = close + 1;
    }
    const code = format[i++] as string;

    if (code === '%') {
      if (modifier !== '') fail(modifierNotAllowed(code));
      literal += '%';
      continue;
    }
    const part = compileCode(code, modifier, fail);
    if (literal !== '') {
      const text = literal;
      parts.push(() => text);
      literal = '';
    }
    parts.push(part);
  }
  if (literal !== '') {
    const text = literal;
    parts.push(() => text);
  }

  const count = parts.length;
  const onTruncated = options.onTruncated;
  return (record, writtenAt) => {
    let line = '';
    for (let p = 0; p < count; p++) line += parts[p]!(record, writtenAt);
    return capLine(line, onTruncated);
  };
}

function compileCode(code: string, modifier: string, fail: (reason: string) => never): Part {
  const noModifier = () => {
    if (modifier !== '') fail(modifierNotAllowed(code));
  };
  const mod = modifier.toLowerCase();

  switch (code) {
    case 'C': {
      if (mod === '' || mod === 'total') return (r) => percent(r.cpu.user + r.cpu.system);
      if (mod === 'user') return (r) => percent(r.cpu.user);
      if (mod === 'system') return (r) => percent(r.cpu.system);
      return fail(`only 'total', 'user' or 'system' are allowed as a modifier for %C ('${modifier}')`);
    }
    case 'd': {
      if (mod === '' || mod === 'seconds') return (r) => fixed3(r.durationMs / 1000);
      // 'miliseconds' and 'mili' are FPM's spellings before 8.0, still accepted.
      if (mod === 'milliseconds' || mod === 'milli' || mod === 'miliseconds' || mod === 'mili') {
        return (r) => fixed3(r.durationMs);
      }
      if (mod === 'microseconds' || mod === 'micro') return (r) => unsigned(Math.round(r.durationMs * 1000)); // rounded, to agree with %{milli}d
      return fail(
        `only 'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds' are allowed as a modifier for %d ('${modifier}')`,
      );
    }
    case 'e': {
      if (modifier === '') fail('the name of the environment variable must be set between embraces for %e');
      return envPart(modifier);
    }
    case 'f':
      noModifier();
      return (r) => r.script || '-';
    case 'i': {
      if (modifier === '') fail('the name of the header must be set between embraces for %i');
      const name = modifier.toLowerCase();
      return (r) => headerValue(r.requestHeaders, name) || '-';
    }
    case 'l':
      noModifier();
      return (r) => unsigned(r.contentLength);
    case 'm':
      noModifier();
      return (r) => r.method || '-';
    case 'M': {
      if (mod === '' || mod === 'bytes') return (r) => unsigned(r.memory);
      if (mod === 'kilobytes' || mod === 'kilo') return (r) => unsigned(r.memory / 1024);
      if (mod === 'megabytes' || mod === 'mega') return (r) => unsigned(r.memory / 1024 / 1024);
      return fail(`only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed as a modifier for %M ('${modifier}')`);
    }
    case 'n':
      noModifier();
      return (r) => r.pool || '-';
    case 'o': {
      if (modifier === '') fail('the name of the header must be set between embraces for %o');
      const name = modifier.toLowerCase();
      return (r) => headerValue(r.responseHeaders, name) || '-';
    }
    case 'p':
      noModifier();
      return (r) => String(r.pid);
    case 'P':
      noModifier();
      return (r) => String(r.masterPid);
    case 'q':
      noModifier();
      return (r) => r.query;
    case 'Q':
      noModifier();
      return (r) => (r.query === '' ? '' : '?');
    case 'r':
      noModifier();
      return (r) => r.uri;
    case 'R':
      noModifier();
      return (r) => r.remoteAddr || '-';
    case 's':
      noModifier();
      return (r) => String(r.status);
    case 't': {
      const render = compileStrftime(modifier || DEFAULT_TIME_FORMAT);
      return (r) => render(r.receivedAt);
    }
    case 'T': {
      const render = compileStrftime(modifier || DEFAULT_TIME_FORMAT);
      return (_r, writtenAt) => render(writtenAt ?? Date.now());
    }
    case 'u':
      noModifier();
      return (r) => r.user;
    default:
      return fail(`Invalid token in the access.format (%${code})`);
  }
}

/**
 * %{VAR}e. FPM reads the FastCGI environment, where request headers are
 * `HTTP_*` variables; poold's worker has no such environment, so a `HTTP_*`
 * name missing from `env` falls back to the request header
 * (`%{HTTP_USER_AGENT}e` → `user-agent`), and FPM formats keep working.
 */
function envPart(name: string): Part {
  const header = name.startsWith('HTTP_') ? name.slice(5).toLowerCase().replaceAll('_', '-') : '';
  return (r) => {
    const value = r.env[name];
    if (typeof value === 'string') return value;
    return (header && headerValue(r.requestHeaders, header)) || '-';
  };
}

/** A header's value, by lower-case name; repeated values joined with ', ' as HTTP does. '' when absent. */
function headerValue(headers: Headers, lowerName: string): string {
  let value = headers[lowerName];
  if (value === undefined) {
    // Node lower-cases header names; a record built by hand may not have.
    for (const key in headers) {
      if (key.length === lowerName.length && key.toLowerCase() === lowerName) {
        value = headers[key];
        break;
      }
    }
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.join(', ');
  return ''; // absent, or an inherited property such as `constructor`
}

const fixed3 = (n: number) => (n > 0 && Number.isFinite(n) ? n.toFixed(3) : '0.000');
const percent = (n: number) => (n > 0 && Number.isFinite(n) ? n.toFixed(2) : '0.00');
/** FPM's %zu / %lu of an integer: whole, never negative. */
const unsigned = (n: number) => (n > 0 && Number.isFinite(n) ? String(Math.floor(n)) : '0');

/** Cuts `line` to at most `ACCESS_LOG_BUFFER` UTF-8 bytes, never inside a character. */
function capLine(line: string, onTruncated: (() => void) | undefined): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short lines need no counting.
  if (line.length * 3 <= ACCESS_LOG_BUFFER) return line;
  if (line.length <= ACCESS_LOG_BUFFER && Buffer.byteLength(line) <= ACCESS_LOG_BUFFER) return line;
  const bytes = Buffer.from(line);
  if (bytes.length <= ACCESS_LOG_BUFFER) return line;
  let end = ACCESS_LOG_BUFFER;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // bytes[end] continues the cut character
  onTruncated?.();
  return bytes.toString('utf8', 0, end);
}

/**
 * Whether `access.suppress_path[]` drops this request: `uri` (the %r value,
 * without the query string) equals one of the paths exactly (FPM 8.0+).
 */
export function isSuppressed(uri: string, suppressPaths: readonly string[]): boolean {
  for (let i = 0; i < suppressPaths.length; i++) {
    if (suppressPaths[i] === uri) return true;
  }
  return false;
}
