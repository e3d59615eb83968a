// Typed value parsers for directives. Messages follow php-fpm's fpm_conf.c
// where php-fpm has the same kind of value, so users can search them.
import net from 'node:net';
import path from 'node:path';
import { SYSLOG } from '../log/levels.js';
import { ANY_CLIENT, clientEntryProblem, UNIX_PEERS } from '../net/client-list.js';
import type { ListenAddress } from './types.js';

/** Thrown by a parser; the message is php-fpm's reason text, without the directive name. */
export class InvalidValue extends Error {
  override name = 'InvalidValue';
}

export interface ValueContext {
  /** Directory of the file the directive was read from: relative paths start there. */
  dir: string;
}

export interface ValueType<T> {
  parse(raw: string, ctx: ValueContext): T;
  /** The php-fpm.conf spelling of a value; `parse(format(v))` gives back `v`. */
  format(value: T): string;
}

// Node's setTimeout fires at once (with a warning) past 2^31-1 ms, so every
// time value must stay below it; 24 days is the largest whole day that fits.
const MAX_TIME_MS = 24 * 86_400_000;

const TIME_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const TRUE_WORDS = new Set(['yes', 'on', 'true', '1']);
const FALSE_WORDS = new Set(['no', 'off', 'false', '0']);

export const bool: ValueType<boolean> = {
  parse(raw) {
    const word = raw.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new InvalidValue('invalid boolean value');
  },
  format: (value) => (value ? 'yes' : 'no'),
};

export const uint: ValueType<number> = {
  parse(raw) {
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value)) {
      throw new InvalidValue('is not a valid number (greater or equal than zero)');
    }
    return value;
  },
  format: (value) => String(value),
};

/** A whole number within [min, max], negative ones included; empty means "not set". */
export function optionalInt(min: number, max: number, message: string): ValueType<number | null> {
  return {
    parse(raw) {
      if (raw === '') return null;
      const value = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(value >= min && value <= max)) throw new InvalidValue(message);
      return value;
    },
    format: (value) => (value === null ? '' : String(value)),
  };
}

/** listen.backlog's value meaning "the system maximum" (net.core.somaxconn), as in FPM. */
export const SYSTEM_BACKLOG = -1;

/** A listen backlog: a count, or -1 for the system maximum. */
export const backlog: ValueType<number> = {
  parse: (raw) => (raw === String(SYSTEM_BACKLOG) ? SYSTEM_BACKLOG : uint.parse(raw, { dir: '' })),
  format: (value) => String(value),
};

/** rlimit_core: bytes, or `unlimited` (Infinity); 0 leaves the limit as it is, as in FPM. */
export const coreLimit: ValueType<number> = {
  parse(raw, ctx) {
    if (raw.toLowerCase() === 'unlimited') return Infinity;
    return uint.parse(raw, ctx);
  },
  format: (value) => (value === Infinity ? 'unlimited' : String(value)),
};

/** A duration; bare numbers are seconds. Returns milliseconds. */
export const time: ValueType<number> = {
  parse(raw) {
    const match = /^(\d+)([a-z]*)$/i.exec(raw);
    if (!match) {
      if (/[a-z]$/i.test(raw) && !/[smhd]$/i.test(raw)) {
        throw new InvalidValue('unknown suffix used in time value');
      }
      throw new InvalidValue('invalid time value');
    }
    const unit = TIME_UNITS[(match[2] || 's').toLowerCase()];
    if (unit === undefined) throw new InvalidValue('unknown suffix used in time value');
    const ms = Number(match[1]) * unit;
    if (ms > MAX_TIME_MS) throw new InvalidValue('time value too large (at most 24d)');
    return ms;
  },
  // php-fpm -tt prints times as whole seconds too.
  format: (ms) => `${ms / 1000}s`,
};

/** A byte count with an optional K, M or G (powers of 1024) suffix. */
export const size: ValueType<number> = {
  parse(raw) {
    const match = /^(\d+)([a-z]*)$/i.exec(raw);
    if (!match) {
      if (/[a-z]$/i.test(raw) && !/[kmg]$/i.test(raw)) {
        throw new InvalidValue('unknown suffix used in size value');
      }
      throw new InvalidValue('invalid size value');
    }
    const unit = match[2] ? SIZE_UNITS[match[2].toLowerCase()] : 1;
    if (unit === undefined) throw new InvalidValue('unknown suffix used in size value');
    const bytes = Number(match[1]) * unit;
    if (!Number.isSafeInteger(bytes)) throw new InvalidValue('invalid size value');
    return bytes;
  },
  format(bytes) {
    for (const [suffix, unit] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
      if (bytes !== 0 && bytes % unit === 0) return `${bytes / unit}${suffix}`;
    }
    return String(bytes);
  },
};

/** A file mode in octal, like chmod: `0660` or `660`. */
export const mode: ValueType<number> = {
  parse(raw) {
    if (!/^[0-7]{1,4}$/.test(raw)) throw new InvalidValue('invalid octal mode (e.g. 0660)');
    return parseInt(raw, 8);
  },
  format: (value) => `0${value.toString(8).padStart(3, '0')}`,
};

/** A path, made absolute against the directory of the file that sets it. */
export const filePath: ValueType<string> = {
  parse(raw, ctx) {
    if (raw === '') throw new InvalidValue('empty value');
    return path.resolve(ctx.dir, raw);
  },
  format: (value) => value,
};

/** Like filePath, but an empty value means "not set". */
export const optionalPath: ValueType<string | null> = {
  parse: (raw, ctx) => (raw === '' ? null : filePath.parse(raw, ctx)),
  format: (value) => value ?? '',
};

