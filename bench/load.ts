// A lean closed-loop HTTP/1.1 load generator: every request on a new TCP
// connection ("Connection: close"), timed with performance.now() (µs resolution).
//
// It writes one prebuilt request buffer per connection and parses only the
// status line and Content-Length of the answer, so it costs far less CPU per
// request than http.request(): on a 2-core machine the load generator competes
// with the server for CPU, and the leaner it is the less it distorts results.
import net from 'node:net';
import autocannon from 'autocannon';
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
  warmupMs: number;
  durationMs: number;
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

const HEADER_END = Buffer.from('\r\n\r\n');

/** Status code and total response length once the headers are in, else null. */
function parseHead(data: Buffer): { status: number; totalLength: number | null } | null {
  const end = data.indexOf(HEADER_END);
  if (end < 0) return null;
  const head = data.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return { status, totalLength: match ? end + 4 + Number(match[1]) : null };
}

/**
 * Runs `connections` closed loops per group for warm-up + duration. Each loop:
 * connect, send, read the whole response (latency stops here), wait for the
 * server to close, repeat. Bounded: it ends at the end of the window and waits
 * at most requestTimeoutMs for the last requests.
 */
export function runClosedLoops(options: LoopOptions): Promise<GroupResult[]> {
  const { port, warmupMs, durationMs } = options;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const start = performance.now();
  const measureStart = start + warmupMs;
  const measureEnd = measureStart + durationMs;
  let stopping = false;
  let active = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const states: GroupState[] = options.groups.map((group) => ({
    group,
    request: Buffer.from(`GET ${group.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`, 'latin1'),
    latencies: [],
    completedInWindow: 0,
    non2xx: 0,
    errors: {},
  }));

  const loop = (state: GroupState): void => {
    if (stopping) {
      if (--active === 0) finish();
      return;
    }
    const startedAt = performance.now();
    const inWindow = startedAt >= measureStart && startedAt < measureEnd;
    let received: Buffer | null = null;
    let head: ReturnType<typeof parseHead> = null;
    let doneAt = 0;
    let failure: string | null = null;
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('ETIMEDOUT')));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.code ?? err.message;
    });
    socket.on('data', (chunk: Buffer) => {
      if (doneAt) return;
      received = received ? Buffer.concat([received, chunk]) : chunk;
      head ??= parseHead(received);
      if (head && head.totalLength !== null && received.length >= head.totalLength) doneAt = performance.now();
    });
    socket.on('end', () => {
      // No Content-Length: the response ends with the connection.
      if (!doneAt && head) doneAt = performance.now();
    });
    socket.on('close', () => {
      if (doneAt && head) {
        if (inWindow) state.latencies.push(doneAt - startedAt);
        if (doneAt >= measureStart && doneAt < measureEnd) {
          state.completedInWindow++;
          if (head.status < 200 || head.status > 299) state.non2xx++;
        }
      } else {
        const code = failure ?? 'incomplete response';
        if (startedAt >= measureStart && startedAt < measureEnd) state.errors[code] = (state.errors[code] ?? 0) + 1;
        // Don't spin on a server that refuses: back off a little.
        setTimeout(() => loop(state), 10);
        return;
      }
      loop(state);
    });
    socket.write(state.request);
  };

  options.onMeasureStart && setTimeout(options.onMeasureStart, warmupMs);
  setTimeout(() => {
    stopping = true;
    options.onMeasureEnd?.();
  }, warmupMs + durationMs);

  for (const state of states) {
    for (let i = 0; i < state.group.connections; i++) {
      active++;
      loop(state);
    }
  }
  // Never wait forever for the last requests.
  const hardStop = setTimeout(finish, warmupMs + durationMs + timeoutMs + 1000);
  return finished.then(() => {
    clearTimeout(hardStop);
    const seconds = durationMs / 1000;
    return states.map((state) => ({
      name: state.group.name,
      path: state.group.path,
      connections: state.group.connections,
      requestsPerSecond: state.completedInWindow / seconds,
      completed: state.completedInWindow,
      latency: summarize(state.latencies),
      non2xx: state.non2xx,
      errors: state.errors,
    }));
  });
}

export interface KeepAliveOptions {
  port: number;
  path: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

export interface KeepAliveResult {
  requestsPerSecond: number;
  completed: number;
  /** autocannon's latencies: whole milliseconds. */
  latencyMs: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Keep-alive throughput with autocannon: a warm-up run, then the measured run. */
export async function runKeepAlive(options: KeepAliveOptions): Promise<KeepAliveResult> {
  const url = `http://127.0.0.1:${options.port}${options.path}`;
  const common = { url, connections: options.connections, pipelining: 1, timeout: 10 };
  if (options.warmupMs > 0) await cannon({ ...common, duration: options.warmupMs / 1000 });
  options.onMeasureStart?.();
  const result = await cannon({ ...common, duration: options.durationMs / 1000 });
  options.onMeasureEnd?.();
  return {
    // result.duration is the measured run's real length, in seconds.
    requestsPerSecond: result.requests.total / result.duration,
    completed: result.requests.total,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
