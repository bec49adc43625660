import { unreliableHeaderSize, writeDataFrameHeader, writeDataPartFrameHeader, writeUnreliableFrameHeader } from '../wire/frames.js';
import { expand32, truncate32 } from '../wire/packet-number.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, DATA_PART_HEADER_SIZE, DataFlag, FrameType } from '../wire/types.js';
import type { Counters } from './counters.js';
import { Deque } from './deque.js';
import type { PathMtu } from './path-mtu.js';
import type { SentContent, SentFragment, SentPacket } from './sent-packets.js';
import type { CoreEvent, Delivery } from './types.js';

/** A fragment shorter than this is not cut to fill the end of a packet (TSN credit is per fragment). */
const MIN_FRAGMENT = 256;
/** Room left beside a DATA_PART piece for an ACK frame in the same packet. */
const PART_ACK_ROOM = 48;

interface QueuedMessage {
  data: Uint8Array;
  /** Bytes already cut into fragments. */
  offset: number;
  unordered: boolean;
}

interface QueuedUnreliable {
  data: Uint8Array;
  id: number;
  index: number;
  count: number;
  fragmentSize: number;
}

const EMPTY = new Uint8Array(0);
const DRAIN: CoreEvent = { type: 'drain' };
const FLUSHED: CoreEvent = { type: 'flushed' };

/**
 * What the application sends, and what of it goes into the next packet (quic-go's `framer`):
 * the reliable queue (ordered and unordered messages, cut into TSN-numbered fragments within
 * the peer's flow-control credit), the unreliable queue, the retransmission queue, and the
 * CLOSE frame. It owns the content of sent packets: loss recovery tells it (as `SentContent`)
 * what was acknowledged, lost or is to be probed, and it queues lost content again.
 *
 * Order in a packet: retransmissions, unreliable, new data, CLOSE (docs/protocol.md "Sending").
 * Flow control after RFC 9000 §4 (per fragment, `maxTsn`); retransmission of lost content
 * after RFC 9002 §6.2.4 / RFC 9000 §13.3 (content is resent, not packets).
 */
export class SendScheduler implements SentContent {
  private nextTsn: number;
  /** Highest TSN the peer accepts (its flow-control credit). */
  private peerMaxTsn: number;
  private readonly queue = new Deque<QueuedMessage>();
  /** Message bytes queued and not yet sent once. */
  queuedBytes = 0;
  /** Fragments sent and not yet acknowledged (they live in their packets' records). */
  unackedFragments = 0;
  /** Fragments to send again, oldest first. */
  private readonly retransmit = new Deque<SentFragment>(0);
  /** Pieces (DATA_PART) of fragments too large for the path MTU now in force, to send before the rest. */
  private readonly parts = new Deque<SentFragment>(0);
  private readonly unreliable = new Deque<QueuedUnreliable>(0);
  private nextUnreliableId = 0;
  private flushedNotified = true;

  // --- the CLOSE frame's own delivery
  /** CLOSE goes into the next packet with data. */
  closeQueued = false;
  /** The packet that carried the latest CLOSE (-1: never sent). */
  closeSentPn = -1;
  closeAcked = false;

  // --- what `writeFrames` put into the packet being built
  /** Fragments carried (retransmitted and new), or null. */
  packetFragments: SentFragment[] | null = null;
  packetClose = false;
  packetRetransmission = false;
  packetUnreliable = false;
  /** Fragments the current packet carries for the first time (set by writeNewData). */
  private newFragments: SentFragment[] | null = null;

  constructor(
    /** Path-MTU discovery: new fragments are cut to the datagram size in force when they are sent. */
    private readonly mtu: PathMtu,
    /** Our first TSN. */
    initialTsn: number,
    /** The receive window the peer announced, in fragments. */
    peerWindow: number,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
  ) {
    this.nextTsn = initialTsn;
    this.peerMaxTsn = initialTsn - 1 + peerWindow;
  }

  /** Largest fragment payload now: a full datagram minus packet and DATA frame overhead. */
  get maxFragmentPayload(): number {
    return this.mtu.current - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE;
  }

