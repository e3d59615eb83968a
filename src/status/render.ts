// PHP-FPM's status page (sapi/fpm/fpm/fpm_status.c, PHP 8.2), rendered from a
// poold scoreboard snapshot. Pure: no I/O, the caller passes `now`.
//
// Byte for byte FPM's output where FPM defines it: field names, order,
// separators, number formats, content types. poold's own fields (the
// configured limits) come after FPM's pool fields, so FPM parsers keep
// working. See docs/status.md for every place poold differs and why.

import type { PoolHeader, Slot, SlotState } from '../scoreboard/layout.js';
import type { StatusFormat } from './query.js';
import { strftime } from '../log/strftime.js';
import { requestDurationUs } from './in-flight.js';

export interface PoolStatusInput {
  header: PoolHeader;
  /** Every slot of the pool's scoreboard, in slot order; 'Free' slots are skipped. */
  slots: readonly Slot[];
  /** Epoch ms of the snapshot. */
  now: number;
  /** The pool's app path, shown as the per-process "script" (FPM: SCRIPT_FILENAME). "-" when absent. */
  scriptName?: string;
}

export interface RenderedStatus {
  contentType: string;
  body: string;
}

// As FPM sends them: PHP appends its default_charset to every text/* type.
export const CONTENT_TYPES: Readonly<Record<StatusFormat, string>> = {
  text: 'text/plain;charset=UTF-8',
  json: 'application/json',
  xml: 'text/xml;charset=UTF-8',
  html: 'text/html;charset=UTF-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** The headers FPM sends with every status (and ping) response. */
export const STATUS_HEADERS: Readonly<Record<string, string>> = {
  Expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
  'Cache-Control': 'no-cache, no-store, must-revalidate, max-age=0',
};

// ---------------------------------------------------------------------------
// Field lists. The label is FPM's text/html label; json keys are the label,
// xml tags the label lowercased with spaces turned into hyphens.

interface Field {
  label: string;
  /** Rendered value, already escaped for the format. */
  value: string;
  /** A number (json: unquoted). */
  numeric: boolean;
}

/** FPM 8.2's pool fields, in order (text label). */
export const FPM_POOL_FIELDS = [
  'pool',
  'process manager',
  'start time',
  'start since',
  'accepted conn',
  'listen queue',
  'max listen queue',
  'listen queue len',
  'idle processes',
  'active processes',
  'total processes',
  'max active processes',
  'max children reached',
  'slow requests',
] as const;

/** poold's pool fields, after FPM's. */
export const POOLD_POOL_FIELDS = ['max children', 'min spare servers', 'max spare servers', 'reading headers'] as const;

/** FPM 8.2's per-process fields, in order (text labels; html and json say "request uri"). */
export const FPM_PROCESS_FIELDS = [
  'pid',
  'state',
  'start time',
  'start since',
  'requests',
  'request duration',
  'request method',
  'request URI',
  'content length',
  'user',
  'script',
  'last request cpu',
  'last request memory',
] as const;

/** poold's per-process fields, after FPM's. */
export const POOLD_PROCESS_FIELDS = ['upgraded connections'] as const;

// ---------------------------------------------------------------------------
// Value formatting.

/** An unsigned integer the way `%lu`/`%u`/`%zu` prints it (poold stores some as doubles). */
function uint(value: number): string {
  if (!Number.isFinite(value) || value <= 0) return '0';
  return BigInt(Math.trunc(value)).toString();
}

/** A signed integer (`%d`): pid, listen queue. */
function int(value: number): string {
  if (!Number.isFinite(value)) return '0';
  return BigInt(Math.trunc(value)).toString();
}

/**
 * `%.2f` of a C `float` (FPM keeps the cpu share in a float): rounded to
 * float32 first, and exact ties go to even like glibc's printf, where JS's
 * toFixed rounds them up.
 */
function cpu2f(value: number): string {
  if (!Number.isFinite(value)) return '0.00';
  const x = Math.fround(value);
  const scaled = x * 100;
  // A double with exactly three decimals and a trailing 5 is a multiple of 1/8.
  if (Number.isInteger(x * 8) && !Number.isInteger(scaled) && Number.isInteger(scaled * 2)) {
    const down = Math.floor(scaled);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / 100).toFixed(2);
  }
  return x.toFixed(2);
}

