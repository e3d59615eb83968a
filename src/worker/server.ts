import http from 'node:http';
import type { Socket } from 'node:net';
import type { RetireReason, WorkerSettings, WorkerMessage } from '../ipc/protocol.js';
import { SlotWriter, type RequestTrace } from '../scoreboard/slot-writer.js';
import type { LoadedApp } from './app-loader.js';
import type { AccessLog } from './access-log.js';
import type { SlowlogWatchdog } from './slowlog-watchdog.js';

/** How long a stopping worker keeps idle kept-alive connections open for a last request. */
const STOP_IDLE_GRACE_MS = 1000;

/**
 * Serves the connections the master hands over. It never listens itself. Its
 * load (requests in flight plus handed-over connections still waiting for their
 * first request) is in its scoreboard slot, where the master reads it when it
 * picks a worker; only while connections are queued does it also say 'f' when
 * it can take one more.
 */
export class WorkerServer {
  private readonly server: http.Server;
  /** Dispatched connections whose first request has not begun yet. */
  private readonly awaitingFirstRequest = new Set<Socket>();
  /** Handed-over connections of which the master still holds a copy, with their ids. */
  private readonly masterCopies = new Map<Socket, number>();
  /** Set while the master has connections queued and wants to hear 'f'. */
  private watched = false;
  /** Every connection this worker holds, to know when a drain is complete. */
  private readonly connections = new Set<Socket>();
  /**
   * Responses in progress (the requests in flight) and their requests'
   * traces: a stop turns off keep-alive on those not yet sent. Their one
   * shared 'close' listener finds the trace here, so a request allocates no
   * closure of its own.
   */
  private readonly responses = new Map<http.ServerResponse, RequestTrace>();
  private readonly onResponseClose: (this: http.ServerResponse) => void;
  /** With an access log: the CPU clock at each request's start, for %C's user/system split. */
  private readonly cpuAtStart = new Map<http.ServerResponse, NodeJS.CpuUsage>();
  /** Set once a stopping worker has closed the connections still idle after the grace period. */
  private idleClosed = false;
  private served = 0;
  private retiring = false;
  private stopping = false;
  private onDrained: (() => void) | null = null;
  private readonly slot: SlotWriter;
  private readonly slowlog: SlowlogWatchdog | null;
  private readonly accessLog: AccessLog | null;

  /**
   * The access log and the slowlog watchdog are loaded only when configured:
   * every module a worker imports lengthens every worker start (ondemand's
   * first request waits for one).
   */
  static async start(app: LoadedApp, settings: WorkerSettings, send: (message: WorkerMessage) => void): Promise<WorkerServer> {
    let accessLog: AccessLog | null = null;
    if (settings.accessLog) {
      const { AccessLog } = await import('./access-log.js');
      accessLog = new AccessLog({
        file: settings.accessLog,
        format: settings.accessFormat,
        suppressPaths: settings.accessSuppressPath,
        pool: settings.pool,
        app: settings.app,
      });
    }
    let slowlog: SlowlogWatchdog | null = null;
    if (settings.slowlogTimeout > 0 && settings.slowlog) {
      const { SlowlogWatchdog } = await import('./slowlog-watchdog.js');
      slowlog = new SlowlogWatchdog({
        pool: settings.pool,
        app: settings.app,
        slowlog: settings.slowlog,
        timeoutMs: settings.slowlogTimeout,
        scoreboard: settings.scoreboard,
        slot: settings.slot,
      });
    }
    return new WorkerServer(app, settings, send, accessLog, slowlog);
  }

  private constructor(
    private readonly app: LoadedApp,
    private readonly settings: WorkerSettings,
    private readonly send: (message: WorkerMessage) => void,
    accessLog: AccessLog | null,
    slowlog: SlowlogWatchdog | null,
  ) {
    this.accessLog = accessLog;
    this.slowlog = slowlog;
    this.slot = new SlotWriter(settings.scoreboard, settings.slot);
    const server = this;
    this.onResponseClose = function (this: http.ServerResponse) {
      server.requestEnded(this);
    };
    this.slot.idle();
    this.server = http.createServer(
      {
        headersTimeout: settings.headersTimeout,
        requestTimeout: settings.requestTimeout,
        keepAliveTimeout: settings.keepAliveTimeout,
        maxHeaderSize: settings.maxHeaderSize,
        // Node checks the two timeouts on this interval (30 s by default), which
        // would let a slow client overstay its timeout by that much.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, settings.headersTimeout / 4)),
      },
      (req, res) => this.onRequest(req, res),
    );
    // Node arms the headers/request timeout checker and the connection list on
    // 'listening'. This server only ever gets sockets through 'connection', so
    // without this it would have no slow-client protection at all.
    this.server.emit('listening');
  }

  accept(socket: Socket, id: number): void {
    if (this.stopping) {
      // The master stops routing before it sends 'stop'; this one crossed it.
      socket.destroy();
      this.send({ t: 's', id });
      return;
    }
    this.awaitingFirstRequest.add(socket);
    this.connections.add(socket);
    this.slot.connectionAccepted();
    this.masterCopies.set(socket, id);
    this.announceFirstWrite(socket);
    socket.once('close', () => {
      this.connections.delete(socket);
      this.releaseMasterCopy(socket);
      if (this.awaitingFirstRequest.delete(socket)) {
        this.slot.connectionAbandoned();
        this.loadEnded();
      }
      if (this.stopping) this.checkDrained();
    });
    this.server.emit('connection', socket);
  }

