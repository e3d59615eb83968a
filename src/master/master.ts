import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExit } from 'signal-exit';
import { EXIT } from '../cli/exit-codes.js';
import { ConfigError, formatIssue, loadConfig, type GlobalConfig, type PoolConfig, type PooldConfig } from '../config/index.js';
import { reopenLogger, type Logger } from '../log/logger.js';
import { ThrottledLog } from '../log/throttle.js';
import { applyUnixSocketPermissions, bindListener, describeAddress, listenOn } from '../pool/listener.js';
import { atOpenFileLimit, describeError, describeOpenFiles } from '../pool/open-files.js';
import { Pool } from '../pool/pool.js';
import { hasParentDeathSignal } from '../pool/spawn-worker.js';
import { removeStaleScoreboards } from '../scoreboard/file.js';
import { PooldMetrics } from '../status/metrics.js';
import { StatusServer } from '../status/server.js';
import { ControlServer, type ControlRequest, type ControlResponse } from './control.js';
import { controlSocketPath } from './control-path.js';
import { applyMasterLimits, workerLimitProblems } from './limits.js';
import { isAlive, readPidFile, removePidFile, writePidFile } from './pidfile.js';
import { SignalQueue, type MasterSignal } from './signals.js';
import { SystemdNotifier, watchdogIntervalMs } from './systemd-notify.js';

/** The process manager heartbeat, as FPM's. */
const TICK_MS = 1000;
/** At exit, how long a reload in progress gets to answer its `poold reload --wait`. */
const RELOAD_ANSWER_GRACE_MS = 2000;
/** How often systemd gets a STATUS= line, as FPM's systemd_interval default. */
const SYSTEMD_STATUS_MS = 10_000;
/** How often the master may report that it is at its open-file limit. */
const FILE_LIMIT_LOG_MS = 10_000;

export class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface MasterHooks {
  /** Every pool serves: the moment to tell a launcher. */
  onReady?: () => void;
}

interface ReloadOutcome {
  ok: boolean;
  code: number;
  messages: string[];
}

function sameAddress(a: PoolConfig['listen'], b: PoolConfig['listen']): boolean {
  return describeAddress(a) === describeAddress(b);
}

/**
 * The master process: owns the listening sockets, runs each pool, and turns
 * signals and control requests into lifecycle steps. Its PID never changes for
 * the life of the service, reloads included.
 */
export class Master {
  private readonly pools: Pool[] = [];
  private readonly signals = new SignalQueue((signal) => this.onSignal(signal));
  private readonly systemd: SystemdNotifier;
  private control: ControlServer | null = null;
  private status: StatusServer | null = null;
  private readonly metrics: PooldMetrics;
  private phase: 'starting' | 'running' | 'stopping' | 'terminating' = 'starting';
  private readonly timers: NodeJS.Timeout[] = [];
  private reloads: Promise<unknown> = Promise.resolve();
  private finished = false;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
  private lastAccepted = 0;
  /** Why a pool could not start: the start fails with it. */
  private startFailure: string | null = null;
  private readonly fileLimitReports: ThrottledLog;
  private readonly acceptErrors: ThrottledLog;

  constructor(
    private config: PooldConfig,
    private readonly log: Logger,
    private readonly hooks: MasterHooks = {},
  ) {
    this.systemd = new SystemdNotifier((message) => this.log.warning(message));
    this.fileLimitReports = new ThrottledLog(FILE_LIMIT_LOG_MS, (line) => this.log.error(line));
    this.acceptErrors = new ThrottledLog(FILE_LIMIT_LOG_MS, (line) => this.log.error(line));
    this.metrics = new PooldMetrics(
      () => this.pools,
      (message) => this.log.warning(message),
    );
  }