/** error_log: a path, or `syslog` (any case, as FPM compares it). */
export const errorLog: ValueType<string | null> = {
  parse: (raw, ctx) => (raw.toLowerCase() === SYSLOG ? SYSLOG : optionalPath.parse(raw, ctx)),
  format: (value) => optionalPath.format(value),
};

/** A free-form name (user, group); an empty value means "not set". */
export const optionalName: ValueType<string | null> = {
  parse: (raw) => (raw === '' ? null : raw),
  format: (value) => value ?? '',
};

/** One of a fixed set of words, case-insensitive; `aliases` maps extra spellings. */
export function oneOf<T extends string>(
  words: readonly T[],
  message: string,
  aliases: Readonly<Record<string, T>> = {},
): ValueType<T> {
  return {
    parse(raw) {
      const word = raw.toLowerCase();
      const found = words.find((w) => w === word) ?? aliases[word];
      if (found === undefined) throw new InvalidValue(message);
      return found;
    },
    format: (value) => value,
  };
}

/**
 * Node's listen() with no host binds '::' (dual-stack: IPv6 and IPv4-mapped),
 * so that is what a bare port means, like php-fpm's "all addresses".
 */
export const ALL_ADDRESSES = '::';

const HOSTNAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** `port`, `host:port`, `[ipv6]:port`, or a unix socket path (anything containing '/'). */
export const listen: ValueType<ListenAddress> = {
  parse(raw, ctx) {
    if (raw.includes('/')) return { kind: 'unix', path: path.resolve(ctx.dir, raw) };
    if (/^\d+$/.test(raw)) return { kind: 'tcp', host: ALL_ADDRESSES, port: parsePort(raw) };
    const match = /^(?:\[([^\]]*)\]|([^:[\]]+)):([^:]*)$/.exec(raw);
    if (!match) {
      throw new InvalidValue(
        `invalid listen address '${raw}' (expected port, host:port, [ipv6]:port or a path containing '/')`,
      );
    }
    const [, ipv6, host, port] = match;
    if (ipv6 !== undefined && !net.isIPv6(ipv6)) {
      throw new InvalidValue(`invalid IPv6 address '${ipv6}'`);
    }
    if (host !== undefined && !isValidHost(host)) {
      throw new InvalidValue(`invalid host '${host}'`);
    }
    return { kind: 'tcp', host: (ipv6 ?? host)!, port: parsePort(port!) };
  },
  format(address) {
    if (address.kind === 'unix') return address.path;
    const host = net.isIPv6(address.host) ? `[${address.host}]` : address.host;
    return `${host}:${address.port}`;
  },
};

function isValidHost(host: string): boolean {
  // All-digit dotted names would go to DNS; reject them unless they are real IPv4.
  if (/^[\d.]+$/.test(host)) return net.isIPv4(host);
  return HOSTNAME.test(host);
}

function parsePort(raw: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new InvalidValue(`invalid port value '${raw}'`);
  return port;
}

/** Like listen, but an empty value (or `none`) turns the listener off. */
export const optionalListen: ValueType<ListenAddress | null> = {
  parse: (raw, ctx) => (raw === '' || raw.toLowerCase() === 'none' ? null : listen.parse(raw, ctx)),
  format: (value) => (value === null ? 'none' : listen.format(value)),
};

/** A comma-separated list of IP addresses (FPM's listen.allowed_clients syntax). */
/**
 * A comma-separated list whose entries `problem` checks (null: fine);
 * `whenEmpty` refuses an empty list, or null accepts it.
 */
function checkedList(problem: (entry: string) => string | null, whenEmpty: string | null): ValueType<string[]> {
  return {
    parse(raw) {
      const entries = raw.split(',').map((item) => item.trim()).filter(Boolean);
      if (entries.length === 0 && whenEmpty !== null) throw new InvalidValue(whenEmpty);
      for (const entry of entries) {
        const why = problem(entry);
        if (why) throw new InvalidValue(why);
      }
      return entries;
    },
    format: (value) => value.join(','),
  };
}

/** A client list (net/client-list.ts): addresses, address/prefix subnets, or `any`. */
export const clientList = checkedList(
  clientEntryProblem,
  "no client given: list addresses, subnets (address/prefix) or 'any'",
);

/** listen.trusted_proxies: client-list entries (`any` aside) and `unix:`; empty: no proxy is trusted. */
export const proxyList = checkedList((entry) => {
  if (entry === UNIX_PEERS) return null;
  return entry === ANY_CLIENT ? "'any' would let every client choose its own address" : clientEntryProblem(entry);
}, null);

/** A URL path for pm.status_path or ping.path, with FPM's rules; empty means "not set". */
export function urlPath(label: string): ValueType<string | null> {
  return {
    parse(raw) {
      if (raw === '') return null;
      if (!raw.startsWith('/')) throw new InvalidValue(`the ${label} path '${raw}' must start with a '/'`);
      if (raw.length < 2) throw new InvalidValue(`the ${label} path '${raw}' is not long enough`);
      if (!/^[A-Za-z0-9/_.~-]+$/.test(raw)) {
        throw new InvalidValue(`the ${label} path '${raw}' must contain only the following characters: '[alphanum]/_-.~'`);
      }
      return raw;
    },
    format: (value) => value ?? '',
  };
}

/** Free text, taken as written. */
export const text: ValueType<string> = {
  parse: (raw) => raw,
  format: (value) => value,
};
