import http from 'node:http';
import type { Socket } from 'node:net';
import type { RetireReason, WorkerSettings, WorkerMessage } from '../ipc/protocol.js';
import { SlotWriter } from '../scoreboard/slot-writer.js';
import type { LoadedApp } from './app-loader.js';
import { AccessLog } from './access-log.js';
import { SlowlogWatchdog } from './slowlog-watchdog.js';

/**
 * Serves the connections the master hands over. It never listens itself, and
 * keeps the master's view of its load exact: the master counts a dispatched
 * connection until its first request ends; every later request on a kept-alive
 * connection is reported as it begins ('b') and ends ('f').
 */
/** How long a stopping worker keeps idle kept-alive connections open for a last request. */
const STOP_IDLE_GRACE_MS = 1000;

export class WorkerServer {
  private readonly server: http.Server;
  /** Dispatched connections whose first request has not begun yet. */
  private readonly awaitingFirstRequest = new Map<Socket, number>();
  private inFlight = 0;
  /** Every connection this worker holds, to know when a drain is complete. */
  private readonly connections = new Set<Socket>();
  /** Responses in progress: a stop turns off keep-alive on those not yet sent. */
  private readonly responses = new Set<http.ServerResponse>();
  /** Set once a stopping worker has closed the connections still idle after the grace period. */
  private idleClosed = false;
  private served = 0;
  private retiring = false;
  private stopping = false;
  private onDrained: (() => void) | null = null;
  private readonly slot: SlotWriter;
  private readonly slowlog: SlowlogWatchdog | null = null;
  private readonly accessLog: AccessLog | null = null;

  constructor(
    private readonly app: LoadedApp,
    private readonly settings: WorkerSettings,
    private readonly send: (message: WorkerMessage) => void,
  ) {
    this.slot = new SlotWriter(settings.scoreboard, settings.slot);
    this.slot.idle();
    if (settings.accessLog) {
      this.accessLog = new AccessLog({
        file: settings.accessLog,
        format: settings.accessFormat,
        suppressPaths: settings.accessSuppressPath,
        pool: settings.pool,
        app: settings.app,
      });
    }
    if (settings.slowlogTimeout > 0 && settings.slowlog) {
      this.slowlog = new SlowlogWatchdog({
        pool: settings.pool,
        app: settings.app,
        slowlog: settings.slowlog,
        timeoutMs: settings.slowlogTimeout,
        scoreboard: settings.scoreboard,
        slot: settings.slot,
      });
    }
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
      this.send({ t: 'f', id });
      return;
    }
    this.awaitingFirstRequest.set(socket, id);
    this.connections.add(socket);
    this.slot.readingHeaders();
    this.announceFirstWrite(socket, id);
    socket.once('close', () => {
      this.connections.delete(socket);
      if (this.awaitingFirstRequest.delete(socket)) this.send({ t: 'f', id });
      if (this.stopping) this.checkDrained();
    });
    this.server.emit('connection', socket);
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
    for (const res of this.responses) if (!res.headersSent) res.shouldKeepAlive = false;
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
    const socket = req.socket;
    const dispatchedId = this.awaitingFirstRequest.get(socket);
    if (dispatchedId === undefined) this.send({ t: 'b' });
    else this.awaitingFirstRequest.delete(socket);
    this.inFlight++;
    this.responses.add(res);
    if (this.stopping || this.retiring) res.shouldKeepAlive = false;
    const trace = this.slot.begin(req);
    this.slowlog?.track(this.slot.oldestStart());
    res.once('close', () => {
      this.inFlight--;
      this.responses.delete(res);
      this.served++;
      this.slot.end(trace);
      this.slowlog?.track(this.slot.oldestStart());
      this.accessLog?.write(req, res, { ...trace, rss: this.slot.sampleRss() });
      const d = Date.now() - trace.startedAt;
      // Retire first: once the master hears 'f' it may hand this worker the next connection.
      this.checkRecycling();
      this.send(dispatchedId === undefined ? { t: 'f', d } : { t: 'f', id: dispatchedId, d });
      if (this.stopping) this.checkDrained();
    });
    this.invokeHandler(req, res);
  }

  private invokeHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
    const fail = (err: unknown) => {
      console.error(`unhandled error in request handler for ${req.method} ${req.url}:`, err);
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
        res.end('500 Internal Server Error\n');
      }
    };
    try {
      const result: unknown = this.app.handler(req, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /**
   * Tells the master, synchronously and before the first byte leaves, that a
   * response has begun: from then on a 502 from the master would corrupt it.
   */
  private announceFirstWrite(socket: Socket, id: number): void {
    const ownWrite = socket.write;
    socket.write = ((...args: Parameters<Socket['write']>) => {
      socket.write = ownWrite;
      this.send({ t: 's', id });
      return ownWrite.apply(socket, args);
    }) as Socket['write'];
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
    if (this.onDrained && this.inFlight === 0 && this.awaitingFirstRequest.size === 0 && idleGone) {
      const resolve = this.onDrained;
      this.onDrained = null;
      resolve();
    }
  }
}
