import { expand32 } from '../wire/packet-number.js';
import { DATA_FRAME_HEADER_SIZE, DATA_OVERHEAD, type DataFrame, type DataPartFrame, type UnreliableFrame } from '../wire/types.js';
import type { Counters } from './counters.js';
import type { Deque } from './deque.js';
import { FragmentParts } from './fragment-parts.js';
import { ASSEMBLY_CHUNK, NO_LIMIT, ReceiveBuffer, type AcceptResult, type MessageSink } from './receive-buffer.js';
import { chargeOf, detach, OBJECT_OVERHEAD } from './retention.js';
import { unpinFields } from './mutable-fields.js';
import type { CoreConfig, CoreEvent, Delivery } from './types.js';
import { UnreliableReassembly } from './unreliable-reassembly.js';
import { WindowTuner, type SmoothedRtt, type WindowAllowance } from './window-tuner.js';

/** The window tuner starts once the application released this fraction (1/n) of the receive window. */
const TUNE_AFTER = 32;


/** What the ACK scheduler needs to announce our credit. */
export interface CreditView {
  /** Highest value of the peer's connection-wide fragment counter we accept. */
  readonly maxTsn: number;
  /** The TSN window announced (`initialWindow`). */
  readonly maxSlotsAnnounced: number;
}

/**
 * The frame level of the receive side: DATA fragments into their channel's receive buffer
 * (reassembly, ordering, duplicate TSNs; one TSN space per channel, so a gap on one channel
 * never holds back another), UNRELIABLE fragments into their reassembly, and complete messages
 * out as 'message' events. The packet level (packet numbers, ACKs) is the AckScheduler's.
 *
 * Flow control is connection-wide, like QUIC's MAX_DATA (RFC 9000 §4.1): the peer's fragment
 * counter is the sum over channels of the TSNs it has used (`claimed`, counted up to each
 * channel's highest TSN seen), and we let it reach `maxTsn = initialTsn − 1 + consumed +
 * min(maxSlots, floor((receiveWindow − retained) / slotCost))`, `consumed` summing each
 * channel's in-order progress and `retained` the bytes all channel buffers keep (the rule of
 * receive-buffer.ts, applied to their sum). With channel 0 alone it is that rule exactly.
 *
 * Everything is counted in the bytes it keeps alive (retention.ts): reliable data within
 * `receiveWindow` (the receive buffer grants credit from it), unreliable data within
 * `maxUnreliableReassembly` (reassembly plus delivered messages not yet released). Every
 * 'message' event carries the bytes it holds as its `credit`, given back by `release()`.
 *
 * docs/protocol.md "DATA" and "UNRELIABLE" frames, §15 (flow control); RFC 9000 §4.
 */
export class Receiver implements CreditView, MessageSink {
  /** Channel 0's buffer (created at once); the others on their first fragment. */
  readonly buffer: ReceiveBuffer;
  // Idle connections stay small (issue 11): a connection that uses channel 0 only has neither
  // list below (each channel's highest TSN seen lives in its buffer, `highestTsn`).
  /** The other channels' buffers, by channel (null until the first fragment on another channel). */
  private buffers: (ReceiveBuffer | undefined)[] | null = null;
  /** Every buffer created, channel 0's first, densely (credit sums over them); null while channel 0's is the only one. */
  private active: ReceiveBuffer[] | null = null;
  // Running totals over the buffers of channels 1–255 (othersChanged), for the credit rule.
  /** Bytes they hold (their `retained`). */
  private othersRetained = 0;
  /** How many of them hold something besides an unfinished message (not `onlyAssembling`). */
  private othersNotAssembling = 0;
  /** How many of them hold an assembly chunk (an unfinished message). */
  private otherChunks = 0;
  private readonly base: number;
  private claimed = 0;
  private consumed = 0;
  maxTsn: number;
  /** Created on the first fragmented unreliable message: most connections never need it. */
  private unreliableIn: UnreliableReassembly | null = null;
  /**
   * Pieces of DATA fragments (DATA_PART), per channel like the TSNs they belong to; created on
   * the first DATA_PART frame of a channel (only after the peer's path MTU fell).
   */
  private partsIn: (FragmentParts | undefined)[] | null = null;
  /** What the FragmentParts of `partsIn` hold together (their `retained`, summed as each changes). */
  private partsBytes = 0;
  /** Bytes of delivered unreliable messages the application has not released yet. */
  private unreliableHeld = 0;
  /** Complete unreliable messages dropped because the unreliable budget was full. */
  private unreliableOverflow = 0;
  /**
   * Grows the window (window-tuner.ts); created once the application has released an eighth of
   * the window (TUNE_AFTER): a connection that never moved that much has nothing to tune, and
   * idle connections stay small (issue 11). Until then `releasedUntuned` counts.
   */
  private tuner: WindowTuner | null = null;
  private releasedUntuned = 0;