const STATUS_TIME = strftime('%d/%b/%Y:%H:%M:%S %z');

/** strftime("%d/%b/%Y:%H:%M:%S %z", localtime(epochSeconds)) in the C locale. */
export function formatStrftime(epochSeconds: number): string {
  return STATUS_TIME(new Date(epochSeconds * 1000));
}

const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

// ---------------------------------------------------------------------------
// Escaping.

/**
 * What every string value goes through first, in every format: control
 * characters (C0 and DEL) are percent-encoded, as they would be in a URI, so
 * a hostile URI or Basic-auth user cannot add lines to the text format or
 * put characters XML forbids into the xml/html formats. Noncharacters
 * U+FFFE/U+FFFF (forbidden in XML) likewise; lone surrogates become U+FFFD.
 */
export function sanitize(text: string): string {
  return text
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/[\u0000-\u001f\u007f\ufffe\uffff]/g, (ch) => encodeURIComponent(ch).replace(/%[0-9a-f]{2}/gi, (e) => e.toUpperCase()));
}

/** htmlspecialchars(ENT_COMPAT), which FPM uses for html and xml. */
function escapeMarkup(text: string): string {
  return text.replace(/[&<>"]/g, (ch) => (ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : '&quot;'));
}

/** The inside of a PHP json_encode() string with default flags: `/` → `\/`, non-ASCII → \uXXXX (lowercase). */
function escapeJson(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ch = text[i] as string;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '/') out += '\\/';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x0c) out += '\\f';
    else if (code === 0x0a) out += '\\n';
    else if (code === 0x0d) out += '\\r';
    else if (code === 0x09) out += '\\t';
    else if (code < 0x20 || code > 0x7e) out += code === 0x7f ? ch : `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** OpenMetrics escaping for label values and HELP text: `\`, `"` and line feed. */
function escapeOpenMetrics(text: string): string {
  return text.replace(/[\\"\n]/g, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`));
}

function escapeFor(format: StatusFormat, text: string): string {
  const clean = sanitize(text);
  switch (format) {
    case 'json':
      return escapeJson(clean);
    case 'xml':
    case 'html':
      return escapeMarkup(clean);
    case 'openmetrics':
      return escapeOpenMetrics(clean);
    case 'text':
      return clean;
  }
}

/** FPM prints "-" for an empty string field. */
const orDash = (text: string): string => (text === '' ? '-' : text);

// ---------------------------------------------------------------------------
// The data, format-independent.

/** poold's slot states under FPM's names; 'Starting' has no FPM equivalent (FPM's stage 0). */
const STATE_NAMES: Readonly<Record<Exclude<SlotState, 'Free'>, string>> = {
  Starting: 'Starting',
  Idle: 'Idle',
  'Reading headers': 'Reading headers',
  Running: 'Running',
  Finishing: 'Finishing',
};

function poolFields(input: PoolStatusInput, format: StatusFormat): Field[] {
  const h = input.header;
  const startSeconds = epochSeconds(h.startTime);
  const str = (label: string, value: string): Field => ({ label, value: escapeFor(format, value), numeric: false });
  const num = (label: string, value: string): Field => ({ label, value, numeric: true });
  const startTime =
    format === 'text' || format === 'html'
      ? str('start time', formatStrftime(startSeconds))
      : num('start time', int(startSeconds));
  return [
    str('pool', h.pool),
    str('process manager', h.pm),
    startTime,
    num('start since', uint(epochSeconds(input.now) - startSeconds)),
    num('accepted conn', uint(h.acceptedConn)),
    num('listen queue', int(h.listenQueue)),
    num('max listen queue', int(h.maxListenQueue)),
    num('listen queue len', uint(h.listenQueueLen)),
    num('idle processes', int(h.idle)),
    num('active processes', int(h.active)),
    num('total processes', int(h.total)),
    num('max active processes', int(h.maxActive)),
    num('max children reached', uint(h.maxChildrenReached)),
    num('slow requests', uint(h.slowRequests)),
    // poold's own, after FPM's.
    num('max children', uint(h.maxChildren)),
    num('min spare servers', uint(h.minSpareServers)),
    num('max spare servers', uint(h.maxSpareServers)),
    num('reading headers', uint(h.readingHeaders)),
  ];
}

/** The slots FPM would list: every used one. */
function processes(slots: readonly Slot[]): Slot[] {
  return slots.filter((slot) => slot.state !== 'Free');
}


function processFields(slot: Slot, input: PoolStatusInput, format: StatusFormat): Field[] {
  const now = input.now;
  // A 'Starting' slot the master reserved has no start time yet: it starts now.
  const startSeconds = epochSeconds(slot.startTime > 0 ? slot.startTime : now);
  const idle = slot.state === 'Idle';
  const str = (label: string, value: string): Field => ({ label, value: escapeFor(format, orDash(value)), numeric: false });
  const num = (label: string, value: string): Field => ({ label, value, numeric: true });
  const uriLabel = format === 'text' ? 'request URI' : 'request uri';
  return [
    num('pid', int(slot.pid)),
    str('state', STATE_NAMES[slot.state as Exclude<SlotState, 'Free'>] ?? slot.state),
    format === 'text' || format === 'html'
      ? str('start time', formatStrftime(startSeconds))
      : num('start time', int(startSeconds)),
    num('start since', uint(epochSeconds(now) - startSeconds)),
    num('requests', uint(slot.requests)),
    num('request duration', uint(requestDurationUs(slot, now))),
    str('request method', slot.method),
    str(uriLabel, slot.uri),
    num('content length', uint(slot.contentLength)),
    str('user', slot.user),
    str('script', input.scriptName ?? '-'),
    num('last request cpu', idle ? cpu2f(slot.lastRequestCpu) : '0.00'),
    num('last request memory', idle ? uint(slot.lastRequestMemory) : '0'),
    // poold's own, after FPM's.
    num('upgraded connections', uint(slot.upgraded)),
  ];
}

// ---------------------------------------------------------------------------
// Formats. Each returns one pool's part; renderAllPools wraps several.

/** "label:" padded to FPM's column (22 = "max active processes: "). */
const textLine = (f: Field): string => `${`${f.label}:`.padEnd(21)} ${f.value}\n`;

function textPool(input: PoolStatusInput, full: boolean): string {
  let out = poolFields(input, 'text').map(textLine).join('');
  if (full) {
    for (const slot of processes(input.slots)) {
      out += '\n************************\n' + processFields(slot, input, 'text').map(textLine).join('');
    }
  }
  return out;
}

const jsonMember = (f: Field): string => `"${f.label}":${f.numeric ? f.value : `"${f.value}"`}`;

function jsonPool(input: PoolStatusInput, full: boolean): string {
  let out = '{' + poolFields(input, 'json').map(jsonMember).join(',');
  if (full) {
    const procs = processes(input.slots).map((slot) => '{' + processFields(slot, input, 'json').map(jsonMember).join(',') + '}');
    out += ', "processes":[' + procs.join(',') + ']';
  }
  return out + '}';
}

const xmlTag = (label: string): string => label.replace(/ /g, '-');
const xmlElement = (f: Field): string => `<${xmlTag(f.label)}>${f.value}</${xmlTag(f.label)}>`;

/** `<status>…</status>`, no declaration, no trailing newline. */
function xmlPool(input: PoolStatusInput, full: boolean): string {
  let out = '<status>\n' + poolFields(input, 'xml').map((f) => xmlElement(f) + '\n').join('');
  if (full) {
    out += '<processes>\n';
    for (const slot of processes(input.slots)) {
      out += '<process>' + processFields(slot, input, 'xml').map(xmlElement).join('') + '</process>\n';
    }
    out += '</processes>\n';
  }
  return out + '</status>';
}

const XML_DECLARATION = '<?xml version="1.0" ?>\n';

const HTML_HEAD =
  '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n' +
  '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
  '<head><title>PHP-FPM Status Page</title></head>\n' +
  '<body>\n';

/** The pool table, and with `full` the process table without its final newline (FPM's "</table></body></html>"). */
function htmlPool(input: PoolStatusInput, full: boolean): string {
  let out = '<table>\n' + poolFields(input, 'html').map((f) => `<tr><th>${f.label}</th><td>${f.value}</td></tr>\n`).join('') + '</table>\n';
  if (full) {
    out += '<table border="1">\n<tr>' + [...FPM_PROCESS_FIELDS, ...POOLD_PROCESS_FIELDS].map((label) => `<th>${label === 'request URI' ? 'request uri' : label}</th>`).join('') + '</tr>\n';
    for (const slot of processes(input.slots)) {
      out += '<tr>' + processFields(slot, input, 'html').map((f) => `<td>${f.value}</td>`).join('') + '</tr>\n';
    }
    out += '</table>';
  }
  return out;
}

interface MetricFamily {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** FPM prints TYPE before HELP for phpfpm_listen_queue_length. */
  typeFirst?: boolean;
  value: (input: PoolStatusInput) => string;
}

const FAMILIES: readonly MetricFamily[] = [
  { name: 'phpfpm_up', type: 'gauge', help: '', value: () => '1' },
  {
    name: 'phpfpm_start_since',
    type: 'counter',
    help: 'The number of seconds since FPM has started.',
    value: (i) => uint(epochSeconds(i.now) - epochSeconds(i.header.startTime)),
  },
  {
    name: 'phpfpm_accepted_connections',
    type: 'counter',
    help: 'The number of requests accepted by the pool.',
    value: (i) => uint(i.header.acceptedConn),
  },
  {
    name: 'phpfpm_listen_queue',
    type: 'gauge',
    help: 'The number of requests in the queue of pending connections.',
    value: (i) => int(i.header.listenQueue),
  },
  {
    name: 'phpfpm_max_listen_queue',
    type: 'counter',
    help: 'The maximum number of requests in the queue of pending connections since FPM has started.',
    value: (i) => int(i.header.maxListenQueue),
  },
  {
    name: 'phpfpm_listen_queue_length',
    type: 'gauge',
    help: 'The size of the socket queue of pending connections.',
    typeFirst: true,
    value: (i) => uint(i.header.listenQueueLen),
  },
  { name: 'phpfpm_idle_processes', type: 'gauge', help: 'The number of idle processes.', value: (i) => int(i.header.idle) },
  { name: 'phpfpm_active_processes', type: 'gauge', help: 'The number of active processes.', value: (i) => int(i.header.active) },
  { name: 'phpfpm_total_processes', type: 'gauge', help: 'The number of idle + active processes.', value: (i) => int(i.header.total) },
  {
    name: 'phpfpm_max_active_processes',
    type: 'counter',
    help: 'The maximum number of active processes since FPM has started.',
    value: (i) => int(i.header.maxActive),
  },
  {
    name: 'phpfpm_max_children_reached',
    type: 'counter',
    help: "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').",
    value: (i) => uint(i.header.maxChildrenReached),
  },
  {
    name: 'phpfpm_slow_requests',
    type: 'counter',
    help: "The number of requests that exceeded your 'request_slowlog_timeout' value.",
    value: (i) => uint(i.header.slowRequests),
  },
  // poold's own, after FPM's: the configured limits (not FPM metrics, so not phpfpm_).
  {
    name: 'poold_max_children',
    type: 'gauge',
    help: 'The configured pm.max_children: the most processes the pool may run.',
    value: (i) => uint(i.header.maxChildren),
  },
  {
    name: 'poold_min_spare_servers',
    type: 'gauge',
    help: 'The configured pm.min_spare_servers.',
    value: (i) => uint(i.header.minSpareServers),
  },
  {
    name: 'poold_max_spare_servers',
    type: 'gauge',
    help: 'The configured pm.max_spare_servers.',
    value: (i) => uint(i.header.maxSpareServers),
  },
  {
    name: 'poold_reading_headers',
    type: 'gauge',
    help: 'Connections whose request head the master is still reading.',
    value: (i) => uint(i.header.readingHeaders),
  },
];

function metadata(family: MetricFamily, help: string): string {
  const helpLine = `# HELP ${family.name} ${help}\n`;
  const typeLine = `# TYPE ${family.name} ${family.type}\n`;
  return family.typeFirst ? typeLine + helpLine : helpLine + typeLine;
}

/** FPM's exposition: one pool, no labels, the pool named only in phpfpm_up's HELP. */
function openMetricsPool(input: PoolStatusInput): string {
  let out = '';
  for (const family of FAMILIES) {
    const help =
      family.name === 'phpfpm_up'
        ? `Could pool ${escapeFor('openmetrics', input.header.pool)} using a ${input.header.pm} PM on PHP-FPM be reached?`
        : family.help;
    out += metadata(family, help) + `${family.name} ${family.value(input)}\n`;
  }
  return out + '# EOF\n';
}

/** Every pool: one family per metric, one sample per pool with a `pool` label (`pm` too on phpfpm_up). */
function openMetricsAll(inputs: readonly PoolStatusInput[]): string {
  let out = '';
  for (const family of FAMILIES) {
    const help = family.name === 'phpfpm_up' ? 'Could the pool using the PM in label pm on poold be reached?' : family.help;
    out += metadata(family, help);
    for (const input of inputs) {
      const pool = escapeFor('openmetrics', input.header.pool);
      const labels = family.name === 'phpfpm_up' ? `pool="${pool}",pm="${input.header.pm}"` : `pool="${pool}"`;
      out += `${family.name}{${labels}} ${family.value(input)}\n`;
    }
  }
  return out + '# EOF\n';
}

// ---------------------------------------------------------------------------
// Entry points.

/** One pool's status page, as FPM serves it on `pm.status_path`. `full` is ignored for openmetrics, as in FPM. */
export function renderPoolStatus(input: PoolStatusInput, format: StatusFormat, full: boolean): RenderedStatus {
  const contentType = CONTENT_TYPES[format];
  switch (format) {
    case 'text':
      return { contentType, body: textPool(input, full) };
    case 'json':
      return { contentType, body: jsonPool(input, full) };
    case 'xml':
      return { contentType, body: XML_DECLARATION + xmlPool(input, full) };
    case 'html':
      return { contentType, body: HTML_HEAD + htmlPool(input, full) + '</body></html>' };
    case 'openmetrics':
      return { contentType, body: openMetricsPool(input) };
  }
}

/**
 * Every pool in one response (the status listener's root). text: the pools'
 * blocks separated by a blank line; json: `{"pools":[…]}`; xml: the pools'
 * `<status>` elements inside `<pools>`; html: one page, a table (two with
 * `full`) per pool; openmetrics: one family per metric with a `pool` label.
 */
export function renderAllPools(inputs: readonly PoolStatusInput[], format: StatusFormat, full: boolean): RenderedStatus {
  const contentType = CONTENT_TYPES[format];
  switch (format) {
    case 'text':
      return { contentType, body: inputs.map((input) => textPool(input, full)).join('\n') };
    case 'json':
      return { contentType, body: '{"pools":[' + inputs.map((input) => jsonPool(input, full)).join(',') + ']}' };
    case 'xml':
      return { contentType, body: XML_DECLARATION + '<pools>\n' + inputs.map((input) => xmlPool(input, full) + '\n').join('') + '</pools>' };
    case 'html':
      return {
        contentType,
        body: HTML_HEAD + inputs.map((input) => htmlPool(input, full) + (full ? '\n' : '')).join('') + '</body></html>',
      };
    case 'openmetrics':
      return { contentType, body: openMetricsAll(inputs) };
  }
}
