import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Every status the master answers with itself: 408 and 431 while it reads a
 * head, 502 and 504 when a worker dies or is killed before answering, 503 when
 * the queue is full or a request waited past listen.queue_timeout.
 */
export const MASTER_STATUSES = [408, 431, 502, 503, 504] as const;
export type MasterStatus = (typeof MASTER_STATUSES)[number];

/** How long the master keeps reading a client's request after answering it. */
const LINGER_MS = 2000;

/** A complete HTTP error response that closes the connection. */
function errorResponse(status: number, extraHeaders: Record<string, string>): string {
  const body = `${status} ${STATUS_CODES[status] ?? ''}\n`;
  const headers = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...extraHeaders,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${head}\r\n${body}`;
}

/**
 * Answers a connection the master still owns with a complete HTTP error
 * response, then closes it. The request bytes are read and discarded first:
 * closing a socket with unread input makes the kernel send a reset, which can
 * destroy the response before the client reads it.
 */
export function answerAndClose(
  socket: Socket,
  status: MasterStatus,
  extraHeaders: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  socket.on('error', () => socket.destroy());
  socket.on('data', () => {});
  socket.setTimeout(LINGER_MS, () => socket.destroy());
  socket.resume();
  socket.end(errorResponse(status, extraHeaders));
}

/**
 * Answers a connection just accepted and closes its descriptor at once,
 * without reading: for when descriptors run short and lingering would hold
 * one per refused client. The response fits the empty send buffer, so it
 * leaves with the write; a client that had already sent its request may see
 * a reset instead.
 */
export function answerAndDrop(socket: Socket, status: number, extraHeaders: Record<string, string> = {}): void {
  socket.on('error', () => {});
  socket.end(errorResponse(status, extraHeaders));
  socket.destroy();
}
