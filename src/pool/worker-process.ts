import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { MasterMessage, RetireReason, WorkerMessage } from '../ipc/protocol.js';
import type { Scoreboard } from '../scoreboard/file.js';
import type { SlotLoad } from '../scoreboard/layout.js';
import { answerAndClose } from './raw-response.js';
import { spawnWorker, type SpawnOptions } from './spawn-worker.js';

/** After a worker exits, how long its last IPC messages may take to arrive. */
const EXIT_DRAIN_MS = 200;

export type WorkerPhase = 'starting' | 'ready' | 'stopping' | 'exited';

/** Why the master ended a worker; anything it did not end itself is a crash. */
export type StopReason = RetireReason | 'idle' | 'terminate_timeout' | 'reload' | 'shutdown';

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it exited before ever becoming ready. */
  beforeReady: boolean;
  uptimeMs: number;
}

interface WorkerEvents {
  ready: [];
  fail: [error: string];
  free: [];
  retire: [reason: RetireReason];
  output: [stream: 'stdout' | 'stderr', line: string];
  exit: [exit: WorkerExit];
}

/**
 * The master's handle on one worker process: its phase, its load (as its
 * scoreboard slot last showed it, plus connections handed over since), and the
 * master's own copies of connections that the worker has not started answering
 * yet — so they can get a 502 if the worker dies.
 */
export class WorkerProcess extends EventEmitter<WorkerEvents> {
  readonly pid: number;
  readonly startedAt = Date.now();
  phase: WorkerPhase = 'starting';
  /** When (epoch ms) its load last dropped to zero or it became ready: "idle longest" and idle timeouts. */
  lastFreeAt = Date.now();
  /** Connections handed over since it started; its slot counts those it received. */
  private dispatched = 0;
  /** Its slot as last read. */
  private slotLoad = 0;
  private slotAccepted = 0;
  /** Its slot says Finishing: retiring, it must get nothing new. */
  private finishing = false;
  /** Whether it was last told to report 'f' (connections are queued). */
  private watched = false;
  stopReason: StopReason | null = null;
  private readonly child: ChildProcess;
  private readonly unanswered = new Map<number, Socket>();
  private readonly metricsReplies = new Map<number, (data: unknown[] | null) => void>();
  private nextMetricsId = 1;
  private unansweredStatus: 502 | 504 = 502;

  constructor(
    options: SpawnOptions,
    /** Its scoreboard (a reload may start a bigger one for the next generation) and slot in it. */
    readonly scoreboard: Scoreboard,
    readonly slot: number,
    /** Which configuration generation it runs; a reload starts the next one. */
    readonly generation: number,
  ) {
    super();
    this.child = spawnWorker(options);
    // A spawn failure (ENOENT, EAGAIN) surfaces as 'error' without a pid.
    this.pid = this.child.pid ?? -1;
    this.child.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.child.on('error', () => {});
    this.child.once('exit', (code, signal) => {
      // Messages the worker sent just before dying may still be unread: wait
      // for the channel to close ('close'), but not forever — with a handle in
      // flight to a dead child, Node never closes the channel.
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onExit(code, signal);
      };
      const timer = setTimeout(settle, EXIT_DRAIN_MS);
      this.child.once('close', settle);
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = this.child[stream];
      if (!readable) continue;
      createInterface({ input: readable, crlfDelay: Infinity }).on('line', (line) =>
        this.emit('output', stream, line),
      );
    }
  }

  get accepting(): boolean {
    return this.phase === 'ready' && !this.finishing && this.child.connected;
  }

  /**
   * Requests in flight plus handed-over connections whose first request has
   * not begun: what its slot last showed, plus the connections handed over
   * since that the worker had not counted yet (in transit).
   */
  get load(): number {
    if (this.phase === 'exited') return 0;
    return this.slotLoad + Math.max(0, this.dispatched - this.slotAccepted);
  }

  /** Takes its load from its scoreboard slot (null: torn or not written yet, then the last reading stands). */
  updateLoad(slot: SlotLoad | null): void {
    if (slot && slot.pid === this.pid) {
      this.slotLoad = slot.load;
      this.slotAccepted = slot.accepted;
      this.finishing = slot.finishing;
      if (slot.freeSince > 0) this.lastFreeAt = slot.freeSince;
    }
  }

