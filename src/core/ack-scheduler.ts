import { expand32, truncate32 } from '../wire/packet-number.js';
import type { AckFrame } from '../wire/types.js';
import type { Deque } from './deque.js';
import type { CreditView } from './receiver.js';
import { ReceivedPackets } from './received-packets.js';
import type { CoreConfig, CoreEvent } from './types.js';

/** Most ACK ranges reported in one ACK frame (quic-go reports up to 64). */
const MAX_ACK_RANGES = 32;

/**
 * The packet level of the receive side (quic-go's `receivedPacketHandler`): which packet
 * numbers arrived (duplicates are refused here), when to acknowledge them, and the ACK frame
 * itself, which also carries our flow-control credit (`maxTsn` of the receive buffer).
 *
 * RFC 9000 §13.2 (sending ACKs: at once after a gap or reordering, §13.2.1; at most
 * `maxAckDelay` late, §13.2.2; every `ackEveryPackets` ack-eliciting packets), §19.3 (ACK
 * frame ranges). The ACK hold for the application's reply is described at `holdForReply`.
 */
export class AckScheduler {
  private readonly received: ReceivedPackets;
  private largestReceivedAt = 0;
  /** Out of order, or after a gap: set by `onPacket` for the packet being processed. */
  private outOfOrder = false;
  private ackElicitingSinceAck = 0;
  private ackDeadline = Infinity;
  private ackNow = false;
  /** The credit (`maxTsn`) the last ACK announced. */
  private advertisedMaxTsn: number;
  /** When an ACK was held back for the application's reply (Infinity: none held). */
  private ackHeldAt = Infinity;
  /** The held ACK's timer fired: send it, do not hold it again. */
  private ackHoldDone = false;
  /** The full packet number `onPacket` last accepted (for traces). */
  lastPacketNumber = -1;

  constructor(
    private readonly config: CoreConfig,
    firstPacketNumber: number,
    private readonly buffer: CreditView,
  ) {
    this.received = new ReceivedPackets(firstPacketNumber, MAX_ACK_RANGES);
    this.advertisedMaxTsn = buffer.maxTsn;
  }

  // ------------------------------------------------------------------ receiving

  /** Record an arriving packet's number; false: a duplicate, to drop. */
  onPacket(now: number, truncatedPn: number): boolean {
    const previousLargest = this.received.largest;
    const pn = expand32(truncatedPn, previousLargest + 1);
    if (!this.received.insert(pn)) return false;
    this.lastPacketNumber = pn;
    if (pn === this.received.largest) this.largestReceivedAt = now;
    // RFC 9000 §13.2.1: acknowledge at once when this packet arrived out of order or after a
    // gap (a skipped number makes one such gap, once).
    this.outOfOrder = pn !== previousLargest + 1;
    return true;
  }

  /** Was this packet number received already (a duplicate)? Nothing is recorded. */
  isDuplicate(truncatedPn: number): boolean {
    return this.received.has(expand32(truncatedPn, this.received.largest + 1));
  }

  /** The packet `onPacket` accepted carried an ack-eliciting frame. */
  onAckElicitingPacket(now: number): void {
    this.ackElicitingSinceAck++;
    if (this.outOfOrder || this.ackElicitingSinceAck >= this.config.ackEveryPackets) this.ackNow = true;
    else if (this.ackDeadline === Infinity) this.ackDeadline = now + this.config.maxAckDelay;
  }

  /** Acknowledge with the next packet (a PING or CLOSE asked for it, or the window reopened). */
  requestImmediate(): void {
    this.ackNow = true;
  }

  /** The application released credit: announce a reopened window promptly, the sender may be blocked on it. */
  onCreditReleased(): void {
    if (this.buffer.maxTsn - this.advertisedMaxTsn >= this.buffer.maxSlotsAnnounced / 4) this.ackNow = true;
  }

  // ------------------------------------------------------------------ timing

  /** Must an ACK go out now? */
  ackDue(now: number): boolean {
    return this.ackElicitingSinceAck > 0 && (this.ackNow || now >= this.ackDeadline) ? true : this.ackNow;
  }

  /** The earliest ACK timer: the delayed-ACK deadline or the held ACK's (Infinity: none). */
  deadline(): number {
    const delayed = !this.ackNow && this.ackElicitingSinceAck > 0 ? this.ackDeadline : Infinity;
    return Math.min(delayed, this.ackHeldAt);
  }

  onTimeout(now: number): void {
    if (now >= this.ackHeldAt) {
      this.ackHeldAt = Infinity;
      this.ackHoldDone = true; // the application had its turn: the ACK goes now
    }
  }

  /**
   * An ACK alone is due, while the application has not yet seen the messages that just arrived:
   * hold it until the shell has dispatched them and the application had its turn (a timer due
   * now: the shell runs it after the current task), so that a reply sent from a 'message'
   * handler, or from the code awaiting it, leaves in the same packet as the ACK. One datagram
   * per request/response turn instead of two. True: held, send nothing now.
   */
  holdForReply(now: number, events: Deque<CoreEvent>): boolean {
    if (this.ackHeldAt <= now || (!this.ackHoldDone && messagesWaiting(events))) {
      this.ackHeldAt = now;
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ the ACK frame

  /** Is there anything for an ACK frame to say (packets to acknowledge, more credit)? */
  hasNews(): boolean {
    return this.ackElicitingSinceAck > 0 || this.buffer.maxTsn > this.advertisedMaxTsn;
  }

  buildAckFrame(now: number): AckFrame | null {
    const ranges = this.received.toAck(MAX_ACK_RANGES);
    const maxTsn = truncate32(this.buffer.maxTsn);
    // Before the first packet arrives there is nothing to acknowledge (and the initial window
    // was announced in the handshake).
    if (ranges === null) return null;
    return {
      type: 'ack',
      largest: truncate32(ranges.largest),
      ackDelay: Math.max(0, Math.round((now - this.largestReceivedAt) * 1000)),
      maxTsn,
      firstRange: ranges.firstRange,
      ranges: ranges.ranges,
    };
  }

  /** The ACK frame built last went into a packet. */
  onAckSent(): void {
    this.ackHeldAt = Infinity;
    this.ackHoldDone = false;
    this.ackElicitingSinceAck = 0;
    this.ackDeadline = Infinity;
    this.ackNow = false;
    this.advertisedMaxTsn = this.buffer.maxTsn;
  }
}

function messagesWaiting(events: Deque<CoreEvent>): boolean {
  for (let i = 0; i < events.length; i++) {
    if (events.at(i).type === 'message') return true;
  }
  return false;
}
