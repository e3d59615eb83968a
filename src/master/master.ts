import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExit } from 'signal-exit';
import { EXIT } from '../control/exit-codes.js';
import { ConfigError, formatIssue, loadConfig, type GlobalConfig, type PoolConfig, type PooldConfig } from '../config/index.js';
import { resolveIdentities, type PoolIdentities, type ResolvedIdentities, type SocketIds } from '../config/identities.js';
import { forPool, reopenLogger, type Logger } from '../log/logger.js';
import { ThrottledLog } from '../log/throttle.js';
import { applyUnixSocketPermissions, bindListener, describeAddress, listenOn } from '../pool/listener.js';
import { atOpenFileLimit, describeError, describeOpenFiles } from '../pool/open-files.js';
import { Pool } from '../pool/pool.js';
import { setProcessPriority } from '../pool/process-priority.js';
import { hasParentDeathSignal, identityContext } from '../pool/spawn-worker.js';
import { CrashWindow } from './emergency-restart.js';
import { PooldMetrics } from '../status/metrics.js';
import { StatusServer } from '../status/server.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { ControlServer } from './control.js';
import { controlSocketPath } from '../control/control-path.js';
import { applyMasterLimits, workerLimitProblems } from './limits.js';
import { identifyMaster, type MasterIdentity } from './master-identity.js';
import { readPidFile, removePidFile, writePidFile } from '../control/pidfile.js';
import { readPools } from './status-answer.js';
import { SignalQueue, type MasterSignal } from './signals.js';
import { monotonicUsec, SystemdNotifier, watchdogIntervalMs } from './systemd-notify.js';

/** The process manager heartbeat, as FPM's. */
const TICK_MS = 1000;
/** At exit, how long a reload in progress gets to answer its `poold reload --wait`. */
const RELOAD_ANSWER_GRACE_MS = 2000;