  constructor(
    private readonly config: CoreConfig,
    /** The peer's first TSN (on every channel). */
    private readonly initialTsn: number,
    /** The receive window we announced, in TSNs. */
    private readonly windowFragments: number,
    /** Largest datagram we accept (announced; larger ones never get here). */
    private readonly maxDatagramSize: number,
    /** Largest message we accept (announced as maxMessageSize). */
    private readonly maxMessageSize: number,
    private readonly events: Deque<CoreEvent>,
    private readonly counters: Counters,
  ) {
    this.base = initialTsn - 1;
    this.maxTsn = this.base + windowFragments;
    this.buffer = this.newBuffer(0);
    // Created on first use: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['buffers', 'active', 'tuner']);
  }

  /** The receive window now, bytes: `receiveWindow`, grown by the tuner up to `maxReceiveWindow`. */
  get windowBytes(): number {
    return this.tuner === null ? this.config.receiveWindow : this.tuner.window;
  }

  /** The TSN window now: the one announced, scaled as the byte window grew. */
  private windowSlots(): number {
    const t = this.tuner;
    if (t === null) return this.windowFragments;
    return Math.min(0x4000_0000, Math.floor((this.windowFragments * t.window) / this.config.receiveWindow));
  }

  private newBuffer(channel: number): ReceiveBuffer {
    return new ReceiveBuffer({
      initialTsn: this.initialTsn,
      // A channel's buffer never limits by itself: the connection-wide credit below does.
      windowBytes: NO_LIMIT,
      maxSlots: NO_LIMIT,
      maxDatagramSize: this.maxDatagramSize,
      maxMessageSize: this.maxMessageSize,
      sink: this,
      channel,
    });
  }

  private bufferOf(channel: number): ReceiveBuffer {
    if (channel === 0) return this.buffer;
    const buffers = (this.buffers ??= []);
    let b = buffers[channel];
    if (b === undefined) {
      b = this.newBuffer(channel);
      buffers[channel] = b;
      (this.active ??= [this.buffer]).push(b);
    }
    return b;
  }

  /** The TSN window now (`initialWindow`, scaled as the window grew): credit never reaches further past what was consumed. */
  get maxSlotsAnnounced(): number {
    return this.windowSlots();
  }

  /** Bytes the peer's data holds here now (reliable and unreliable). */
  get retainedBytes(): number {
    return this.reliableRetained() + (this.unreliableIn?.retained ?? 0) + this.unreliableHeld + this.partsBytes;
  }

  /**
   * What `retainedBytes` may reach for reliable data: the window, the slack for unfinished
   * messages, and one assembly chunk per channel holding an unfinished message (at least one).
   */
  get retainedLimit(): number {
    // Channel 0's chunk is in the documented window + 64 KiB; each further channel holding an
    // unfinished message adds one (docs/protocol.md §15).
    const chunks = Math.max(1, (this.buffer.holdsChunk ? 1 : 0) + this.otherChunks);
    return this.windowBytes + this.buffer.slack + chunks * (ASSEMBLY_CHUNK + OBJECT_OVERHEAD);
  }

  /** A receive buffer holds storage a quiet connection gives back (ReceiveBuffer.releaseIdleStorage). */
  holdsIdleStorage(): boolean {
    const active = this.active;
    if (active === null) return this.buffer.holdsIdleStorage;
    for (let i = 0; i < active.length; i++) if (active[i]!.holdsIdleStorage) return true;
    return false;
  }

  /** Every receive buffer gives back its empty storage (dormancy.ts `compactIdle`). */
  releaseIdleStorage(): void {
    const active = this.active;
    if (active === null) this.buffer.releaseIdleStorage();
    else for (let i = 0; i < active.length; i++) active[i]!.releaseIdleStorage();
  }

  /** Fragments buffered beyond each channel's in-order point, summed (for the window invariant). */
  get bufferedCount(): number {
    const active = this.active;
    if (active === null) return this.buffer.bufferedCount;
    let n = 0;
    for (let i = 0; i < active.length; i++) n += active[i]!.bufferedCount;
    return n;
  }

