import { openSync, writeSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { SLOT_SIZE, SlotEncoder, freeSlot, slotOffset, type Slot } from './layout.js';

/** RSS is read from /proc: sample it at most this often, not on every request. */
const RSS_SAMPLE_MS = 250;

function basicAuthUser(header: string | undefined): string {
  if (!header?.startsWith('Basic ')) return '-';
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : '-';
}

/** A request in progress, as the slot shows it and as the writer needs to close it. */
export interface RequestTrace {
  /** Epoch ms. */
  startedAt: number;
  /** performance.now() at the start: durations need sub-millisecond precision. */
  startedHr: number;
  cpuAtStart: NodeJS.CpuUsage;
  /** The Basic-auth user, or '-'. */
  user: string;
  method: string;
  uri: string;
  contentLength: number;
}

/**
 * A worker's own slot: written with one positioned write at each state change,
 * before the handler runs, so a worker stuck in synchronous code still shows
 * what it is running and since when.
 */
export class SlotWriter {
  readonly slot: Slot;
  private readonly fd: number;
  private readonly offset: number;
  private readonly encoder = new SlotEncoder();
  private rss = 0;
  private rssSampledAt = 0;
  /** Requests in flight, oldest first (a Set keeps insertion order). */
  private readonly inFlight = new Set<RequestTrace>();

  constructor(file: string, index: number) {
    this.fd = openSync(file, 'r+');
    this.offset = slotOffset(index);
    this.slot = { ...freeSlot(), pid: process.pid, startTime: Date.now(), state: 'Idle' };
  }

  idle(): void {
    this.slot.state = 'Idle';
    this.flush();
  }

  /** A connection arrived and no request runs: the worker waits for its headers. */
  readingHeaders(): void {
    if (this.slot.active > 0) return;
    this.slot.state = 'Reading headers';
    this.flush();
  }

  begin(req: IncomingMessage): RequestTrace {
    const trace: RequestTrace = {
      startedAt: Date.now(),
      startedHr: performance.now(),
      cpuAtStart: process.cpuUsage(),
      user: basicAuthUser(req.headers.authorization),
      method: req.method ?? '-',
      uri: req.url ?? '-',
      contentLength: Number(req.headers['content-length'] ?? 0) || 0,
    };
    this.inFlight.add(trace);
    this.slot.state = 'Running';
    this.slot.requests++;
    this.show(this.oldest()!);
    return trace;
  }

  end(trace: RequestTrace): void {
    const slot = this.slot;
    this.inFlight.delete(trace);
    const elapsedMs = Math.max(performance.now() - trace.startedHr, 0.001);
    const cpu = process.cpuUsage(trace.cpuAtStart);
    slot.state = this.inFlight.size > 0 ? 'Running' : 'Idle';
    slot.requestDuration = elapsedMs * 1000;
    slot.lastRequestCpu = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
    slot.lastRequestMemory = this.sampleRss();
    // Still busy: show the oldest request left. Idle: the one that just ended, as FPM does.
    this.show(this.oldest() ?? trace);
  }

  /** When the oldest request in flight began (epoch ms), or null when none runs. */
  oldestStart(): number | null {
    return this.oldest()?.startedAt ?? null;
  }

  /**
   * The slot shows one request: the oldest in flight (with pm.max_concurrency
   * > 1 several run). Timeouts and "what is it stuck on" are about that one.
   */
  private oldest(): RequestTrace | undefined {
    return this.inFlight.values().next().value;
  }

  private show(trace: RequestTrace): void {
    const slot = this.slot;
    slot.active = this.inFlight.size;
    slot.requestStart = trace.startedAt;
    slot.method = trace.method;
    slot.uri = trace.uri;
    slot.contentLength = trace.contentLength;
    slot.user = trace.user;
    this.flush();
  }

  /** The worker's RSS, at most RSS_SAMPLE_MS old (reading it costs a /proc read). */
  sampleRss(): number {
    const now = Date.now();
    if (now - this.rssSampledAt >= RSS_SAMPLE_MS) return this.currentRss();
    return this.rss;
  }

  /** The worker's RSS now, for decisions that must not use a stale value. */
  currentRss(): number {
    this.rss = process.memoryUsage.rss();
    this.rssSampledAt = Date.now();
    return this.rss;
  }

  finishing(): void {
    this.slot.state = 'Finishing';
    this.flush();
  }

  private flush(): void {
    writeSync(this.fd, this.encoder.encode(this.slot), 0, SLOT_SIZE, this.offset);
  }
}