  /** Binds every socket, starts the pools, and resolves with the exit code once stopped. */
  async run(): Promise<number> {
    const pidFile = this.config.global.pid;
    if (pidFile) this.checkNotRunning(pidFile);
    try {
      applyMasterLimits(this.config.global);
    } catch (err) {
      throw new StartError((err as Error).message, EXIT.UNAVAILABLE);
    }
    const limitProblems = workerLimitProblems(this.config.pools);
    if (limitProblems.length > 0) throw new StartError(limitProblems.join('\n'), EXIT.UNAVAILABLE);
    const listeners = await this.bindAll(this.config.pools);
    await this.startStatusListener();
    if (pidFile) {
      writePidFile(pidFile);
      this.control = new ControlServer(controlSocketPath(pidFile), (request) => this.onControl(request));
      await this.control.listen();
      this.control.onAcceptError((err) => this.onAcceptError('control socket', err));
    }
    removeStaleScoreboards(isAlive);
    // Last resort for an abnormal exit (uncaught error, fatal signal): no pid
    // file left behind and no worker outliving the master.
    onExit(() => {
      for (const pool of this.pools) pool.killAll();
      if (this.config.global.pid) removePidFile(this.config.global.pid);
    });
    if (!hasParentDeathSignal) {
      this.log.warning('setpriv (util-linux) not found: a worker blocked in synchronous code would outlive a killed master');
    }
    this.signals.install();
    for (const [index, poolConfig] of this.config.pools.entries()) {
      this.addPool(new Pool(poolConfig, listeners[index]!, this.log));
    }
    this.phase = 'running';
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    void Promise.all(this.pools.map((pool) => this.startPool(pool))).then(() => this.onServing());
    const code = await this.exited;
    // A `poold reload --wait` cut short by the stop still gets its answer.
    await Promise.race([this.reloads, sleep(RELOAD_ANSWER_GRACE_MS)]);
    this.signals.uninstall();
    this.control?.close();
    this.status?.close();
    if (this.config.global.pid) removePidFile(this.config.global.pid);
    if (this.startFailure !== null) throw new StartError(this.startFailure, EXIT.SOFTWARE);
    return code;
  }

  /** Resolves once the pool serves; if its app cannot start, the whole start fails with its error. */
  private async startPool(pool: Pool): Promise<void> {
    const failure = await pool.start();
    if (failure === null || this.phase !== 'running') return;
    this.startFailure = `[pool ${pool.name}] ${failure}`;
    this.phase = 'terminating';
    for (const timer of this.timers) clearInterval(timer);
    for (const other of this.pools) other.closeListener();
    void Promise.all(this.pools.map((other) => other.terminate())).then(() => this.finish());
  }

  private addPool(pool: Pool): void {
    this.metrics.observe(pool);
    this.pools.push(pool);
  }

  /** The status listener is bound with the pools' sockets, before any worker starts. */
  private async startStatusListener(): Promise<void> {
    const address = this.config.global.statusListen;
    if (address === null) return;
    this.status = new StatusServer(this.config.global, () => this.pools, this.metrics, (message) =>
      this.log.error(message),
    );
    try {
      await listenOn(this.status.httpServer, {
        address,
        label: '[global] status.listen:',
        listenBacklog: 511,
        listenMode: 0o660,
        listenOwner: null,
        listenGroup: null,
      });
    } catch (err) {
      throw new StartError((err as Error).message, EXIT.UNAVAILABLE);
    }
    this.status.httpServer.on('error', (err) => this.onAcceptError('status.listen', err));
  }

  /** An accept that failed on the status or control socket (EMFILE): logged; the socket stays open. */
  private onAcceptError(socket: string, err: Error): void {
    this.acceptErrors.report(`[global] ${socket}: unable to accept a connection: ${describeError(err)}`);
  }

  private onServing(): void {
    if (this.phase !== 'running' || this.startFailure !== null) return;
    this.log.notice('ready to handle connections');
    this.hooks.onReady?.();
    void this.systemd.notify({ READY: '1', STATUS: 'Ready to handle connections' });
    if (this.systemd.active) {
      this.timers.push(setInterval(() => void this.systemd.notify({ STATUS: this.statusLine() }), SYSTEMD_STATUS_MS));
      const watchdog = watchdogIntervalMs();
      if (watchdog !== null) this.timers.push(setInterval(() => void this.systemd.notify({ WATCHDOG: '1' }), watchdog));
    }
  }

