import type { Server } from 'node:net';
import { onExit } from 'signal-exit';
import type { PooldConfig } from '../config/types.js';
import { reopenLogger, type Logger } from '../log/logger.js';
import { bindListener } from '../pool/listener.js';
import { Pool } from '../pool/pool.js';
import { hasParentDeathSignal } from '../pool/spawn-worker.js';
import { removeStaleScoreboards } from '../scoreboard/file.js';
import { isAlive, readPidFile, removePidFile, writePidFile } from './pidfile.js';
import { SignalQueue, type MasterSignal } from './signals.js';
import { EXIT } from '../cli/exit-codes.js';

/** The process manager heartbeat, as FPM's. */
const TICK_MS = 1000;

export class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface MasterHooks {
  /** Every pool serves: the moment to tell a launcher or systemd. */
  onReady?: () => void;
}

/**
 * The master process: owns the listening sockets, runs each pool, and turns
 * signals into lifecycle steps. Its PID never changes for the life of the service.
 */
export class Master {
  private readonly pools: Pool[] = [];
  private readonly signals = new SignalQueue((signal) => this.onSignal(signal));
  private phase: 'starting' | 'running' | 'stopping' | 'terminating' = 'starting';
  private tickTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));

  constructor(
    private readonly config: PooldConfig,
    private readonly log: Logger,
    private readonly hooks: MasterHooks = {},
  ) {}

  /** Binds every socket, starts the pools, and resolves with the exit code once stopped. */
  async run(): Promise<number> {
    const pidFile = this.config.global.pid;
    if (pidFile) this.checkNotRunning(pidFile);
    const listeners = await this.bindAll();
    if (pidFile) writePidFile(pidFile);
    removeStaleScoreboards(isAlive);
    // Last resort for an abnormal exit (uncaught error, fatal signal): no pid
    // file left behind and no worker outliving the master.
    onExit(() => {
      for (const pool of this.pools) pool.killAll();
      if (pidFile) removePidFile(pidFile);
    });
    if (!hasParentDeathSignal) {
      this.log.warning('setpriv (util-linux) not found: a worker blocked in synchronous code would outlive a killed master');
    }
    this.signals.install();
    for (const [index, poolConfig] of this.config.pools.entries()) {
      this.pools.push(new Pool(poolConfig, listeners[index]!, this.log));
    }
    this.phase = 'running';
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    void Promise.all(this.pools.map((pool) => pool.start())).then(() => {
      if (this.phase !== 'running') return;
      this.log.notice('ready to handle connections');
      this.hooks.onReady?.();
    });
    const code = await this.exited;
    this.signals.uninstall();
    if (pidFile) removePidFile(pidFile);
    return code;
  }

  private checkNotRunning(pidFile: string): void {
    const state = readPidFile(pidFile);
    if (state.kind === 'running' && state.pid !== process.pid) {
      throw new StartError(`poold is already running (pid ${state.pid}, pid file ${pidFile})`, EXIT.UNAVAILABLE);
    }
    if (state.kind === 'stale') this.log.notice(`removing stale pid file ${pidFile} (pid ${state.pid} is gone)`);
  }

  /** Every pool's socket is bound before any worker starts; one failure undoes them all. */
  private async bindAll(): Promise<Server[]> {
    const bound: Server[] = [];
    try {
      for (const pool of this.config.pools) bound.push(await bindListener(pool));
      return bound;
    } catch (err) {
      for (const server of bound) server.close();
      throw new StartError((err as Error).message, EXIT.UNAVAILABLE);
    }
  }

  private tick(): void {
    for (const pool of this.pools) pool.tick();
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
        await reopenLogger(this.log, this.config.global.errorLog);
        this.log.notice('error log file re-opened');
        return;
      case 'SIGHUP':
      case 'SIGUSR2':
        this.log.warning(`${signal} received: graceful reload is not available in this version; ignored`);
        return;
    }
  }

  /** Graceful stop: refuse new connections, drain, escalate after process_control_timeout. */
  private stop(signal: MasterSignal): void {
    if (this.phase !== 'running' && this.phase !== 'starting') return;
    this.phase = 'stopping';
    const timeout = this.config.global.processControlTimeout;
    this.log.notice(`${signal} received, finishing in-flight requests (up to ${timeout / 1000}s) ...`);
    if (this.tickTimer) clearInterval(this.tickTimer);
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
