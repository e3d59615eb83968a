import type { Server, Socket } from 'node:net';
import type { PoolConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { ThrottledLog } from '../log/throttle.js';
import { PROCESS_MANAGERS } from '../pm/index.js';
import { INITIAL_PM_STATE, type PmState, type WorkerView } from '../pm/types.js';
import { Scoreboard, scoreboardPath, type ScoreboardSnapshot } from '../scoreboard/file.js';
import { addDurations, emptyDurations, type DurationHistogram } from '../scoreboard/layout.js';
import { newStats, poolHeader, type RestartReason } from './accounting.js';
import { restartDelay, START_FAILURE_LIMIT } from './backoff.js';
import { ClientConnection } from './client-connection.js';
import { Dispatcher, type DispatchSettings } from './dispatcher.js';
import { exitLine, isStartFailure } from './exit-report.js';
import { HeadReader, type HeadLimits } from './head-reader.js';
import { killLadder } from './kill-ladder.js';
import {
  CONNECTION_RESERVE,
  describeError,
  describeOpenFiles,
  inConnectionReserve,
  spawnFailure,
  type SpawnFailure,
} from './open-files.js';
import { answerAndDrop } from './raw-response.js';
import { findOverdueWorkers, timeoutCheckInterval } from './request-timeouts.js';
import { waitExited, waitReady } from './rollout.js';
import { WorkerProcess, describeExit, type WorkerExit } from './worker-process.js';

export type { PoolStats, RestartReason } from './accounting.js';

/** Set by the master to feed metrics: the pool itself knows nothing of prom-client. */
export interface PoolObserver {
  queueWaited(seconds: number): void;
}

function dispatchSettings(config: PoolConfig): DispatchSettings {
  return {
    maxConcurrency: config.maxConcurrency,
    queueMax: config.listenQueueMax,
    queueTimeout: config.listenQueueTimeout,
  };
}

function headLimits(config: PoolConfig): HeadLimits {
  return {
    headersTimeout: config.httpHeadersTimeout,
    keepAliveTimeout: config.httpKeepaliveTimeout,
    maxHeaderSize: config.httpMaxHeaderSize,
  };
}

/** How often an accept error on a pool's socket may be logged. */
const ACCEPT_ERROR_LOG_MS = 10_000;

/** The first line of an error's text (a stack's message line). */
function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function refuse(connection: ClientConnection): void {
  connection.answer(503, { 'Retry-After': '1' });
}

/**
 * Live workers grouped by the scoreboard they write: after a reload that grew
 * it, the old generation keeps the previous file, where slot numbers repeat.
 */
function byScoreboard(workers: Iterable<WorkerProcess>): Map<Scoreboard, WorkerProcess[]> {
  const groups = new Map<Scoreboard, WorkerProcess[]>();
  for (const worker of workers) {
    if (worker.phase === 'exited') continue;
    const group = groups.get(worker.scoreboard);
    if (group) group.push(worker);
    else groups.set(worker.scoreboard, [worker]);
  }
  return groups;
}

function initialWorkers(config: PoolConfig): number {
  if (config.pm === 'static') return config.maxChildren;
  if (config.pm === 'dynamic') return config.startServers;
  return 0;
}

/**
 * One pool at run time: its listening socket, its workers, the master's
 * reading of request heads and the dispatch of those requests, its
 * scoreboard, and its process manager's decisions.
 */
export class Pool {
  readonly name: string;
  readonly stats = newStats();
  scoreboard: Scoreboard;
  private readonly workers = new Map<number, WorkerProcess>();
  private readonly heads: HeadReader;
  private readonly dispatcher: Dispatcher<ClientConnection, WorkerProcess>;
  private pmState: PmState = INITIAL_PM_STATE;
  private nextWorkerId = 1;
  /** Consecutive workers that failed to start (isStartFailure), or could not be spawned. */
  private startFailures = 0;
  /** Why the pool's first workers could never start, once it gave up; it then starts no more. */
  private startFailure: string | null = null;
  private hasServed = false;
  private readonly acceptErrors: ThrottledLog;
  private readonly reserveRefusals: ThrottledLog;
  private spawnNotBefore = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private timeoutTimer: NodeJS.Timeout | null = null;
  /** The generation new connections go to; a reload rolls out the next one. */
  private generation = 1;
  private readonly slowSeen = new Set<string>();
  /** Request durations counted by workers that have exited. */
  private readonly exitedDurations = emptyDurations();
  private stopping = false;
  private isStopped = false;
  observer: PoolObserver | null = null;
  /** Each worker's last app-metrics answer, reused while it is too busy to answer. */
  private readonly appMetricsCache = new Map<number, unknown[]>();
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  /** Settles once: null when the pool first serves, or why its first workers could not start. */
  private readonly started: Promise<string | null>;
  private settleStart!: (failure: string | null) => void;

  constructor(
    public config: PoolConfig,
    private listener: Server,
    private readonly log: Logger,
  ) {
    this.name = config.name;
    this.acceptErrors = new ThrottledLog(ACCEPT_ERROR_LOG_MS, (line) => log.error(line));
    this.reserveRefusals = new ThrottledLog(ACCEPT_ERROR_LOG_MS, (line) => log.error(line));
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.started = new Promise((resolve) => (this.settleStart = resolve));
    // Twice pm.max_children: a worker being replaced keeps its slot until it
    // has exited, while its replacement already needs one.
    this.scoreboard = new Scoreboard(scoreboardPath(process.pid, config.name), config.maxChildren * 2);
    this.heads = new HeadReader(headLimits(config));
    this.heads.on('head', (connection) => this.dispatcher.offer(connection));
    // A stopping pool keeps its workers until every request that began arriving has been served.
    this.heads.on('settled', () => this.stopWhenQueueEmpty());
    this.dispatcher = new Dispatcher(dispatchSettings(config), {
      refreshLoads: (workers) => this.refreshLoads(workers),
      refuse,
    });
    this.dispatcher.on('handed', (waited) => {
      this.observer?.queueWaited(waited);
      this.noteActive();
    });
    this.dispatcher.on('queued', (length) => {
      this.stats.maxListenQueue = Math.max(this.stats.maxListenQueue, length);
      this.manage('event');
    });
    this.writeHeader();
    this.listen(listener);
    this.armTimeoutChecks();
  }

  private listen(listener: Server): void {
    listener.on('connection', (socket: Socket) => {
      this.stats.acceptedConn++;
      const connection = new ClientConnection(socket);
      if (inConnectionReserve(connection.fd)) {
        // Near the open-file limit: a 503 now rather than, at the limit,
        // libuv closing queued connections unanswered and no worker able to start.
        this.reserveRefusals.report(
          `[pool ${this.name}] the master is near its open-file limit (${describeOpenFiles()}): ` +
            `new connections get 503, ${CONNECTION_RESERVE} descriptors stay free to start workers`,
        );
        answerAndDrop(socket, 503, { 'Retry-After': '1' });
        return;
      }
      this.heads.readNew(connection);
    });
    // accept() failing (EMFILE when libuv has no descriptor in reserve): the
    // connection stays in the kernel's queue; the master goes on.
    listener.on('error', (err) =>
      this.acceptErrors.report(`[pool ${this.name}] unable to accept a connection: ${describeError(err)}`),
    );
  }

  private armTimeoutChecks(): void {
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    this.timeoutTimer = null;
    const interval = timeoutCheckInterval({
      terminate: this.config.requestTerminateTimeout,
      slowlog: this.config.requestSlowlogTimeout,
    });
    if (interval !== null) this.timeoutTimer = setInterval(() => this.checkRequestTimeouts(), interval);
  }

  /**
   * start() for a pool that a reload adds: judged like a rollout — null once
   * its first workers are ready, or why not as soon as one fails to start.
   */
  async startChecked(timeoutMs: number): Promise<string | null> {
    const fresh: WorkerProcess[] = [];
    for (let i = 0; i < Math.max(1, initialWorkers(this.config)); i++) {
      const worker = this.spawn();
      if (worker) fresh.push(worker);
    }
    const failure = await waitReady(fresh, timeoutMs);
    if (failure === null) this.markServing();
    return failure;
  }

  /**
   * Starts the pool's initial workers. Resolves with null once the pool can
   * serve, or with why not once START_FAILURE_LIMIT of its workers in a row
   * failed to start before any became ready (the app cannot load): the
   * pool then starts no more.
   */
  start(): Promise<string | null> {
    const initial = initialWorkers(this.config);
    for (let i = 0; i < initial; i++) if (!this.spawn()) break;
    // An ondemand pool serves from the start: its first connection starts a worker.
    if (initial === 0) this.markServing();
    return this.started;
  }

  private markServing(): void {
    this.hasServed = true;
    this.settleStart(null);
  }

  /**
   * Rolls the pool over to `next`: starts a new generation of workers with it
   * and routes nothing to them until every one is ready; only then do new
   * connections go to the new generation while the old one drains (bounded by
   * `drainTimeoutMs`). If a new worker fails to start, the rollout is aborted and
   * the old generation keeps serving. `listener` is the new address's socket when
   * `listen` changed: it is bound before the old one closes.
   * Resolves with null on success, or why it was aborted.
   */
  async reload(next: PoolConfig, listener: Server | null, drainTimeoutMs: number): Promise<string | null> {
    const generation = this.generation + 1;
    const previousScoreboard = this.scoreboard;
    if (next.maxChildren * 2 > previousScoreboard.slotCount) {
      this.scoreboard = new Scoreboard(previousScoreboard.file, next.maxChildren * 2, previousScoreboard);
    }
    // Connections on a new address are served from the start, by the old generation until the switch.
    if (listener) this.listen(listener);
    // Even an ondemand pool starts one worker: a broken deploy must fail here, not on the first request.
    const count = Math.max(1, initialWorkers(next));
    const fresh: WorkerProcess[] = [];
    for (let i = 0; i < count; i++) {
      const worker = this.spawn(next, generation);
      if (worker) fresh.push(worker);
    }
    const failure = await waitReady(fresh, drainTimeoutMs);
    if (failure !== null || this.stopping) {
      // Nothing was routed to them.
      killLadder(fresh);
      listener?.close();
      return this.stopping ? 'poold is stopping' : failure;
    }
    const old = [...this.workers.values()].filter((worker) => worker.generation < generation);
    this.config = next;
    this.generation = generation;
    this.pmState = INITIAL_PM_STATE;
    this.dispatcher.configure(dispatchSettings(next));
    this.dispatcher.replaceWorkers(fresh.filter((worker) => worker.phase !== 'exited'));
    this.heads.setLimits(headLimits(next));
    if (listener) {
      this.listener.close();
      this.listener = listener;
    }
    this.armTimeoutChecks();
    // Their idle kept-alive connections come back to be served by the new generation.
    for (const worker of old) worker.stop('reload', true);
    this.dispatcher.drain();
    this.manage('event');
    await waitExited(old, drainTimeoutMs);
    if (this.scoreboard !== previousScoreboard) previousScoreboard.close();
    return null;
  }

  /** The 1 s process-manager heartbeat. */
  tick(): void {
    this.refreshLoads(this.workers.values());
    this.manage('tick');
    this.writeHeader();
    // Room is reported as it appears; this catches a report that could not be sent.
    this.drainQueue();
  }

  /** Every request's duration since the pool started: exited workers' counts plus live workers' slots. */
  requestDurations(): DurationHistogram {
    const total = emptyDurations();
    addDurations(total, this.exitedDurations);
    for (const worker of this.workers.values()) {
      const slot = worker.scoreboard.readSlot(worker.slot);
      if (slot?.pid === worker.pid) addDurations(total, slot.durations);
    }
    return total;
  }

  /**
   * The app metrics of every live worker (prom-client getMetricsAsJSON), asked
   * over IPC; a worker that does not answer in time contributes its last answer.
   */
  async appMetrics(timeoutMs: number): Promise<unknown[][]> {
    await Promise.all(
      [...this.workers].map(async ([id, worker]) => {
        const data = await worker.requestMetrics(timeoutMs);
        if (data) this.appMetricsCache.set(id, data);
      }),
    );
    return [...this.appMetricsCache.values()];
  }

  /** A consistent view of the scoreboard, for status pages. */
  snapshot(): ScoreboardSnapshot | null {
    this.refreshLoads(this.workers.values());
    this.writeHeader();
    return this.scoreboard.read();
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
      this.clearTimers();
      this.heads.shortenIdle();
      setTimeout(() => this.terminate(), timeoutMs).unref();
      this.stopWhenQueueEmpty();
      this.resolveIfStopped();
    }
    return this.stopped;
  }

  /** Immediate stop: SIGTERM now, SIGKILL a second later. */
  terminate(): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    this.heads.close();
    this.dispatcher.refuseAll();
    killLadder([...this.workers.values()]);
    this.resolveIfStopped();
    return this.stopped;
  }

  /** Tells every worker to reopen its access log (the master reopens its own logs). */
  reopenLogs(): void {
    for (const worker of this.workers.values()) worker.reopenLogs();
  }

  /** Synchronous last resort when the master itself is going down hard. */
  killAll(): void {
    for (const worker of this.workers.values()) worker.kill('SIGKILL');
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.timeoutTimer]) if (timer) clearTimeout(timer);
  }

  /** These workers' loads, from their scoreboard slots: one read per scoreboard file. */
  private refreshLoads(workers: Iterable<WorkerProcess>): void {
    for (const [scoreboard, group] of byScoreboard(workers)) {
      const loads = scoreboard.loads(group.map((worker) => worker.slot));
      group.forEach((worker, i) => worker.updateLoad(loads[i]!));
    }
  }

  private noteActive(): void {
    let active = 0;
    for (const worker of this.workers.values()) if (worker.load > 0) active++;
    if (active > this.stats.maxActive) this.stats.maxActive = active;
  }

  private stopWhenQueueEmpty(): void {
    if (!this.stopping || this.dispatcher.queued > 0 || this.heads.count > 0) return;
    for (const worker of this.workers.values()) worker.stop('shutdown');
  }

  private manage(reason: 'tick' | 'event'): void {
    if (this.stopping || this.startFailure !== null) return;
    const now = Date.now();
    const views: WorkerView[] = [];
    for (const [id, worker] of this.workers) {
      if (worker.phase === 'exited' || worker.generation !== this.generation) continue;
      views.push({
        id,
        phase: worker.phase,
        startedAt: worker.startedAt,
        idleSince: worker.load === 0 ? worker.lastFreeAt : null,
      });
    }
    const pm = PROCESS_MANAGERS[this.config.pm];
    const actions = pm({
      config: this.config,
      workers: views,
      queued: this.dispatcher.queued,
      now,
      reason,
      state: this.pmState,
      startsFailing: this.startFailures > 0,
    });
    this.pmState = actions.state;
    if (actions.maxChildrenReached) this.stats.maxChildrenReached++;
    for (const warning of actions.warnings) this.log.warning(`[pool ${this.name}] ${warning}`);
    for (const id of actions.stop) this.workers.get(id)?.stop('idle', true);
    let toSpawn = actions.spawn;
    if (this.startFailures > 0 && toSpawn > 0) {
      // While starts keep failing, probe with one worker at a time, backing off.
      if (views.some((view) => view.phase === 'starting')) toSpawn = 0;
      else if (now < this.spawnNotBefore) {
        toSpawn = 0;
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.manage('event');
        }, this.spawnNotBefore - now);
      } else toSpawn = 1;
    }
    for (let i = 0; i < toSpawn; i++) if (!this.spawn()) break;
  }

  /**
   * A worker failed to start (or could not be spawned): the next start waits
   * a growing delay; a pool that has never served gives up after
   * START_FAILURE_LIMIT in a row, unless a resource was short (it comes back).
   */
  private startFailed(why: string, shortage = false): void {
    this.startFailures++;
    if (!this.hasServed && !shortage && this.startFailures >= START_FAILURE_LIMIT) {
      this.startFailure =
        `the app ${this.config.app} could not start: ${this.startFailures} children in a row failed ` +
        `before becoming ready; the last: ${why}`;
      this.clearTimers();
      this.settleStart(this.startFailure);
      return;
    }
    const delay = restartDelay(this.startFailures);
    this.spawnNotBefore = Date.now() + delay;
    this.log.warning(
      `[pool ${this.name}] ${this.startFailures} child(ren) in a row failed to start; ` +
        `next start in ${(delay / 1000).toFixed(1)}s`,
    );
  }

  /** Starts a worker; null when it could not be (no slot, or the spawn failed at once: logged, backed off). */
  private spawn(config = this.config, generation = this.generation): WorkerProcess | null {
    const scoreboard = this.scoreboard;
    const slot = scoreboard.allocate();
    if (slot === null) {
      this.log.warning(`[pool ${this.name}] no free scoreboard slot; not starting a child now`);
      return null;
    }
    const jitter = config.maxRequestsJitter > 0 ? Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
    let worker: WorkerProcess;
    try {
      worker = new WorkerProcess(
        {
          settings: {
            pool: config.name,
            app: config.app,
            maxConcurrency: config.maxConcurrency,
            headersTimeout: config.httpHeadersTimeout,
            requestTimeout: config.httpRequestTimeout,
            keepAliveTimeout: config.httpKeepaliveTimeout,
            maxHeaderSize: config.httpMaxHeaderSize,
            scoreboard: scoreboard.file,
            slot,
            maxRequests: config.maxRequests > 0 ? config.maxRequests + jitter : 0,
            maxMemory: config.maxMemory,
            slowlogTimeout: config.requestSlowlogTimeout,
            slowlog: config.slowlog,
            accessLog: config.accessLog,
            accessFormat: config.accessFormat,
            accessSuppressPath: config.accessSuppressPath,
          },
          limits: { rlimitFiles: config.rlimitFiles, rlimitCore: config.rlimitCore },
          catchOutput: config.catchWorkersOutput,
          env: config.env,
          clearEnv: config.clearEnv,
        },
        scoreboard,
        slot,
        generation,
      );
    } catch (err) {
      scoreboard.release(slot);
      this.spawnFailed(spawnFailure(err), generation);
      return null;
    }
    const id = this.nextWorkerId++;
    this.workers.set(id, worker);
    const prefix = `[pool ${this.name}] child ${worker.pid}`;
    // A spawn that failed without a pid is reported by its exit.
    if (worker.pid > 0) this.log.notice(`${prefix} started`);
    // A reload's new generation takes requests only once the rollout switches to it.
    if (generation === this.generation) this.dispatcher.add(worker);
    let appError: string | null = null;
    worker.on('ready', () => {
      this.startFailures = 0;
      this.markServing();
      this.drainQueue();
    });
    worker.on('free', () => this.drainQueue());
    worker.on('handBack', (connection) => this.heads.readAgain(connection));
    worker.on('unserved', (connection) => this.heads.resubmit(connection));
    worker.on('returned', (connection) => this.dispatcher.retry(connection));
    worker.on('retire', (reason) => {
      const limit = reason === 'max_requests' ? 'pm.max_requests' : 'pm.max_memory';
      this.log.notice(`${prefix} reached ${limit}, replacing it`);
      worker.stop(reason, true);
      this.manage('event');
    });
    worker.on('fail', (error) => {
      appError = firstLine(error);
      this.log.error(`${prefix} failed to start the app ${config.app}: ${error}`);
    });
    worker.on('output', (stream, line) =>
      this.log.warning(config.decorateWorkersOutput ? `${prefix} said into ${stream}: "${line}"` : line),
    );
    worker.on('exit', (exit) => this.onWorkerExit(id, worker, exit, prefix, appError));
    return worker;
  }

  /** A worker that could not be started at all: logged and backed off like a failed start. */
  private spawnFailed(failure: SpawnFailure, generation: number): void {
    this.log.error(`[pool ${this.name}] unable to start a child: ${failure.message}`);
    // A reload's new generation is judged by the rollout (which sees no worker for it).
    if (generation > this.generation || this.stopping) return;
    this.startFailed(failure.message, failure.shortage);
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.manage('event');
    }, Math.max(0, this.spawnNotBefore - Date.now()));
  }

  private onWorkerExit(id: number, worker: WorkerProcess, exit: WorkerExit, prefix: string, appError: string | null): void {
    this.workers.delete(id);
    this.dispatcher.remove(worker);
    this.appMetricsCache.delete(id);
    // Its request durations outlive it: they are counters.
    const lastSlot = worker.scoreboard.readSlot(worker.slot);
    if (lastSlot?.pid === worker.pid) addDurations(this.exitedDurations, lastSlot.durations);
    worker.scoreboard.release(worker.slot);
    if (exit.spawnError !== null) {
      this.spawnFailed(exit.spawnError, worker.generation);
    } else {
      const reason: RestartReason = worker.stopReason ?? 'crash';
      this.stats.restarts[reason]++;
      const clean = exit.code === 0 || (worker.stopReason !== null && exit.signal !== null);
      const line = exitLine(prefix, exit, lastSlot, worker.pid, Date.now());
      if (clean) this.log.notice(line);
      else this.log.warning(line);
    }
    if (this.stopping) {
      this.drainQueue();
      this.resolveIfStopped();
      return;
    }
    // A reload's new generation is judged by the rollout, not restarted here.
    if (worker.generation > this.generation) return;
    if (exit.spawnError === null && isStartFailure(exit, worker.stopReason !== null, this.hasServed)) {
      this.startFailed(appError ?? `child ${worker.pid} ${describeExit(exit)}`);
    }
    this.manage('event');
    this.drainQueue();
  }

  private drainQueue(): void {
    this.dispatcher.drain();
    this.stopWhenQueueEmpty();
  }

  /** request_terminate_timeout and request_slowlog_timeout, from every scoreboard a live worker writes. */
  private checkRequestTimeouts(): void {
    const limits = { terminate: this.config.requestTerminateTimeout, slowlog: this.config.requestSlowlogTimeout };
    const readings = [...byScoreboard(this.workers.values())].flatMap(([scoreboard, workers]) => {
      const snapshot = scoreboard.read();
      return snapshot ? [{ slots: snapshot.slots, workers }] : [];
    });
    for (const { worker, slot, kind, elapsedMs } of findOverdueWorkers(readings, limits, Date.now(), this.slowSeen)) {
      const what = `child ${slot.pid}, script '${this.config.app}' (request: "${slot.method} ${slot.uri}")`;
      const seconds = (elapsedMs / 1000).toFixed(6);
      if (kind === 'terminate') {
        if (worker.stopReason === 'terminate_timeout') continue;
        this.log.warning(`[pool ${this.name}] ${what} execution timed out (${seconds} sec), terminating`);
        worker.killOverdue();
      } else {
        this.slowSeen.add(`${slot.pid}:${slot.requestStart}`);
        this.stats.slowRequests++;
        this.log.warning(`[pool ${this.name}] ${what} executing too slow (${seconds} sec), logging`);
      }
    }
    if (this.slowSeen.size > 10_000) this.slowSeen.clear();
  }

  private writeHeader(): void {
    this.scoreboard.writeHeader(
      poolHeader(this.config, this.stats, {
        workers: this.workers.values(),
        listenQueue: this.dispatcher.queued,
        readingHeaders: this.heads.count,
        slotCount: this.scoreboard.slotCount,
      }),
    );
  }

  private resolveIfStopped(): void {
    if (!this.stopping || this.workers.size > 0 || this.isStopped) return;
    this.isStopped = true;
    this.dispatcher.refuseAll();
    this.heads.close();
    this.scoreboard.close();
    this.resolveStopped();
  }
}
