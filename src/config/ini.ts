// Reads php-fpm.conf-style INI files line by line, as fpm_conf.c does:
// sections, `key = value`, `key[sub] = value`, comments, quotes, `${ENV}`,
// `$pool` and `include = glob`. It knows nothing about directive meanings.
import fs from 'node:fs';
import path from 'node:path';
import { globSync } from './glob.js';
import { ConfigError, formatIssue, type ConfigIssue } from './types.js';

/** php-fpm's limit: the main file plus at most four nested includes. */
const MAX_INCLUDE_DEPTH = 5;

/**
 * The largest configuration file read: far above any real one (Debian's
 * php-fpm.conf and www.conf together are under 25 KB), and a path such as
 * /dev/zero or a FIFO that never ends is refused instead of exhausting memory.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface IniEntry {
  /** Directive name, lower-cased (php-fpm matches names case-insensitively). */
  key: string;
  /** The `sub` of `key[sub]`, or null for a plain entry. */
  subkey: string | null;
  value: string;
  file: string;
  line: number;
}

export interface IniPool {
  /** The name as first written; later `[NAME]` sections reopen it case-insensitively. */
  name: string;
  file: string;
  line: number;
  entries: IniEntry[];
}

export interface IniDocument {
  global: IniEntry[];
  pools: IniPool[];
  issues: ConfigIssue[];
  warnings: string[];
}

type Line =
  | { kind: 'blank' }
  | { kind: 'section'; name: string }
  | { kind: 'entry'; key: string; subkey: string | null; value: string; unsetVars: string[] };

class IniSyntaxError extends Error {}

/**
 * Reads `file` and everything it includes. Throws ConfigError if the main file
 * can't be read; every other problem is collected in `issues`.
 */
export function readIni(file: string, env: NodeJS.ProcessEnv): IniDocument {
  const reader = new IniReader(env);
  const text = readText(file);
  if (typeof text !== 'string') throw new ConfigError([{ message: text.message }]);
  reader.parseText(file, text, 1);
  return reader.document;
}

class IniReader {
  readonly document: IniDocument = { global: [], pools: [], issues: [], warnings: [] };
  // Like php-fpm, the current section carries across include boundaries.
  private current: IniPool | null = null;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  parseText(file: string, text: string, depth: number): void {
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    lines.forEach((raw, index) => this.readLine(file, index + 1, raw.replace(/\r$/, ''), depth));
  }

  private readLine(file: string, line: number, text: string, depth: number): void {
    let parsed: Line;
    try {
      parsed = parseLine(text, this.env);
    } catch (err) {
      if (!(err instanceof IniSyntaxError)) throw err;
      this.document.issues.push({ file, line, message: err.message });
      return;
    }
    if (parsed.kind === 'blank') return;
    if (parsed.kind === 'section') {
      this.openSection(parsed.name, file, line);
      return;
    }
    for (const name of parsed.unsetVars) {
      this.document.warnings.push(
        formatIssue({ file, line, message: `environment variable '${name}' is not set, using an empty value` }),
      );
    }
    let value = parsed.value;
    if (value.includes('$pool')) {
      if (!this.current) {
        this.document.issues.push({
          file,
          line,
          key: parsed.key,
          message: `unable to parse value for entry '${parsed.key}': Can't use '$pool' when the pool is not defined`,
        });
        return;
      }
      value = value.replaceAll('$pool', this.current.name);
    }
    if (parsed.key === 'include' && parsed.subkey === null) {
      this.include(value, file, line, depth);
      return;
    }
    const entry: IniEntry = { key: parsed.key, subkey: parsed.subkey, value, file, line };
    (this.current ? this.current.entries : this.document.global).push(entry);
  }

  private openSection(name: string, file: string, line: number): void {
    if (name.toLowerCase() === 'global') {
      this.current = null;
      return;
    }
    const existing = this.document.pools.find((p) => p.name.toLowerCase() === name.toLowerCase());
    this.current = existing ?? { name, file, line, entries: [] };
    if (!existing) this.document.pools.push(this.current);
  }

  private include(pattern: string, file: string, line: number, depth: number): void {
    const absolute = path.resolve(path.dirname(file), pattern);
    const matches = globSync(absolute);
    if (matches.length === 0) {
      this.document.warnings.push(
        `Nothing matches the include pattern '${absolute}' from ${file} at line ${line}.`,
      );
      return;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
      this.document.issues.push({
        file,
        line,
        key: 'include',
        message: `failed to include more than ${MAX_INCLUDE_DEPTH} files recursively`,
      });
      return;
    }
    for (const match of matches) {
      const text = readText(match);
      if (typeof text === 'string') {
        this.parseText(match, text, depth + 1);
      } else {
        this.document.issues.push({ file, line, key: 'include', message: text.message });
      }
    }
  }
}

