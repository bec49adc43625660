import { channelSize, unreliableHeaderSize, writeDataFrameHeader, writeDataPartFrameHeader, writeUnreliableFrameHeader } from '../wire/frames.js';
import { expand32, truncate32 } from '../wire/packet-number.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, DATA_PART_HEADER_SIZE, DataFlag, FrameType } from '../wire/types.js';
import { SendBlock } from './blocked-time.js';
import type { Counters } from './counters.js';
import { Deque, emptyDeque } from './deque.js';
import { unpinFields } from './mutable-fields.js';
import { ChannelScheduler, type ChannelReadiness } from './channel-scheduler.js';
import { NO_FRAGMENT, UNRELIABLE_RECEIPT, clearFragments, newFragment, pinFragment, type MessageRecord, type SentContent, type SentFragment, type SentPacket } from './sent-packets.js';
import type { PathMtu } from './path-mtu.js';
import { RedundantCopies } from './redundancy.js';
import type { CoreEvent, Delivery } from './types.js';

/** A fragment shorter than this is not cut to fill the end of a packet (TSN credit is per fragment). */
const MIN_FRAGMENT = 256;
/** Room left beside a DATA_PART piece for an ACK frame in the same packet. */
const PART_ACK_ROOM = 48;

interface QueuedMessage extends MessageRecord {
  data: Uint8Array;
  /** Bytes already cut into fragments. */
  offset: number;
  unordered: boolean;
}

interface QueuedUnreliable extends MessageRecord {
  data: Uint8Array;
  id: number;
  index: number;
  count: number;
  fragmentSize: number;
  /** Not sent once this instant has passed (`maxAge`): dropped and counted instead. */
  expiresAt: number;
}

/** One channel's queues and TSN space. */
interface ChannelQueues {
  readonly channel: number;
  nextTsn: number;
  /** Reliable messages waiting to be cut (the shared empty Deque once a quiet connection gave it back: ensureQueue). */
  queue: Deque<QueuedMessage>;
  /** Fragments to send again, oldest first (the shared empty Deque until the first: ensureRetransmit). */
  retransmit: Deque<SentFragment>;
  /** The shared empty Deque until the first unreliable message (ensureUnreliable). */
  unreliable: Deque<QueuedUnreliable>;
}

const EMPTY = new Uint8Array(0);
/**
 * `sendable()`'s answers as module constants: a property load of `SendBlock` reached by one
 * answer only would be one more site without type feedback when the queue runs dry.
 */
const SENDABLE = SendBlock.None;
const FLOW_BLOCKED = SendBlock.FlowControl;
const NOTHING_QUEUED = SendBlock.Application;
/**
 * The scratch list of fragments of the packet being built, one for every connection: a packet
 * is built from `writeFrames` to `releasePacketFragments` without building another meanwhile
 * (like the shared DataPacketReader on the way in), so no connection needs its own (idle
 * connections, issue 11). Created holding a stand-in: the elements kind it has with fragments.
 */
const PACKET_FRAGMENTS: SentFragment[] = [NO_FRAGMENT];

/**
 * What the application sends, and what of it goes into the next packet (quic-go's `framer`):
 * per channel a reliable queue (ordered and unordered messages, cut into fragments numbered in
 * the channel's own TSN space, within the peer's connection-wide flow-control credit), an
 * unreliable queue and a retransmission queue; and the CLOSE frame. The ChannelScheduler says
 * which channel writes the next frame. It owns the content of sent packets: loss recovery tells
 * it (as `SentContent`) what was acknowledged, lost or is to be probed, and it queues lost
 * content again, in its channel.
 *
 * Order within a channel's turn: its retransmissions, its redundant copies (channels with
 * `redundancy`, redundancy.ts), its unreliable messages, its new data; CLOSE last
 * (docs/protocol.md "Sending"). Flow control after RFC 9000 §4 (per fragment, one `maxTsn` for
 * all channels, like MAX_DATA); retransmission of lost content after RFC 9002 §6.2.4 /
 * RFC 9000 §13.3 (content is resent, not packets).
 *
 * Receipts: every reliable message is kept in `ledger` (send order) until acknowledged, so
 * `ackedThrough` tells flush() how far everything is acknowledged; a message with a receipt id
 * also gets its own 'receipt' event.
 */
