import type { Server, Socket } from 'node:net';
import type { RunAs } from '../config/identities.js';
import type { PoolConfig } from '../config/types.js';
import { monotonicMs } from '../ipc/connection-table.js';
import { forPool, type Logger } from '../log/logger.js';
import { ThrottledLog } from '../log/throttle.js';
import { ANY_CLIENT, clientFilter, proxyFilter } from '../net/client-list.js';
import { setProcessPriority } from './process-priority.js';
import { PROCESS_MANAGERS } from '../pm/index.js';
import { INITIAL_PM_STATE, type PmState, type WorkerView } from '../pm/types.js';
import { Scoreboard, type ScoreboardSnapshot } from '../scoreboard/file.js';
import { addDurations, emptyDurations, freeSlot, type DurationHistogram, type PoolHeader } from '../scoreboard/layout.js';
import { countQueueWait, newStats, poolHeader, type RestartReason } from './accounting.js';
import { restartDelay, START_FAILURE_LIMIT } from './backoff.js';
import { ClientConnection } from './client-connection.js';
import { Dispatcher, type DispatchSettings } from './dispatcher.js';
import { exitLine, isStartFailure } from './exit-report.js';
import { HeadReader, type ClientPolicy, type HeadLimits } from './head-reader.js';
import { killLadder } from './kill-ladder.js';
import { closeGracefully, type ClosingListener } from './listener.js';
import { findBlockedLoops } from './loop-watch.js';
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
import { CONTRADICTION_LOG_INTERVAL_MS, LogLimiter, slotBelongs, type Contradiction } from './slot-trust.js';
import { inheritLogs } from './inherited-logs.js';
import { waitExited, waitReady } from './rollout.js';
import { WorkerProcess, describeExit, type WorkerExit } from './worker-process.js';
import { prepareWorkerFiles } from './worker-files.js';

export type { PoolStats, RestartReason } from './accounting.js';

/** Set by the master: a worker that had started died without being asked to (emergency_restart_*). */
export type CrashListener = (pool: Pool) => void;

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

