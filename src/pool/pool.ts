import { constants as osConstants } from 'node:os';
import type { Server, Socket } from 'node:net';
import type { PoolConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { processManagerFor } from '../pm/index.js';
import type { ProcessManager, WorkerView } from '../pm/types.js';
import { restartDelay } from './backoff.js';
import { DispatchQueue } from './dispatch-queue.js';
import { answerAndClose } from './raw-response.js';
import { selectWorker } from './select-worker.js';
import { WorkerProcess, type WorkerExit } from './worker-process.js';

/** After SIGTERM, how long a worker gets before SIGKILL (FPM's 1 s step). */
const KILL_STEP_MS = 1000;

function formatUptime(ms: number): string {
  return (ms / 1000).toFixed(6);
}

function describeExit({ code, signal }: WorkerExit): string {
  if (signal) return `exited on signal ${osConstants.signals[signal] ?? '?'} (${signal})`;
  return `exited with code ${code}`;
}

/**
 * One pool at run time: its listening socket, its workers, the queue of
 * connections waiting for a free worker, and its process manager's decisions.
 */
export class Pool {
  readonly name: string;
  private readonly workers = new Map<number, WorkerProcess>();
  private readonly queue = new DispatchQueue();
  private readonly pm: ProcessManager;
  private nextWorkerId = 1;
  private nextConnectionId = 1;
  /** Consecutive workers that died before becoming ready. */
  private startFailures = 0;
  private spawnNotBefore = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private readonly serving: Promise<void>;
  private resolveServing!: () => void;

  constructor(
    readonly config: PoolConfig,
    private readonly listener: Server,
    private readonly log: Logger,
  ) {
    this.name = config.name;
    this.pm = processManagerFor(config.pm);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.serving = new Promise((resolve) => (this.resolveServing = resolve));
    listener.on('connection', (socket: Socket) => this.onConnection(socket));
  }

  /** Starts the pool's initial workers; resolves once the pool can serve. */
  start(): Promise<void> {
    this.manage();
    return this.serving;
  }

  /** The 1 s process-manager heartbeat. */
  tick(): void {
    this.manage();
  }

  /**
   * Stops accepting: the listening socket closes at once, so new clients are
   * refused, not queued then reset. (close()'s callback would also wait for
   * every accepted connection, queued ones included, so it is not awaited.)
   */
  closeListener(): void {
    this.listener.close();
  }

  /**
   * Graceful stop: connections already accepted are still served, each worker
   * finishes its requests and runs the app's shutdown(); whatever is left after
   * `timeoutMs` gets SIGTERM, then SIGKILL a second later.
   */
  stop(timeoutMs: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      setTimeout(() => this.terminate(), timeoutMs).unref();
      this.stopWhenQueueEmpty();
      this.resolveIfStopped();
    }
    return this.stopped;
  }

  /** Immediate stop: SIGTERM now, SIGKILL a second later. */
  terminate(): Promise<void> {
    this.stopping = true;
    for (const queued of this.queue.drain()) answerAndClose(queued.socket, 503);
    for (const worker of this.workers.values()) worker.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of this.workers.values()) worker.kill('SIGKILL');
    }, KILL_STEP_MS).unref();
    this.resolveIfStopped();
    return this.stopped;
  }

  /** Synchronous last resort when the master itself is going down hard. */
  killAll(): void {
    for (const worker of this.workers.values()) worker.kill('SIGKILL');
  }

  private onConnection(socket: Socket): void {
    // The master's copy is never read; errors on it must not crash the master.
    socket.on('error', () => {});
    const id = this.nextConnectionId++;
    if (this.queue.length === 0) {
      const worker = selectWorker(this.workers.values(), this.config.maxConcurrency);
      if (worker?.dispatch(socket, id)) return;
    }
    this.queue.push({ id, socket, queuedAt: performance.now() });
  }

  private dispatchQueued(): void {
    while (this.queue.length > 0) {
      const worker = selectWorker(this.workers.values(), this.config.maxConcurrency);
      if (!worker) break;
      const next = this.queue.shift()!;
      if (!worker.dispatch(next.socket, next.id)) this.queue.unshift(next);
    }
    this.stopWhenQueueEmpty();
  }

  private stopWhenQueueEmpty(): void {
    if (!this.stopping || this.queue.length > 0) return;
    for (const worker of this.workers.values()) worker.stop();
  }

  private manage(): void {
    if (this.stopping) return;
    const now = Date.now();
    const views: WorkerView[] = [];
    for (const [id, worker] of this.workers) {
      if (worker.phase === 'exited') continue;
      views.push({
        id,
        phase: worker.phase,
        startedAt: worker.startedAt,
        idleSince: worker.load === 0 ? worker.lastFreeAt : null,
      });
    }
    const actions = this.pm({ config: this.config, workers: views, queued: this.queue.length, now });
    for (const id of actions.stop) this.workers.get(id)?.stop();
    let toSpawn = actions.spawn;
    if (this.startFailures > 0 && toSpawn > 0) {
      // While starts keep failing, probe with one worker at a time, backing off.
      if (views.some((view) => view.phase === 'starting')) toSpawn = 0;
      else if (now < this.spawnNotBefore) {
        toSpawn = 0;
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.manage();
        }, this.spawnNotBefore - now);
      } else toSpawn = 1;
    }
    for (let i = 0; i < toSpawn; i++) this.spawn();
  }

  private spawn(): void {
    const config = this.config;
    const worker = new WorkerProcess({
      settings: {
        pool: config.name,
        app: config.app,
        maxConcurrency: config.maxConcurrency,
        headersTimeout: config.httpHeadersTimeout,
        requestTimeout: config.httpRequestTimeout,
        keepAliveTimeout: config.httpKeepaliveTimeout,
        maxHeaderSize: config.httpMaxHeaderSize,
      },
      env: config.env,
      clearEnv: config.clearEnv,
    });
    const id = this.nextWorkerId++;
    this.workers.set(id, worker);
    const prefix = `[pool ${this.name}] child ${worker.pid}`;
    this.log.notice(`${prefix} started`);
    worker.on('ready', () => {
      this.startFailures = 0;
      this.resolveServing();
      this.dispatchQueued();
    });
    worker.on('free', () => this.dispatchQueued());
    worker.on('fail', (error) => this.log.error(`${prefix} failed to start the app ${config.app}: ${error}`));
    worker.on('output', (stream, line) => this.log.warning(`${prefix} said into ${stream}: "${line}"`));
    worker.on('exit', (exit) => this.onWorkerExit(id, exit, prefix));
  }

  private onWorkerExit(id: number, exit: WorkerExit, prefix: string): void {
    this.workers.delete(id);
    const clean = exit.code === 0 || (this.stopping && exit.signal === 'SIGTERM');
    const line = `${prefix} ${describeExit(exit)} after ${formatUptime(exit.uptimeMs)} seconds from start`;
    if (clean) this.log.notice(line);
    else this.log.warning(line);
    if (this.stopping) {
      this.dispatchQueued();
      this.resolveIfStopped();
      return;
    }
    if (exit.beforeReady) {
      this.startFailures++;
      const delay = restartDelay(this.startFailures);
      this.spawnNotBefore = Date.now() + delay;
      this.log.warning(
        `[pool ${this.name}] ${this.startFailures} child(ren) in a row exited before becoming ready; ` +
          `next start in ${(delay / 1000).toFixed(1)}s`,
      );
    }
    this.manage();
    this.dispatchQueued();
  }

  private resolveIfStopped(): void {
    if (!this.stopping || this.workers.size > 0) return;
    for (const queued of this.queue.drain()) answerAndClose(queued.socket, 503);
    this.resolveStopped();
  }
}
