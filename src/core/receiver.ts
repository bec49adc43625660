import { expand32 } from '../wire/packet-number.js';
import type { DataFrame, UnreliableFrame } from '../wire/types.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
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
    return result;
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