  /** FPM's systemd STATUS= text, summed over pools. */
  private statusLine(): string {
    let active = 0;
    let idle = 0;
    let slow = 0;
    let accepted = 0;
    for (const pool of this.pools) {
      const header = pool.snapshot()?.header;
      active += header?.active ?? 0;
      idle += header?.idle ?? 0;
      slow += pool.stats.slowRequests;
      accepted += pool.stats.acceptedConn;
    }
    const rate = ((accepted - this.lastAccepted) * 1000) / SYSTEMD_STATUS_MS;
    this.lastAccepted = accepted;
    return `Processes active: ${active}, idle: ${idle}, Requests: ${accepted}, slow: ${slow}, Traffic: ${rate.toPrecision(3)}req/sec`;
  }

  private checkNotRunning(pidFile: string): void {
    const state = readPidFile(pidFile);
    if (state.kind === 'running' && state.pid !== process.pid) {
      throw new StartError(`poold is already running (pid ${state.pid}, pid file ${pidFile})`, EXIT.UNAVAILABLE);
    }
    if (state.kind === 'stale') this.log.notice(`removing stale pid file ${pidFile} (pid ${state.pid} is gone)`);
  }

  /** Every pool's socket is bound before any worker starts; one failure undoes them all. */
  private async bindAll(pools: readonly PoolConfig[]): Promise<Server[]> {
    const bound: Server[] = [];
    try {
      for (const pool of pools) bound.push(await bindListener(pool));
      return bound;
    } catch (err) {
      for (const server of bound) server.close();
      throw new StartError((err as Error).message, EXIT.UNAVAILABLE);
    }
  }

  private tick(): void {
    for (const pool of this.pools) pool.tick();
    this.checkOpenFiles();
  }

  /**
   * At its open-file limit the master cannot start workers, and libuv closes
   * the connections waiting in the listen queue as it accepts them (it keeps
   * one descriptor in reserve for that, and reports nothing): say so.
   */
  private checkOpenFiles(): void {
    if (!atOpenFileLimit()) return;
    this.fileLimitReports.report(
      `the master is at its open-file limit (${describeOpenFiles()}): workers cannot start and new connections ` +
        'are closed as they are accepted; raise rlimit_files (or LimitNOFILE= in the systemd unit)',
    );
  }

  private async onSignal(signal: MasterSignal): Promise<void> {
    switch (signal) {
      case 'SIGINT':
        // A second Ctrl-C means "now".
        if (this.phase === 'stopping') return this.terminate();
        return this.stop('SIGINT');
      case 'SIGTERM':
      case 'SIGQUIT':
        return this.stop(signal);
      case 'SIGUSR1':
        await this.reopenLogs();
        return;
      case 'SIGHUP':
      case 'SIGUSR2':
        // Not awaited: a stop signal must be seen while a rollout runs.
        void this.reload(signal).finished;
        return;
    }
  }

  private async onControl(request: ControlRequest): Promise<ControlResponse> {
    switch (request.cmd) {
      case 'reload': {
        const { validated, finished } = this.reload('poold reload');
        return request.wait ? finished : validated;
      }
      case 'reopen-logs':
        await this.reopenLogs();
        return { ok: true, code: EXIT.OK, messages: ['log files re-opened'] };
      case 'stop':
        this.stop('poold stop');
        return { ok: true, code: EXIT.OK, messages: ['stopping'] };
      case 'status':
        return {
          ok: true,
          code: EXIT.OK,
          messages: [],
          data: this.pools.map((pool) => ({ pool: pool.name, pm: pool.config.pm, scoreboard: pool.scoreboard.file })),
        };
      default:
        return { ok: false, code: EXIT.USAGE, messages: [`unknown control command '${String(request.cmd)}'`] };
    }
  }