export class SendScheduler implements SentContent, ChannelReadiness {
  /** Connection-wide fragment counter: our first TSN + fragments cut so far on all channels. */
  private nextTsn: number;
  /** Highest value of `nextTsn` the peer accepts (its flow-control credit). */
  private peerMaxTsn: number;
  private readonly initialTsn: number;
  /** By channel; created holding channel 0's queues (an exact one-slot array: idle connections stay small). */
  private readonly channels: (ChannelQueues | undefined)[];
  readonly scheduler: ChannelScheduler;
  /** Message bytes queued and not yet sent once. */
  queuedBytes = 0;
  /** Fragments sent and not yet acknowledged (they live in their packets' records). */
  unackedFragments = 0;
  /** Totals over all channels, so that the hot checks need no loop. */
  private reliableQueued = 0;
  private retransmitQueued = 0;
  private unreliableQueued = 0;
  /** Pieces (DATA_PART, any channel) of fragments too large for the path MTU now in force, sent before the rest. */
  private parts: Deque<SentFragment> = emptyDeque();
  private nextUnreliableId = 0;
  /**
   * Reliable messages not yet acknowledged, in send order; `ledgerBase` numbers the head. The
   * shared empty Deque once a quiet connection gave it back (releaseIdleStorage; ensureLedger).
   */
  private ledger = new Deque<QueuedMessage>(1);
  private ledgerBase = 0;
  /** Report 'acked' once `ackedThrough` reaches this (-1: nobody waits). */
  private ackedWatch = -1;
  /** writeOne dropped expired messages without writing anything. */
  private expiredSome = false;
  /** Copies of small messages for channels with `redundancy` (created on first use). */
  private copies: RedundantCopies | null = null;
  /** The packet `writeFrames` is filling (a copy goes only into a later packet than its last). */
  private buildingPn = 0;

  // --- the CLOSE frame's own delivery
  /** CLOSE goes into the next packet with data. */
  closeQueued = false;
  /** The packet that carried the latest CLOSE (-1: never sent). */
  closeSentPn = -1;
  closeAcked = false;

