import { chmodSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { EXIT } from '../control/exit-codes.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

const MAX_REQUEST_BYTES = 4096;

/**
 * The master's control socket: a unix socket only the master's user can use
 * (mode 0600), through which `poold reload|reopen-logs|stop|status` get an
 * answer — a signal cannot say whether a reload worked.
 */
export class ControlServer {
  private readonly server: net.Server;

  constructor(
    readonly path: string,
    handle: ControlHandler,
  ) {
    this.server = net.createServer((socket) => {
      let received = '';
      socket.setEncoding('utf8');
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: string) => {
        received += chunk;
        if (received.length > MAX_REQUEST_BYTES) return socket.destroy();
        const newline = received.indexOf('\n');
        if (newline === -1) return;
        socket.pause();
        let request: ControlRequest;
        try {
          request = JSON.parse(received.slice(0, newline)) as ControlRequest;
        } catch {
          return socket.end(`${JSON.stringify({ ok: false, code: EXIT.USAGE, messages: ['malformed control request'] })}\n`);
        }
        void handle(request)
          .catch((err: unknown) => ({ ok: false, code: EXIT.SOFTWARE, messages: [String(err)] }))
          .then((response) => socket.end(`${JSON.stringify(response)}\n`));
      });
    });
  }

  async listen(): Promise<void> {
    try {
      unlinkSync(this.path);
    } catch {
      // no stale socket
    }
    // Never reachable by others, even for an instant (bind happens inside listen()).
    const previousUmask = process.umask(0o177);
    let listening: Promise<void>;
    try {
      listening = new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(previousUmask);
    }
    await listening;
    chmodSync(this.path, 0o600);
  }

  /** Called when accepting a connection fails (EMFILE): the socket stays open. */
  onAcceptError(handler: (err: Error) => void): void {
    this.server.on('error', handler);
  }

  close(): void {
    this.server.close();
  }
}
