import type { Socket } from 'node:net';
import { CHANNEL_FD, CONNECTION_TABLE_SIZE, PARKED_GRACE_MS } from '../ipc/records.js';
import { nativeBinding, type Parking } from '../native/binding.js';

interface StreamHandle {
  fd: number;
  readStop(): number;
  readStart(): number;
}

function handleOf(socket: Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle })._handle ?? undefined;
}

/**
 * A worker's connections parked while it has no room for their requests
 * (native/parking.c): its idle kept-alive ones, and one the master handed
 * over just as the worker filled up. A parked connection is not read here: its
 * request must not wait behind the one that filled the worker. If it has a
 * request waiting after PARKED_GRACE_MS, the helper's thread gives it to the
 * master (a record on this worker's dispatch channel, sent by the thread);
 * otherwise the worker takes it back, unread, when room comes back.
 */
export class ParkedConnections {
  private readonly parking: Parking;
  private readonly parked = new Map<Socket, number>();

  constructor() {
    this.parking = nativeBinding().openParking(CHANNEL_FD, CONNECTION_TABLE_SIZE, PARKED_GRACE_MS);
  }

  get size(): number {
    return this.parked.size;
  }

  has(socket: Socket): boolean {
    return this.parked.has(socket);
  }

  /**
   * Stops reading `socket` and lets the thread take it, which then sends
   * `record` (WorkerRecord) with `entry`; false when it cannot be parked
   * (then it is not touched).
   */
  park(socket: Socket, entry: number, record: number): boolean {
    const handle = handleOf(socket);
    if (!handle || this.parked.has(socket) || socket.destroyed) return false;
    handle.readStop();
    try {
      nativeBinding().park(this.parking, entry, handle.fd, record);
    } catch {
      handle.readStart();
      return false;
    }
    this.parked.set(socket, entry);
    return true;
  }

  /**
   * Takes `socket` back from the thread. True: it was not parked, or is this
   * worker's again (and read again, unless it was destroyed meanwhile).
   * False: the thread handed it back to the master; its entry is no longer
   * this worker's.
   */
  unpark(socket: Socket): boolean {
    const entry = this.parked.get(socket);
    if (entry === undefined) return true;
    this.parked.delete(socket);
    const kept = nativeBinding().unpark(this.parking, entry);
    if (kept && !socket.destroyed) handleOf(socket)?.readStart();
    return kept;
  }

  /** Unparks every parked connection; returns those the thread handed back. */
  unparkAll(): Socket[] {
    const handedBack: Socket[] = [];
    if (this.parked.size === 0) return handedBack;
    for (const socket of [...this.parked.keys()]) if (!this.unpark(socket)) handedBack.push(socket);
    return handedBack;
  }
}
