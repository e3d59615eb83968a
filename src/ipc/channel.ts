import { nativeBinding, type Channel } from '../native/binding.js';

export type RecordHandler = (type: number, id: number, fd: number, payload: Buffer | undefined) => void;

/** How long a full channel waits before the records held back are sent again. */
const RETRY_MS = 1;

/**
 * One end of a dispatch channel (records.ts). A record that does not fit
 * (the other side is not reading: blocked, or gone) is held back and sent,
 * in order, once it fits; `trySend` is for records the caller would rather
 * route elsewhere than hold.
 */
export class DispatchChannel {
  private readonly channel: Channel;
  private readonly held: { type: number; id: number }[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(fd: number, capacity: number, onRecord: RecordHandler) {
    this.channel = nativeBinding().open(fd, capacity, onRecord);
  }

  /** False when the channel is full or closed: nothing was sent. Throws when the other end is gone. */
  trySend(type: number, id: number, fd = -1, payload?: Buffer): boolean {
    if (this.closed || this.held.length > 0) return false;
    return nativeBinding().send(this.channel, type, id, fd, payload);
  }

  /** Sends now or as soon as it fits; false when the other end is gone. */
  send(type: number, id: number): boolean {
    if (this.closed) return false;
    try {
      if (this.held.length === 0 && nativeBinding().send(this.channel, type, id, -1)) return true;
    } catch {
      return false;
    }
    this.held.push({ type, id });
    this.retryTimer ??= setTimeout(() => this.flush(), RETRY_MS);
    return true;
  }

  /** Takes in the records already waiting now, rather than on the loop's next turn. */
  readWaiting(): void {
    if (!this.closed) nativeBinding().poll(this.channel);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.held.length = 0;
    nativeBinding().close(this.channel);
  }

  private flush(): void {
    this.retryTimer = null;
    try {
      while (this.held.length > 0) {
        const { type, id } = this.held[0]!;
        if (!nativeBinding().send(this.channel, type, id, -1)) break;
        this.held.shift();
      }
    } catch {
      this.held.length = 0;
      return;
    }
    if (this.held.length > 0) this.retryTimer = setTimeout(() => this.flush(), RETRY_MS);
  }
}
