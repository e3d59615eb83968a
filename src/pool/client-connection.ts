import type { Socket } from 'node:net';
import type { ProxiedClient } from '../net/proxy-protocol.js';
import { answerAndClose, type MasterStatus } from './raw-response.js';

/**
 * The parts of Node's stream handle the master uses: its descriptor, and
 * reads started and stopped exactly when it says. `reading` is net.Socket's
 * own note of whether it started reads; its _read() starts them whenever the
 * note says no.
 */
interface StreamHandle {
  fd: number;
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

/**
 * A client connection as the master holds it, from accept to close: the
 * master waits here for each request head (reading it only when it has not
 * arrived whole), hands the connection to a worker with the bytes it read, if
 * any, and keeps its own descriptor meanwhile (to answer 502/504 if the
 * worker dies, and to read the next head when the worker hands it back).
 */
export class ClientConnection {
  /** What the master read since it last came back to it: a whole request head once complete (null: nothing read). */
  buffered: Buffer | null = null;
  /** When its current wait began (epoch ms): for the head, then in the queue. */
  since = Date.now();
  /** Whether the master is reading it (for a head) rather than a worker holding it. */
  reading = false;
  /** The client a trusted proxy's PROXY header named (null: the peer is the client). */
  client: ProxiedClient | null = null;
  /** A trusted proxy's PROXY header may still be arriving: the head is looked for after it. */
  proxyPending = false;
  /** Whether its handle reads: not at first (the listener pauses new connections). */
  private handleReads = false;

  constructor(
    readonly socket: Socket,
    /** Counts what the master answers itself (the pool's stats). */
    private readonly onAnswer: (status: MasterStatus) => void = () => {},
  ) {}

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /** Its descriptor, passed to a worker (which gets its own copy of it). */
  get fd(): number {
    return this.handle?.fd ?? -1;
  }

  append(chunk: Buffer): Buffer {
    this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    return this.buffered;
  }

  /**
   * Stops reading now, for good until resumed: pause() alone would let Node
   * read on into its buffer (it reads ahead to the high-water mark), and
   * those bytes would never reach the worker that holds the connection.
   * net.Socket is told its handle still reads, so it never restarts it.
   */
  stopReading(): void {
    this.reading = false;
    this.socket.pause();
    const handle = this.handle;
    if (!handle) return;
    if (this.handleReads) handle.readStop();
    this.handleReads = false;
    handle.reading = true;
  }

  resumeReading(): void {
    this.reading = true;
    this.socket.resume();
    this.startHandle();
  }

  /** Answers it with an error status and closes it (reading and discarding what the client still sends). */
  answer(status: MasterStatus, headers?: Record<string, string>): void {
    if (!this.closed) this.onAnswer(status);
    this.reading = false;
    this.startHandle();
    answerAndClose(this.socket, status, headers);
  }

  private startHandle(): void {
    const handle = this.handle;
    if (!handle || this.handleReads) return;
    this.handleReads = true;
    handle.reading = true;
    handle.readStart();
  }

  private get handle(): StreamHandle | undefined {
    return (this.socket as unknown as { _handle?: StreamHandle })._handle;
  }
}