  /** The credit beyond the fragments consumed in order: what the peer may still have outstanding. */
  get advertisedWindow(): number {
    return this.maxTsn - (this.base + this.consumed);
  }

  /** Bytes of delivered messages the application has not released yet. */
  get releasable(): number {
    const active = this.active;
    if (active === null) return this.unreliableHeld + this.buffer.held;
    let held = this.unreliableHeld;
    for (let i = 0; i < active.length; i++) held += active[i]!.held;
    return held;
  }

  /**
   * A DATA frame. A duplicate is counted and dropped; 'beyond-window' and 'malformed' are the
   * caller's to act on (the connection aborts). Its payload is `bytes` from `start` for `length`
   * (the datagram it came in, read in place: DataPacketReader.nextInPlace), by default the frame's.
   */
  onData(frame: DataFrame, bytes: Uint8Array = frame.payload, start = 0, length = bytes.length): AcceptResult {
    // Channel 0 without DATA_PART pieces (nearly every frame): `onDataOnAnyChannel`'s steps for
    // that case alone, without the other channels' running totals; the general case out of
    // line, so that the code compiled per frame (and inlined into the receive path) is this.
    // Written out rather than shared with it through a helper: measured (bench/compile-jobs.ts
    // on a ping-pong), such a helper ticks on its own before onData and is compiled alone as
    // well as inlined, one more TurboFan job per process inside the benchmark's window.
    if (frame.channel !== undefined || this.partsIn !== null) return this.onDataOnAnyChannel(frame, bytes, start, length);
    const buf = this.buffer;
    const tsn = expand32(frame.tsn, buf.cumTsn + 1);
    const claim = tsn - buf.highestTsn;
    if (claim > 0 && this.base + this.claimed + claim > this.maxTsn) return 'beyond-window';
    const before = buf.cumTsn;
    const result = buf.accept(tsn, bytes, start, length, frame.first, frame.last, frame.unordered);
    const duplicate = result === 'duplicate';
    this.counters.duplicatesDropped += duplicate ? 1 : 0;
    if (duplicate) return result;
    if (claim > 0) {
      this.claimed += claim;
      buf.highestTsn = tsn;
    }
    this.consumed += buf.cumTsn - before;
    this.updateCredit();
    return result;
  }

  /** `onData` on any channel, with DATA_PART pieces pending or not. */
  private onDataOnAnyChannel(frame: DataFrame, bytes: Uint8Array, start: number, length: number): AcceptResult {
    const channel = frame.channel ?? 0;
    const buf = this.bufferOf(channel);
    const tsn = expand32(frame.tsn, buf.cumTsn + 1);
    const claim = tsn - buf.highestTsn;
    if (claim > 0 && this.base + this.claimed + claim > this.maxTsn) return 'beyond-window';
    const before = buf.cumTsn;
    // Another channel's buffer: what it holds is kept in running totals (othersChanged).
    const r0 = channel !== 0 ? buf.retained : 0;
    const oa0 = channel !== 0 && buf.onlyAssembling;
    const hc0 = channel !== 0 && buf.holdsChunk;
    const result = buf.accept(tsn, bytes, start, length, frame.first, frame.last, frame.unordered);
    // Counted on every frame (0 or 1), not in the duplicate's branch: the first duplicate (a
    // spurious PTO's copy) then finds the count compiled instead of deoptimising the receive path.
    const duplicate = result === 'duplicate';
    this.counters.duplicatesDropped += duplicate ? 1 : 0;
    if (duplicate) return result;
    if (claim > 0) {
      this.claimed += claim;
      buf.highestTsn = tsn;
    }
    this.consumed += buf.cumTsn - before;
    if (channel !== 0) this.othersChanged(buf, r0, oa0, hc0);
    // Partials the buffer now has whole go before the credit is computed, so that the credit
    // counts the bytes they gave back (after it, a peer waiting on that credit waited for the
    // next frame or release).
    const parts = this.partsIn;
    if (parts !== null) {
      const fp = parts[channel];
      if (fp !== undefined) this.partsBytes -= fp.prune(before, buf.cumTsn);
    }
    this.updateCredit();
    return result;
  }

