import { expand32, truncate32 } from '../wire/packet-number.js';
import { ackFrameSize } from '../wire/frames.js';
import { DATA_OVERHEAD, type AckFrame } from '../wire/types.js';
import type { Deque } from './deque.js';
import type { CreditView } from './receiver.js';
import type { RttEstimator } from './rtt.js';
import { unpinDoubles } from './mutable-fields.js';
import { ReceivedPackets } from './received-packets.js';
import type { CoreConfig, CoreEvent } from './types.js';

/** Most ACK ranges reported in one ACK frame (quic-go reports up to 64). */
const MAX_ACK_RANGES = 32;
/**
 * ACK decimation (Chrome's QUIC, RFC 9000 §13.2.2 allows it): the first this-many ack-eliciting
 * packets are acknowledged every second packet, so that slow start and the first RTT samples
 * get prompt ACKs; after them, every `ackEveryPackets`.
 */
const DECIMATE_AFTER = 100;
/** Before decimation: ACK every second packet (or every packet, if so configured). */
const EARLY_ACK_EVERY = 2;
/**
 * After a gap, the first this-many packets above it are acknowledged one by one (quiche's
 * kMaxPacketsAfterNewMissing): the sender learns of the loss after three of them (RFC 9002
 * packet threshold) without waiting for a decimated ACK.
 */
const PACKETS_AFTER_GAP = 4;
/**
 * Decimation resumes only after this many packets in a row without a new gap: on a lossy path
 * ACKs stay frequent (every second packet), which keeps loss recovery and the sender's rate
 * samples as prompt as without decimation; a clean flow gets the fewer ACKs.
 */
const CLEAN_RUN = 20;
/** An ACK due by count waits for the end of a batch only while fewer packets are unacknowledged. */
const MAX_BATCH_DEFERRED = 64;

/**
 * The packet level of the receive side (quic-go's `receivedPacketHandler`): which packet
 * numbers arrived (duplicates are refused here), when to acknowledge them, and the ACK frame
 * itself, which also carries our flow-control credit (`maxTsn` of the receive buffer).
 *
 * RFC 9000 §13.2 (sending ACKs: at once after a gap or reordering, §13.2.1; at most
 * `maxAckDelay` late, §13.2.2; every second packet for the first 100, then every
 * `ackEveryPackets` ack-eliciting packets), §19.3 (ACK frame ranges); docs/protocol.md §13.
 * The ACK hold for the application's reply is described at `holdForReply`.
 */
export class AckScheduler {
  private readonly received: ReceivedPackets;
  private largestReceivedAt = 0;
  /** Out of order, or after a gap: set by `onPacket` for the packet being processed. */
  private outOfOrder = false;
  /** Among the first few packets above the latest gap: set by `onPacket`. */
  private afterGap = false;
  /** Packets received since the last one that arrived after a gap or out of order. */
  private sinceGap = 0;
  private ackElicitingSinceAck = 0;
  /** Ack-eliciting packets received in all (counted up to DECIMATE_AFTER). */
  private ackElicitingReceived = 0;
  private ackDeadline = Infinity;
  private ackNow = false;
  /** Enough packets are unacknowledged (the count, not a gap, PING or CLOSE): due, but may wait for the end of the batch. */
  private countDue = false;
  /** The credit (`maxTsn`) the last ACK announced. */
  private advertisedMaxTsn: number;
  /** When an ACK was held back for the application's reply (Infinity: none held). */
  private ackHeldAt = Infinity;
  /** The held ACK's timer fired: send it, do not hold it again. */
  private ackHoldDone = false;
  /** The full packet number `onPacket` last accepted (for traces). */
  lastPacketNumber = -1;
  /** Our last packet that carried an ACK frame, and the largest packet number that frame acknowledged. */
  private ackCarrier = -1;
  private ackCarrierLargest = -1;

  constructor(
    private readonly config: CoreConfig,
    firstPacketNumber: number,
    private readonly buffer: CreditView,
    /** Our RTT estimate: the ACK delay is at most a quarter of it once measured. */
    private readonly rtt: RttEstimator,
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
    this.sinceGap = this.outOfOrder ? 0 : this.sinceGap + 1;
    this.afterGap = this.received.rangeCount > 1 && this.received.lastRunLength <= PACKETS_AFTER_GAP;
    return true;
  }

  /**
   * The packet the receive path predicts (receive-prediction.ts `readPredicted`): the number right after
   * the largest received, extending the highest range. Nothing is recorded (`onNextPacket` does).
   */
  isNext(truncatedPn: number): boolean {
    const received = this.received;
    const next = received.largest + 1;
    return received.rangeCount > 0 && expand32(truncatedPn, next) === next;
  }

  /** `onPacket` for a packet `isNext` accepted: recorded exactly as `onPacket` would, without its search. */
  onNextPacket(now: number): void {
    const received = this.received;
    const next = received.extendTop();
    this.lastPacketNumber = next;
    this.largestReceivedAt = now;
    this.outOfOrder = false;
    this.sinceGap++;
    this.afterGap = received.rangeCount > 1 && received.lastRunLength <= PACKETS_AFTER_GAP;
  }

  /** Was this packet number received already (a duplicate)? Nothing is recorded. */
  isDuplicate(truncatedPn: number): boolean {
    return this.received.has(expand32(truncatedPn, this.received.largest + 1));
  }

