import { expand32 } from '../wire/packet-number.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, type DataFrame, type DataPartFrame, type UnreliableFrame } from '../wire/types.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import { FragmentParts } from './fragment-parts.js';
import { ReceiveBuffer, type AcceptResult } from './receive-buffer.js';
import type { CoreConfig, CoreEvent, Delivery } from './types.js';
import { UnreliableReassembly } from './unreliable-reassembly.js';

/**
 * The frame level of the receive side: DATA fragments into the receive buffer (reassembly,
 * ordering, duplicate TSNs, flow-control credit), UNRELIABLE fragments into their reassembly,
 * and complete messages out as 'message' events. The packet level (packet numbers, ACKs) is
 * the AckScheduler's.
 *
 * docs/protocol.md "DATA" and "UNRELIABLE" frames; flow control after RFC 9000 §4.
 */
export class Receiver {
  readonly buffer: ReceiveBuffer;
  /** Created on the first fragmented unreliable message: most connections never need it. */
  private unreliableIn: UnreliableReassembly | null = null;
  /** Created on the first DATA_PART frame (only after the peer's path MTU fell). */
  private partsIn: FragmentParts | null = null;

  constructor(
    private readonly config: CoreConfig,
    /** The peer's first TSN. */
    initialTsn: number,
    /** The receive window we announced, in fragments. */
    windowFragments: number,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
  ) {
    this.buffer = new ReceiveBuffer(
      initialTsn,
      windowFragments,
      (data, delivery, credit) => this.deliver(data, delivery, credit),
      config.maxMessageSize,
    );
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
    if (frame.length > this.config.maxDatagramSize - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE) return 'malformed';
    this.partsIn ??= new FragmentParts();
    const whole = this.partsIn.add(tsn, frame);
    if (whole === null) return 'new';
    if (whole === 'malformed') return 'malformed';
    return this.onData(whole);
  }

  onUnreliable(frame: UnreliableFrame): void {
    if (frame.count === 1) {
      this.deliver(frame.payload, 'unreliable', 0);
      return;
    }
    this.unreliableIn ??= new UnreliableReassembly(this.config.maxUnreliableReassembly);
    const message = this.unreliableIn.add(frame.messageId, frame.index, frame.count, frame.payload);
    if (message) this.deliver(message, 'unreliable', 0);
  }

  /** The application consumed a message: true when that raised the credit we may announce. */
  release(credit: number): boolean {
    const before = this.buffer.maxTsn;
    this.buffer.release(credit);
    return this.buffer.maxTsn > before;
  }

  /** Unreliable messages dropped unfinished by the reassembly. */
  unreliableDropped(): number {
    return this.unreliableIn?.dropped ?? 0;
  }

  private deliver(data: Uint8Array, delivery: Delivery, credit: number): void {
    this.counters.messagesReceived++;
    this.counters.bytesDelivered += data.length;
    this.events.push({ type: 'message', data, delivery, credit });
  }
}
