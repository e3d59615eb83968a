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

/** A request in progress, as the slot writer needs to close it. */
export interface RequestTrace {
  startedAt: number;
  cpuAtStart: NodeJS.CpuUsage;
  /** The Basic-auth user, or '-'. */
  user: string;
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
  /**
   * The process's CPU time when the last request ended: the next request's
   * CPU is measured from there (one getrusage per request instead of two);
   * the little CPU an idle worker spends is counted into its next request.
   */
  private cpuMark = process.cpuUsage();
  private rssSampledAt = 0;

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

  begin(req: IncomingMessage, active: number): RequestTrace {
    const slot = this.slot;
    const trace = { startedAt: Date.now(), cpuAtStart: this.cpuMark, user: basicAuthUser(req.headers.authorization) };
    slot.state = 'Running';
    slot.active = active;
    slot.requests++;
    slot.requestStart = trace.startedAt;
    slot.method = req.method ?? '-';
    slot.uri = req.url ?? '-';
    slot.contentLength = Number(req.headers['content-length'] ?? 0) || 0;
    slot.user = trace.user;
    this.flush();
    return trace;
  }

  end(trace: RequestTrace, active: number): void {
    const slot = this.slot;
    const now = Date.now();
    const elapsedMs = Math.max(now - trace.startedAt, 0.001);
    const cpuNow = process.cpuUsage();
    const cpu = { user: cpuNow.user - trace.cpuAtStart.user, system: cpuNow.system - trace.cpuAtStart.system };
    this.cpuMark = cpuNow;
    slot.active = active;
    slot.state = active > 0 ? 'Running' : 'Idle';
    slot.requestDuration = elapsedMs * 1000;
    slot.lastRequestCpu = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
    slot.lastRequestMemory = this.sampleRss(now);
    this.flush();
  }

  /** The worker's RSS, at most RSS_SAMPLE_MS old. */
  sampleRss(now = Date.now()): number {
    if (now - this.rssSampledAt >= RSS_SAMPLE_MS) {
      this.rss = process.memoryUsage.rss();
      this.rssSampledAt = now;
    }
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
