import { fstatSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import { ScoreboardRegion } from '../scoreboard/region.js';
import { monotonicMs } from '../ipc/connection-table.js';
import { DURATION_BUCKETS, SLOT_SIZE, SlotEncoder, countInto, freeSlot, slotOffset, type Slot } from '../scoreboard/layout.js';

/** RSS is read from /proc: sample it at most this often, not on every request. */
const RSS_SAMPLE_MS = 250;
/**
 * Reading the CPU clock is a getrusage() call, which costs more in a busy
 * worker (it sums every thread) than the rest of a short request's bookkeeping.
 * A request that begins more than this long after the last reading starts from
 * a fresh one and ends with one: it is measured on its own. On a busy worker,
 * requests follow each other closely: each starts from the last reading and
 * ends without a new one unless this long has passed since it, so the slot
 * shows the worker's CPU share over its last 10 ms or so of work. FPM's
 * times() counts in 10 ms clock ticks: it cannot resolve a shorter request
 * either.
 */
const CPU_READING_REUSE_MS = 10;
/**
 * The CPU clock counts every thread of the process, and the time of a thread
 * still running elsewhere (V8 compiling or collecting garbage) is credited in
 * lumps: over a window of a fraction of a millisecond it can seem to exceed
 * every core. No process can use more than all of them.
 */
const MAX_CPU_PERCENT = os.availableParallelism() * 100;
/**
 * A connection whose request has not begun within this long is written to the
 * slot on its own ('Reading headers', as FPM shows a slow client); a prompt
 * request writes it along with its own start, saving a write per connection.
 */
export const READING_HEADERS_SHOWN_AFTER_MS = 100;

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
  /** monotonicMs() at the start: durations need sub-millisecond precision. */
  startedHr: number;
  /** The CPU reading it starts from (µs) and when that was taken (monotonicMs()). */
  cpuAtStart: number;
  cpuReadAt: number;
  /** It began after a pause, from a fresh reading: it is measured on its own. */
  afterPause: boolean;
  /** The Basic-auth user, or '-'. */
  user: string;
  method: string;
  uri: string;
  contentLength: number;
}

/**
 * A worker's own slot: written with one copy into the scoreboard at each state change,
 * before the handler runs, so a worker stuck in synchronous code still shows
 * what it is running and since when.
 */
export class SlotWriter {
  readonly slot: Slot;
  private readonly region: ScoreboardRegion;
  private readonly offset: number;
  private readonly encoder = new SlotEncoder();
  private rss = 0;
  /** monotonicMs() of the last RSS reading. */
  private rssSampledAt = -Infinity;
  /** The last Authorization header seen and its user: clients repeat it on every request. */
  private authHeader: string | undefined = undefined;
  private authUser = '-';
  /** The last CPU reading (user + system µs) and when it was taken (monotonicMs()). */
  private cpuUs = 0;
  private cpuReadAt = -Infinity;
  /** Requests in flight, oldest first (a Set keeps insertion order). */
  private readonly inFlight = new Set<RequestTrace>();
  /** The slot in memory has changes not yet written (a connection accepted). */
  private unwritten = false;
  private writeTimer: NodeJS.Timeout | null = null;
  /** Once stopping or retiring, the slot stays Finishing: the master hands it nothing more. */
  private finishingForGood = false;

  /** `fd`: the pool's scoreboard, kept open (the slowlog thread reads it too). */
  constructor(fd: number, index: number) {
    this.region = new ScoreboardRegion(fd, fstatSync(fd).size);
    this.offset = slotOffset(index);
    const now = Date.now();
    this.slot = { ...freeSlot(), pid: process.pid, startTime: now, freeSince: now, state: 'Idle' };
  }

  idle(): void {
    this.slot.state = 'Idle';
    this.flush();
  }

  /**
   * The master handed over a connection. The slot counts it, which is how the
   * master learns it arrived; until then the master counts it as in transit,
   * which is the same load. So it is written with the request's start, in
   * the same write, and on its own only if the headers are slow to come.
   */
  connectionAccepted(): void {
    const slot = this.slot;
    slot.accepted++;
    slot.waiting++;
    slot.freeSince = 0;
    // No request runs: the worker waits for this connection's headers.
    if (slot.active === 0 && !this.finishingForGood) slot.state = 'Reading headers';
    this.unwritten = true;
    this.writeTimer ??= setTimeout(() => {
      this.writeTimer = null;
      if (this.unwritten) this.flush();
    }, READING_HEADERS_SHOWN_AFTER_MS).unref();
  }