  // ------------------------------------------------------------------ queueing

  enqueue(data: Uint8Array, delivery: Delivery): void {
    this.counters.messagesSent++;
    this.queuedBytes += data.length;
    if (delivery === 'unreliable') {
      const id = this.nextUnreliableId;
      this.nextUnreliableId = (id + 1) >>> 0;
      // Size fragments so that all of them fit a datagram with the largest header variant.
      const fragmentSize = this.mtu.current - DATA_OVERHEAD - unreliableHeaderSize(0xffff_ffff, 0xffff_ffff);
      const count = Math.max(1, Math.ceil(data.length / fragmentSize));
      this.unreliable.push({ data, id, index: 0, count, fragmentSize });
    } else {
      this.queue.push({ data, offset: 0, unordered: delivery === 'unordered' });
      this.flushedNotified = false;
    }
  }

  /** A graceful close was asked for: queue CLOSE once everything before it is sent and acknowledged. */
  queueCloseWhenIdle(): void {
    if (this.closeSentPn >= 0 || this.closeQueued) return;
    if (this.queue.length > 0 || this.unackedFragments > 0 || this.unreliable.length > 0) return;
    this.closeQueued = true;
  }

  /** An ACK announced the peer's credit; true when it was raised. */
  onPeerCredit(truncatedMaxTsn: number): boolean {
    const peerMax = expand32(truncatedMaxTsn, this.nextTsn);
    if (peerMax <= this.peerMaxTsn) return false;
    this.peerMaxTsn = peerMax;
    return true;
  }

  /** Every reliable message was sent and acknowledged: one 'flushed' event per such moment. */
  checkFlushed(): void {
    if (!this.flushedNotified && this.unackedFragments === 0 && this.queue.length === 0) {
      this.flushedNotified = true;
      this.events.push(FLUSHED);
    }
  }

  hasSendableData(): boolean {
    if (this.retransmit.length > 0 || this.parts.length > 0) return true;
    if (this.closeQueued) return true;
    if (this.unreliable.length > 0) return true;
    return this.queue.length > 0 && this.nextTsn <= this.peerMaxTsn;
  }

  /** Nothing but new reliable data waits (no retransmission, no unreliable message). */
  onlyNewDataQueued(): boolean {
    return this.retransmit.length === 0 && this.unreliable.length === 0;
  }

  /** Reliable data waits for the peer's credit, and nothing else is to be sent. */
  flowBlocked(): boolean {
    return this.queue.length > 0 && this.nextTsn > this.peerMaxTsn && this.retransmit.length === 0 && this.parts.length === 0;
  }

  // ------------------------------------------------------------------ filling a packet

  /**
   * Write the frames of packet `pn` into `buf` from `o` up to `limit`; returns the new offset.
   * What went in is left in the `packet*` fields for the packet builder.
   */
  writeFrames(buf: Uint8Array, o: number, limit: number, pn: number): number {
    this.packetClose = false;
    this.packetRetransmission = false;
    this.packetUnreliable = false;
    // 1. Lost data first: the peer's in-order delivery waits on it.
    let fragments: SentFragment[] | null = null;
    this.packetFragments = null;
    if (this.parts.length > 0) {
      o = this.writeParts(buf, o, limit, pn);
      fragments = this.packetFragments;
    }
    for (let f = this.retransmit.peek(); f !== undefined; f = this.retransmit.peek()) {
      if (f.acked) {
        f.queued = false;
        this.retransmit.shift();
        continue;
      }
      if (DATA_FRAME_HEADER_SIZE + f.payload.length > this.mtu.current - DATA_OVERHEAD) {
        // Cut for a larger path MTU than the one now in force: send it again in pieces.
        this.retransmit.shift();
        f.queued = false;
        this.split(f);
        this.packetFragments = fragments;
        o = this.writeParts(buf, o, limit, pn);
        fragments = this.packetFragments;
        continue;
      }
      if (o + DATA_FRAME_HEADER_SIZE + f.payload.length > limit) break;
      o = writeDataFrameHeader(buf, o, truncate32(f.tsn), f.flags, f.payload.length);
      buf.set(f.payload, o);
      o += f.payload.length;
      f.queued = false;
      f.lastPn = pn;
      if (fragments === null) fragments = [f];
      else fragments.push(f);
      this.retransmit.shift();
      this.packetRetransmission = true;
      this.counters.bytesRetransmitted += f.payload.length;
    }
    // 2. Unreliable messages (latency-sensitive, never retransmitted).
    o = this.writeUnreliable(buf, o, limit);
    // 3. New reliable data, within the peer's credit.
    o = this.writeNewData(buf, o, limit, pn);
    this.packetFragments = mergeFragments(fragments, this.newFragments);
    this.newFragments = null;
    // 4. CLOSE, last: it is queued only once everything before it was sent and acknowledged.
    if (this.closeQueued && o + 1 <= limit) {
      buf[o++] = FrameType.Close;
      this.closeQueued = false;
      this.closeSentPn = pn;
      this.packetClose = true;
    }
    return o;
  }