  /** A piece of a DATA fragment: reassembled, then handled as the whole DATA frame. */
  onDataPart(frame: DataPartFrame): AcceptResult {
    const channel = frame.channel ?? 0;
    const buf = this.bufferOf(channel);
    const tsn = expand32(frame.tsn, buf.cumTsn + 1);
    if (tsn <= buf.cumTsn) {
      this.counters.duplicatesDropped++;
      return 'duplicate';
    }
    // The connection-wide credit, as onData checks it.
    const claim = tsn - buf.highestTsn;
    if (claim > 0 && this.base + this.claimed + claim > this.maxTsn) return 'beyond-window';
    // No fragment is larger than the datagrams we accept: this bounds what each partial holds.
    if (frame.length > this.maxDatagramSize - DATA_OVERHEAD - DATA_FRAME_HEADER_SIZE) return 'malformed';
    const parts = (this.partsIn ??= []);
    const fp = (parts[channel] ??= new FragmentParts());
    const was = fp.retained;
    const whole = fp.add(tsn, frame);
    this.partsBytes += fp.retained - was;
    if (whole === 'malformed') return 'malformed';
    // Claimed at its first piece, as the sender counted the TSN when it first sent the fragment
    // (§5.9): the partials of all channels together then stay within the credit, as buffered
    // fragments do. (Claimed only when whole, each channel could hold a window of partials.)
    if (claim > 0) {
      this.claimed += claim;
      buf.highestTsn = tsn;
    }
    if (whole === null) return 'new';
    return this.onData(whole);
  }

  /**
   * An UNRELIABLE frame. The shell drops its oldest unread unreliable messages first
   * (src/node/inbox.ts); what still does not fit the budget is dropped here, newest first.
   */
  onUnreliable(frame: UnreliableFrame): void {
    const budget = this.config.maxUnreliableReassembly;
    const channel = frame.channel ?? 0;
    if (frame.count === 1) {
      const kept = detach(frame.payload, this.maxDatagramSize);
      this.deliverUnreliable(kept, chargeOf(kept), budget, channel);
      return;
    }
    this.unreliableIn ??= new UnreliableReassembly(() => Math.max(0, budget - this.unreliableHeld), this.maxDatagramSize);
    // Message ids are one counter on the sender for all channels.
    const message = this.unreliableIn.add(frame.messageId, frame.index, frame.count, frame.payload);
    if (message !== null) this.deliverUnreliable(message, UnreliableReassembly.chargeOfMessage(message), budget, channel);
  }

  /**
   * The application consumed (or dropped) a message that held `credit` bytes, at `now`. True
   * when that raised the reliable credit we may announce. With `rtt` (the connection's
   * estimator) the window may grow too (window-tuner.ts), if `allowance` (the endpoint's byte
   * budget, null: none) gives it. Passed here rather than kept: idle connections stay small.
   */
  release(credit: number, delivery: Delivery, channel = 0, now = 0, rtt: SmoothedRtt | null = null, allowance: WindowAllowance | null = null): boolean {
    if (delivery === 'unreliable') {
      this.unreliableHeld = Math.max(0, this.unreliableHeld - credit);
      return false;
    }
    const b = channel === 0 ? this.buffer : this.buffers?.[channel];
    if (b === undefined) return false;
    const before = this.maxTsn;
    // Only what the application really consumed counts (never more than delivered and held).
    const consumed = Math.min(credit, b.held);
    const max = Math.max(this.config.receiveWindow, this.config.maxReceiveWindow);
    if (consumed > 0 && rtt !== null && max > this.config.receiveWindow) {
      const tuner = this.tuner;
      // At its maximum the window cannot grow: no need to judge whether the peer waits.
      if (tuner !== null) tuner.onReleased(consumed, now, tuner.canGrow() && this.peerWaits(this.reliableHeld() - consumed));
      else this.maybeStartTuning(consumed, now, max, rtt, allowance);
    }
    if (channel === 0) b.release(credit);
    else {
      const r0 = b.retained;
      const oa0 = b.onlyAssembling;
      const hc0 = b.holdsChunk;
      b.release(credit);
      this.othersChanged(b, r0, oa0, hc0);
    }
    this.updateCredit();
    return this.maxTsn > before;
  }