  /**
   * The packet `onPacket` accepted carried an ack-eliciting frame. The threshold and the delay
   * are worked out here rather than in helpers of their own: each small helper on the per-packet
   * path was compiled alone as well as inlined here (issue 11, the warm-up).
   */
  onAckElicitingPacket(now: number): void {
    this.ackElicitingSinceAck++;
    if (this.ackElicitingReceived < DECIMATE_AFTER) this.ackElicitingReceived++;
    if (this.outOfOrder || this.afterGap) {
      this.ackNow = true;
      return;
    }
    // Unacknowledged ack-eliciting packets that make an ACK due at once: every
    // `ackEveryPackets` once decimating, every second packet before.
    const every = this.config.ackEveryPackets;
    const decimate = this.ackElicitingReceived >= DECIMATE_AFTER && this.sinceGap >= CLEAN_RUN;
    if (this.ackElicitingSinceAck >= (decimate ? every : Math.min(every, EARLY_ACK_EVERY))) this.countDue = true;
    else if (this.ackDeadline === Infinity) {
      // How long an ACK may wait: `maxAckDelay`, or a quarter of the RTT when we measured one
      // and it is shorter (Chrome), so that a sender waiting for the ACK loses at most that much.
      const max = this.config.maxAckDelay;
      this.ackDeadline = now + (this.rtt.hasSample ? Math.min(max, this.rtt.smoothed / 4) : max);
    }
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

  /** Ack-eliciting packets arrived that no ACK has covered yet (due or not). */
  get waiting(): boolean {
    return this.ackElicitingSinceAck > 0;
  }

  /** Must an ACK go out now? */
  ackDue(now: number): boolean {
    return this.ackElicitingSinceAck > 0 && (this.ackNow || this.countDue || now >= this.ackDeadline) ? true : this.ackNow;
  }

  /**
   * The ACK due is only due by count, and may wait until the shell has read the rest of the
   * datagrams that arrived together (one ACK for the whole batch; libuv reads at most 32
   * datagrams per poll, so the bound of 64 unacknowledged packets is only a safety net).
   * An ACK for a gap, a PING or a CLOSE, or a delayed ACK whose time came, never waits.
   */
  mayWaitForBatch(now: number): boolean {
    return (
      !this.ackNow &&
      now < this.ackDeadline &&
      this.ackElicitingSinceAck < MAX_BATCH_DEFERRED
    );
  }

  /** The earliest ACK timer: the delayed-ACK deadline or the held ACK's (Infinity: none). */
  deadline(): number {
    const delayed = !this.ackNow && !this.countDue && this.ackElicitingSinceAck > 0 ? this.ackDeadline : Infinity;
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
    // Both read (not short-circuited) so that each has feedback from the warm-up, whichever is
    // true there: keeps the compiled `build` from deoptimising when only credit is news.
    const packets = this.ackElicitingSinceAck > 0;
    const credit = this.buffer.maxTsn > this.advertisedMaxTsn;
    return packets || credit;
  }

  /**
   * The ACK frame to send now, or null before the first packet arrived (the initial window was
   * announced in the handshake). A record shared by every connection: write it into the packet
   * before building another.
   */
  buildAckFrame(now: number): AckFrame | null {
    const frame = SHARED_ACK;
    if (!this.received.fillAck(frame, MAX_ACK_RANGES)) return null;
    frame.largest = truncate32(frame.largest);
    frame.ackDelay = Math.max(0, Math.round((now - this.largestReceivedAt) * 1000));
    frame.maxTsn = truncate32(this.buffer.maxTsn);
    return frame;
  }

  /** Bytes of the ACK-only packet that would be built now (header, ACK frame, checksum); 0: nothing to acknowledge. */
  ackPacketSize(now: number): number {
    const frame = this.buildAckFrame(now);
    return frame === null ? 0 : DATA_OVERHEAD + ackFrameSize(frame);
  }

  /**
   * The peer acknowledged our packets `lo`…`hi` (the first range of its ACK): if the last of
   * ours that carried an ACK frame is among them, the peer has seen that frame, and later ACKs
   * need not repeat the ranges it covered (ReceivedPackets.ignoreBelow).
   */
  onOwnPacketsAcked(lo: number, hi: number): void {
    const pn = this.ackCarrier;
    if (pn >= lo && pn <= hi) this.received.ignoreBelow(this.ackCarrierLargest);
  }

  /** The ACK frame built last went into our packet `pn`. */
  onAckSent(pn: number): void {
    this.ackCarrier = pn;
    this.ackCarrierLargest = this.received.largest;
    this.ackHeldAt = Infinity;
    this.ackHoldDone = false;
    this.ackElicitingSinceAck = 0;
    this.ackDeadline = Infinity;
    this.ackNow = false;
    this.countDue = false;
    this.advertisedMaxTsn = this.buffer.maxTsn;
  }
}

// Truncated packet numbers reach 2^32 (beyond small integers), so do the ranges: doubles from the
// start, so that the first large one does not change the record's hidden class (mutable-fields.ts).
const SHARED_ACK: AckFrame = unpinDoubles({ type: 'ack', largest: 0, ackDelay: 0, maxTsn: 0, firstRange: 0, ranges: [] }, ['largest', 'firstRange', 'maxTsn']);

// A helper of its own, not folded into holdForReply: folded, the loop's event reads had no type
// feedback when holdForReply was compiled (events are rarely waiting there) and the first
// waiting message deoptimised it, once per ping-pong client (bench/warmup.ts, issue 11).
function messagesWaiting(events: Deque<CoreEvent>): boolean {
  for (let i = 0; i < events.length; i++) {
    if (events.at(i).type === 'message') return true;
  }
  return false;
}
