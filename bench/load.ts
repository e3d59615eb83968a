// A lean closed-loop HTTP/1.1 load generator. Each loop sends one request,
// reads the whole response, and only then sends the next: on a new TCP
// connection every time ("Connection: close"), or on the same kept-alive
// connection. Every request is timed on its own with performance.now()
// (µs resolution) and tagged with its group, so one run can give the latency
// of a fast route while other connections hammer a blocking one.
//
// Why not wrk with a Lua script: wrk aggregates latencies into one histogram
// per process, and its Lua hooks never see a request's latency, so the two
// routes of a mixed scenario would need two wrk processes competing for the
// same 2 cores, and its warm-up could not be told apart from the measured
// window in one run (nor measured at the same moments as the servers' CPU).
// It would also be a system package to install. wrk, in C, would cost less
// CPU per request; this client keeps its cost low by writing one prebuilt
// buffer per request and parsing only the status line and the headers that
// frame the answer (10 µs of CPU per kept-alive request against autocannon's
// 14). On 2 cores the client competes with the server, and the leaner it is
// the less it distorts results.
import net from 'node:net';
import { summarize, type LatencySummary } from './stats.js';

export interface LoopGroup {
  /** Label for the report, e.g. 'fast' or 'block'. */
  name: string;
  path: string;
  /** How many connections loop on this path at the same time. */
  connections: number;
}

export interface LoopOptions {
  port: number;
  groups: LoopGroup[];
  /** Reuse each connection for the next request instead of opening one per request. */
  keepAlive: boolean;
  warmupMs: number;
  durationMs: number;
  /** Requests at least this slow (ms) are counted in GroupResult.slow. */
  slowMs?: number;
  /** A request taking longer than this is an error (and its connection destroyed). */
  requestTimeoutMs?: number;
  /** Called once the warm-up is over, right before the measured window starts. */
  onMeasureStart?: () => void;
  /** Called right at the end of the measured window. */
  onMeasureEnd?: () => void;
}

export interface GroupResult {
  name: string;
  path: string;
  connections: number;
  /** Requests that completed inside the measured window, per second. */
  requestsPerSecond: number;
  completed: number;
  /** Latency of the requests started inside the measured window, in ms. */
  latency: LatencySummary;
  /** How many of those took at least LoopOptions.slowMs (0 without a threshold). */
  slow: number;
  non2xx: number;
  errors: Record<string, number>;
}

interface GroupState {
  group: LoopGroup;
  request: Buffer;
  latencies: number[];
  completedInWindow: number;
  non2xx: number;
  errors: Record<string, number>;
}

interface Head {
  status: number;
  /** Bytes of headers and body together; null when the body ends with the connection. */
  totalLength: number | null;
  /** The server keeps the connection open after this response. */
  reusable: boolean;
}

/** One request in flight on a loop. */
interface Exchange {
  startedAt: number;
  received: Buffer | null;
  head: Head | null;
  doneAt: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** The response's framing once its headers are in, else null. */
function parseHead(data: Buffer): Head | null {
  const end = data.indexOf(HEADER_END);
  if (end < 0) return null;
  const head = data.toString('latin1', 0, end);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return {
    status: Number(head.slice(9, 12)),
    totalLength: length ? end + 4 + Number(length[1]) : null,
    reusable: length !== null && !/\r\nconnection:\s*close/i.test(head),
  };
}

/**
 * Runs `connections` closed loops per group for warm-up + duration. A request's
 * clock starts before connect() when it opens a connection, so new-connection
 * latencies include the accept and the hand-over to a worker. Bounded: loops
 * stop at the end of the window and the last requests get at most
 * requestTimeoutMs.
 */
export function runClosedLoops(options: LoopOptions): Promise<GroupResult[]> {
  const { port, warmupMs, durationMs, keepAlive } = options;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const start = performance.now();
  const measureStart = start + warmupMs;
  const measureEnd = measureStart + durationMs;
  const inWindow = (t: number) => t >= measureStart && t < measureEnd;
  let stopping = false;
  let active = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const connection = keepAlive ? 'keep-alive' : 'close';

  const states: GroupState[] = options.groups.map((group) => ({
    group,
    request: Buffer.from(`GET ${group.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: ${connection}\r\n\r\n`, 'latin1'),
    latencies: [],
    completedInWindow: 0,
    non2xx: 0,
    errors: {},
  }));

  const startLoop = (state: GroupState): void => {
    let socket: net.Socket | null = null;
    let exchange: Exchange | null = null;
    let failure: string | null = null;

    const record = (x: Exchange, head: Head): void => {
      if (inWindow(x.startedAt)) state.latencies.push(x.doneAt - x.startedAt);
      if (inWindow(x.doneAt)) {
        state.completedInWindow++;
        if (head.status < 200 || head.status > 299) state.non2xx++;
      }
    };

    const open = (): net.Socket => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
      failure = null;
      s.setTimeout(timeoutMs, () => s.destroy(new Error('ETIMEDOUT')));
      s.on('error', (err: NodeJS.ErrnoException) => {
        failure = err.code ?? err.message;
      });
      s.on('data', (chunk: Buffer) => {
        const x = exchange;
        if (s !== socket || !x || x.doneAt) return;
        x.received = x.received ? Buffer.concat([x.received, chunk]) : chunk;
        x.head ??= parseHead(x.received);
        if (!x.head || x.head.totalLength === null || x.received.length < x.head.totalLength) return;
        x.doneAt = performance.now();
        if (keepAlive && x.head.reusable) {
          record(x, x.head);
          exchange = null;
          next();
        }
        // Otherwise the server closes the connection and 'close' moves on.
      });
      s.on('end', () => {
        const x = exchange;
        // No Content-Length: the body ends with the connection.
        if (s === socket && x?.head && !x.doneAt) x.doneAt = performance.now();
      });
      s.on('close', () => {
        if (s !== socket) return;
        socket = null;
        const x = exchange;
        exchange = null;
        if (!x) return;
        if (x.doneAt && x.head) {
          record(x, x.head);
          next();
          return;
        }
        const code = failure ?? 'incomplete response';
        if (inWindow(x.startedAt)) state.errors[code] = (state.errors[code] ?? 0) + 1;
        // Don't spin on a server that refuses: back off a little.
        setTimeout(next, 10);
      });
      return s;
    };

    const next = (): void => {
      if (stopping) {
        const s = socket;
        socket = null;
        s?.destroy();
        if (--active === 0) finish();
        return;
      }
      exchange = { startedAt: performance.now(), received: null, head: null, doneAt: 0 };
      socket ??= open();
      socket.write(state.request);
    };

    next();
  };

  options.onMeasureStart && setTimeout(options.onMeasureStart, warmupMs);
  setTimeout(() => {
    stopping = true;
    options.onMeasureEnd?.();
  }, warmupMs + durationMs);

  for (const state of states) {
    for (let i = 0; i < state.group.connections; i++) {
      active++;
      startLoop(state);
    }
  }
  // Never wait forever for the last requests.
  const hardStop = setTimeout(finish, warmupMs + durationMs + timeoutMs + 1000);
  return finished.then(() => {
    clearTimeout(hardStop);
    const seconds = durationMs / 1000;
    const slowMs = options.slowMs;
    return states.map((state) => ({
      name: state.group.name,
      path: state.group.path,
      connections: state.group.connections,
      requestsPerSecond: state.completedInWindow / seconds,
      completed: state.completedInWindow,
      slow: slowMs === undefined ? 0 : state.latencies.filter((ms) => ms >= slowMs).length,
      latency: summarize(state.latencies),
      non2xx: state.non2xx,
      errors: state.errors,
    }));
  });
}
