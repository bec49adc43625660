import { DataFlag } from '../wire/types.js';
import { Deque } from './deque.js';
import { pinFragment, type SentFragment } from './sent-packets.js';

/** Most copies `setChannel(channel, { redundancy })` may ask for, beside the original. */
export const MAX_REDUNDANCY = 3;
/** Only reliable messages of at most this many bytes (one fragment) are copied. */
export const REDUNDANT_MESSAGE_MAX = 512;
/** At most this many copies wait at once, all channels together (so ≤ 16 KiB of extra bytes). */
export const REDUNDANT_PENDING_MAX = 32;

const WHOLE = DataFlag.First | DataFlag.Last;

/**
 * Redundant copies of small reliable messages, for channels that asked for them
 * (`setChannel(channel, { redundancy: n })`): each such message's DATA frame goes again, as it
 * is, in each of the next `n` packets, so that one lost packet does not cost it a loss
 * recovery (one RTT and more). The receiver drops the copies it does not need by their TSN,
 * like any duplicate. Copies are frames in ordinary packets: they are in flight, count
 * against the congestion window, and a lost packet is a loss to the controller even when a
 * copy of its data arrived.
 *
 * The send scheduler creates this on first use (connections that never ask for redundancy do
 * not have one), offers it each new whole-message fragment, and asks it for a channel's next
 * copy when that channel's turn comes. A copy is written only into a later packet than the one
 * that last carried its fragment, and dropped once the fragment is acknowledged or queued for
 * retransmission (which then carries it). Bounds: messages of at most
 * {@link REDUNDANT_MESSAGE_MAX} bytes, at most {@link REDUNDANT_PENDING_MAX} copies waiting;
 * an offer beyond that is not copied.
 */
export class RedundantCopies {
  /** Copies asked for, per channel. */
  private readonly wanted = new Uint8Array(256);
  private readonly queues: (Deque<SentFragment> | undefined)[] = [];
  /** Copies waiting, all channels (stale ones included until they reach a queue's head). */
  private pending = 0;

  /** Copies per message on `channel` from now on (0 stops them; waiting ones still go). */
  set(channel: number, copies: number): void {
    this.wanted[channel] = copies;
  }

  copiesOf(channel: number): number {
    return this.wanted[channel]!;
  }

  /** `f` was just sent for the first time: queue its copies if its channel wants them and it is small. */
  offer(f: SentFragment): void {
    const n = this.wanted[f.channel]!;
    if (n === 0 || (f.flags & WHOLE) !== WHOLE || f.length > REDUNDANT_MESSAGE_MAX) return;
    let q = this.queues[f.channel];
    if (q === undefined) this.queues[f.channel] = q = new Deque(4);
    // The queue holds it, and a copy goes into a second packet: never recycled (sent-packets.ts `pinned`).
    pinFragment(f);
    for (let i = 0; i < n && this.pending < REDUNDANT_PENDING_MAX; i++) {
      q.push(f);
      this.pending++;
    }
  }

  /**
   * The copy `channel` may write into packet `pn` now, or undefined. Drops copies no longer
   * needed (acknowledged, queued for retransmission, resent in pieces) from the queue's head.
   */
  next(channel: number, pn: number): SentFragment | undefined {
    const q = this.queues[channel];
    if (q === undefined) return undefined;
    for (let f = q.peek(); f !== undefined; f = q.peek()) {
      if (f.acked || f.queued || f.partsLeft > 0) {
        q.shift();
        this.pending--;
        continue;
      }
      // Never twice in one packet: a copy goes into a later one than the last that carried it.
      return f.lastPn < pn ? f : undefined;
    }
    return undefined;
  }

  /** The copy `next(channel, …)` returned was written. */
  written(channel: number): void {
    this.queues[channel]!.shift();
    this.pending--;
  }

  /** A copy waits that the next packet can carry (stale ones are dropped on the way). */
  hasReady(): boolean {
    if (this.pending === 0) return false;
    const queues = this.queues;
    for (let c = 0; c < queues.length; c++) {
      if (queues[c] !== undefined && this.next(c, Number.MAX_SAFE_INTEGER) !== undefined) return true;
    }
    return false;
  }
}
