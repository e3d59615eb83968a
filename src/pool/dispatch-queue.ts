import type { Socket } from 'node:net';

export interface QueuedConnection {
  id: number;
  socket: Socket;
  queuedAt: number;
}

/** The master's FIFO of accepted connections waiting for a free worker. */
export class DispatchQueue {
  private items: QueuedConnection[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: QueuedConnection): void {
    this.items.push(item);
  }

  /** Puts back a connection that could not be handed over, keeping its turn. */
  unshift(item: QueuedConnection): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  peek(): QueuedConnection | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): QueuedConnection | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as unknown as QueuedConnection;
    // Compact now and then so a long-lived queue does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  drain(): QueuedConnection[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
