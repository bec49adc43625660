import { Deque } from '../core/deque.js';
import type { Delivery } from '../core/types.js';

/**
 * Received messages waiting for the application. Each holds the bytes the engine charged for
 * it (`credit`); they go back (ConnectionCore.release) only when the application takes the
 * message, or when an unreliable one is dropped. A consumer that stops pulling stops the peer's
 * reliable data through flow control, so reliable items are bounded by the receive window.
 * Unreliable items are bounded by count (`maxUnreliable`) and by bytes (`maxUnreliableBytes`):
 * past either, the oldest unreliable message is dropped (and counted), never a reliable one.
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

/** Told of each dropped item, so that its credit goes back to the engine (an object: no closure per connection). */
export interface InboxOwner {
  inboxDropped(item: InboxItem): void;
}

const NO_OWNER: InboxOwner = { inboxDropped: () => {} };

export class Inbox {
  /** A ring buffer with no storage until the first message, then a small one (idle connections stay small). */
  private readonly items = new Deque<InboxItem>(2);
  private unreliable = 0;
  /** Bytes (credit) of the unreliable messages queued. */
  private unreliableBytes = 0;
  /** Unreliable messages dropped because the queue was over a limit. */
  dropped = 0;

  constructor(
    private readonly maxUnreliable: number,
    private readonly maxUnreliableBytes: number = Infinity,
    /** Told of each dropped item, so its credit goes back to the engine. */
    private readonly owner: InboxOwner = NO_OWNER,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Bytes of the unreliable messages queued. */
  get queuedUnreliableBytes(): number {
    return this.unreliableBytes;
  }

  push(item: InboxItem): void {
    if (item.unreliable) {
      if (this.maxUnreliable === 0) {
        this.dropped++;
        this.owner.inboxDropped(item);
        return;
      }
      // The newest message always gets in (the engine already checked it fits its budget).
      while (this.unreliable > 0 && (this.unreliable >= this.maxUnreliable || this.unreliableBytes + item.credit > this.maxUnreliableBytes)) {
        this.dropOldestUnreliable();
      }
      this.unreliable++;
      this.unreliableBytes += item.credit;
    }
    this.items.push(item);
  }

  shift(): InboxItem | undefined {
    const item = this.items.shift();
    if (item?.unreliable) {
      this.unreliable--;
      this.unreliableBytes -= item.credit;
    }
    return item;
  }

  /** The oldest item `match` accepts, taken out of the queue (for per-channel consumers). */
  take(match: (item: InboxItem) => boolean): InboxItem | undefined {
    const items = this.items;
    for (let i = 0; i < items.length; i++) {
      const item = items.at(i);
      if (!match(item)) continue;
      if (i === 0) return this.shift();
      items.removeAt(i);
      if (item.unreliable) {
        this.unreliable--;
        this.unreliableBytes -= item.credit;
      }
      return item;
    }
    return undefined;
  }

  /** Is there an item `match` accepts? */
  has(match: (item: InboxItem) => boolean): boolean {
    const items = this.items;
    for (let i = 0; i < items.length; i++) if (match(items.at(i))) return true;
    return false;
  }

  private dropOldestUnreliable(): void {
    const items = this.items;
    for (let i = 0; i < items.length; i++) {
      const item = items.at(i);
      if (item.unreliable) {
        items.removeAt(i);
        this.unreliable--;
        this.unreliableBytes -= item.credit;
        this.dropped++;
        this.owner.inboxDropped(item);
        return;
      }
    }
  }
}
