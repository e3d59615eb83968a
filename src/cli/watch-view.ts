// The live view of `poold status --watch`, as lines of text: a pure function
// of the master's last two answers, the terminal's size and the sort order.
// Every line fits the width; the request column gives way first, then the
// least needed columns.
import type { PoolReading } from '../master/status-answer.js';
import type { RestartReason } from '../pool/accounting.js';
import type { Slot } from '../scoreboard/layout.js';
import { requestDurationUs, requestInFlight } from '../status/in-flight.js';

export const SORT_ORDERS = ['slot', 'cpu', 'rss', 'duration'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];
/** The key that picks each order while watching. */
export const SORT_KEYS: Readonly<Record<string, SortOrder>> = { s: 'slot', c: 'cpu', m: 'rss', d: 'duration' };

/** The master's last answer, or why there was none. */
export type Answer =
  | { kind: 'pools'; masterPid: number; pools: PoolReading[] }
  | { kind: 'waiting'; why: 'not running' | 'not answering' | 'no such pool'; reason: string };

export interface ViewInput {
  answer: Answer;
  /** The answer before, for CPU shares and rates; null when there was none. */
  previous: PoolReading[] | null;
  /** Epoch ms of the master's last answer, null if it never answered. */
  lastAnswerAt: number | null;
  width: number;
  height: number;
  sort: SortOrder;
  intervalMs: number;
  now: number;
}

/** One worker, as the view shows it. */
interface WorkerRow {
  index: number;
  pid: number;
  state: string;
  /** A request under way. */
  busy: boolean;
  cpuPercent: number | null;
  rssBytes: number | null;
  requests: number;
  /** Upgraded (WebSocket) connections it holds open. */
  upgraded: number;
  durationMs: number | null;
  request: string;
}

const MIN_REQUEST_WIDTH = 8;
/** A pool's figures take at most this many lines on a narrow terminal. */
const SUMMARY_LINES = 3;
const ELLIPSIS = '…';
/** Statuses the master answers with itself that are server errors. */
const SERVER_ERRORS = [502, 503, 504] as const;
/** Workers retired on purpose, not replaced because something went wrong or a limit was hit. */
const PLANNED_STOPS: ReadonlySet<string> = new Set<RestartReason>(['reload', 'shutdown', 'idle']);

/** The duration of the slot's current request (while busy: so far), or of its last one; ms. */
export function requestDurationMs(slot: Slot, now: number): number {
  return requestDurationUs(slot, now) / 1000;
}

/**
 * Only printable ASCII reaches the terminal: a URI comes from a client and
 * passes through a slot its worker can write, and must not carry escape
 * sequences (or wide characters that would break the widths). The rest is
 * percent-encoded, as the URI would be on the wire.
 */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** `text` cut to `width` columns, the cut marked. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 0 ? '' : `${text.slice(0, width - 1)}${ELLIPSIS}`;
}

/**
 * Pieces in order of importance, two spaces apart, flowed into at most
 * `lines` lines of `width`; those that do not fit are left out.
 */
function flowPieces(pieces: string[], width: number, lines: number): string[] {
  const flowed: string[] = [];
  for (const piece of pieces) {
    const last = flowed.length - 1;
    if (last >= 0 && flowed[last]!.length + 2 + piece.length <= width) flowed[last] += `  ${piece}`;
    else if (flowed.length < lines) flowed.push(piece);
    else break;
  }
  return flowed.map((line) => fit(line, width));
}

function bytes(value: number | null): string {
  if (value === null) return '-';
  const units = [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
  ] as const;
  for (const [unit, size] of units) if (value >= size) return `${(value / size).toFixed(value >= 100 * size ? 0 : 1)}${unit}`;
  return `${Math.round(value / 1024)}K`;
}