  /** FPM reopens its logs by restarting every worker; poold's workers just reopen their file. */
  private async reopenLogs(): Promise<void> {
    await reopenLogger(this.log, this.config.global.errorLog);
    this.log.notice('error log file re-opened');
    for (const pool of this.pools) pool.reopenLogs();
    this.log.notice('access log files re-opened');
  }

  /**
   * Graceful reload. `validated` settles once the new config is checked (and
   * the rollout has begun); `finished` once every pool has rolled over or
   * aborted. Reloads run one after another.
   */
  private reload(origin: string): { validated: Promise<ReloadOutcome>; finished: Promise<ReloadOutcome> } {
    let reportValidated!: (outcome: ReloadOutcome) => void;
    const validated = new Promise<ReloadOutcome>((resolve) => (reportValidated = resolve));
    const finished = this.reloads.then(() => this.runReload(origin, reportValidated));
    this.reloads = finished.catch(() => undefined);
    return { validated, finished };
  }

  private async runReload(origin: string, reportValidated: (outcome: ReloadOutcome) => void): Promise<ReloadOutcome> {
    const fail = (code: number, messages: string[]): ReloadOutcome => {
      const outcome = { ok: false, code, messages };
      reportValidated(outcome);
      return outcome;
    };
    if (this.phase !== 'running') return fail(EXIT.UNAVAILABLE, ['poold is stopping; reload refused']);
    this.log.notice(`${origin}: reloading in progress ...`);
    let next: PooldConfig;
    try {
      const loaded = loadConfig(this.config.file);
      next = loaded.config;
      for (const warning of loaded.warnings) this.log.warning(warning);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const messages = err.issues.map(formatIssue);
      for (const message of messages) this.log.error(message);
      this.log.error('reload aborted: the configuration is invalid; still serving with the previous one');
      return fail(EXIT.CONFIG, [...messages, 'reload aborted: the configuration is invalid']);
    }
    const limitProblems = workerLimitProblems(next.pools);
    if (limitProblems.length > 0) {
      for (const problem of limitProblems) this.log.error(problem);
      this.log.error('reload aborted: workers cannot get their limits; still serving with the previous configuration');
      return fail(EXIT.UNAVAILABLE, [...limitProblems, 'reload aborted']);
    }
    const newListeners = new Map<string, Server>();
    try {
      for (const poolConfig of next.pools) {
        const current = this.pools.find((pool) => pool.name === poolConfig.name);
        if (!current || !sameAddress(current.config.listen, poolConfig.listen)) {
          newListeners.set(poolConfig.name, await bindListener(poolConfig));
        }
      }
    } catch (err) {
      for (const listener of newListeners.values()) listener.close();
      this.log.error(`reload aborted: ${(err as Error).message}`);
      return fail(EXIT.UNAVAILABLE, [`reload aborted: ${(err as Error).message}`]);
    }
    reportValidated({ ok: true, code: EXIT.OK, messages: ['configuration is valid; rolling out new workers'] });
    void this.systemd.notify({ RELOADING: '1', STATUS: 'Reloading' });
    this.applyGlobal(next.global);
    const timeout = next.global.processControlTimeout;
    const failures: string[] = [];
    const rollouts = next.pools.map(async (poolConfig) => {
      const listener = newListeners.get(poolConfig.name) ?? null;
      const current = this.pools.find((pool) => pool.name === poolConfig.name);
      if (!current) {
        const pool = new Pool(poolConfig, listener!, this.log);
        this.addPool(pool);
        this.log.notice(`[pool ${poolConfig.name}] new pool`);
        // A new pool whose app cannot start is a failed rollout too: it is removed, not retried forever.
        const failure = await pool.startChecked(timeout);
        if (failure !== null && this.phase === 'running') {
          failures.push(`[pool ${poolConfig.name}] new pool removed: ${failure}`);
          pool.closeListener();
          await pool.terminate();
          this.pools.splice(this.pools.indexOf(pool), 1);
        }
        return;
      }
      if (!listener) this.applySocketSettings(current.config, poolConfig);
      const failure = await current.reload(poolConfig, listener, timeout);
      if (failure !== null) {
        failures.push(`[pool ${poolConfig.name}] rollout aborted, previous workers kept: ${failure}`);
      }
    });
    const removed = this.pools.filter((pool) => !next.pools.some((poolConfig) => poolConfig.name === pool.name));
    const removals = removed.map(async (pool) => {
      this.log.notice(`[pool ${pool.name}] removed from the configuration: draining`);
      pool.closeListener();
      await pool.stop(timeout);
      this.pools.splice(this.pools.indexOf(pool), 1);
    });
    await Promise.all([...rollouts, ...removals]);
    this.config = next;
    for (const failure of failures) this.log.error(failure);
    this.log.notice(failures.length === 0 ? 'reload complete' : 'reload finished with errors');
    void this.systemd.notify({ READY: '1', STATUS: this.statusLine() });
    return failures.length === 0
      ? { ok: true, code: EXIT.OK, messages: ['reload complete'] }
      : { ok: false, code: EXIT.SOFTWARE, messages: failures };
  }

