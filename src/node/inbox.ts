import type { Delivery } from '../core/types.js';

/**
 * Received messages waiting for the application. Each holds the receive credit the engine
 * charged for it; the credit goes back (ConnectionCore.release) only when the application takes
 * the message, so a consumer that stops pulling stops the peer through flow control and this
 * queue is bounded by the receive window. Unreliable messages hold no credit: they are capped by
 * count and the oldest is dropped.
 */
export interface InboxItem {
  data: Buffer;
  credit: number;
  unreliable: boolean;
  /** How it was sent (the 'message' listener's second argument). */
  info: MessageInfo;
}

/** What a receiver learns about a message besides its bytes. */
export interface MessageInfo {
  /** The channel it was sent on, 0–255. */
  readonly channel: number;
  /** 'ordered', 'unordered' or 'unreliable'. */
  readonly delivery: Delivery;
}

export class Inbox {
  private items: (InboxItem | undefined)[] = [];
  private head = 0;
  private unreliable = 0;
  /** Unreliable messages dropped because the queue held `maxUnreliable` of them. */
  dropped = 0;

  constructor(private readonly maxUnreliable: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: InboxItem): void {
    if (item.unreliable) {
      if (this.unreliable >= this.maxUnreliable) {
        this.dropped++;
        if (!this.dropOldestUnreliable()) return;
      }
      this.unreliable++;
    }
    this.items.push(item);
  }

  shift(): InboxItem | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item?.unreliable) this.unreliable--;
    return item;
  }

  /** The oldest item `match` accepts, taken out of the queue (for per-channel consumers). */
  take(match: (item: InboxItem) => boolean): InboxItem | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (!match(item)) continue;
      if (i === this.head) return this.shift();
      this.items.splice(i, 1);
      if (item.unreliable) this.unreliable--;
      return item;
    }
    return undefined;
  }

  /** Is there an item `match` accepts? */
  has(match: (item: InboxItem) => boolean): boolean {
    for (let i = this.head; i < this.items.length; i++) if (match(this.items[i]!)) return true;
    return false;
  }

  private dropOldestUnreliable(): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      if (this.items[i]?.unreliable) {
        this.items.splice(i, 1);
        this.unreliable--;
        return true;
      }
    }
    return false;
  }
}