  /** Cut `f` into DATA_PART pieces that fit the datagram size now in force, and queue them. */
  private split(f: SentFragment): void {
    const room = this.mtu.current - DATA_OVERHEAD - DATA_PART_HEADER_SIZE - PART_ACK_ROOM;
    const n = Math.ceil(f.payload.length / room);
    const size = Math.ceil(f.payload.length / n);
    f.partsLeft = n;
    for (let offset = 0; offset < f.payload.length; offset += size) {
      const payload = f.payload.subarray(offset, Math.min(offset + size, f.payload.length));
      this.parts.push({ tsn: f.tsn, payload, flags: f.flags, acked: false, lastPn: -1, queued: true, whole: f, offset, partsLeft: 0 });
    }
  }

  /** Write queued DATA_PART pieces; appends them to `packetFragments`. */
  private writeParts(buf: Uint8Array, o: number, limit: number, pn: number): number {
    let fragments = this.packetFragments;
    for (let p = this.parts.peek(); p !== undefined; p = this.parts.peek()) {
      const whole = p.whole!;
      if (p.acked || whole.acked) {
        p.queued = false;
        this.parts.shift();
        continue;
      }
      if (o + DATA_PART_HEADER_SIZE + p.payload.length > limit) break;
      o = writeDataPartFrameHeader(buf, o, truncate32(p.tsn), p.flags, whole.payload.length, p.offset, p.payload.length);
      buf.set(p.payload, o);
      o += p.payload.length;
      p.queued = false;
      p.lastPn = pn;
      (fragments ??= []).push(p);
      this.parts.shift();
      this.packetRetransmission = true;
      this.counters.bytesRetransmitted += p.payload.length;
    }
    this.packetFragments = fragments;
    return o;
  }

  private writeUnreliable(buf: Uint8Array, o: number, limit: number): number {
    for (let m = this.unreliable.peek(); m !== undefined; m = this.unreliable.peek()) {
      const start = m.index * m.fragmentSize;
      const length = Math.min(m.fragmentSize, m.data.length - start);
      const header = unreliableHeaderSize(m.index, m.count);
      if (header + length > this.mtu.current - DATA_OVERHEAD) {
        // Cut for a larger path MTU than the one now in force (a black hole was found since): the
        // rest of this message cannot go out any more. It is unreliable: drop it.
        this.queuedBytes -= m.data.length - start;
        this.unreliable.shift();
        continue;
      }
      if (o + header + length > limit) break;
      o = writeUnreliableFrameHeader(buf, o, m.id, m.index, m.count, length);
      buf.set(m.data.subarray(start, start + length), o);
      o += length;
      this.packetUnreliable = true;
      this.queuedBytes -= length;
      if (++m.index === m.count) this.unreliable.shift();
    }
    return o;
  }