  /** A handed-over connection closed before its first request began. */
  connectionAbandoned(): void {
    const slot = this.slot;
    slot.waiting = Math.max(0, slot.waiting - 1);
    if (slot.active === 0 && slot.waiting === 0) {
      if (!this.finishingForGood) slot.state = 'Idle';
      slot.freeSince = Date.now();
    }
    this.flush();
  }

  /**
   * A handed-over connection given back unread: as if it had never come (the
   * master no longer counts it as handed over either).
   */
  connectionReturned(): void {
    this.slot.accepted--;
    this.connectionAbandoned();
  }

  /**
   * A connection left HTTP (an Upgrade): it is no request, and no load. If it
   * was the connection's first request, the connection stops counting as
   * waiting for one.
   */
  connectionUpgraded(firstOnConnection: boolean): void {
    this.slot.upgraded++;
    if (firstOnConnection) this.connectionAbandoned();
    else this.flush();
  }

  upgradedClosed(): void {
    this.slot.upgraded = Math.max(0, this.slot.upgraded - 1);
    this.flush();
  }

  /** Requests in flight plus handed-over connections waiting for their first one. */
  load(): number {
    return this.slot.active + this.slot.waiting;
  }

  /** `firstOnConnection`: the first request of a connection the master handed over. */
  begin(req: IncomingMessage, firstOnConnection: boolean): RequestTrace {
    const startedHr = monotonicMs();
    const afterPause = startedHr - this.cpuReadAt > CPU_READING_REUSE_MS;
    if (afterPause) this.readCpu(startedHr);
    const trace: RequestTrace = {
      startedAt: Date.now(),
      startedHr,
      cpuAtStart: this.cpuUs,
      cpuReadAt: this.cpuReadAt,
      afterPause,
      user: this.userOf(req.headers.authorization),
      method: req.method ?? '-',
      uri: req.url ?? '-',
      contentLength: Number(req.headers['content-length'] ?? 0) || 0,
    };
    this.inFlight.add(trace);
    if (firstOnConnection) this.slot.waiting = Math.max(0, this.slot.waiting - 1);
    this.slot.freeSince = 0;
    if (!this.finishingForGood) this.slot.state = 'Running';
    this.slot.requests++;
    this.show(this.oldest()!);
    return trace;
  }

  end(trace: RequestTrace): void {
    const slot = this.slot;
    this.inFlight.delete(trace);
    const now = monotonicMs();
    const elapsedMs = Math.max(now - trace.startedHr, 0.001);
    if (trace.afterPause || now - this.cpuReadAt >= CPU_READING_REUSE_MS) {
      this.readCpu(now);
      const percent = ((this.cpuUs - trace.cpuAtStart) / 1000 / (now - trace.cpuReadAt)) * 100;
      slot.lastRequestCpu = Math.min(percent, MAX_CPU_PERCENT);
    }
    if (this.finishingForGood) slot.state = 'Finishing';
    else if (this.inFlight.size > 0) slot.state = 'Running';
    else if (slot.waiting > 0) slot.state = 'Reading headers';
    else slot.state = 'Idle';
    if (this.inFlight.size === 0 && slot.waiting === 0) slot.freeSince = Date.now();
    slot.requestDuration = elapsedMs * 1000;
    countInto(slot.durations, DURATION_BUCKETS, elapsedMs / 1000);
    slot.lastRequestMemory = this.sampleRss(now);
    // Still busy: show the oldest request left. Idle: the one that just ended, as FPM does.
    this.show(this.oldest() ?? trace);
  }

  private userOf(authorization: string | undefined): string {
    if (authorization !== this.authHeader) {
      this.authHeader = authorization;
      this.authUser = basicAuthUser(authorization);
    }
    return this.authUser;
  }

  private readCpu(now: number): void {
    const { user, system } = process.cpuUsage();
    this.cpuUs = user + system;
    this.cpuReadAt = now;
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
    if (this.inFlight.size === 0) return undefined;
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

  /** The worker's RSS, at most RSS_SAMPLE_MS old (reading it costs a /proc read); `now`: monotonicMs(). */
  sampleRss(now = monotonicMs()): number {
    if (now - this.rssSampledAt >= RSS_SAMPLE_MS) return this.currentRss();
    return this.rss;
  }

  /** The worker's RSS now, for decisions that must not use a stale value. */
  currentRss(): number {
    this.rss = process.memoryUsage.rss();
    this.rssSampledAt = monotonicMs();
    return this.rss;
  }

  /** Stopping, or retiring after a recycling limit: it finishes what it has and takes nothing new. */
  finishing(): void {
    this.finishingForGood = true;
    this.slot.state = 'Finishing';
    this.flush();
  }

  private flush(): void {
    this.unwritten = false;
    this.region.write(this.encoder.encode(this.slot), SLOT_SIZE, this.offset);
  }
}