  private applyGlobal(next: GlobalConfig): void {
    const previous = this.config.global;
    const describe = (address: GlobalConfig['statusListen']) => (address ? describeAddress(address) : 'none');
    if (describe(next.statusListen) !== describe(previous.statusListen)) {
      this.log.warning('status.listen changed: it applies after a restart');
    }
    this.log.level = next.logLevel;
    if (next.rlimitFiles !== previous.rlimitFiles || next.rlimitCore !== previous.rlimitCore) {
      try {
        applyMasterLimits(next);
      } catch (err) {
        this.log.error(`${(err as Error).message}; the previous limits stay`);
      }
    }
    if (next.errorLog !== previous.errorLog) {
      void reopenLogger(this.log, next.errorLog).then(() => this.log.notice(`now logging to ${next.errorLog}`));
    }
    if (next.pid !== previous.pid) {
      if (previous.pid) removePidFile(previous.pid);
      if (next.pid) writePidFile(next.pid);
    }
  }

  /**
   * listen.mode/owner/group apply at once to an unchanged unix socket (FPM
   * needs a restart for them); a new backlog needs a new socket, which an
   * unchanged address cannot get without a restart.
   */
  private applySocketSettings(current: PoolConfig, next: PoolConfig): void {
    const changed =
      next.listenMode !== current.listenMode ||
      next.listenOwner !== current.listenOwner ||
      next.listenGroup !== current.listenGroup;
    if (next.listen.kind === 'unix' && changed) {
      try {
        applyUnixSocketPermissions(next.listen.path, next);
      } catch (err) {
        this.log.error(`[pool ${next.name}] cannot apply listen.mode/owner/group: ${(err as Error).message}`);
      }
    }
    if (next.listenBacklog !== current.listenBacklog) {
      this.log.warning(`[pool ${next.name}] listen.backlog changed: it applies after a restart`);
    }
  }

  /** Graceful stop: refuse new connections, drain, escalate after process_control_timeout. */
  private stop(origin: string): void {
    if (this.phase !== 'running' && this.phase !== 'starting') return;
    this.phase = 'stopping';
    const timeout = this.config.global.processControlTimeout;
    this.log.notice(`${origin} received, finishing in-flight requests (up to ${timeout / 1000}s) ...`);
    void this.systemd.notify({ STOPPING: '1', STATUS: 'Finishing in-flight requests' });
    for (const timer of this.timers) clearInterval(timer);
    this.control?.close();
    for (const pool of this.pools) pool.closeListener();
    void Promise.all(this.pools.map((pool) => pool.stop(timeout))).then(() => this.finish());
  }

  private terminate(): void {
    this.phase = 'terminating';
    this.log.notice('terminating now ...');
    void Promise.all(this.pools.map((pool) => pool.terminate())).then(() => this.finish());
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.log.notice('exiting, bye-bye!');
    this.resolveExit(EXIT.OK);
  }
}