  /** Hands a connection over; returns false when the channel is already gone. */
  dispatch(socket: Socket, id: number): boolean {
    if (!this.child.connected) return false;
    this.dispatched++;
    this.unanswered.set(id, socket);
    const message: MasterMessage = { t: 'conn', id };
    // keepOpen: the master keeps its copy until the worker starts answering.
    this.child.send(message, socket, { keepOpen: true }, (err) => {
      if (err) this.answerUnanswered(id, 502);
    });
    return true;
  }

  /** Graceful: finish in-flight requests, run the app's shutdown(), exit. */
  stop(reason: StopReason): void {
    if (this.phase === 'exited' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.stopReason ??= reason;
    const message: MasterMessage = { t: 'stop' };
    if (this.child.connected) this.child.send(message, (err: Error | null) => err && this.kill('SIGTERM'));
    else this.kill('SIGTERM');
  }

  /** Asks it to report 'f' whenever it can take a connection (on), or to stop (off). */
  watch(on: boolean): void {
    if (this.watched === on || !this.child.connected) return;
    this.watched = on;
    const message: MasterMessage = { t: 'watch', on };
    this.child.send(message, () => {});
  }

  reopenLogs(): void {
    const message: MasterMessage = { t: 'reopen' };
    if (this.child.connected) this.child.send(message, () => {});
  }

  /**
   * The app's prom-client metrics as JSON, or null when it has none or does
   * not answer within `timeoutMs` (a worker stuck in synchronous code).
   */
  requestMetrics(timeoutMs: number): Promise<unknown[] | null> {
    if (!this.child.connected || this.phase === 'starting') return Promise.resolve(null);
    const id = this.nextMetricsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (data: unknown[] | null) => {
        clearTimeout(timer);
        this.metricsReplies.delete(id);
        resolve(data);
      };
      this.metricsReplies.set(id, finish);
      const message: MasterMessage = { t: 'metrics', id };
      this.child.send(message, (err: Error | null) => err && finish(null));
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.phase !== 'exited') this.child.kill(signal);
  }

  /**
   * Kills it for running past request_terminate_timeout: SIGTERM, then SIGKILL
   * a second later if the app kept it alive. Connections it had not started
   * answering get 504 instead of 502.
   */
  terminate(killStepMs: number): void {
    if (this.phase === 'exited' || this.stopReason === 'terminate_timeout') return;
    this.stopReason = 'terminate_timeout';
    this.phase = 'stopping';
    this.unansweredStatus = 504;
    this.kill('SIGTERM');
    setTimeout(() => this.kill('SIGKILL'), killStepMs).unref();
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.t) {
      case 'ready':
        if (this.phase === 'starting') this.phase = 'ready';
        this.lastFreeAt = Date.now();
        this.emit('ready');
        return;
      case 'fail':
        this.emit('fail', message.error);
        return;
      case 's':
        this.dropCopy(message.id);
        return;
      case 'f':
        this.emit('free');
        return;
      case 'm':
        this.metricsReplies.get(message.id)?.(message.data);
        return;
      case 'r':
        this.emit('retire', message.reason);
        return;
    }
  }

  private dropCopy(id: number): void {
    const socket = this.unanswered.get(id);
    if (!socket) return;
    this.unanswered.delete(id);
    // destroy() closes only the master's descriptor; end() would shut down the
    // connection the worker is still serving.
    socket.destroy();
  }

  private answerUnanswered(id: number, status: 502 | 504): void {
    const socket = this.unanswered.get(id);
    if (!socket) return;
    this.unanswered.delete(id);
    answerAndClose(socket, status);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const beforeReady = this.phase === 'starting';
    this.phase = 'exited';
    // Node never closes a handle that was in flight to a dead child, and no byte
    // of these responses was written: without this the clients would hang.
    for (const id of [...this.unanswered.keys()]) this.answerUnanswered(id, this.unansweredStatus);
    this.emit('exit', { code, signal, beforeReady, uptimeMs: Date.now() - this.startedAt });
  }
}