  private writeNewData(buf: Uint8Array, o: number, limit: number, pn: number): number {
    const maxFragmentPayload = this.maxFragmentPayload;
    for (let m = this.queue.peek(); m !== undefined && this.nextTsn <= this.peerMaxTsn; m = this.queue.peek()) {
      const room = limit - o - DATA_FRAME_HEADER_SIZE;
      const remaining = m.data.length - m.offset;
      const length = Math.min(remaining, maxFragmentPayload, Math.max(room, 0));
      // Do not spend a TSN on a sliver at the end of a packet.
      if (room < 0 || (length < remaining && length < Math.min(MIN_FRAGMENT, maxFragmentPayload))) break;
      let flags = m.unordered ? DataFlag.Unordered : 0;
      if (m.offset === 0) flags |= DataFlag.First;
      if (length === remaining) flags |= DataFlag.Last;
      const payload = m.data.subarray(m.offset, m.offset + length);
      const tsn = this.nextTsn++;
      o = writeDataFrameHeader(buf, o, truncate32(tsn), flags, length);
      buf.set(payload, o);
      o += length;
      const f: SentFragment = { tsn, payload, flags, acked: false, lastPn: pn, queued: false, whole: null, offset: 0, partsLeft: 0 };
      this.unackedFragments++;
      if (this.newFragments === null) this.newFragments = [f];
      else this.newFragments.push(f);
      m.offset += length;
      this.queuedBytes -= length;
      if (m.offset === m.data.length) {
        this.queue.shift();
        if (this.queue.length === 0) this.events.push(DRAIN);
      }
    }
    return o;
  }

  // ------------------------------------------------------------------ what became of sent content

  onAcked(p: SentPacket): void {
    if (p.fragments) {
      const fragments = p.fragments;
      for (let i = 0; i < fragments.length; i++) {
        const f = fragments[i]!;
        if (f.acked) continue;
        const whole = f.whole;
        if (whole !== null) {
          // A piece: the fragment is acknowledged with its last piece (or a copy sent whole).
          f.acked = true;
          if (whole.acked || --whole.partsLeft > 0) continue;
          whole.acked = true;
          whole.payload = EMPTY;
          this.unackedFragments--;
          continue;
        }
        f.acked = true;
        f.payload = EMPTY;
        this.unackedFragments--;
      }
      p.fragments = null;
    }
    if (p.close) this.closeAcked = true;
  }

  /**
   * Many packets were declared lost at once out of send order (a black hole): resend in TSN
   * order, the oldest first, since in-order delivery at the peer waits on it.
   */
  sortRetransmissions(): void {
    this.retransmit.sort((a, b) => a.tsn - b.tsn);
  }

  /** Queue again what a lost or probed packet carried: a piece with the pieces, a fragment whole. */
  private requeue(f: SentFragment): void {
    const whole = f.whole;
    if (whole !== null) {
      if (whole.acked) return;
      f.queued = true;
      this.parts.push(f);
      return;
    }
    // Out in pieces since: the pieces are what is retransmitted now.
    if (f.partsLeft > 0) return;
    f.queued = true;
    this.retransmit.push(f);
  }

  /** Put the lost packet's unacknowledged data back at the head of the line. */
  onLost(p: SentPacket): void {
    if (p.fragments) {
      const fragments = p.fragments;
      for (let i = 0; i < fragments.length; i++) {
        const f = fragments[i]!;
        if (!f.acked && !f.queued && f.lastPn === p.pn) this.requeue(f);
      }
    }
    if (p.close && !this.closeAcked && this.closeSentPn === p.pn) this.closeQueued = true;
  }

  /** Resend the oldest unacknowledged content without declaring it lost (no CC reaction). */
  onProbe(p: SentPacket): void {
    if (p.fragments) {
      const fragments = p.fragments;
      for (let i = 0; i < fragments.length; i++) {
        const f = fragments[i]!;
        if (!f.acked && !f.queued) this.requeue(f);
      }
    }
    if (p.close && !this.closeAcked) this.closeQueued = true;
  }
}

function mergeFragments(a: SentFragment[] | null, b: SentFragment[] | null): SentFragment[] | null {
  if (a === null) return b;
  if (b !== null) for (let i = 0; i < b.length; i++) a.push(b[i]!);
  return a;
}