  // --- what `writeFrames` put into the packet being built
  /**
   * Fragments carried (retransmitted and new): `packetFragments[0 … packetFragmentCount)`. A
   * scratch list reused for every packet (the packet's record copies it): no array per packet,
   * and one for all connections (PACKET_FRAGMENTS).
   */
  readonly packetFragments: SentFragment[] = PACKET_FRAGMENTS;
  packetFragmentCount = 0;
  packetClose = false;
  packetRetransmission = false;
  packetUnreliable = false;

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
    this.initialTsn = initialTsn;
    this.nextTsn = initialTsn;
    this.peerMaxTsn = initialTsn - 1 + peerWindow;
    this.scheduler = new ChannelScheduler(mtu.current);
    this.channels = [this.newChannel(0)];
    this.scheduler.add(0);
    // Written only when something is lost, unreliable or expired: mutable from the start, so
    // that the first PTO deoptimises nothing that reads them (mutable-fields.ts). `parts` holds
    // the shared empty Deque until the first DATA_PART piece (ensureParts).
    unpinFields(this, ['retransmitQueued', 'unreliableQueued', 'expiredSome', 'packetRetransmission', 'packetUnreliable', 'parts', 'ledger']);
  }

  private newChannel(channel: number): ChannelQueues {
    // Retransmit and unreliable queues exist from their first use (idle connections stay small);
    // their fields are mutable from the start, so their first Deque deoptimises nothing.
    const c: ChannelQueues = { channel, nextTsn: this.initialTsn, queue: new Deque(1), retransmit: emptyDeque(), unreliable: emptyDeque() };
    return unpinFields(c, ['queue', 'retransmit', 'unreliable']);
  }

  private ensureQueue(c: ChannelQueues): Deque<QueuedMessage> {
    if (c.queue === emptyDeque<QueuedMessage>()) c.queue = new Deque(1);
    return c.queue;
  }

  private ensureLedger(): Deque<QueuedMessage> {
    if (this.ledger === emptyDeque<QueuedMessage>()) this.ledger = new Deque(1);
    return this.ledger;
  }

  private ensureRetransmit(c: ChannelQueues): Deque<SentFragment> {
    if (c.retransmit === emptyDeque<SentFragment>()) c.retransmit = new Deque(0);
    return c.retransmit;
  }

  private ensureUnreliable(c: ChannelQueues): Deque<QueuedUnreliable> {
    if (c.unreliable === emptyDeque<QueuedUnreliable>()) c.unreliable = new Deque(0);
    return c.unreliable;
  }

  private ensureParts(): Deque<SentFragment> {
    if (this.parts === emptyDeque<SentFragment>()) this.parts = new Deque(0);
    return this.parts;
  }

  /**
   * A quiet connection can give back (dormancy.ts `compactIdle`) its empty queues: the
   * ledger, the DATA_PART queue, and each channel's reliable, retransmission and unreliable queue.
   */
  holdsIdleStorage(): boolean {
    if (this.ledger !== emptyDeque<QueuedMessage>() && this.ledger.length === 0) return true;
    if (this.parts !== emptyDeque<SentFragment>() && this.parts.length === 0) return true;
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) {
      const c = channels[i];
      if (c === undefined) continue;
      if (c.queue !== emptyDeque<QueuedMessage>() && c.queue.length === 0) return true;
      if (c.retransmit !== emptyDeque<SentFragment>() && c.retransmit.length === 0) return true;
      if (c.unreliable !== emptyDeque<QueuedUnreliable>() && c.unreliable.length === 0) return true;
    }
    return false;
  }

  /**
   * Give back what `holdsIdleStorage` found: every empty queue goes back to the shared empty
   * Deque (the `ensure…()` at its push site makes it again); queues that hold items stay.
   */
  releaseIdleStorage(): void {
    if (this.ledger.length === 0) this.ledger = emptyDeque();
    if (this.parts.length === 0) this.parts = emptyDeque();
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) {
      const c = channels[i];
      if (c === undefined) continue;
      if (c.queue.length === 0) c.queue = emptyDeque();
      if (c.retransmit.length === 0) c.retransmit = emptyDeque();
      if (c.unreliable.length === 0) c.unreliable = emptyDeque();
    }
  }

  /** Queues of its own (not the shared empty Deque) and their slots of storage: ConnectionCore.inspect(). */
  get ownQueues(): { queues: number; slots: number } {
    let queues = 0;
    let slots = 0;
    const count = (d: Deque<unknown>): void => {
      if (d === emptyDeque<unknown>()) return;
      queues++;
      slots += d.allocated;
    };
    count(this.ledger);
    count(this.parts);
    for (const c of this.channels) {
      if (c === undefined) continue;
      count(c.queue);
      count(c.retransmit);
      count(c.unreliable);
    }
    return { queues, slots };
  }

  private channelQueues(channel: number): ChannelQueues {
    let c = this.channels[channel];
    if (c === undefined) {
      c = this.newChannel(channel);
      this.channels[channel] = c;
      this.scheduler.add(channel);
    }
    return c;
  }

  /** Send each small reliable message of `channel` `copies` more times, in the next packets (redundancy.ts). */
  setRedundancy(channel: number, copies: number): void {
    if (this.copies === null) {
      if (copies === 0) return;
      this.copies = new RedundantCopies();
    }
    this.copies.set(channel, copies);
  }

  /** Copies per message on `channel` (its `redundancy`). */
  redundancyOf(channel: number): number {
    return this.copies === null ? 0 : this.copies.copiesOf(channel);
  }

  /** Largest fragment payload now: a full datagram minus packet and DATA frame overhead. */
  get maxFragmentPayload(): number {
    return this.mtu.current - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE;
  }

  // ------------------------------------------------------------------ queueing

  /**
   * Queue one message (the core side of `conn.send()`): `channel` 0–255; `expiresAt`, unreliable
   * only, the instant (ms, the caller's clock) after which it is dropped instead of sent;
   * `receipt` > 0 reports its fate as a 'receipt' event with that id (0: none). Separate
   * arguments, not an options record: one object less per message sent.
   */
  enqueue(data: Uint8Array, delivery: Delivery, channel: number, expiresAt: number, receipt: number): void {
    this.counters.messagesSent++;
    this.queuedBytes += data.length;
    const c = this.channelQueues(channel);
    if (delivery === 'unreliable') {
      const id = this.nextUnreliableId;
      this.nextUnreliableId = (id + 1) >>> 0;
      // Size fragments so that all of them fit a datagram with the largest header variant.
      const fragmentSize =
        this.mtu.current - DATA_OVERHEAD - unreliableHeaderSize(0xffff_ffff, 0xffff_ffff) - channelSize(channel);
      const count = Math.max(1, Math.ceil(data.length / fragmentSize));
      this.ensureUnreliable(c).push({
        data,
        id,
        index: 0,
        count,
        fragmentSize,
        expiresAt,
        receipt,
        unacked: 0,
        cut: false,
        settled: false,
      });
      this.unreliableQueued++;
    } else {
      const m: QueuedMessage = {
        data,
        offset: 0,
        unordered: delivery === 'unordered',
        receipt,
        unacked: 0,
        cut: false,
        settled: false,
      };
      this.ensureQueue(c).push(m);
      this.ensureLedger().push(m);
      this.reliableQueued++;
    }
  }

  /** Every reliable message sent before the `ackedThrough`-th one (counting from 0) is acknowledged. */
  get ackedThrough(): number {
    return this.ledgerBase;
  }

  /** Reliable messages queued so far: the mark a flush() waits for `ackedThrough` to reach. */
  get sentMark(): number {
    return this.ledgerBase + this.ledger.length;
  }

  /** Push one 'acked' event when `ackedThrough` reaches `mark` (the lowest mark asked for wins). */
  watchAcked(mark: number): void {
    if (this.ackedWatch < 0 || mark < this.ackedWatch) this.ackedWatch = mark;
  }

  /** A graceful close was asked for: queue CLOSE once everything before it is sent and acknowledged. */
  queueCloseWhenIdle(): void {
    if (this.closeSentPn >= 0 || this.closeQueued) return;
    if (this.reliableQueued > 0 || this.unackedFragments > 0 || this.unreliableQueued > 0) return;
    this.closeQueued = true;
  }

  /** An ACK announced the peer's credit; true when it was raised. */
  onPeerCredit(truncatedMaxTsn: number): boolean {
    const peerMax = expand32(truncatedMaxTsn, this.nextTsn);
    if (peerMax <= this.peerMaxTsn) return false;
    this.peerMaxTsn = peerMax;
    return true;
  }

  /**
   * After an ACK: the acknowledged head of the ledger goes, and the 'acked' event a flush() waits
   * for is pushed once its mark is reached. (No event per message otherwise: a shell that waits
   * for room in the queue reads `bufferedAmount` after each call it makes, issue 11.)
   */
  checkFlushed(): void {
    const ledger = this.ledger;
    for (let m = ledger.peek(); m !== undefined && m.settled; m = ledger.peek()) {
      ledger.shift();
      this.ledgerBase++;
    }
    if (this.ackedWatch >= 0 && this.ledgerBase >= this.ackedWatch) {
      this.ackedWatch = -1;
      this.events.push({ type: 'acked', through: this.ledgerBase });
    }
  }

  /**
   * What the send side has for the next packet: `SendBlock.None` when it has something to send
   * now, `SendBlock.FlowControl` when only reliable data waits and the peer's credit holds it
   * back, `SendBlock.Application` when nothing is queued (the cause `nextDatagram` records).
   *
   * Every field is read, and every comparison made, on every call (no answer short-circuits the
   * rest): the first time the queue runs dry after this was compiled (a bulk sender whose
   * application is late with its next write, the end of every transfer) then runs the same code
   * with type feedback, instead of deoptimising `nextDatagram` or `build` where it is inlined
   * (issue 11; test/core/queue-dry-deopts.test.ts).
   */
  sendable(): SendBlock {
    const retransmit = this.retransmitQueued > 0;
    const parts = this.parts.length > 0;
    const close = this.closeQueued;
    const unreliable = this.unreliableQueued > 0;
    const reliable = this.reliableQueued > 0;
    const credit = this.nextTsn <= this.peerMaxTsn;
    const copies = this.copies;
    const some = retransmit || parts || close || unreliable || (reliable && credit) || (copies !== null && copies.hasReady());
    return some ? SENDABLE : reliable ? FLOW_BLOCKED : NOTHING_QUEUED;
  }

  /** Nothing but new reliable data waits (no retransmission, no unreliable message). */
  onlyNewDataQueued(): boolean {
    return this.retransmitQueued === 0 && this.unreliableQueued === 0;
  }

  /** Reliable data waits for the peer's credit, and nothing else is to be sent. */
  flowBlocked(): boolean {
    return this.reliableQueued > 0 && this.nextTsn > this.peerMaxTsn && this.retransmitQueued === 0 && this.parts.length === 0;
  }

  /** ChannelReadiness, for the ChannelScheduler's `pick()`: channel `channel` exists. */
  channelReady(channel: number): boolean {
    return this.ready(this.channels[channel]!);
  }

  /** Has channel `c` a frame to write now? (Drops acknowledged fragments from its retransmissions.) */
  private ready(c: ChannelQueues): boolean {
    const rt = c.retransmit;
    // With NO_FRAGMENT for an empty queue the `acked` check runs on every call, on a fragment's
    // shape, so the first retransmission (a PTO) finds it compiled instead of deoptimising the
    // scheduler and everything it was inlined into.
    for (let f = rt.peek() ?? NO_FRAGMENT; f.acked; f = rt.peek() ?? NO_FRAGMENT) {
      f.queued = false;
      rt.shift();
      this.retransmitQueued--;
    }
    // Every load and comparison on every call, as in `sendable`: the channel running out of
    // frames mid-packet (its queue dry) then finds them compiled with feedback.
    const retransmit = rt.length > 0;
    const unreliable = c.unreliable.length > 0;
    const queued = c.queue.length > 0;
    const credit = this.nextTsn <= this.peerMaxTsn;
    const copies = this.copies;
    return retransmit || unreliable || (queued && credit) || (copies !== null && copies.next(c.channel, this.buildingPn) !== undefined);
  }

  // ------------------------------------------------------------------ filling a packet

  /**
   * Write the frames of packet `pn` into `buf` from `o` up to `limit`; returns the new offset.
   * One frame at a time, from the channel the ChannelScheduler picks. What went in is left in
   * the `packet*` fields for the packet builder.
   */
  writeFrames(buf: Uint8Array, o: number, limit: number, pn: number, now = 0): number {
    this.packetClose = false;
    this.packetRetransmission = false;
    this.packetUnreliable = false;
    this.releasePacketFragments();
    this.buildingPn = pn;
    if (this.unreliableQueued > 0) this.expireUnreliable(now);
    // Pieces of fragments cut for a larger path MTU first (rare: only after a black hole).
    if (this.parts.length > 0) o = this.writeParts(buf, o, limit, pn);
    const scheduler = this.scheduler;
    while (o < limit) {
      const channel = scheduler.pick(this);
      if (channel < 0) break;
      const before = o;
      this.expiredSome = false;
      o = this.writeOne(this.channels[channel]!, buf, o, limit, pn, now);
      if (o === before) {
        if (this.expiredSome) continue;
        break; // the channel's next frame does not fit: the packet is full enough
      }
      scheduler.charge(channel, o - before);
    }
    // CLOSE, last: it is queued only once everything before it was sent and acknowledged.
    if (this.closeQueued && o + 1 <= limit) {
      buf[o++] = FrameType.Close;
      this.closeQueued = false;
      this.closeSentPn = pn;
      this.packetClose = true;
    }
    return o;
  }

  /**
   * The packet's record has its fragments (LossRecovery.onPacketSent copied them): the scratch
   * list lets go of them, so that an idle connection does not keep its last packet's fragments
   * and their message alive (issue 11).
   */
  releasePacketFragments(): void {
    const scratch = this.packetFragments;
    for (let i = 0; i < this.packetFragmentCount; i++) scratch[i] = NO_FRAGMENT;
    this.packetFragmentCount = 0;
  }

  /**
   * One frame of channel `c`: a retransmission, else a redundant copy of a small message sent
   * in an earlier packet, else an unreliable fragment, else new data.
   */
  private writeOne(c: ChannelQueues, buf: Uint8Array, o: number, limit: number, pn: number, now: number): number {
    // 1. Lost data first: the peer's in-order delivery on this channel waits on it.
    const f = c.retransmit.peek();
    if (f !== undefined) return this.writeRetransmission(c, f, buf, o, limit, pn);
    // 2. Redundant copies (`redundancy`): the original went in an earlier packet.
    if (this.copies !== null) {
      const copy = this.copies.next(c.channel, pn);
      if (copy !== undefined) return this.writeCopy(c, copy, buf, o, limit, pn);
    }
    // 3. Unreliable messages (latency-sensitive, never retransmitted; dropped when too old).
    for (let m = c.unreliable.peek(); m !== undefined; m = c.unreliable.peek()) {
      if (m.index === 0 && now > m.expiresAt) {
        c.unreliable.shift();
        this.unreliableQueued--;
        this.queuedBytes -= m.data.length;
        this.counters.unreliableExpired++;
        this.settleUnreliable(m, false);
        this.expiredSome = true;
        continue;
      }
      return this.writeUnreliable(c, m, buf, o, limit, pn);
    }
    // 4. New reliable data, within the peer's credit.
    if (c.queue.length > 0 && this.nextTsn <= this.peerMaxTsn) return this.writeNewData(c, buf, o, limit, pn);
    return o;
  }

  /**
   * Lost fragment `f` of channel `c` once more (the head of its retransmission queue). Apart from
   * writeOne so that writeOne, run for every frame, is small: V8 marks a function for TurboFan
   * after 3 + bytecode length / 150 of its own ticks (bench/tierup.ts, issue 11).
   */
  private writeRetransmission(c: ChannelQueues, f: SentFragment, buf: Uint8Array, o: number, limit: number, pn: number): number {
    if (DATA_FRAME_HEADER_SIZE + channelSize(c.channel) + f.length > this.mtu.current - DATA_OVERHEAD) {
      // Cut for a larger path MTU than the one now in force: send it again in pieces.
      c.retransmit.shift();
      this.retransmitQueued--;
      f.queued = false;
      this.split(f);
      return this.writeParts(buf, o, limit, pn);
    }
    if (o + DATA_FRAME_HEADER_SIZE + channelSize(c.channel) + f.length > limit) return o;
    o = writeDataFrameHeader(buf, o, truncate32(f.tsn), f.flags, f.length, c.channel);
    copyRange(buf, o, f.data, f.start, f.length);
    o += f.length;
    f.queued = false;
    f.lastPn = pn;
    this.addFragment(f);
    c.retransmit.shift();
    this.retransmitQueued--;
    this.packetRetransmission = true;
    this.counters.bytesRetransmitted += f.length;
    return o;
  }

  /**
   * Drop the unreliable messages at the heads of their queues whose `maxAge` has passed, also on
   * channels that are not served now (a lower priority): their receipts fail now, not at close.
   */
  private expireUnreliable(now: number): void {
    for (const c of this.channels) {
      if (c === undefined) continue;
      for (let m = c.unreliable.peek(); m !== undefined && m.index === 0 && now > m.expiresAt; m = c.unreliable.peek()) {
        c.unreliable.shift();
        this.unreliableQueued--;
        this.queuedBytes -= m.data.length;
        this.counters.unreliableExpired++;
        this.settleUnreliable(m, false);
      }
    }
  }

  /** The DATA frame of `f` once more, as first sent (same TSN): the peer drops what it has already. */
  private writeCopy(c: ChannelQueues, f: SentFragment, buf: Uint8Array, o: number, limit: number, pn: number): number {
    if (o + DATA_FRAME_HEADER_SIZE + channelSize(c.channel) + f.length > limit) return o;
    o = writeDataFrameHeader(buf, o, truncate32(f.tsn), f.flags, f.length, c.channel);
    copyRange(buf, o, f.data, f.start, f.length);
    o += f.length;
    // The latest transmission: the loss of an earlier packet that carried it needs no resend.
    f.lastPn = pn;
    this.addFragment(f);
    this.copies!.written(c.channel);
    this.counters.bytesRedundant += f.length;
    return o;
  }

  private writeUnreliable(c: ChannelQueues, m: QueuedUnreliable, buf: Uint8Array, o: number, limit: number, pn: number): number {
    const start = m.index * m.fragmentSize;
    const length = Math.min(m.fragmentSize, m.data.length - start);
    const header = unreliableHeaderSize(m.index, m.count) + channelSize(c.channel);
    if (header + length > this.mtu.current - DATA_OVERHEAD) {
      // Cut for a larger path MTU than the one now in force (a black hole was found since): the
      // rest of this message cannot go out any more. It is unreliable: drop it.
      this.queuedBytes -= m.data.length - start;
      c.unreliable.shift();
      this.unreliableQueued--;
      this.settleUnreliable(m, false);
      this.expiredSome = true;
      return o;
    }
    if (o + header + length > limit) return o;
    o = writeUnreliableFrameHeader(buf, o, m.id, m.index, m.count, length, c.channel);
    buf.set(m.data.subarray(start, start + length), o);
    o += length;
    this.packetUnreliable = true;
    this.queuedBytes -= length;
    if (m.receipt !== 0) {
      // Tracked in the packet's record like a fragment, only to learn whether it arrived.
      m.unacked++;
      this.addFragment(newFragment(m.id, EMPTY, 0, 0, UNRELIABLE_RECEIPT, pn, false, c.channel, m, null, 0));
    }
    if (++m.index === m.count) {
      m.cut = true;
      c.unreliable.shift();
      this.unreliableQueued--;
    }
    return o;
  }

  /** Cut `f` into DATA_PART pieces that fit the datagram size now in force, and queue them. */
  private split(f: SentFragment): void {
    pinFragment(f); // its pieces refer to it
    const room = this.mtu.current - DATA_OVERHEAD - DATA_PART_HEADER_SIZE - channelSize(f.channel) - PART_ACK_ROOM;
    const n = Math.ceil(f.length / room);
    const size = Math.ceil(f.length / n);
    f.partsLeft = n;
    for (let offset = 0; offset < f.length; offset += size) {
      const length = Math.min(size, f.length - offset);
      this.ensureParts().push(newFragment(f.tsn, f.data, f.start + offset, length, f.flags, -1, true, f.channel, null, f, offset));
    }
  }

  /** Write queued DATA_PART pieces (each on its fragment's channel); adds them to `packetFragments`. */
  private writeParts(buf: Uint8Array, o: number, limit: number, pn: number): number {
    const parts = this.parts;
    for (let p = parts.peek(); p !== undefined; p = parts.peek()) {
      const whole = p.whole!;
      if (p.acked || whole.acked) {
        p.queued = false;
        parts.shift();
        continue;
      }
      if (o + DATA_PART_HEADER_SIZE + channelSize(p.channel) + p.length > limit) break;
      o = writeDataPartFrameHeader(buf, o, truncate32(p.tsn), p.flags, whole.length, p.offset, p.length, p.channel);
      copyRange(buf, o, p.data, p.start, p.length);
      o += p.length;
      p.queued = false;
      p.lastPn = pn;
      this.addFragment(p);
      parts.shift();
      this.packetRetransmission = true;
      this.counters.bytesRetransmitted += p.length;
    }
    return o;
  }

  private writeNewData(c: ChannelQueues, buf: Uint8Array, o: number, limit: number, pn: number): number {
    const m = c.queue.peek()!;
    const extra = channelSize(c.channel);
    const room = limit - o - DATA_FRAME_HEADER_SIZE - extra;
    const remaining = m.data.length - m.offset;
    const length = Math.min(remaining, this.maxFragmentPayload - extra, Math.max(room, 0));
    // Do not spend a TSN on a sliver at the end of a packet.
    if (room < 0 || (length < remaining && length < Math.min(MIN_FRAGMENT, this.maxFragmentPayload))) return o;
    let flags = m.unordered ? DataFlag.Unordered : 0;
    if (m.offset === 0) flags |= DataFlag.First;
    if (length === remaining) flags |= DataFlag.Last;
    const tsn = c.nextTsn++;
    this.nextTsn++;
    o = writeDataFrameHeader(buf, o, truncate32(tsn), flags, length, c.channel);
    // The fragment is a range of the message's buffer, not a view kept until it is acknowledged.
    const data = m.data;
    copyRange(buf, o, data, m.offset, length);
    o += length;
    const f = newFragment(tsn, data, m.offset, length, flags, pn, false, c.channel, m, null, 0);
    this.unackedFragments++;
    m.unacked++;
    this.addFragment(f);
    if (this.copies !== null) this.copies.offer(f);
    m.offset += length;
    this.queuedBytes -= length;
    if (m.offset === m.data.length) {
      m.cut = true;
      m.data = EMPTY;
      c.queue.shift();
      this.reliableQueued--;
    }
    return o;
  }

  private addFragment(f: SentFragment): void {
    this.packetFragments[this.packetFragmentCount++] = f;
  }

  private settleUnreliable(m: MessageRecord, ok: boolean): void {
    if (m.settled) return;
    m.settled = true;
    if (m.receipt !== 0) this.events.push({ type: 'receipt', receipt: m.receipt, ok });
  }

  /** Queued messages that will never be sent: the connection is closed. Their receipt ids. */
  unsentReceipts(): number[] {
    const out: number[] = [];
    for (const c of this.channels) {
      if (c === undefined) continue;
      for (let i = 0; i < c.unreliable.length; i++) {
        const m = c.unreliable.at(i)!;
        if (m.receipt !== 0 && !m.settled) out.push(m.receipt);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ what became of sent content

  onAcked(p: SentPacket): void {
    if (p.fragmentCount > 0) {
      const fragments = p.fragments;
      for (let i = 0; i < p.fragmentCount; i++) {
        const f = fragments[i]!;
        if (f.acked) continue;
        let whole = f.whole;
        if (whole !== null) {
          // A piece: the fragment is acknowledged with its last piece (or a copy sent whole).
          f.acked = true;
          if (whole.acked || --whole.partsLeft > 0) continue;
        } else {
          whole = f;
        }
        whole.acked = true;
        whole.data = EMPTY;
        const m = whole.message;
        if (f.flags === UNRELIABLE_RECEIPT) {
          if (m !== null && --m.unacked === 0 && m.cut) this.settleUnreliable(m, true);
          continue;
        }
        this.unackedFragments--;
        if (m !== null && --m.unacked === 0 && m.cut) {
          m.settled = true;
          if (m.receipt !== 0) this.events.push({ type: 'receipt', receipt: m.receipt, ok: true });
        }
      }
      clearFragments(p);
    }
    if (p.close) this.closeAcked = true;
  }

  /**
   * Many packets were declared lost at once out of send order (a black hole): resend in TSN
   * order, the oldest first, since in-order delivery at the peer waits on it.
   */
  sortRetransmissions(): void {
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) channels[i]?.retransmit.sort(byTsn);
  }

  /** Queue again what a lost or probed packet carried: a piece with the pieces, a fragment whole. */
  private requeue(f: SentFragment): void {
    const whole = f.whole;
    if (whole !== null) {
      if (whole.acked) return;
      f.queued = true;
      this.ensureParts().push(f);
      return;
    }
    // Out in pieces since: the pieces are what is retransmitted now.
    if (f.partsLeft > 0) return;
    this.queueRetransmit(f);
  }


  /** Put the lost packet's unacknowledged data back at the head of the line. */
  onLost(p: SentPacket): void {
    if (p.fragmentCount > 0) {
      const fragments = p.fragments;
      for (let i = 0; i < p.fragmentCount; i++) {
        const f = fragments[i]!;
        if (f.flags === UNRELIABLE_RECEIPT) {
          if (f.message !== null) this.settleUnreliable(f.message, false);
          continue;
        }
        if (!f.acked && !f.queued && f.lastPn === p.pn) this.requeue(f);
      }
    }
    if (p.close && !this.closeAcked && this.closeSentPn === p.pn) this.closeQueued = true;
  }

  private queueRetransmit(f: SentFragment): void {
    // The queue holds it, and it goes into a second packet: never recycled (sent-packets.ts `pinned`).
    pinFragment(f);
    f.queued = true;
    this.ensureRetransmit(this.channels[f.channel]!).push(f);
    this.retransmitQueued++;
  }

  /** Resend the oldest unacknowledged content without declaring it lost (no CC reaction). */
  onProbe(p: SentPacket): void {
    if (p.fragmentCount > 0) {
      const fragments = p.fragments;
      for (let i = 0; i < p.fragmentCount; i++) {
        const f = fragments[i]!;
        if (f.flags !== UNRELIABLE_RECEIPT && !f.acked && !f.queued) this.requeue(f);
      }
    }
    if (p.close && !this.closeAcked) this.closeQueued = true;
  }
}

/**
 * `buf[o, o + length) = data[start, start + length)`. `TypedArray.set` copies a whole array, so a
 * part of `data` takes a view, made and dropped here: it dies young (a scavenge does not copy it),
 * where a view kept in the fragment record lived until the ACK. Staging the message in a buffer
 * of ours to copy from kept views of it was measured: it costs more CPU in extra copies than
 * the view saves (bench/history.md, stop 23, wt/sendgc).
 */
function copyRange(buf: Uint8Array, o: number, data: Uint8Array, start: number, length: number): void {
  // A plain Uint8Array, not `subarray`: a Buffer's subarray constructs a Buffer through its
  // species (a JavaScript constructor call) for a view used once.
  buf.set(start === 0 && length === data.length ? data : new Uint8Array(data.buffer, data.byteOffset + start, length), o);
}

function byTsn(a: SentFragment, b: SentFragment): number {
  return a.tsn - b.tsn;
}