  /**
   * Whether the peer waits on our credit rather than on the application: it has claimed TSNs up
   * to within an eighth of the window of `maxTsn`, while the application holds no more than an
   * eighth of the window delivered and unreleased (`heldAfter`). Then what holds the credit is
   * data behind holes waiting for repair (a repair takes a round trip or more, during which the
   * whole flight behind the hole stays retained), and a larger window is what lets the sender
   * keep going (window-tuner.ts). A slow reader (a backlog of delivered messages) never counts,
   * and neither does a peer that keeps holes open: releases, which drive every check, only come
   * when the holes before them are filled.
   */
  private peerWaits(heldAfter: number): boolean {
    // `heldAfter`: over every channel, as the credit is the connection's (a backlog unread on
    // one channel holds the credit that another channel's fast reader would see the peer wait on).
    const slots = this.windowSlots();
    return (this.maxTsn - (this.base + this.claimed)) * 8 < slots && heldAfter * 8 <= this.windowBytes;
  }

  /** Count released bytes until there are enough to tune the window for; then start the tuner (its first epoch begins now). */
  private maybeStartTuning(consumed: number, now: number, max: number, rtt: SmoothedRtt, allowance: WindowAllowance | null): void {
    const released = (this.releasedUntuned += consumed);
    if (released < this.config.receiveWindow / TUNE_AFTER) return;
    this.tuner = new WindowTuner(this.config.receiveWindow, max, rtt, allowance);
    this.tuner.onReleased(released, now);
  }

  /** Unreliable messages dropped: unfinished ones evicted, complete ones over the budget. */
  unreliableDropped(): number {
    return (this.unreliableIn?.dropped ?? 0) + this.unreliableOverflow;
  }

  /** Bytes of delivered reliable messages not released yet, over every channel. */
  private reliableHeld(): number {
    const active = this.active;
    if (active === null) return this.buffer.held;
    let held = 0;
    for (let i = 0; i < active.length; i++) held += active[i]!.held;
    return held;
  }

  private reliableRetained(): number {
    const active = this.active;
    if (active === null) return this.buffer.retained;
    let retained = 0;
    for (let i = 0; i < active.length; i++) retained += active[i]!.retained;
    return retained;
  }

  /**
   * Another channel's buffer `b` changed (it held `r0` bytes, was `oa0` only assembling and `hc0`
   * holding a chunk before): the running totals over channels 1–255 follow, so that the credit
   * rule reads three sums instead of walking up to 255 buffers on every frame and release.
   */
  private othersChanged(b: ReceiveBuffer, r0: number, oa0: boolean, hc0: boolean): void {
    this.othersRetained += b.retained - r0;
    const oa = b.onlyAssembling;
    if (oa !== oa0) this.othersNotAssembling += oa ? -1 : 1;
    const hc = b.holdsChunk;
    if (hc !== hc0) this.otherChunks += hc ? 1 : -1;
  }

  /** The rule of receive-buffer.ts `updateCredit`, over the sum of the channels' buffers. */
  private updateCredit(): void {
    const b0 = this.buffer;
    // The other channels' buffers and the partial DATA_PART fragments (rare: after the path MTU
    // fell) by their running totals (0 while there are none).
    const retained = b0.retained + this.othersRetained + this.partsBytes;
    const onlyAssembling = b0.onlyAssembling && this.othersNotAssembling === 0;
    const window = this.windowBytes;
    const limit = onlyAssembling ? window + b0.slack : window;
    const room = Math.floor((limit - retained) / b0.slotCost);
    const credit = this.base + this.consumed + Math.max(0, Math.min(this.windowSlots(), room));
    if (credit > this.maxTsn) this.maxTsn = credit;
  }

  private deliverUnreliable(data: Uint8Array, charge: number, budget: number, channel: number): void {
    // Longer than we announced (the peer broke §4.1): dropped like any unreliable overflow.
    if (data.length > this.maxMessageSize || this.unreliableHeld + (this.unreliableIn?.retained ?? 0) + charge > budget) {
      this.unreliableOverflow++;
      return;
    }
    this.unreliableHeld += charge;
    this.deliver(data, 'unreliable', channel, charge);
  }

  /** MessageSink: the buffer of a message reassembled from fragments (written in full before delivery). */
  allocate(size: number): Uint8Array {
    return this.config.allocateMessage(size);
  }

  /** A complete message, from a channel's receive buffer (MessageSink) or the unreliable reassembly. */
  deliver(data: Uint8Array, delivery: Delivery, channel: number, credit: number): void {
    this.counters.messagesReceived++;
    this.counters.bytesDelivered += data.length;
    this.events.push({ type: 'message', data, delivery, channel, credit });
  }
}
