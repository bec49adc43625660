import { expand32 } from '../wire/packet-number.js';
import type { DataFrame, UnreliableFrame } from '../wire/types.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import { ReceiveBuffer, type AcceptResult } from './receive-buffer.js';
import type { CoreConfig, CoreEvent, Delivery } from './types.js';
import { UnreliableReassembly } from './unreliable-reassembly.js';

/** A channel's buffer never limits by itself: the connection-wide credit below does. */
const UNLIMITED = 2 ** 40;

/** What the ACK scheduler needs to announce our credit. */
export interface CreditView {
  /** Highest value of the peer's connection-wide fragment counter we accept. */
  readonly maxTsn: number;
  readonly windowFragments: number;
}

/**
 * The frame level of the receive side: DATA fragments into their channel's receive buffer
 * (reassembly, ordering, duplicate TSNs; one TSN space per channel, so a gap on one channel
 * never holds back another), UNRELIABLE fragments into their reassembly, and complete messages
 * out as 'message' events. The packet level (packet numbers, ACKs) is the AckScheduler's.
 *
 * Flow control is connection-wide, in fragments, like QUIC's MAX_DATA (RFC 9000 §4.1): the
 * peer's fragment counter is the sum over channels of the TSNs it has used (`claimed`, counted
 * from each channel's highest TSN seen), and we let it reach `maxTsn = initialTsn − 1 +
 * consumed + window − held`, where `consumed` sums each channel's in-order progress and `held`
 * counts fragments of delivered messages the application has not released. With channel 0
 * only, that is exactly the single-channel rule of version 1.
 *
 * docs/protocol.md "DATA" and "UNRELIABLE" frames; flow control after RFC 9000 §4.
 */
export class Receiver implements CreditView {
  /** Channel 0's buffer (created at once); the others on their first fragment. */
  readonly buffer: ReceiveBuffer;
  private readonly buffers: (ReceiveBuffer | undefined)[] = [];
  /** Highest TSN seen per channel. */
  private readonly highest: number[] = [];
  private readonly base: number;
  private claimed = 0;
  private consumed = 0;
  private held = 0;
  maxTsn: number;
  /** Created on the first fragmented unreliable message: most connections never need it. */
  private unreliableIn: UnreliableReassembly | null = null;

  constructor(
    private readonly config: CoreConfig,
    /** The peer's first TSN (on every channel). */
    private readonly initialTsn: number,
    /** The receive window we announced, in fragments. */
    readonly windowFragments: number,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
  ) {
    this.base = initialTsn - 1;
    this.maxTsn = this.base + windowFragments;
    this.buffer = this.bufferOf(0);
  }

  private bufferOf(channel: number): ReceiveBuffer {
    let b = this.buffers[channel];
    if (b === undefined) {
      b = new ReceiveBuffer(
        this.initialTsn,
        UNLIMITED,
        (data, delivery, credit) => this.deliver(data, delivery, channel, credit),
        this.config.maxMessageSize,
      );
      this.buffers[channel] = b;
      this.highest[channel] = this.base;
    }
    return b;
  }

  /**
   * A DATA frame. A duplicate is counted and dropped; 'beyond-window' and 'malformed' are the
   * caller's to act on (the connection aborts).
   */
  onData(frame: DataFrame): AcceptResult {
    const channel = frame.channel ?? 0;
    const buf = this.bufferOf(channel);
    const tsn = expand32(frame.tsn, buf.cumTsn + 1);
    const claim = tsn - this.highest[channel]!;
    if (claim > 0 && this.base + this.claimed + claim > this.maxTsn) return 'beyond-window';
    const before = buf.cumTsn;
    const result = buf.accept(tsn, frame.payload, frame.first, frame.last, frame.unordered);
    if (result === 'duplicate') {
      this.counters.duplicatesDropped++;
      return result;
    }
    if (claim > 0) {
      this.claimed += claim;
      this.highest[channel] = tsn;
    }
    this.consumed += buf.cumTsn - before;
    this.updateCredit();
    return result;
  }

  onUnreliable(frame: UnreliableFrame): void {
    const channel = frame.channel ?? 0;
    if (frame.count === 1) {
      this.deliver(frame.payload, 'unreliable', channel, 0);
      return;
    }
    this.unreliableIn ??= new UnreliableReassembly(this.config.maxUnreliableReassembly);
    // Message ids are one counter on the sender for all channels.
    const message = this.unreliableIn.add(frame.messageId, frame.index, frame.count, frame.payload);
    if (message) this.deliver(message, 'unreliable', channel, 0);
  }

  /** The application consumed a message: true when that raised the credit we may announce. */
  release(credit: number): boolean {
    const before = this.maxTsn;
    this.held = Math.max(0, this.held - credit);
    this.updateCredit();
    return this.maxTsn > before;
  }

  /** Unreliable messages dropped unfinished by the reassembly. */
  unreliableDropped(): number {
    return this.unreliableIn?.dropped ?? 0;
  }

  /** Fragments buffered beyond each channel's in-order point, summed (for the window invariant). */
  get bufferedCount(): number {
    let n = 0;
    for (const b of this.buffers) if (b !== undefined) n += b.bufferedCount;
    return n;
  }

  /** The credit beyond the fragments consumed in order: what the peer may still have outstanding. */
  get advertisedWindow(): number {
    return this.maxTsn - (this.base + this.consumed);
  }

  private updateCredit(): void {
    const credit = this.base + this.consumed + this.windowFragments - this.held;
    if (credit > this.maxTsn) this.maxTsn = credit;
  }

  private deliver(data: Uint8Array, delivery: Delivery, channel: number, credit: number): void {
    this.held += credit;
    this.counters.messagesReceived++;
    this.counters.bytesDelivered += data.length;
    this.events.push({ type: 'message', data, delivery, channel, credit });
  }
}
