import { closeSync } from 'node:fs';
import type http from 'node:http';
import { Socket } from 'node:net';
import type { DispatchChannel } from '../ipc/channel.js';
import type { RetireReason, WorkerSettings, WorkerMessage } from '../ipc/protocol.js';
import { TableHeader, monotonicMs } from '../ipc/connection-table.js';
import { ConnectionState, FAIR_WAIT_MS, HEARTBEAT_MS, LOOP_STALL_MS, PARKED_MAX, SCOREBOARD_FD, SLOW_REQUEST_MS, WorkerRecord } from '../ipc/records.js';
import type { ProxiedClient } from '../net/proxy-protocol.js';
import { SlotWriter, type RequestTrace } from './slot-writer.js';
import { forwardedClients, showProxiedClient } from './client-address.js';
import type { LoadedApp } from './app-loader.js';
import { nodeHttp } from './node-http.js';
import type { AccessLog } from './access-log.js';
import type { SlowlogWatchdog } from './slowlog-watchdog.js';
import { ParkedConnections } from './parking.js';

/** How long a stopping worker keeps idle kept-alive connections open for a last request. */
const STOP_IDLE_GRACE_MS = 1000;
/** The most a worker waits for a hand-over the master counted but has not sent yet (it sends at once). */
const OFFER_WAIT_MS = 5;

/** Node's list of an http.Server's connections; `idle()` holds those at a request boundary. */
interface ConnectionsList {
  idle(): { socket: Socket }[];
}

/**
 * Node's own record of which connections sit between two requests (no byte
 * of a next request parsed): the only safe moment to give one back. It is
 * the list behind server.closeIdleConnections(), under a symbol Node does
 * not export.
 */
function connectionsList(server: http.Server): ConnectionsList {
  const key = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'http.server.connections');
  const list = key && (server as unknown as Record<symbol, ConnectionsList | undefined>)[key];
  if (!list || typeof list.idle !== 'function') {
    throw new Error(`this Node.js (${process.version}) keeps no list of an http.Server's connections`);
  }
  return list;
}

/**
 * Serves the requests the master hands over: each arrives as a connection
 * with its request head already read. It never listens itself. Its load
 * (requests in flight) is in its scoreboard slot, where the master reads it
 * when it picks a worker; only while requests are queued does it also report
 * room. A kept-alive connection stays here between requests; while this
 * worker runs as many requests as it may, its idle ones are parked
 * (parking.ts), so that a next request arriving on one goes back to the
 * master, which hands it to a worker with room.
 */
export class WorkerServer {
  private readonly server: http.Server;
  private readonly boundaries: ConnectionsList;
  /** Handed-over connections whose first request has not begun yet. */
  private readonly awaitingFirstRequest = new Set<Socket>();
  /** Every connection this worker holds, with its entry in the connection table. */
  private readonly held = new Map<Socket, number>();
  /** Kept-alive connections between two requests. */
  private readonly idle = new Set<Socket>();
  /** Connections not read while this worker has no room for their requests (parking.ts). */
  private readonly parked = new ParkedConnections();
  /** Connections upgraded to another protocol (WebSockets): held, but no request and no load. */
  private readonly upgraded = new Set<Socket>();
  /** Set while the master has requests queued and wants to hear of room. */
  private watched = false;
  /** What the master and this worker tell each other through the table (connection-table.ts). */
  private readonly header: TableHeader;
  /** Connection records received from the master, served or given back: its offers, as this side counts them. */
  private received = 0;
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
  /** A stop that gives idle kept-alive connections back to the master instead of closing them. */
  private handBackOnStop = false;
  private onDrained: (() => void) | null = null;
  /** While a stop waits for the app to close its upgraded connections: called when the last one closes. */
  private onUpgradedGone: (() => void) | null = null;
  private readonly slot: SlotWriter;
  private readonly slowlog: SlowlogWatchdog | null;
  private readonly accessLog: AccessLog | null;
  /** listen.trusted_proxies: each request's client from its forwarding headers. */
  private readonly forwardedClient: ((req: http.IncomingMessage) => void) | null;