function readText(file: string): string | Error {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    return new Error(`failed to open configuration file '${file}': ${describeFsError(err)}`);
  }
  try {
    const bytes = readAtMost(fd, MAX_CONFIG_FILE_BYTES + 1);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) {
      return new Error(`configuration file '${file}' is larger than ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB: refused`);
    }
    return bytes.toString('utf8');
  } catch (err) {
    return new Error(`failed to open configuration file '${file}': ${describeFsError(err)}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads until end of file or `limit` bytes, whichever comes first (a device's size says nothing). */
function readAtMost(fd: number, limit: number): Buffer {
  const buffer = Buffer.alloc(limit);
  let filled = 0;
  while (filled < limit) {
    const read = fs.readSync(fd, buffer, filled, limit - filled, null);
    if (read === 0) break;
    filled += read;
  }
  return buffer.subarray(0, filled);
}

// php-fpm prints strerror(3) text; libuv's is the same in lower case except for these.
const STRERROR: Record<string, string> = {
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
};

function describeFsError(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  if (code && STRERROR[code]) return STRERROR[code];
  // libuv: "ENOENT: no such file or directory, open '/x'"
  const text = /^[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Parses one line; throws IniSyntaxError with the reason. */
function parseLine(text: string, env: NodeJS.ProcessEnv): Line {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return { kind: 'blank' };
  if (trimmed.startsWith('[')) return parseSection(trimmed);
  const eq = trimmed.indexOf('=');
  if (eq < 0) throw new IniSyntaxError(`syntax error: expected 'key = value', '[section]' or a comment`);
  const rawKey = trimmed.slice(0, eq).trim();
  const keyMatch = /^([a-z0-9_.-]+)(?:\[([^\]]*)\])?$/i.exec(rawKey);
  if (!keyMatch) throw new IniSyntaxError(`syntax error: invalid key '${rawKey}'`);
  const { value, unsetVars } = parseValue(trimmed.slice(eq + 1), env);
  return {
    kind: 'entry',
    key: keyMatch[1]!.toLowerCase(),
    subkey: keyMatch[2] === undefined ? null : keyMatch[2].trim(),
    value,
    unsetVars,
  };
}

function parseSection(trimmed: string): Line {
  const match = /^\[([^\]]*)\]\s*(;.*)?$/.exec(trimmed);
  if (!match) throw new IniSyntaxError(`syntax error: expected '[section]'`);
  const name = match[1]!.trim();
  if (name === '') throw new IniSyntaxError('syntax error: empty section name');
  return { kind: 'section', name };
}

/**
 * Parses the text after '=': quoted and unquoted parts concatenate, `;`
 * outside quotes starts a comment, `${NAME}` expands from the environment
 * except inside single quotes (as in PHP's INI scanner).
 */
function parseValue(text: string, env: NodeJS.ProcessEnv): { value: string; unsetVars: string[] } {
  const unsetVars: string[] = [];
  const expand = (s: string): string =>
    s.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
      const value = env[name];
      if (value === undefined) unsetVars.push(name);
      return value ?? '';
    });
  const parts: { quoted: boolean; text: string }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ';') break;
    if (c === '"' || c === "'") {
      const end = findClosingQuote(text, i);
      const body = text.slice(i + 1, end);
      parts.push({ quoted: true, text: c === '"' ? expand(body.replace(/\\(["\\])/g, '$1')) : body });
      i = end + 1;
      continue;
    }
    let end = i;
    while (end < text.length && !`;"'`.includes(text[end]!)) end++;
    parts.push({ quoted: false, text: text.slice(i, end) });
    i = end;
  }
  // Whitespace around the value and before a trailing comment is not part of it.
  const first = parts[0];
  if (first && !first.quoted) first.text = first.text.trimStart();
  const last = parts[parts.length - 1];
  if (last && !last.quoted) last.text = last.text.trimEnd();
  const value = parts.map((p) => (p.quoted ? p.text : expand(p.text))).join('');
  return { value, unsetVars };
}

function findClosingQuote(text: string, open: number): number {
  const quote = text[open];
  for (let i = open + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') {
      i++;
    } else if (text[i] === quote) {
      return i;
    }
  }
  throw new IniSyntaxError(`syntax error: unterminated ${quote === '"' ? 'double' : 'single'}-quoted value`);
}
