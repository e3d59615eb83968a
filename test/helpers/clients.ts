// Network clients for the integration tests, below the level of http.get when
// a test must see exactly what happened on the wire: refused or accepted,
// which bytes arrived, whether and when the connection closed. All bounded.
import net from 'node:net';
import { getFrom, type Response } from './poold.js';

export type Target = { port: number } | { path: string };

function connect(target: Target): net.Socket {
  return 'port' in target ? net.connect({ host: '127.0.0.1', port: target.port }) : net.connect(target.path);
}

/** Opens a connection and closes it at once: was it accepted, or refused (the error code)? */
export function connectOutcome(target: Target, timeoutMs = 5000): Promise<'accepted' | string> {
  return new Promise((resolve) => {
    const socket = connect(target);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('connect timed out');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? err.message);
    });
  });
}

export interface Exchange {
  /** Every byte received, as latin1 text. */
  data: string;
  /** The error the connection ended with (ECONNRESET...), if any. */
  error?: string;
  /** From the moment the connection was established until it closed. */
  elapsedMs: number;
}

/**
 * Sends `chunks` one every `intervalMs` (the first at once) and, after the
 * last, keeps reading; resolves when the server closes the connection.
 * Rejects if it is still open after `timeoutMs`: that is a hang.
 */
export function exchange(target: Target, chunks: string[], timeoutMs = 10_000, intervalMs = 0): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    let data = '';
    let error: string | undefined;
    let connectedAt = 0;
    let sender: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearInterval(sender);
      socket.destroy();
      reject(new Error(`connection still open after ${timeoutMs} ms; received so far: ${JSON.stringify(data)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.once('connect', () => {
      connectedAt = performance.now();
      const queue = [...chunks];
      const sendNext = () => {
        const chunk = queue.shift();
        if (chunk === undefined) return clearInterval(sender);
        if (!socket.destroyed) socket.write(chunk, () => {});
      };
      sendNext();
      if (queue.length > 0) sender = setInterval(sendNext, intervalMs);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      clearInterval(sender);
      resolve({ data, error, elapsedMs: connectedAt ? performance.now() - connectedAt : 0 });
    });
  });
}

/** A request that is never completed: resolves with a handle once the bytes are written. */
export function openRequest(target: Target, text: string): Promise<{ socket: net.Socket; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(target);
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(text, () => resolve({ socket, received: () => data })));
  });
}

/** One GET over a unix socket, bounded in time. */
export function getUnix(socketPath: string, urlPath: string, timeoutMs = 10_000): Promise<Response> {
  return getFrom({ socketPath }, urlPath, timeoutMs);
}

/** A promise's outcome, without throwing. */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

/** `promise`, or a rejection naming `what` once `timeoutMs` have passed. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