function crashWindow(global: GlobalConfig): CrashWindow {
  return new CrashWindow(global.emergencyRestartThreshold, global.emergencyRestartInterval);
}

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
  private lastStatusAt = Date.now();
  /** systemd_interval's STATUS= line; re-armed when a reload changes the interval. */
  private systemdStatusTimer: NodeJS.Timeout | null = null;
  private crashes: CrashWindow;
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
    this.crashes = crashWindow(config.global);
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
    if (pidFile) await this.checkNotRunning(pidFile);
    const identities = await this.resolveIdentities(this.config);
    if (identities instanceof ConfigError) {
      throw new StartError(identities.issues.map(formatIssue).join('\n'), EXIT.CONFIG);
    }
    const { processPriority } = this.config.global;
    if (processPriority !== null) {
      // Before any worker starts: those of pools without their own process.priority inherit it.
      const problem = setProcessPriority(process.pid, processPriority);
      if (problem) throw new StartError(`[global] unable to set process.priority ${processPriority}: ${problem}`, EXIT.CONFIG);
    }
    try {
      applyMasterLimits(this.config.global);
    } catch (err) {
      throw new StartError((err as Error).message, EXIT.UNAVAILABLE);
    }
    const limitProblems = workerLimitProblems(this.config.pools);
    if (limitProblems.length > 0) throw new StartError(limitProblems.join('\n'), EXIT.UNAVAILABLE);
    const listeners = await this.bindAll(this.config.pools, identities.pools);
    try {
      await this.startStatusListener(identities.statusSocket);
      if (pidFile) {
        this.writePid(pidFile);
        this.control = new ControlServer(controlSocketPath(pidFile), (request) => this.onControl(request));
        await this.listenControl(this.control);
        this.control.onAcceptError((err) => this.onAcceptError('control socket', err));
      }
    } catch (err) {
      // A failed start leaves nothing behind: no socket, no pid file.
      for (const listener of listeners) listener.close();
      this.status?.close();
      this.control?.close();
      if (pidFile) removePidFile(pidFile);
      throw err;
    }
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
      this.addPool(new Pool(poolConfig, listeners[index]!, this.log, identities.pools.get(poolConfig.name)!.runAs));
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
    pool.onCrash = () => this.onWorkerCrash();
    pool.processRoom = () => this.processRoom();
    this.pools.push(pool);
  }

  private processRoom(): number {
    const { processMax } = this.config.global;
    if (processMax === 0) return Infinity;
    return processMax - this.pools.reduce((sum, pool) => sum + pool.processCount, 0);
  }

  private onWorkerCrash(): void {
    if (this.phase !== 'running' || !this.crashes.record(Date.now())) return;
    const { emergencyRestartThreshold: threshold, emergencyRestartInterval: interval } = this.config.global;
    this.log.warning(`failed processes threshold (${threshold} in ${interval / 1000} sec) is reached, initiating reload`);
    this.reloadUnattended('emergency restart');
  }

  /** A reload nobody waits for (a signal, an emergency restart): what would have been its answer goes to the log. */
  private reloadUnattended(origin: string): void {
    this.reload(origin).finished.catch((err: unknown) =>
      this.log.error(`${origin}: reload failed: ${(err as Error).stack ?? String(err)}`),
    );
  }

  private writePid(pidFile: string): void {
    try {
      writePidFile(pidFile);
    } catch (err) {
      throw new StartError((err as Error).message, EXIT.CANTCREAT);
    }
  }

  private async listenControl(control: ControlServer): Promise<void> {
    try {
      await control.listen();
    } catch (err) {
      throw new StartError(`cannot listen on the control socket ${control.path}: ${(err as Error).message}`, EXIT.UNAVAILABLE);
    }
  }

  /** The status listener is bound with the pools' sockets, before any worker starts. */
  private async startStatusListener(owner: SocketIds): Promise<void> {
    const address = this.config.global.statusListen;
    if (address === null) return;
    this.status = new StatusServer(() => this.config.global, () => this.pools, this.metrics, (message) =>
      this.log.error(message),
    );
    try {
      await listenOn(this.status.httpServer, {
        address,
        label: '[global] status.listen:',
        listenBacklog: 511,
        listenMode: this.config.global.statusListenMode,
        owner,
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
      this.armSystemdStatus(this.config.global.systemdInterval);
      const watchdog = watchdogIntervalMs();
      if (watchdog !== null) this.timers.push(setInterval(() => void this.systemd.notify({ WATCHDOG: '1' }), watchdog));
    }
  }

  private armSystemdStatus(intervalMs: number): void {
    if (this.systemdStatusTimer) clearInterval(this.systemdStatusTimer);
    this.systemdStatusTimer = null;
    if (intervalMs === 0) {
      this.log.notice('systemd monitor disabled');
      return;
    }
    this.log.notice(`systemd monitor interval set to ${intervalMs}ms`);
    this.systemdStatusTimer = setInterval(() => void this.systemd.notify({ STATUS: this.statusLine() }), intervalMs);
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
    const now = Date.now();
    const rate = ((accepted - this.lastAccepted) * 1000) / Math.max(1, now - this.lastStatusAt);
    this.lastAccepted = accepted;
    this.lastStatusAt = now;
    return `Processes active: ${active}, idle: ${idle}, Requests: ${accepted}, slow: ${slow}, Traffic: ${rate.toPrecision(3)}req/sec`;
  }

  private async checkNotRunning(pidFile: string): Promise<void> {
    const state = readPidFile(pidFile);
    if (state.kind === 'running' && state.pid !== process.pid) {
      const identity = await identifyMaster(state.pid, pidFile, null);
      if (identity.kind !== 'foreign') {
        throw new StartError(`poold is already running (pid ${state.pid}, pid file ${pidFile})`, EXIT.UNAVAILABLE);
      }
      this.log.notice(`replacing pid file ${pidFile}: pid ${state.pid} is not poold (${identity.reason})`);
    }
    if (state.kind === 'stale') this.log.notice(`removing stale pid file ${pidFile} (pid ${state.pid} is gone)`);
  }

  /**
   * user, group, listen.owner and listen.group, looked up now (through NSS):
   * a name that does not resolve is a configuration error, as in `poold test`.
   */
  private async resolveIdentities(config: PooldConfig): Promise<ResolvedIdentities | ConfigError> {
    const resolved = await resolveIdentities(config, identityContext());
    for (const warning of resolved.warnings) this.log.warning(warning);
    for (const notice of resolved.notices) this.log.notice(notice);
    return resolved.issues.length > 0 ? new ConfigError(resolved.issues) : resolved;
  }

  /** Every pool's socket is bound before any worker starts; one failure undoes them all. */
  private async bindAll(pools: readonly PoolConfig[], identities: Map<string, PoolIdentities>): Promise<Server[]> {
    const bound: Server[] = [];
    try {
      for (const pool of pools) bound.push(await bindListener(pool, identities.get(pool.name)!));
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
        this.reloadUnattended(signal);
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
      case 'identify':
        return { ok: true, code: EXIT.OK, messages: [], data: { pid: process.pid, config: this.config.file } satisfies MasterIdentity };
      case 'status':
        return {
          ok: true,
          code: EXIT.OK,
          messages: [],
          data: await readPools(this.pools),
        };
      default:
        return { ok: false, code: EXIT.USAGE, messages: [`unknown control command '${String(request.cmd)}'`] };
    }
  }

  /** FPM reopens its logs by restarting every worker; poold's workers just reopen their file. */
  private async reopenLogs(): Promise<void> {
    await reopenLogger(this.log, this.config.global);
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
    if (this.phase !== 'running') {
      const outcome = { ok: false, code: EXIT.UNAVAILABLE, messages: ['poold is stopping; reload refused'] };
      reportValidated(outcome);
      return outcome;
    }
    this.log.notice(`${origin}: reloading in progress ...`);
    // Type=notify-reload: after its SIGHUP, systemd waits for a RELOADING=1
    // stamped no earlier than the signal, then for READY=1, whether the reload
    // succeeds or is aborted (poold then still serves with the previous config).
    void this.systemd.notify({ RELOADING: '1', MONOTONIC_USEC: monotonicUsec(), STATUS: 'Reloading' });
    const outcome = await this.reloadTo(reportValidated);
    void this.systemd.notify({ READY: '1', STATUS: this.statusLine() });
    return outcome;
  }

  /** Validates the configuration file again and rolls every pool over to it. */
  private async reloadTo(reportValidated: (outcome: ReloadOutcome) => void): Promise<ReloadOutcome> {
    const fail = (code: number, messages: string[]): ReloadOutcome => {
      const outcome = { ok: false, code, messages };
      reportValidated(outcome);
      return outcome;
    };
    let next: PooldConfig;
    let identities: Map<string, PoolIdentities>;
    try {
      const loaded = loadConfig(this.config.file);
      next = loaded.config;
      for (const warning of loaded.warnings) this.log.warning(warning);
      const resolved = await this.resolveIdentities(next);
      if (resolved instanceof ConfigError) throw resolved;
      identities = resolved.pools;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const warning of err.warnings) this.log.warning(warning);
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
          newListeners.set(poolConfig.name, await bindListener(poolConfig, identities.get(poolConfig.name)!));
        }
      }
    } catch (err) {
      for (const listener of newListeners.values()) listener.close();
      this.log.error(`reload aborted: ${(err as Error).message}`);
      return fail(EXIT.UNAVAILABLE, [`reload aborted: ${(err as Error).message}`]);
    }
    reportValidated({ ok: true, code: EXIT.OK, messages: ['configuration is valid; rolling out new workers'] });
    this.applyGlobal(next.global);
    const timeout = next.global.processControlTimeout;
    const readyTimeout = next.global.processStartTimeout;
    const failures: string[] = [];
    const rollouts = next.pools.map(async (poolConfig) => {
      const listener = newListeners.get(poolConfig.name) ?? null;
      const current = this.pools.find((pool) => pool.name === poolConfig.name);
      const poolIdentities = identities.get(poolConfig.name)!;
      if (!current) {
        const pool = new Pool(poolConfig, listener!, this.log, poolIdentities.runAs);
        this.addPool(pool);
        forPool(this.log, poolConfig.name).notice('new pool');
        // A new pool whose app cannot start is a failed rollout too: it is removed, not retried forever.
        const failure = await pool.startChecked(readyTimeout);
        if (failure !== null && this.phase === 'running') {
          failures.push(`[pool ${poolConfig.name}] new pool removed: ${failure}`);
          pool.closeListener();
          await pool.terminate();
          this.pools.splice(this.pools.indexOf(pool), 1);
        }
        return;
      }
      if (!listener) this.applySocketSettings(current.config, poolConfig, poolIdentities);
      const failure = await current.reload(poolConfig, listener, readyTimeout, timeout, poolIdentities.runAs);
      if (failure !== null) {
        failures.push(`[pool ${poolConfig.name}] rollout aborted, previous workers kept: ${failure}`);
      }
    });
    const removed = this.pools.filter((pool) => !next.pools.some((poolConfig) => poolConfig.name === pool.name));
    const removals = removed.map(async (pool) => {
      forPool(this.log, pool.name).notice('removed from the configuration: draining');
      pool.closeListener();
      await pool.stop(timeout);
      this.pools.splice(this.pools.indexOf(pool), 1);
    });
    await Promise.all([...rollouts, ...removals]);
    this.config = next;
    for (const failure of failures) this.log.error(failure);
    this.log.notice(failures.length === 0 ? 'reload complete' : 'reload finished with errors');
    return failures.length === 0
      ? { ok: true, code: EXIT.OK, messages: ['reload complete'] }
      : { ok: false, code: EXIT.SOFTWARE, messages: failures };
  }

  private applyGlobal(next: GlobalConfig): void {
    const previous = this.config.global;
    const describe = (global: GlobalConfig) =>
      global.statusListen
        ? [describeAddress(global.statusListen), global.statusListenOwner, global.statusListenGroup, global.statusListenMode].join()
        : 'none';
    if (describe(next) !== describe(previous)) {
      this.log.warning('status.listen changed: it applies after a restart');
    }
    this.log.level = next.logLevel;
    if (next.logLimit !== previous.logLimit) this.log.warning('log_limit changed: it applies after a restart');
    if (next.rlimitFiles !== previous.rlimitFiles || next.rlimitCore !== previous.rlimitCore) {
      try {
        applyMasterLimits(next);
      } catch (err) {
        this.log.error(`${(err as Error).message}; the previous limits stay`);
      }
    }
    if (next.errorLog !== previous.errorLog) {
      void reopenLogger(this.log, next).then(() => this.log.notice(`now logging to ${next.errorLog}`));
    }
    if (next.pid !== previous.pid) {
      if (previous.pid) removePidFile(previous.pid);
      if (next.pid) writePidFile(next.pid);
    }
    if (
      next.emergencyRestartThreshold !== previous.emergencyRestartThreshold ||
      next.emergencyRestartInterval !== previous.emergencyRestartInterval
    ) {
      this.crashes = crashWindow(next);
    }
    if (next.systemdInterval !== previous.systemdInterval && this.systemd.active) {
      this.armSystemdStatus(next.systemdInterval);
    }
  }

  /**
   * listen.mode/owner/group apply at once to an unchanged unix socket (FPM
   * needs a restart for them); a new backlog needs a new socket, which an
   * unchanged address cannot get without a restart.
   */
  private applySocketSettings(current: PoolConfig, next: PoolConfig, owner: SocketIds): void {
    const changed =
      next.listenMode !== current.listenMode ||
      next.listenOwner !== current.listenOwner ||
      next.listenGroup !== current.listenGroup;
    if (next.listen.kind === 'unix' && changed) {
      try {
        applyUnixSocketPermissions(next.listen.path, next.listenMode, owner);
      } catch (err) {
        forPool(this.log, next.name).error(`cannot apply listen.mode/owner/group: ${(err as Error).message}`);
      }
    }
    if (next.listenBacklog !== current.listenBacklog) {
      forPool(this.log, next.name).warning('listen.backlog changed: it applies after a restart');
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
    if (this.systemdStatusTimer) clearInterval(this.systemdStatusTimer);
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