function count(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  return value >= 1e5 ? `${Math.round(value / 1e3)}k` : String(value);
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  const seconds = ms / 1000;
  if (seconds < 1) return `${Math.max(0, Math.round(ms))}ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)}s`;
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 100 * 3600) return `${Math.floor(seconds / 3600)}h${two((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

function percent(value: number | null): string {
  if (value === null) return '-';
  return value >= 1000 ? String(Math.round(value)) : value.toFixed(1);
}

function clock(epochMs: number): string {
  return new Date(epochMs).toTimeString().slice(0, 8);
}

/**
 * The CPU share (100 = one core) each worker of `pool` used since `previous`
 * was read, by pid; a worker not in `previous` (new, or the master restarted) has none.
 */
export function cpuPercents(pool: PoolReading, previous: PoolReading | undefined): Map<number, number> {
  const shares = new Map<number, number>();
  if (!previous) return shares;
  const seconds = (pool.readAt - previous.readAt) / 1000;
  if (seconds <= 0) return shares;
  const before = new Map<number, number>();
  previous.slots.forEach((slot, i) => {
    const usage = previous.workers[i]?.usage;
    if (usage) before.set(slot.pid, usage.cpuSeconds);
  });
  pool.slots.forEach((slot, i) => {
    const usage = pool.workers[i]?.usage;
    const earlier = before.get(slot.pid);
    if (usage && earlier !== undefined && usage.cpuSeconds >= earlier) {
      shares.set(slot.pid, ((usage.cpuSeconds - earlier) / seconds) * 100);
    }
  });
  return shares;
}

/** Connections accepted per second since `previous`; null without one from the same master. */
export function acceptRate(pool: PoolReading, previous: PoolReading | undefined): number | null {
  if (!previous || previous.header.startTime !== pool.header.startTime) return null;
  const seconds = (pool.readAt - previous.readAt) / 1000;
  const accepted = pool.header.acceptedConn - previous.header.acceptedConn;
  return seconds > 0 && accepted >= 0 ? accepted / seconds : null;
}

function serverErrors(pool: PoolReading): number {
  return SERVER_ERRORS.reduce((sum, status) => sum + pool.masterResponses[status], 0);
}

function workerRows(pool: PoolReading, previous: PoolReading | undefined): WorkerRow[] {
  const cpu = cpuPercents(pool, previous);
  return pool.slots.map((slot, i) => {
    const worker = pool.workers[i]!;
    const busy = requestInFlight(slot);
    return {
      index: worker.index,
      pid: slot.pid,
      state: `${slot.state === 'Reading headers' ? 'Reading' : slot.state}${slot.active > 1 ? ` ${slot.active}` : ''}`,
      busy,
      cpuPercent: cpu.get(slot.pid) ?? null,
      rssBytes: worker.usage?.rssBytes ?? null,
      requests: slot.requests,
      upgraded: slot.upgraded,
      durationMs: busy || slot.requests > 0 ? requestDurationMs(slot, pool.readAt) : null,
      request: busy || slot.requests > 0 ? printable(`${slot.method} ${slot.uri}`) : '-',
    };
  });
}

const SORT_VALUE: Record<Exclude<SortOrder, 'slot'>, (row: WorkerRow) => number | null> = {
  cpu: (row) => row.cpuPercent,
  rss: (row) => row.rssBytes,
  // Requests under way first: an idle worker's last duration is history.
  duration: (row) => (row.busy ? row.durationMs : null),
};

/** Slot order, or the largest first (unknown last, ties in slot order). */
function sortRows(rows: WorkerRow[], order: SortOrder): WorkerRow[] {
  const bySlot = [...rows].sort((a, b) => a.index - b.index);
  if (order === 'slot') return bySlot;
  const value = SORT_VALUE[order];
  return bySlot.sort((a, b) => (value(b) ?? -1) - (value(a) ?? -1));
}

interface Column {
  title: string;
  width: number;
  /** Dropped from the narrowest terminals first: the lowest. */
  keep: number;
  /** The sort order it shows, kept while it is the order. */
  sort?: SortOrder;
  cell(row: WorkerRow): string;
}

// In display order. The request column follows them and takes the rest.
const COLUMNS: Column[] = [
  { title: 'SLOT', width: 4, keep: 1, cell: (row) => String(row.index) },
  { title: 'PID', width: 7, keep: 7, cell: (row) => (row.pid > 0 ? String(row.pid) : '-') },
  { title: 'STATE', width: 9, keep: 6, cell: (row) => row.state },
  { title: 'CPU%', width: 5, keep: 4, sort: 'cpu', cell: (row) => percent(row.cpuPercent) },
  { title: 'RSS', width: 6, keep: 3, sort: 'rss', cell: (row) => bytes(row.rssBytes) },
  { title: 'REQS', width: 6, keep: 2.5, cell: (row) => count(row.requests) },
  { title: 'WS', width: 4, keep: 2, cell: (row) => count(row.upgraded) },
  { title: 'DUR', width: 6, keep: 5, sort: 'duration', cell: (row) => duration(row.durationMs) },
];

/** The columns that fit `width` with a request column at least MIN_REQUEST_WIDTH wide. */
function columnsFor(width: number, sort: SortOrder): Column[] {
  const keep = (column: Column) => (column.sort === sort ? Infinity : column.keep);
  const shown = [...COLUMNS];
  const used = () => shown.reduce((sum, column) => sum + column.width + 1, 0);
  while (shown.length > 0 && used() + MIN_REQUEST_WIDTH > width) {
    const least = shown.reduce((a, b) => (keep(b) < keep(a) ? b : a));
    shown.splice(shown.indexOf(least), 1);
  }
  return shown;
}

function tableLine(columns: Column[], cells: string[], request: string, width: number): string {
  // The state and the request read left to right; numbers line up on the right.
  const padded = columns.map((column, i) =>
    column.title === 'STATE' ? fit(cells[i]!, column.width).padEnd(column.width) : fit(cells[i]!, column.width).padStart(column.width),
  );
  return fit([...padded, request].join(' '), width);
}

function poolLines(pool: PoolReading, previous: PoolReading | undefined, input: ViewInput): string[] {
  const { header } = pool;
  const rate = acceptRate(pool, previous);
  const errors = serverErrors(pool);
  const newErrors = previous && previous.header.startTime === header.startTime ? errors - serverErrors(previous) : 0;
  const restarts = Object.entries(pool.restarts).reduce((sum, [reason, n]) => sum + (PLANNED_STOPS.has(reason) ? 0 : n), 0);
  const summary = flowPieces(
    [
      `pool ${printable(header.pool)} (${header.pm})`,
      `req/s ${rate === null ? '-' : rate.toFixed(rate < 10 ? 1 : 0)}`,
      `active ${header.active}  idle ${header.idle}  total ${header.total}/${header.maxChildren}`,
      `queue ${header.listenQueue}/${header.listenQueueLen}`,
      `5xx ${errors}${newErrors > 0 ? ` (+${newErrors})` : ''}`,
      `upgraded ${pool.slots.reduce((sum, slot) => sum + slot.upgraded, 0)}`,
      `restarts ${restarts}`,
      `slow ${header.slowRequests}`,
      `max children reached ${header.maxChildrenReached}`,
    ],
    input.width,
    SUMMARY_LINES,
  );
  const columns = columnsFor(input.width, input.sort);
  const titles = tableLine(columns, columns.map((column) => column.title), 'REQUEST', input.width);
  const rows = sortRows(workerRows(pool, previous), input.sort).map((row) =>
    tableLine(columns, columns.map((column) => column.cell(row)), row.request, input.width),
  );
  return [...summary, titles, ...rows, ''];
}

function titleLine(input: ViewInput): string {
  const who = input.answer.kind === 'pools' ? `poold (pid ${input.answer.masterPid})` : 'poold';
  const keys = `keys ${Object.keys(SORT_KEYS).join('/')}: ${Object.values(SORT_KEYS).join('/')}, q: quit`;
  return flowPieces([who, clock(input.now), `every ${input.intervalMs / 1000}s`, `sort: ${input.sort}`, keys], input.width, 1)[0]!;
}

function waitingLines(answer: Extract<Answer, { kind: 'waiting' }>, input: ViewInput): string[] {
  const headline = answer.why === 'no such pool' ? 'waiting for the pool (a reload may add it)…' : `master ${answer.why} — waiting…`;
  return [
    headline,
    printable(answer.reason),
    input.lastAnswerAt === null ? 'it has not answered yet' : `last answer at ${clock(input.lastAnswerAt)}`,
  ].map((line) => fit(line, input.width));
}

/** The view: at most `height` lines, none longer than `width`. */
export function renderView(input: ViewInput): string[] {
  const width = Math.max(1, input.width);
  const sized = { ...input, width };
  const { answer } = input;
  const body =
    answer.kind === 'waiting'
      ? waitingLines(answer, sized)
      : answer.pools.flatMap((pool) => poolLines(pool, input.previous?.find((p) => p.header.pool === pool.header.pool), sized));
  const lines = [titleLine(sized), '', ...body];
  const height = Math.max(1, input.height);
  if (lines.length <= height) return lines;
  const shown = lines.slice(0, height - 1);
  return [...shown, fit(`… ${lines.length - shown.length} more lines: a taller terminal shows them`, width)];
}
