// Which status format a query string asks for, the way PHP-FPM decides it
// (fpm_status.c): the mere presence of a key in $_GET picks the format, with
// the precedence html, xml, json, openmetrics, and text when none is present.
// `full` adds the per-process list, except for openmetrics, which ignores it.

export const STATUS_FORMATS = ['text', 'json', 'xml', 'html', 'openmetrics'] as const;
export type StatusFormat = (typeof STATUS_FORMATS)[number];

export interface StatusQuery {
  format: StatusFormat;
  /** Per-process data requested; always false for openmetrics (FPM ignores it there). */
  full: boolean;
}

/** FPM's precedence: the first of these present in the query wins. */
const PRECEDENCE = ['html', 'xml', 'json', 'openmetrics'] as const;

/** PHP's urldecode(): `+` is a space, invalid `%` escapes stay as they are. */
function urldecode(text: string): string {
  const plus = text.replace(/\+/g, ' ');
  if (!plus.includes('%')) return plus;
  const bytes: number[] = [];
  for (let i = 0; i < plus.length; i++) {
    const hex = plus.slice(i + 1, i + 3);
    if (plus[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const byte of Buffer.from(plus[i] as string, 'utf8')) bytes.push(byte);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The name PHP registers in $_GET for one `name=value` pair: decoded, leading
 * spaces dropped, and `name[...]` registered under `name` (an array).
 */
function registeredKey(pair: string): string {
  const eq = pair.indexOf('=');
  let name = urldecode(eq === -1 ? pair : pair.slice(0, eq)).replace(/^ +/, '');
  const bracket = name.indexOf('[');
  if (bracket > 0 && name.indexOf(']', bracket) !== -1) name = name.slice(0, bracket);
  return name;
}

/**
 * `search` is the URL's query part, with or without its leading `?`
 * (`URL.search`, or what follows `?` in `req.url`).
 */
export function parseStatusQuery(search: string): StatusQuery {
  const query = search.startsWith('?') ? search.slice(1) : search;
  const keys = new Set<string>();
  for (const pair of query.split('&')) {
    if (pair !== '') keys.add(registeredKey(pair));
  }
  const format: StatusFormat = PRECEDENCE.find((key) => keys.has(key)) ?? 'text';
  return { format, full: format !== 'openmetrics' && keys.has('full') };
}
