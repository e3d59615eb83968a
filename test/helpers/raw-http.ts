// One client connection kept alive across requests, at the byte level: the
// test decides what is written and when (a head split in pieces), reads each
// response as it comes, and sees whether and how the connection ended. A
// client that reconnected silently (http.Agent does) would hide exactly what
// these tests are about. Every wait is bounded.
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; the last value of a repeated header. */
  headers: Record<string, string>;
  body: string;
  /** performance.now() when the whole response had arrived. */
  at: number;
}

/** How a connection ended: by whom is not known at this level, only whether with an error. */
export interface Ending {
  /** The socket error it ended with (ECONNRESET...), if any. */
  error?: string;
  /** performance.now() at 'close'. */
  at: number;
}

const HEAD_END = '\r\n\r\n';

/**
 * A keep-alive HTTP/1.1 client connection. Responses must carry a
 * Content-Length (every response of the test apps and of the master does):
 * anything else is a protocol error the caller sees.
 */
export class RawConnection {
  /** Bytes received and not yet taken as a response (latin1). */
  private pending = '';
  /** Every byte received since connect, as latin1 text. */
  received = '';
  private readonly waiters: (() => void)[] = [];
  private ending: Ending | null = null;
  readonly closed: Promise<Ending>;
  connectedAt = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      this.pending += text;
      this.received += text;
      this.wake();
    });
    let error: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ending = { error, at: performance.now() };
        this.wake();
        resolve(this.ending);
      }),
    );
  }

  /** Connects to 127.0.0.1:port; rejects after `timeoutMs`. */
  static open(port: number, timeoutMs = 10_000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const connection = new RawConnection(socket);
        connection.connectedAt = performance.now();
        resolve(connection);
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? -1;
  }

  /** Whether it has closed. */
  get ended(): Ending | null {
    return this.ending;
  }

  /** Writes `text` as it is; resolves once it was handed to the kernel. */
  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('the connection is closed'));
      this.socket.write(text, 'latin1', (err) => (err ? reject(err) : resolve()));
    });
  }

  /** A GET request head for `path` (keep-alive is HTTP/1.1's default). */
  static get(path: string): string {
    return `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  }

  /** Sends a GET and reads its response. */
  async request(path: string, timeoutMs = 10_000): Promise<RawResponse> {
    await this.write(RawConnection.get(path));
    return this.response(timeoutMs);
  }

  /**
   * The next whole response. Rejects if the connection closes first, or if
   * none is complete after `timeoutMs` (a hang).
   */
  async response(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.ending) {
        throw new Error(
          `the connection closed (${this.ending.error ?? 'no error'}) before a whole response; ` +
            `pending ${JSON.stringify(this.pending)}`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`no whole response within ${timeoutMs} ms; pending ${JSON.stringify(this.pending)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }

  /** Resolves once the connection has closed; rejects if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<Ending> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`still open after ${timeoutMs} ms; received ${JSON.stringify(this.received)}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Bytes received that are not part of a response taken yet. */
  get unread(): string {
    return this.pending;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private take(): RawResponse | null {
    const headEnd = this.pending.indexOf(HEAD_END);
    if (headEnd === -1) return null;
    const [statusLine, ...lines] = this.pending.slice(0, headEnd).split('\r\n');
    const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine!);
    if (!match) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (headers['content-length'] === undefined) {
      throw new Error(`a response without Content-Length: ${JSON.stringify(this.pending.slice(0, headEnd))}`);
    }
    const length = Number(headers['content-length']);
    const bodyStart = headEnd + HEAD_END.length;
    if (this.pending.length < bodyStart + length) return null;
    const body = this.pending.slice(bodyStart, bodyStart + length);
    this.pending = this.pending.slice(bodyStart + length);
    return { status: Number(match[1]), headers, body, at: performance.now() };
  }
}
