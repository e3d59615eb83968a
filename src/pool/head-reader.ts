import { EventEmitter } from 'node:events';
import { readSync } from 'node:fs';
import { nativeBinding } from '../native/binding.js';
import { parseProxyHeader, type ProxyHeader } from '../net/proxy-protocol.js';
import type { ClientConnection } from './client-connection.js';

export interface HeadLimits {
  /** http.headers_timeout: a request head must be complete this long after accept (or after its first byte, on a kept-alive connection). */
  headersTimeout: number;
  /** http.keepalive_timeout: a kept-alive connection back in the master is closed after this long without a byte. */
  keepAliveTimeout: number;
  /** http.max_header_size. */
  maxHeaderSize: number;
}

const END_OF_HEAD = Buffer.from('\r\n\r\n');
/** Some clients end lines with a bare LF; Node's parser takes those too. */
const END_OF_HEAD_LF = Buffer.from('\n\n');

/** Whether `bytes` hold a whole request head; `from`: where new bytes begin. */
function headComplete(bytes: Buffer, from: number): boolean {
  const start = Math.max(0, from - 3);
  return bytes.indexOf(END_OF_HEAD, start) !== -1 || bytes.indexOf(END_OF_HEAD_LF, start) !== -1;
}

interface Waiting {
  deadline: number;
  /** 408 once its head has begun (or it is new); a silent close for an idle kept-alive connection. */
  answer: 408 | null;
}

/** listen.trusted_proxies and listen.allowed_clients, as predicates over addresses. */
export interface ClientPolicy {
  /**
   * Whether either predicate can say no: a peer's address costs a system
   * call and an object per connection, and is not read when nothing filters.
   */
  filters: boolean;
  /** Whether the peer may send a PROXY header (undefined: a unix socket peer). */
  trustedProxy(peer: string | undefined): boolean;
  allowed(address: string): boolean;
}

interface HeadReaderEvents {
  /** A whole request head has arrived on it: a request, to dispatch. */
  head: [connection: ClientConnection];
  /** Closed before any request: a broken PROXY header, or a client listen.allowed_clients leaves out. */
  rejected: [connection: ClientConnection, message: string];
  /** A connection stopped waiting (its head came, it failed or closed). */
  settled: [];
}

/** How long a kept-alive connection in the master may stay silent once the pool stops. */
const STOP_IDLE_GRACE_MS = 1000;

/**
 * The master's reading of request heads: a worker gets a connection only
 * once a whole request head is there, so a slow or silent client costs no
 * worker anything. A new connection must send its head within
 * http.headers_timeout of its accept (else 408); a kept-alive connection that
 * a worker handed back may stay idle for http.keepalive_timeout, then its next
 * head has http.headers_timeout. Deadlines are checked by one sweep, not a
 * timer per connection.
 */
export class HeadReader extends EventEmitter<HeadReaderEvents> {
  private readonly waiting = new Map<ClientConnection, Waiting>();
  /** Where a connection's waiting bytes are looked at (http.max_header_size of them at most). */
  private peekBuffer = Buffer.alloc(0);
  /** New connections found with a whole head in this turn of the event loop, in accept order. */
  private arrived: ClientConnection[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Once the pool stops: how long a kept-alive connection may stay silent, instead of keepalive_timeout. */
  private idleLimit: number | null = null;

  constructor(
    private limits: HeadLimits,
    private policy: ClientPolicy,
  ) {
    super();
  }

  setPolicy(policy: ClientPolicy): void {
    this.policy = policy;
  }

  /** Connections whose head the master is reading (status: "reading headers"). */
  get count(): number {
    return this.waiting.size;
  }

  setLimits(limits: HeadLimits): void {
    this.limits = limits;
    // The sweep's pace follows the deadlines it keeps.
    if (this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.startSweep();
    }
  }

  /**
   * A new connection: its first head is due within headers_timeout. Most
   * clients send it with the connection, so it is usually there already: then
   * it is handed on at once, its bytes left in the kernel for the worker to
   * read. Otherwise the master reads what comes until the head is whole.
   */
  readNew(connection: ClientConnection): void {
    const { socket } = connection;
    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.waiting.delete(connection) && this.emit('settled'));
    if (this.policy.filters && this.policy.trustedProxy(socket.remoteAddress) && !this.takeProxyHeader(connection)) return;
    if (connection.proxyPending || !this.headWaiting(connection)) {
      this.wait(connection, { deadline: connection.since + this.limits.headersTimeout, answer: 408 });
      return;
    }
    this.arrive(connection);
  }

  /**
   * A connection whose whole head waits in the kernel, to hand on unread.
   * Emitted after this turn's reads: a connection accepted earlier whose
   * bytes arrived earlier too may be read in this same turn, after this one,
   * and its request must not be overtaken.
   */
  private arrive(connection: ClientConnection): void {
    if (this.arrived.push(connection) === 1) {
      setImmediate(() => {
        const arrived = this.arrived;
        this.arrived = [];
        for (const head of arrived) this.emit('head', head);
      });
    }
  }

  /**
   * A request whose worker died before beginning it goes to another worker if
   * its head is still to be had: read by the master, or still in the kernel.
   * If that worker had taken the bytes, the client gets a 502.
   */
  resubmit(connection: ClientConnection): void {
    if (connection.buffered || this.headWaiting(connection)) this.emit('head', connection);
    else connection.answer(502);
  }

