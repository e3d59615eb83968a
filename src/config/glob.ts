// A small glob(3) for `include = ...`: Node 20 has no fs.glob, and includes
// only need `*`, `?` and `[...]` within path segments (no `**`, no braces).
import fs from 'node:fs';
import path from 'node:path';

const MAGIC = /[*?[]/;

/** True when the pattern contains an unescaped wildcard. */
function hasGlobMagic(pattern: string): boolean {
  return MAGIC.test(pattern.replace(/\\./g, ''));
}

/**
 * Expands an absolute pattern to the existing non-directory paths it matches,
 * sorted. As in glob(3), a wildcard never matches a leading '.' and a pattern
 * without wildcards matches only if the path exists.
 */
export function globSync(pattern: string): string[] {
  if (!path.isAbsolute(pattern)) throw new Error(`glob pattern must be absolute: ${pattern}`);
  let candidates = ['/'];
  for (const segment of pattern.split('/')) {
    if (segment === '') continue;
    candidates = hasGlobMagic(segment)
      ? candidates.flatMap((dir) => matchEntries(dir, segment))
      : candidates.map((dir) => path.join(dir, unescape(segment)));
  }
  const files = candidates.filter(isNonDirectory);
  return [...new Set(files)].sort();
}

function matchEntries(dir: string, segment: string): string[] {
  const regex = segmentToRegExp(segment);
  const dotAllowed = segment.startsWith('.');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // a missing or unreadable directory simply matches nothing
  }
  return names
    .filter((name) => (dotAllowed || !name.startsWith('.')) && regex.test(name))
    .map((name) => path.join(dir, name));
}

function isNonDirectory(file: string): boolean {
  try {
    return !fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function unescape(segment: string): string {
  return segment.replace(/\\(.)/g, '$1');
}

/** Compiles one path segment (`*`, `?`, `[a-z]`, `[!x]`, `\x`) to an anchored RegExp. */
function segmentToRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '\\' && i + 1 < segment.length) {
      source += escapeRegExp(segment[++i]!);
    } else if (c === '*') {
      source += '.*';
    } else if (c === '?') {
      source += '.';
    } else if (c === '[') {
      const parsed = parseBracket(segment, i);
      if (parsed) {
        source += parsed.source;
        i = parsed.end;
      } else {
        source += '\\['; // an unclosed '[' is literal, as in glob(3)
      }
    } else {
      source += escapeRegExp(c);
    }
  }
  try {
    return new RegExp(`^${source}$`, 's');
  } catch {
    return /(?!)/; // a reversed range such as [z-a] matches nothing, as in glob(3)
  }
}

/** Parses `[...]` starting at `start`; returns the RegExp class and the index of `]`. */
function parseBracket(segment: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (segment[i] === '!' || segment[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  // A ']' right after '[' or '[!' is a member, not the end of the class.
  if (segment[i] === ']') {
    body += '\\]';
    i++;
  }
  for (; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === ']') return { source: `[${negate ? '^' : ''}${body}]`, end: i };
    if (c === '\\' && i + 1 < segment.length) {
      body += escapeClassChar(segment[++i]!);
    } else if (c === '-' && body !== '' && segment[i + 1] !== ']' && i + 1 < segment.length) {
      body += '-';
    } else {
      body += escapeClassChar(c);
    }
  }
  return null;
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClassChar(c: string): string {
  return c.replace(/[\\\]^-]/g, '\\$&');
}