function clientPolicy(config: PoolConfig): ClientPolicy {
  return {
    filters: config.listenTrustedProxies.length > 0 || !config.listenAllowedClients.includes(ANY_CLIENT),
    trustedProxy: proxyFilter(config.listenTrustedProxies),
    allowed: clientFilter(config.listenAllowedClients),
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
  private readonly log: Logger;
  private readonly heads: HeadReader;
  private clients: ClientPolicy;
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
  /** A graceful stop's deadline (epoch ms): until then workers' upgraded connections may stay open. */
  private stopDeadline = 0;
  private isStopped = false;
  /** Whether the current listener has begun to close (a stop, or the pool's removal). */
  private listenerClosing = false;
  /** Listeners still accepting what the kernel had queued before they close: their connections are served. */
  private readonly draining = new Set<ClosingListener>();
  onCrash: CrashListener | null = null;
  /** Set by the master: how many more workers process.max lets all pools start. */
  processRoom: () => number = () => Infinity;
  private processMaxLatched = false;
  /** Lines about slots the master did not believe, at most one of each kind a minute. */
  private readonly contradictions = new LogLimiter<Contradiction['kind']>(CONTRADICTION_LOG_INTERVAL_MS);
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
    /** The master's log; the pool's own lines go to this.log. */
    private readonly masterLog: Logger,
    /** Whom the workers run as (null: as the master). */
    private runAs: RunAs | null,
  ) {
    this.name = config.name;
    // Every line of this pool's begins with `[pool NAME]`.
    this.log = forPool(masterLog, config.name);
    const log = this.log;
    this.acceptErrors = new ThrottledLog(ACCEPT_ERROR_LOG_MS, (line) => log.error(line));
    this.reserveRefusals = new ThrottledLog(ACCEPT_ERROR_LOG_MS, (line) => log.error(line));
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.started = new Promise((resolve) => (this.settleStart = resolve));
    // Twice pm.max_children: a worker being replaced keeps its slot until it
    // has exited, while its replacement already needs one.
    this.scoreboard = new Scoreboard(config.name, config.maxChildren * 2);
    this.prepareWorkerFiles(config, runAs);
    this.clients = clientPolicy(config);
    this.heads = new HeadReader(headLimits(config), this.clients);
    this.heads.on('rejected', (_connection, message) => this.log.error(`${message}`));
    this.heads.on('head', (connection) => this.dispatcher.offer(connection));
    // A stopping pool keeps its workers until every request that began arriving has been served.
    this.heads.on('settled', () => this.stopWhenQueueEmpty());
    this.dispatcher = new Dispatcher(dispatchSettings(config), {
      refreshLoads: (workers) => this.refreshLoads(workers),
      refuse,
    });
    this.dispatcher.on('handed', (waited) => {
      countQueueWait(this.stats.queueWaits, waited);
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
      // A trusted proxy's client is checked once its PROXY header is read.
      const peer = this.clients.filters ? socket.remoteAddress : undefined;
      if (peer !== undefined && !this.clients.trustedProxy(peer) && !this.clients.allowed(peer)) {
        // FPM's words; like FPM, the client gets no response and the connection is not counted.
        this.log.error(`Connection disallowed: IP address '${peer}' has been dropped.`);
        socket.destroy();
        return;
      }
      this.stats.acceptedConn++;
      const connection = new ClientConnection(socket, (status) => this.stats.masterResponses[status]++);
      if (inConnectionReserve(connection.fd)) {
        // Near the open-file limit: a 503 now rather than, at the limit,
        // libuv closing queued connections unanswered and no worker able to start.
        this.reserveRefusals.report(
          `the master is near its open-file limit (${describeOpenFiles()}): ` +
            `new connections get 503, ${CONNECTION_RESERVE} descriptors stay free to start workers`,
        );
        this.stats.masterResponses[503]++;
        answerAndDrop(socket, 503, { 'Retry-After': '1' });
        return;
      }
      this.heads.readNew(connection);
    });
    // accept() failing (EMFILE when libuv has no descriptor in reserve): the
    // connection stays in the kernel's queue; the master goes on.
    listener.on('error', (err) =>
      this.acceptErrors.report(`unable to accept a connection: ${describeError(err)}`),
    );
  }

  private armTimeoutChecks(): void {
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    this.timeoutTimer = null;
    const interval = timeoutCheckInterval({
      terminate: this.config.requestTerminateTimeout,
      slowlog: this.config.requestSlowlogTimeout,
      loopBlock: this.config.maxLoopBlock,
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
    for (let i = 0; i < this.withinProcessMax(initial); i++) if (!this.spawn()) break;
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
   * `drainTimeoutMs`). The new workers have `readyTimeoutMs` to become ready. If a new worker fails to start, the rollout is aborted and
   * the old generation keeps serving. `listener` is the new address's socket when
   * `listen` changed: it is bound before the old one closes.
   * Resolves with null on success, or why it was aborted.
   */
  async reload(
    next: PoolConfig,
    listener: Server | null,
    readyTimeoutMs: number,
    drainTimeoutMs: number,
    runAs: RunAs | null,
  ): Promise<string | null> {
    const generation = this.generation + 1;
    const previousScoreboard = this.scoreboard;
    if (next.maxChildren * 2 > previousScoreboard.slotCount) {
      // The previous generation keeps writing the scoreboard it was given.
      this.scoreboard = new Scoreboard(next.name, next.maxChildren * 2);
    }
    this.prepareWorkerFiles(next, runAs);
    // Connections on a new address are served from the start, by the old generation until the switch.
    if (listener) this.listen(listener);
    // Even an ondemand pool starts one worker: a broken deploy must fail here, not on the first request.
    const count = Math.max(1, initialWorkers(next));
    const fresh: WorkerProcess[] = [];
    for (let i = 0; i < count; i++) {
      const worker = this.spawn(next, generation, runAs);
      if (worker) fresh.push(worker);
    }
    const failure = await waitReady(fresh, readyTimeoutMs);
    if (failure !== null || this.stopping) {
      // Nothing was routed to them.
      killLadder(fresh);
      if (listener) this.drainAndClose(listener);
      return this.stopping ? 'poold is stopping' : failure;
    }
    const old = [...this.workers.values()].filter((worker) => worker.generation < generation);
    this.config = next;
    this.clients = clientPolicy(next);
    this.heads.setPolicy(this.clients);
    this.runAs = runAs;
    this.generation = generation;
    this.pmState = INITIAL_PM_STATE;
    this.dispatcher.configure(dispatchSettings(next));
    this.dispatcher.replaceWorkers(fresh.filter((worker) => worker.phase !== 'exited'));
    this.heads.setLimits(headLimits(next));
    if (listener) {
      this.drainAndClose(this.listener);
      this.listener = listener;
    }
    this.armTimeoutChecks();
    // Their idle kept-alive connections come back to be served by the new generation.
    for (const worker of old) worker.stop('reload', true, drainTimeoutMs);
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

  /**
   * A consistent view of the scoreboard, for status pages: the pool's fields
   * as the master knows them, and every slot, one that is not its live
   * worker's (by index, then pid) shown as Free. It writes nothing.
   */
  snapshot(): ScoreboardSnapshot | null {
    const snapshot = this.scoreboard.read();
    if (!snapshot) return null;
    const owners = new Map<number, WorkerProcess>();
    for (const worker of this.workers.values()) {
      if (worker.scoreboard === this.scoreboard && worker.phase !== 'exited') owners.set(worker.slot, worker);
    }
    const slots = snapshot.slots.map((slot, index) => {
      const owner = owners.get(index);
      if (slotBelongs(slot, owner)) return slot;
      const whose = owner ? `child ${owner.pid}'s` : 'an unused';
      this.reportContradiction('pid', `${whose} scoreboard slot ${index} names pid ${slot.pid} (${slot.state})`);
      return freeSlot();
    });
    return { header: this.currentHeader(), slots };
  }

  /** A slot said what the master knows to be false: logged, at most once a minute for each kind. */
  private reportContradiction(kind: Contradiction['kind'], what: string): void {
    const line = this.contradictions.admit(kind, `${what}; ignored, the master goes by what it knows`, Date.now());
    if (line) this.log.warning(line);
  }

  /**
   * Stops accepting: new clients are refused at once, and what the kernel
   * had already accepted is still accepted and served before the socket
   * closes (listener.ts, closeGracefully), not reset.
   */
  closeListener(): void {
    if (this.listenerClosing) return;
    this.listenerClosing = true;
    this.drainAndClose(this.listener);
  }

  private drainAndClose(listener: Server): void {
    const closing = closeGracefully(listener, (err) =>
      this.log.warning(`cannot turn new connections away before closing the listener: ${err.message}`),
    );
    this.draining.add(closing);
    void closing.closed.then(() => {
      this.draining.delete(closing);
      this.stopWhenQueueEmpty();
      this.resolveIfStopped();
    });
  }

  /**
   * Graceful stop: connections already accepted are still served, each worker
   * finishes its requests and runs the app's shutdown(); whatever is left after
   * `timeoutMs` gets SIGTERM, then SIGKILL a second later.
   */
  stop(timeoutMs: number): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopDeadline = Date.now() + timeoutMs;
      this.closeListener();
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
    this.closeListener();
    for (const closing of this.draining) closing.closeNow();
    this.clearTimers();
    this.heads.close();
    this.dispatcher.refuseAll();
    killLadder([...this.workers.values()]);
    this.resolveIfStopped();
    return this.stopped;
  }

  /** Tells every worker to reopen its access log (the master reopens its own logs). */
  reopenLogs(): void {
    this.prepareWorkerFiles(this.config, this.runAs);
    for (const worker of this.workers.values()) worker.reopenLogs();
  }

  /** Synchronous last resort when the master itself is going down hard. */
  killAll(): void {
    for (const worker of this.workers.values()) worker.kill('SIGKILL');
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.timeoutTimer]) if (timer) clearTimeout(timer);
  }

  /** These workers' loads, from their scoreboard slots (one read per scoreboard), as far as the master believes them. */
  private refreshLoads(workers: Iterable<WorkerProcess>): void {
    const now = Date.now();
    const beat = monotonicMs();
    for (const [scoreboard, group] of byScoreboard(workers)) {
      const loads = scoreboard.loads(group.map((worker) => worker.slot));
      group.forEach((worker, i) => {
        for (const { kind, text } of worker.updateLoad(loads[i]!, now, beat)) {
          this.reportContradiction(kind, `child ${worker.pid}'s scoreboard slot ${worker.slot} ${text}`);
        }
      });
    }
  }

  private noteActive(): void {
    let active = 0;
    for (const worker of this.workers.values()) if (worker.load > 0) active++;
    if (active > this.stats.maxActive) this.stats.maxActive = active;
  }

  private stopWhenQueueEmpty(): void {
    if (!this.stopping || this.draining.size > 0 || this.dispatcher.queued > 0 || this.heads.count > 0) return;
    const upgradedGraceMs = Math.max(0, this.stopDeadline - Date.now());
    for (const worker of this.workers.values()) worker.stop('shutdown', false, upgradedGraceMs);
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
        holdsUpgraded: worker.upgraded > 0,
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
    for (const warning of actions.warnings) this.log.warning(warning);
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
    for (let i = 0; i < this.withinProcessMax(toSpawn); i++) if (!this.spawn()) break;
  }

  /** The part of `wanted` new workers that process.max leaves room for; warns once per episode. */
  private withinProcessMax(wanted: number): number {
    const allowed = Math.min(wanted, Math.max(0, this.processRoom()));
    if (allowed < wanted && !this.processMaxLatched) {
      this.log.warning(`process.max reached: not starting ${wanted - allowed} child(ren) now`);
    }
    this.processMaxLatched = allowed < wanted;
    return allowed;
  }

  /** Its worker processes, draining ones included: what process.max counts. */
  get processCount(): number {
    return this.workers.size;
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
      `${this.startFailures} child(ren) in a row failed to start; ` +
        `next start in ${(delay / 1000).toFixed(1)}s`,
    );
  }

  /** What workers running as `runAs` must be able to write: their logs (the scoreboard is theirs by descriptor). */
  private prepareWorkerFiles(config: PoolConfig, runAs: RunAs | null): void {
    for (const problem of prepareWorkerFiles(config, runAs)) {
      this.log.error(problem);
    }
  }

  /** Starts a worker; null when it could not be (no slot, or the spawn failed at once: logged, backed off). */
  private spawn(config = this.config, generation = this.generation, runAs = this.runAs): WorkerProcess | null {
    const scoreboard = this.scoreboard;
    const slot = scoreboard.allocate();
    if (slot === null) {
      this.log.warning(`no free scoreboard slot; not starting a child now`);
      return null;
    }
    const logs = inheritLogs({ slowlog: config.slowlog, accessLog: config.accessLog });
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
            slot,
            maxRequests: config.maxRequests > 0 ? config.maxRequests + jitter : 0,
            maxMemory: config.maxMemory,
            slowlogTimeout: config.requestSlowlogTimeout,
            slowlog: logs.paths.slowlog,
            slowlogTraceDepth: config.requestSlowlogTraceDepth,
            trustedProxies: config.listenTrustedProxies,
            accessLog: logs.paths.accessLog,
            accessFormat: config.accessFormat,
            accessSuppressPath: config.accessSuppressPath,
          },
          limits: { rlimitFiles: config.rlimitFiles, rlimitCore: config.rlimitCore },
          catchOutput: config.catchWorkersOutput,
          logFds: logs.fds,
          env: config.env,
          clearEnv: config.clearEnv,
          runAs,
          cwd: config.chdir,
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
    const prefix = `child ${worker.pid}`;
    // A spawn that failed without a pid is reported by its exit.
    if (worker.pid > 0) this.log.notice(`${prefix} started`);
    if (worker.pid > 0 && config.processPriority !== null) {
      // Set from outside as the worker starts: its app loads at the new priority all the same.
      const problem = setProcessPriority(worker.pid, config.processPriority);
      if (problem) this.log.error(`${prefix}: unable to set process.priority ${config.processPriority}: ${problem}`);
    }
    // A reload's new generation takes requests only once the rollout switches to it.
    if (generation === this.generation) this.dispatcher.add(worker);
    let appError: string | null = null;
    worker.on('ready', () => {
      this.startFailures = 0;
      this.markServing();
      this.drainQueue();
    });
    worker.on('free', () => this.drainQueue());
    worker.on('handBack', (connection) => {
      this.stats.moves++;
      this.heads.readAgain(connection);
    });
    worker.on('unserved', (connection) => this.heads.resubmit(connection));
    worker.on('returned', (connection) => {
      this.stats.moves++;
      this.dispatcher.retry(connection);
    });
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
      config.decorateWorkersOutput
        ? this.log.warning(`${prefix} said into ${stream}: "${line}"`)
        : this.masterLog.warning(line),
    );
    worker.on('exit', (exit) => this.onWorkerExit(id, worker, exit, prefix, appError));
    return worker;
  }

  /** A worker that could not be started at all: logged and backed off like a failed start. */
  private spawnFailed(failure: SpawnFailure, generation: number): void {
    this.log.error(`unable to start a child: ${failure.message}`);
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
    const crashed = exit.spawnError === null && !exit.beforeReady && worker.stopReason === null && exit.code !== 0;
    if (crashed) this.onCrash?.(this);
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

  /**
   * request_terminate_timeout and request_slowlog_timeout, from every
   * scoreboard a live worker writes; and pm.max_loop_block, from the workers'
   * heartbeats.
   */
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
        this.log.warning(`${what} execution timed out (${seconds} sec), terminating`);
        worker.killOverdue('terminate_timeout');
      } else {
        this.slowSeen.add(`${slot.pid}:${slot.requestStart}`);
        this.stats.slowRequests++;
        this.log.warning(`${what} executing too slow (${seconds} sec), logging`);
      }
    }
    if (this.slowSeen.size > 10_000) this.slowSeen.clear();
    for (const { worker, slot, blockedMs } of findBlockedLoops(readings, this.config.maxLoopBlock, monotonicMs())) {
      const last = slot.requestStart > 0 ? ` (last request: "${slot.method} ${slot.uri}")` : '';
      this.log.warning(
        `child ${worker.pid}, script '${this.config.app}'${last} event loop blocked outside any request ` +
          `for ${(blockedMs / 1000).toFixed(6)} sec, terminating`,
      );
      worker.killOverdue('loop_block');
    }
  }

  /** FPM's pool fields as the master knows them now. */
  private currentHeader(): PoolHeader {
    return poolHeader(this.config, this.stats, {
      workers: this.workers.values(),
      listenQueue: this.dispatcher.queued,
      readingHeaders: this.heads.count,
      slotCount: this.scoreboard.slotCount,
    });
  }

  private writeHeader(): void {
    this.scoreboard.writeHeader(this.currentHeader());
  }

  private resolveIfStopped(): void {
    if (!this.stopping || this.workers.size > 0 || this.draining.size > 0 || this.isStopped) return;
    this.isStopped = true;
    this.dispatcher.refuseAll();
    this.heads.close();
    this.scoreboard.close();
    this.resolveStopped();
  }
}