  /** The master's queue became non-empty (on) or stayed empty (off). */
  watch(on: boolean): void {
    this.watched = on;
    // It may have freed up before the master asked: say so now, or the queue would wait.
    if (on) this.loadEnded();
  }

  reopenLogs(): void {
    this.accessLog?.reopen();
  }

  /**
   * Resolves once in-flight requests are done and the app's shutdown() ran.
   * A kept-alive connection idle at this moment is not closed at once: its
   * client may be sending the next request right now, and closing under it
   * would lose that request. Its next request is answered with
   * `Connection: close` instead; only connections still idle after a grace
   * period are closed.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.slot.finishing();
    for (const res of this.responses.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
    setTimeout(() => {
      // Only connections between requests: Node does not count one that has
      // not sent its first request yet as idle.
      this.server.closeIdleConnections();
      this.idleClosed = true;
      this.checkDrained();
    }, STOP_IDLE_GRACE_MS).unref();
    return new Promise<void>((resolve) => {
      this.onDrained = resolve;
      this.checkDrained();
    }).then(async () => {
      await this.app.shutdown?.();
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const firstOnConnection = this.awaitingFirstRequest.delete(req.socket);
    if (this.stopping || this.retiring) res.shouldKeepAlive = false;
    const trace = this.slot.begin(req, firstOnConnection);
    this.responses.set(res, trace);
    // %C needs this request's own user/system split; only an access log pays for the reading.
    if (this.accessLog) this.cpuAtStart.set(res, process.cpuUsage());
    this.slowlog?.track(this.slot.oldestStart());
    res.on('close', this.onResponseClose);
    this.invokeHandler(req, res);
  }

  private requestEnded(res: http.ServerResponse): void {
    const trace = this.responses.get(res)!;
    this.responses.delete(res);
    this.served++;
    // Retire before the slot shows it free: the master must not pick it again.
    this.checkRecycling();
    this.slot.end(trace);
    this.slowlog?.track(this.slot.oldestStart());
    const cpuAtStart = this.cpuAtStart.get(res);
    if (this.accessLog && cpuAtStart) {
      this.cpuAtStart.delete(res);
      this.accessLog.write(res.req, res, { startedAt: trace.startedAt, cpuAtStart, user: trace.user, rss: this.slot.sampleRss() });
    }
    this.loadEnded();
    if (this.stopping) this.checkDrained();
  }

  private invokeHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      const result: unknown = this.app.handler(req, res);
      if (result instanceof Promise) result.catch((err: unknown) => this.handlerFailed(req, res, err));
    } catch (err) {
      this.handlerFailed(req, res, err);
    }
  }

  private handlerFailed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    console.error(`unhandled error in request handler for ${req.method} ${req.url}:`, err);
    if (res.headersSent) res.destroy();
    else {
      res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
      res.end('500 Internal Server Error\n');
    }
  }

  /** While watched, tells the master it can take one more connection. */
  private loadEnded(): void {
    if (this.watched && !this.stopping && !this.retiring && this.slot.load() < this.settings.maxConcurrency) {
      this.send({ t: 'f' });
    }
  }

  /**
   * Tells the master, synchronously and before the first byte leaves, that a
   * response has begun: from then on a 502 from the master would corrupt it.
   */
  private announceFirstWrite(socket: Socket): void {
    const ownWrite = socket.write;
    socket.write = ((...args: Parameters<Socket['write']>) => {
      socket.write = ownWrite;
      this.releaseMasterCopy(socket);
      return ownWrite.apply(socket, args);
    }) as Socket['write'];
  }

  private releaseMasterCopy(socket: Socket): void {
    const id = this.masterCopies.get(socket);
    if (id === undefined) return;
    this.masterCopies.delete(socket);
    this.send({ t: 's', id });
  }

  /** Past a recycling limit, ask the master for a replacement; it then stops this worker gracefully. */
  private checkRecycling(): void {
    if (this.retiring || this.stopping) return;
    const { maxRequests, maxMemory } = this.settings;
    let reason: RetireReason | null = null;
    if (maxRequests > 0 && this.served >= maxRequests) reason = 'max_requests';
    else if (maxMemory > 0 && this.slot.currentRss() > maxMemory) reason = 'max_memory';
    if (reason === null) return;
    this.retiring = true;
    this.slot.finishing();
    this.send({ t: 'r', reason });
  }

  /**
   * Drained: no request in flight, no handed-over connection still waiting
   * for its first request, and every kept-alive connection closed (after its
   * last response, or after the grace period). The master accepted those
   * connections before the stop, so they are served when their request
   * arrives (a client's request can trail the hand-over); one that never sends
   * is cut by headers_timeout, and process_control_timeout bounds it all.
   */
  private checkDrained(): void {
    const idleGone = this.idleClosed || this.connections.size === 0;
    if (this.onDrained && this.responses.size === 0 && this.awaitingFirstRequest.size === 0 && idleGone) {
      const resolve = this.onDrained;
      this.onDrained = null;
      resolve();
    }
  }
}