  /**
   * The access log and the slowlog watchdog are loaded only when configured:
   * every module a worker imports lengthens every worker start (ondemand's
   * first request waits for one).
   */
  static async start(
    app: LoadedApp,
    settings: WorkerSettings,
    send: (message: WorkerMessage) => void,
    channel: DispatchChannel,
    table: Uint8Array,
  ): Promise<WorkerServer> {
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
        traceDepth: settings.slowlogTraceDepth,
        scoreboardFd: SCOREBOARD_FD,
        slot: settings.slot,
      });
    }
    const server = new WorkerServer(app, settings, send, channel, table, accessLog, slowlog);
    // The app's WebSocket server (ws, socket.io, @hono/node-server) attaches to
    // this server as to any Node server; its connections arrive through 'upgrade'.
    await app.init?.({ server: server.server });
    server.slot.idle();
    return server;
  }

  private constructor(
    private readonly app: LoadedApp,
    private readonly settings: WorkerSettings,
    private readonly send: (message: WorkerMessage) => void,
    private readonly channel: DispatchChannel,
    /** The connection table shared with the master (records.ts, ConnectionState). */
    private readonly table: Uint8Array,
    accessLog: AccessLog | null,
    slowlog: SlowlogWatchdog | null,
  ) {
    this.accessLog = accessLog;
    this.slowlog = slowlog;
    this.header = new TableHeader(table);
    this.slot = new SlotWriter(SCOREBOARD_FD, settings.slot);
    this.forwardedClient = forwardedClients(settings.trustedProxies);
    const server = this;
    this.onResponseClose = function (this: http.ServerResponse) {
      server.requestEnded(this);
    };
    this.beat();
    setInterval(() => this.beat(), HEARTBEAT_MS).unref();
    this.server = nodeHttp.createServer(
      {
        headersTimeout: settings.headersTimeout,
        requestTimeout: settings.requestTimeout,
        keepAliveTimeout: settings.keepAliveTimeout,
        maxHeaderSize: settings.maxHeaderSize,
        // Node checks the two timeouts on this interval (30 s by default), which
        // would let a slow client overstay its timeout by that much.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, settings.headersTimeout / 4)),
      },
      (req, res) => this.invokeHandler(req, res),
    );
    // Node arms the headers/request timeout checker and the connection list on
    // 'listening'. This server only ever gets sockets through 'connection', so
    // without this it would have no slow-client protection at all.
    this.server.emit('listening');
    this.boundaries = connectionsList(this.server);
    this.observeEmits();
    const onUpgrade = this.app.upgrade;
    if (onUpgrade) {
      this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.invokeUpgrade(onUpgrade, req, socket, head));
    }
  }

  /**
   * poold's bookkeeping must see every request and every upgrade, whoever
   * serves it: the app's WebSocket server (ws, socket.io) adds its own
   * 'upgrade' listener to the server init() got, and socket.io replaces the
   * 'request' listeners with one that serves its own requests and passes the
   * others on. So it runs where Node emits them, before any listener. (Node
   * emits 'upgrade' only when a listener exists; without one, an Upgrade
   * request is a plain request for the handler.)
   */
  private observeEmits(): void {
    const worker = this;
    const emit = this.server.emit;
    // `arguments` passes the emit on as it came, without building an array per event.
    this.server.emit = function (this: http.Server, event: string | symbol, first?: unknown, second?: unknown): boolean {
      if (event === 'request') worker.requestBegins(first as http.IncomingMessage, second as http.ServerResponse);
      else if (event === 'upgrade') worker.connectionUpgraded(second as Socket);
      // biome-ignore lint/complexity/noArguments: as the comment above says
      return emit.apply(this, arguments as unknown as Parameters<http.Server['emit']>);
    } as http.Server['emit'];
  }

  /**
   * From now on the connection is not HTTP: it is no request (not in the load,
   * no timeout, no slowlog), and if this worker dies the master has nothing to
   * answer on it.
   */
  private connectionUpgraded(socket: Socket): void {
    const entry = this.held.get(socket);
    if (entry === undefined) return;
    this.table[entry] = ConnectionState.upgraded;
    this.idle.delete(socket);
    this.upgraded.add(socket);
    this.slot.connectionUpgraded(this.awaitingFirstRequest.delete(socket));
    this.loadEnded();
  }

  private invokeUpgrade(onUpgrade: NonNullable<LoadedApp['upgrade']>, req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const failed = (err: unknown): void => {
      console.error(`unhandled error in upgrade handler for ${req.method} ${req.url}:`, err);
      socket.destroy();
    };
    try {
      const result: unknown = onUpgrade(req, socket, head);
      if (result instanceof Promise) result.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  /**
   * A connection from the master (`fd`, its own copy) whose request head has
   * arrived: still in the kernel, or read by the master and passed here as
   * `head` (parsed first, then the rest comes from the socket). Served even
   * while stopping: the master handed it over before it stopped routing here.
   */
  receive(fd: number, entry: number, head: Buffer | undefined, client: ProxiedClient | null = null): void {
    this.received++;
    if (fd < 0) return;
    // Handed over on a reading of its slot that a kept-alive request has since
    // made stale: it would wait here behind that request. Unread, it is parked;
    // read by the master, it goes back now.
    const full = this.slot.load() >= this.settings.maxConcurrency;
    if (full && head) {
      closeSync(fd);
      this.channel.send(WorkerRecord.returned, entry);
      return;
    }
    const socket = new Socket({ fd, readable: true, writable: true });
    if (client) showProxiedClient(socket, client);
    this.held.set(socket, entry);
    this.awaitingFirstRequest.add(socket);
    this.slot.connectionAccepted();
    this.markFirstWrites(socket, entry);
    socket.once('close', () => this.connectionClosed(socket));
    this.server.emit('connection', socket);
    if (head) socket.emit('data', head);
    if (full) this.parkReturnable(socket, entry);
    // The master chose this worker for this request, and it fills the worker:
    // it goes before the worker's own kept-alive connections, which wait
    // parked until a request ends.
    else if (this.slot.load() >= this.settings.maxConcurrency) this.parkIdle();
  }

  private connectionClosed(socket: Socket): void {
    // Taken by the parking thread: its entry is the master's again.
    if (!this.parked.unpark(socket)) {
      this.release(socket);
      if (this.stopping) this.checkDrained();
      return;
    }
    const entry = this.held.get(socket);
    if (entry !== undefined) {
      this.held.delete(socket);
      this.table[entry] = ConnectionState.closed;
    }
    this.idle.delete(socket);
    if (this.upgraded.delete(socket)) {
      this.slot.upgradedClosed();
      if (this.upgraded.size === 0) this.onUpgradedGone?.();
    }
    if (this.awaitingFirstRequest.delete(socket)) {
      this.slot.connectionAbandoned();
      // Its request will not come: the connections parked for it are read again.
      if (this.responses.size < this.settings.maxConcurrency) this.unparkAll();
      this.loadEnded();
    }
    if (this.stopping) this.checkDrained();
  }

  /** The master's queue became non-empty (on) or stayed empty (off). */
  watch(on: boolean): void {
    this.watched = on;
    // It may have freed up before the master asked: say so now, or the queue would wait.
    if (on) this.reportRoom();
  }

  reopenLogs(): void {
    this.accessLog?.reopen();
  }

  /**
   * Resolves once in-flight requests are done and the app's shutdown() ran.
   * With `handBack`, each kept-alive connection goes back to the master as
   * soon as it is between two requests, so its next request is served by
   * another worker. Without, an idle one is not closed at once: its client may
   * be sending the next request right now, and closing under it would lose
   * that request. Its next request is answered with `Connection: close`
   * instead; only connections still idle after a grace period are closed.
   * Upgraded connections stay open through shutdown(), so that the app can
   * close them its own way (a WebSocket with 1001, going away); those it
   * leaves open are closed `upgradedGraceMs` after the stop began (the
   * master's drain deadline), or once shutdown() returns when that has passed.
   */
  stop(handBack: boolean, upgradedGraceMs: number): Promise<void> {
    const upgradedDeadline = Date.now() + upgradedGraceMs;
    this.stopping = true;
    this.handBackOnStop = handBack;
    this.slot.finishing();
    if (handBack) this.handBackIdle(this.idle);
    else for (const res of this.responses.keys()) if (!res.headersSent) res.shouldKeepAlive = false;
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
      await this.closeUpgraded(upgradedDeadline);
    });
  }

  /** Waits until `deadline` (epoch ms) for the upgraded connections to close, then closes what is left. */
  private async closeUpgraded(deadline: number): Promise<void> {
    const wait = deadline - Date.now();
    if (this.upgraded.size > 0 && wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.onUpgradedGone = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onUpgradedGone = null;
    }
    for (const socket of this.upgraded) socket.destroy();
  }

  /**
   * Reads every connection record the master counted before this worker
   * marked itself full; one may still be on its way (the master counted it
   * and is sending it), so this waits for it, briefly: the master sends right
   * after it counts.
   */
  private takeOffers(): void {
    const deadline = Date.now() + OFFER_WAIT_MS;
    while (this.header.offered() > this.received && Date.now() < deadline) this.channel.readWaiting();
  }

  /**
   * Whether the connection of a request that just ended must queue for its
   * next one rather than stay here: requests wait in the master's queue, and
   * either one has waited FAIR_WAIT_MS, or this request took SLOW_REQUEST_MS
   * (a move then costs little beside the requests it would overtake).
   */
  private mustQueueNext(trace: RequestTrace): boolean {
    const since = this.header.queueSince;
    if (since === 0) return false;
    const now = Date.now();
    return now - since >= FAIR_WAIT_MS || now - trace.startedAt >= SLOW_REQUEST_MS;
  }

  private requestBegins(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.forwardedClient?.(req);
    const socket = req.socket;
    const firstOnConnection = this.awaitingFirstRequest.delete(socket);
    const entry = this.held.get(socket);
    if (entry !== undefined) this.table[entry] = ConnectionState.unanswered;
    this.idle.delete(socket);
    if (this.stopping && !this.handBackOnStop) res.shouldKeepAlive = false;
    const trace = this.slot.begin(req, firstOnConnection);
    this.responses.set(res, trace);
    // %C needs this request's own user/system split; only an access log pays for the reading.
    if (this.accessLog) this.cpuAtStart.set(res, process.cpuUsage());
    this.slowlog?.track(this.slot.oldestStart());
    res.on('close', this.onResponseClose);
    if (this.responses.size >= this.settings.maxConcurrency) {
      // At its limit, nothing may wait behind this request for long: neither
      // a request the master handed over meanwhile (its record is read now),
      // nor one received whose head is still unread in the kernel, nor an idle
      // connection of its own. All are parked: the parking thread gives the
      // master those whose request waits longer than PARKED_GRACE_MS.
      this.header.setFull(true);
      this.takeOffers();
      for (const waiting of this.awaitingFirstRequest) {
        const waitingEntry = this.held.get(waiting);
        if (waiting.bytesRead === 0 && waitingEntry !== undefined) this.parkReturnable(waiting, waitingEntry);
      }
      if (this.idle.size > 0) this.parkIdle();
    }
  }

  /** Parks a connection received whose request has not been read; if it cannot be, it goes back now. */
  private parkReturnable(socket: Socket, entry: number): void {
    if (!this.parked.has(socket) && !this.parked.park(socket, entry, WorkerRecord.returned)) this.giveBack(socket);
  }

  /**
   * Parks the idle connections at a request boundary, PARKED_MAX at most: the
   * rest, those idle longest, go back to the master now, as does one that
   * cannot be parked (no descriptor left).
   */
  private parkIdle(): void {
    // Every new connection fills a worker with pm.max_concurrency = 1: most find no idle one to park.
    if (this.idle.size === 0) return;
    const atBoundary = new Set(this.boundaries.idle().map((connection) => connection.socket));
    // this.idle keeps the order in which they became idle: the oldest first.
    const candidates = [...this.idle].filter((socket) => atBoundary.has(socket) && !this.parked.has(socket));
    let over = candidates.length - (PARKED_MAX - this.parked.size);
    for (const socket of candidates) {
      const entry = this.held.get(socket);
      if (entry === undefined) continue;
      if (over-- > 0 || !this.parked.park(socket, entry, WorkerRecord.handBack)) this.handBack(socket);
    }
  }

  /** Room again: the parked connections are read here again, but those the parking thread gave the master. */
  private unparkAll(): void {
    for (const socket of this.parked.unparkAll()) this.forget(socket);
  }

  /** A connection that is the master's now: this process closes its descriptor and leaves the connection open. */
  private forget(socket: Socket): void {
    this.release(socket);
    socket.destroy();
  }

  /** Drops a connection given to the master from this worker's books. */
  private release(socket: Socket): void {
    this.held.delete(socket);
    this.idle.delete(socket);
    if (this.awaitingFirstRequest.delete(socket)) this.slot.connectionReturned();
  }

  private requestEnded(res: http.ServerResponse): void {
    const trace = this.responses.get(res)!;
    this.responses.delete(res);
    if (this.responses.size < this.settings.maxConcurrency) {
      this.unparkAll();
      this.header.setFull(false);
    }
    const socket = res.req.socket;
    const entry = this.held.get(socket);
    if (entry !== undefined && !socket.destroyed && !socket.writableEnded) {
      this.table[entry] = ConnectionState.idle;
      this.idle.add(socket);
      if (this.mustQueueNext(trace) || (this.stopping && this.handBackOnStop)) this.handBackIdle([socket]);
    }
    this.served++;
    // Retire before the slot shows it free: the master must not pick it again.
    this.checkRecycling();
    this.slot.end(trace);
    this.slowlog?.track(this.slot.oldestStart());
    if (this.accessLog) this.logAccess(res, trace);
    this.loadEnded();
    if (this.stopping) this.checkDrained();
  }

  private logAccess(res: http.ServerResponse, trace: RequestTrace): void {
    const cpuAtStart = this.cpuAtStart.get(res);
    if (!this.accessLog || !cpuAtStart) return;
    this.cpuAtStart.delete(res);
    this.accessLog.write(res.req, res, { startedAt: trace.startedAt, cpuAtStart, user: trace.user, rss: this.slot.sampleRss() });
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

  /**
   * The event loop's heartbeat, for the master (connection-table.ts). After a
   * stall, the master left this worker out: if requests wait in its queue, it
   * hears of the room at once rather than at its next tick.
   */
  private beat(): void {
    const now = monotonicMs();
    const stalled = now - this.header.lastBeat > LOOP_STALL_MS;
    this.header.beat(now);
    if (stalled) this.loadEnded();
  }

  /**
   * Its load went down: tells the master, if it watches and requests wait in
   * its queue now. The watch lingers after the queue empties, and kept-alive
   * requests that move now and then queue for a moment: a report per request
   * while it lingers would wake the master for nothing. A request queued
   * while this one ended is not missed: see TableHeader.queueWaits.
   */
  private loadEnded(): void {
    if (this.watched && this.header.queueWaits()) this.reportRoom();
  }

  /** While watched, tells the master it can take one more request. */
  private reportRoom(): void {
    if (this.watched && !this.stopping && !this.retiring && this.slot.load() < this.settings.maxConcurrency) {
      this.channel.send(WorkerRecord.room, 0);
    }
  }

  /**
   * Marks a request answering in the connection table synchronously, before
   * the first byte of its response leaves: from then on a 502 from the master
   * (if this worker died) would corrupt it. Node's http writes every response
   * through socket.write().
   */
  private markFirstWrites(socket: Socket, entry: number): void {
    const table = this.table;
    const ownWrite = socket.write;
    socket.write = function (this: Socket) {
      if (table[entry] === ConnectionState.unanswered) table[entry] = ConnectionState.answering;
      // biome-ignore lint/complexity/noArguments: the write goes on as it came, without an array per write
      return ownWrite.apply(this, arguments as unknown as Parameters<Socket['write']>);
    } as Socket['write'];
  }

  /**
   * Gives back a connection received but not read from (its request head is
   * still in the kernel): the master dispatches that request again.
   */
  private giveBack(socket: Socket): void {
    const entry = this.held.get(socket);
    const handle = (socket as unknown as { _handle?: { readStop(): number } })._handle;
    if (entry === undefined || !handle) return;
    handle.readStop();
    this.channel.send(WorkerRecord.returned, entry);
    this.forget(socket);
  }

  /**
   * Gives kept-alive connections back to the master, those that are between
   * two requests by Node's own reckoning (no byte of a next request parsed;
   * the bytes not read yet stay in the kernel for the master).
   */
  private handBackIdle(sockets: Iterable<Socket>): void {
    const atBoundary = new Set(this.boundaries.idle().map((connection) => connection.socket));
    for (const socket of [...sockets]) if (atBoundary.has(socket)) this.handBack(socket);
  }

  /**
   * Reading stops now, the record goes out, and this process closes its
   * descriptor, which leaves the connection open in the master.
   */
  private handBack(socket: Socket): void {
    if (!this.parked.unpark(socket)) {
      this.forget(socket);
      return;
    }
    const entry = this.held.get(socket);
    const handle = (socket as unknown as { _handle?: { readStop(): number; readStart(): number } })._handle;
    if (entry === undefined || !handle || socket.destroyed || socket.writableEnded) return;
    handle.readStop();
    let sent = false;
    try {
      sent = this.channel.trySend(WorkerRecord.handBack, entry);
    } catch {
      // The master is gone; this worker is about to exit.
    }
    if (!sent) {
      handle.readStart();
      return;
    }
    this.forget(socket);
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
    this.send({ t: 'retire', reason });
  }

  /**
   * Drained: no request in flight, no handed-over connection still waiting
   * for its request to be read, and every kept-alive connection gone (handed
   * back, closed after its last response, or after the grace period); a
   * client that never completes its request is cut by headers_timeout, and
   * process_control_timeout bounds it all.
   */
  private checkDrained(): void {
    // Upgraded connections are not waited for here: shutdown() runs while they are open.
    const idleGone = this.idleClosed || this.held.size === this.upgraded.size;
    if (this.onDrained && this.responses.size === 0 && this.awaitingFirstRequest.size === 0 && idleGone) {
      const resolve = this.onDrained;
      this.onDrained = null;
      resolve();
    }
  }
}