  /**
   * A kept-alive connection back from a worker, between two requests. One
   * its worker parked comes back because its next request is arriving: when
   * that head is whole already, it is handed on unread.
   */
  readAgain(connection: ClientConnection): void {
    connection.buffered = null;
    connection.since = Date.now();
    if (this.headWaiting(connection)) {
      this.arrive(connection);
      return;
    }
    this.wait(connection, { deadline: connection.since + (this.idleLimit ?? this.limits.keepAliveTimeout), answer: null });
  }

  /**
   * The pool stops: a connection idle between requests gets a last grace
   * period (its client may be sending right now), then is closed.
   */
  shortenIdle(): void {
    this.idleLimit = STOP_IDLE_GRACE_MS;
    const deadline = Date.now() + STOP_IDLE_GRACE_MS;
    for (const waiting of this.waiting.values()) {
      if (waiting.answer === null) waiting.deadline = Math.min(waiting.deadline, deadline);
    }
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const connection of this.waiting.keys()) connection.socket.destroy();
    this.waiting.clear();
  }

  /**
   * A trusted proxy's PROXY header, if it begins the connection: read (only
   * its bytes) and its client noted, so the worker gets the request as the
   * client sent it. False when the connection was rejected.
   */
  private takeProxyHeader(connection: ClientConnection): boolean {
    const fd = connection.fd;
    if (fd < 0) return true;
    const header = parseProxyHeader(this.peek(fd));
    if (header.kind === 'incomplete') connection.proxyPending = true;
    else if (header.kind === 'header') readSync(fd, Buffer.alloc(header.length), 0, header.length, null);
    return this.accept(connection, header);
  }

  /** Notes what a PROXY header says of the client; false (and the connection closed) when it is refused. */
  private accept(connection: ClientConnection, header: ProxyHeader): boolean {
    let reason: string | null = null;
    if (header.kind === 'invalid') {
      reason = `Connection from trusted proxy '${connection.socket.remoteAddress ?? 'unix socket'}' closed: it sent ${header.reason}.`;
    } else if (header.kind === 'header' && header.client) {
      connection.client = header.client;
      // FPM's words for listen.allowed_clients.
      if (!this.policy.allowed(header.client.address)) {
        reason = `Connection disallowed: IP address '${header.client.address}' has been dropped.`;
      }
    }
    if (reason === null) return true;
    if (this.waiting.delete(connection)) this.emit('settled');
    connection.socket.destroy();
    this.emit('rejected', connection, reason);
    return false;
  }

  /** Whether a whole request head waits unread in the kernel for this connection. */
  private headWaiting(connection: ClientConnection): boolean {
    const fd = connection.fd;
    if (fd < 0) return false;
    const waiting = this.peek(fd);
    return waiting.length > 0 && headComplete(waiting, 0);
  }

  /** What waits unread in the kernel for `fd`, http.max_header_size of it at most, without reading it. */
  private peek(fd: number): Buffer {
    if (this.peekBuffer.length !== this.limits.maxHeaderSize) this.peekBuffer = Buffer.alloc(this.limits.maxHeaderSize);
    return this.peekBuffer.subarray(0, Math.max(0, nativeBinding().peek(fd, this.peekBuffer)));
  }

  private wait(connection: ClientConnection, waiting: Waiting): void {
    if (connection.socket.destroyed) return;
    this.waiting.set(connection, waiting);
    connection.resumeReading();
    if (!this.sweepTimer) this.startSweep();
  }

  /** A tenth of the shorter deadline, between 50 ms and 1 s: a deadline is kept within 10 %. */
  private startSweep(): void {
    const shorter = Math.min(this.limits.headersTimeout, this.limits.keepAliveTimeout);
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, shorter / 10))).unref();
  }

  private onData(connection: ClientConnection, chunk: Buffer): void {
    if (!connection.reading) return;
    const waiting = this.waiting.get(connection);
    if (!waiting) return;
    let before = connection.buffered?.length ?? 0;
    let bytes = connection.append(chunk);
    if (connection.proxyPending) {
      let header = parseProxyHeader(bytes);
      if (header.kind === 'incomplete') {
        if (bytes.length <= this.limits.maxHeaderSize) return;
        header = { kind: 'invalid', reason: 'a PROXY header longer than http.max_header_size' };
      }
      connection.proxyPending = false;
      if (!this.accept(connection, header)) return;
      if (header.kind === 'header') {
        bytes = bytes.subarray(header.length);
        connection.buffered = bytes.length > 0 ? bytes : null;
        before = 0;
      }
    }
    if (headComplete(bytes, before)) {
      connection.stopReading();
      this.waiting.delete(connection);
      this.emit('head', connection);
      this.emit('settled');
    } else if (bytes.length > this.limits.maxHeaderSize) {
      this.fail(connection, 431);
    } else if (waiting.answer === null) {
      // Its next request has begun: the head is now due.
      waiting.answer = 408;
      waiting.deadline = Date.now() + this.limits.headersTimeout;
    }
  }

  private fail(connection: ClientConnection, status: 408 | 431): void {
    this.waiting.delete(connection);
    connection.answer(status);
    this.emit('settled');
  }

  private sweep(): void {
    const now = Date.now();
    for (const [connection, waiting] of this.waiting) {
      if (now < waiting.deadline) continue;
      if (waiting.answer === null) {
        this.waiting.delete(connection);
        connection.socket.destroy();
        this.emit('settled');
      } else this.fail(connection, waiting.answer);
    }
    if (this.waiting.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }
}
