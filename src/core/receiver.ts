import { expand32 } from '../wire/packet-number.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, type DataFrame, type DataPartFrame, type UnreliableFrame } from '../wire/types.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import { FragmentParts } from './fragment-parts.js';
import { ReceiveBuffer, type AcceptResult } from './receive-buffer.js';
import { chargeOf, detach } from './retention.js';
import type { CoreConfig, CoreEvent, Delivery } from './types.js';
import { UnreliableReassembly } from './unreliable-reassembly.js';

/**
 * The frame level of the receive side: DATA fragments into the receive buffer (reassembly,
 * ordering, duplicate TSNs, flow-control credit), UNRELIABLE fragments into their reassembly,
 * and complete messages out as 'message' events. The packet level (packet numbers, ACKs) is
 * the AckScheduler's.
 *
 * Everything is counted in the bytes it keeps alive (retention.ts): reliable data within
 * `receiveWindow` (the receive buffer grants credit from it), unreliable data within
 * `maxUnreliableReassembly` (reassembly plus delivered messages not yet released). Every
 * 'message' event carries the bytes it holds as its `credit`, given back by `release()`.
 *
 * docs/protocol.md "DATA" and "UNRELIABLE" frames, §15 (flow control); RFC 9000 §4.
 */
export class Receiver {
  readonly buffer: ReceiveBuffer;
  /** Created on the first fragmented unreliable message: most connections never need it. */
  private unreliableIn: UnreliableReassembly | null = null;
  /** Created on the first DATA_PART frame (only after the peer's path MTU fell). */
  private partsIn: FragmentParts | null = null;
  /** Bytes of delivered unreliable messages the application has not released yet. */
  private unreliableHeld = 0;
  /** Complete unreliable messages dropped because the unreliable budget was full. */
  private unreliableOverflow = 0;

  constructor(
    private readonly config: CoreConfig,
    /** The peer's first TSN. */
    initialTsn: number,
    /** The receive window we announced, in TSNs. */
    windowFragments: number,
    /** Largest datagram we accept (announced; larger ones never get here). */
    private readonly maxDatagramSize: number,
    /** Largest message we accept (announced as maxMessageSize). */
    private readonly maxMessageSize: number,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
  ) {
    this.buffer = new ReceiveBuffer({
      initialTsn,
      windowBytes: config.receiveWindow,
      maxSlots: windowFragments,
      maxDatagramSize,
      maxMessageSize,
      deliver: (data, delivery, credit) => this.deliver(data, delivery, credit),
    });
  }

  /** Bytes the peer's data holds here now (reliable and unreliable). */
  get retainedBytes(): number {
    return this.buffer.retained + (this.unreliableIn?.retained ?? 0) + this.unreliableHeld + (this.partsIn?.retained ?? 0);
  }

  /** Bytes of delivered messages the application has not released yet. */
  get releasable(): number {
    return this.buffer.held + this.unreliableHeld;
  }

  /**
   * A DATA frame. A duplicate is counted and dropped; 'beyond-window' and 'malformed' are the
   * caller's to act on (the connection aborts).
   */
  onData(frame: DataFrame): AcceptResult {
    const tsn = expand32(frame.tsn, this.buffer.cumTsn + 1);
    const result = this.buffer.accept(tsn, frame.payload, frame.first, frame.last, frame.unordered);
    if (result === 'duplicate') this.counters.duplicatesDropped++;
    if (this.partsIn !== null) this.partsIn.prune(this.buffer.cumTsn);
    return result;
  }

  /** A piece of a DATA fragment: reassembled, then handled as the whole DATA frame. */
  onDataPart(frame: DataPartFrame): AcceptResult {
    const buffer = this.buffer;
    const tsn = expand32(frame.tsn, buffer.cumTsn + 1);
    if (tsn <= buffer.cumTsn) {
      this.counters.duplicatesDropped++;
      return 'duplicate';
    }
    if (tsn > buffer.maxTsn) return 'beyond-window';
    // No fragment is larger than the datagrams we accept: this bounds what partials hold.
    if (frame.length > this.maxDatagramSize - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE) return 'malformed';
    this.partsIn ??= new FragmentParts();
    const whole = this.partsIn.add(tsn, frame);
    if (whole === null) return 'new';
    if (whole === 'malformed') return 'malformed';
    return this.onData(whole);
  }

  /**
   * An UNRELIABLE frame. The shell drops its oldest unread unreliable messages first
   * (src/node/inbox.ts); what still does not fit the budget is dropped here, newest first.
   */
  onUnreliable(frame: UnreliableFrame): void {
    const budget = this.config.maxUnreliableReassembly;
    if (frame.count === 1) {
      const kept = detach(frame.payload, this.maxDatagramSize);
      this.deliverUnreliable(kept, chargeOf(kept), budget);
      return;
    }
    this.unreliableIn ??= new UnreliableReassembly(() => Math.max(0, budget - this.unreliableHeld), this.maxDatagramSize);
    const message = this.unreliableIn.add(frame.messageId, frame.index, frame.count, frame.payload);
    if (message !== null) this.deliverUnreliable(message, UnreliableReassembly.chargeOfMessage(message), budget);
  }

  /**
   * The application consumed (or dropped) a message that held `credit` bytes. True when that
   * raised the reliable credit we may announce.
   */
  release(credit: number, delivery: Delivery): boolean {
    if (delivery === 'unreliable') {
      this.unreliableHeld = Math.max(0, this.unreliableHeld - credit);
      return false;
    }
    const before = this.buffer.maxTsn;
    this.buffer.release(credit);
    return this.buffer.maxTsn > before;
  }

  /** Unreliable messages dropped: unfinished ones evicted, complete ones over the budget. */
  unreliableDropped(): number {
    return (this.unreliableIn?.dropped ?? 0) + this.unreliableOverflow;
  }

  private deliverUnreliable(data: Uint8Array, charge: number, budget: number): void {
    // Longer than we announced (the peer broke §4.1): dropped like any unreliable overflow.
    if (data.length > this.maxMessageSize || this.unreliableHeld + (this.unreliableIn?.retained ?? 0) + charge > budget) {
      this.unreliableOverflow++;
      return;
    }
    this.unreliableHeld += charge;
    this.deliver(data, 'unreliable', charge);
  }

  private deliver(data: Uint8Array, delivery: Delivery, credit: number): void {
    this.counters.messagesReceived++;
    this.counters.bytesDelivered += data.length;
    this.events.push({ type: 'message', data, delivery, credit });
  }
}
