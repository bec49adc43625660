import { unpinFields } from './mutable-fields.js';
import { chargeOf, detach, OBJECT_OVERHEAD } from './retention.js';
import type { Delivery } from './types.js';

interface BufferedFragment {
  payload: Uint8Array;
  /** Bytes this fragment is charged while buffered (0 once its message was delivered). */
  charge: number;
  first: boolean;
  last: boolean;
  unordered: boolean;
  /** Part of an unordered message that was already delivered. */
  delivered: boolean;
}

/**
 * Where complete messages go: `credit` is the bytes the message holds until the application
 * releases it (`release(credit)`). An object rather than a closure, so that each buffer costs
 * no closure and context of its own (idle connections, issue 11).
 */
export interface MessageSink {
  deliver(data: Uint8Array, delivery: Delivery, channel: number, credit: number): void;
  /** A buffer for a message reassembled from fragments (`CoreConfig.allocateMessage`): every byte is written before delivery. */
  allocate(size: number): Uint8Array;
}

/**
 * `malformed`: the fragments break message framing (a message longer than `maxMessageSize`, or
 * a FIRST fragment inside an unfinished message): the peer is broken or hostile.
 */
export type AcceptResult = 'new' | 'duplicate' | 'beyond-window' | 'malformed';

const EMPTY = new Uint8Array(0);
/** Never written to: idle connections do not each pay for an empty hash table. */
const NO_FRAGMENTS = new Map<number, BufferedFragment>();
/** Never written to: the chunks of every buffer that has not assembled a multi-chunk message yet. */
const NO_CHUNKS: Uint8Array[] = [];
/** An unfinished message in TSN order is copied into chunks of this size (its datagrams go). */
export const ASSEMBLY_CHUNK = 16 * 1024;
/** Retained bytes may pass the window by this much: one assembly chunk and the grant slack. */
export const WINDOW_SLACK = 64 * 1024;
/**
 * Assembly chunks are copied out once a message is complete, so they are recycled: bulk
 * transfers of large messages then allocate only each message's final buffer. One pool for the
 * process (like the send slab), at most 1 MiB, so that idle connections hold none.
 */
const chunkPool: Uint8Array[] = [];
const MAX_POOLED_CHUNKS = 64;

/** `bytes[start, start + length)` as a Uint8Array: `bytes` itself when that is all of it. */
function viewOf(bytes: Uint8Array, start: number, length: number): Uint8Array {
  return start === 0 && length === bytes.length ? bytes : bytes.subarray(start, start + length);
}

/**
 * `target[at, at + n) = src[srcStart, srcStart + n)`, without a view of `src` where `target`
 * has room around: `TypedArray.set` copies a whole array only, so `src` is laid over `target`
 * whole (its first byte at `at − srcStart`), and what it covers in front of `at` (bytes already
 * written: the previous fragment's end) is saved just behind it and put back, both within
 * `target` (`copyWithin`). What it writes behind `at + n` is room not yet written. A view
 * otherwise (a fragment at the start or end of a chunk, or into a message's exact buffer).
 */
function copyInto(target: Uint8Array, at: number, src: Uint8Array, srcStart: number, n: number): void {
  const origin = at - srcStart;
  const end = origin + src.length;
  if (origin >= 0 && end + srcStart <= target.length) {
    if (srcStart > 0) target.copyWithin(end, origin, at);
    target.set(src, origin);
    if (srcStart > 0) target.copyWithin(origin, end, end + srcStart);
    return;
  }
  target.set(viewOf(src, srcStart, n), at);
}

/**
 * `windowBytes` and `maxSlots` of a buffer that never limits by itself: its owner enforces a
 * credit of its own (the Receiver's connection-wide one, over every channel's buffer).
 */
export const NO_LIMIT = 2 ** 40;

export interface ReceiveBufferOptions {
  initialTsn: number;
  /** Bytes this side lets the peer make it hold (`receiveWindow`). */
  windowBytes: number;
  /** TSN credit beyond `cumTsn` never exceeds this (the `initialWindow` announced). */
  maxSlots: number;
  /**
   * Largest datagram this side accepts (it announced it; larger ones are dropped before they get
   * here): no fragment can keep more than this alive.
   */
  maxDatagramSize: number;
  /** Longest message accepted: an endless message must not grow memory without bound. */
  maxMessageSize: number;
  /** Receives the complete messages, with `channel`. */
  sink: MessageSink;
  /** The channel this buffer serves (passed to the sink). */
  channel: number;
}

/**
 * Receiver side of reliable data: reassembles fragments (identified by TSN) into messages,
 * suppresses duplicates and computes the flow-control credit (`maxTsn`), in bytes.
 *
 * - `cumTsn`: every TSN up to it has arrived.
 * - An in-order scan consumes fragments up to `cumTsn`: it copies the fragments of an unfinished
 *   message into chunks (so their datagrams can go) and delivers a message at its LAST fragment.
 * - An unordered message is delivered as soon as all its fragments are buffered.
 * - Bytes: `retained` counts every byte this buffer keeps alive (buffered fragments with their
 *   datagram buffers, see retention.ts; the unfinished message's chunks; delivered messages the
 *   application has not released), each with a per-object overhead.
 * - Credit: each TSN the peer may still send can add at most `slotCost` bytes (a datagram no
 *   larger than `maxDatagramSize`, plus overhead), so the peer may send TSNs up to
 *   `maxTsn = cumTsn + min(maxSlots, floor((windowBytes − retained) / slotCost))`, never
 *   lowered once advertised. While the unfinished message is all it holds, `grantSlack` more
 *   bytes are allowed, so that a message as large as the window completes whatever its fragment
 *   sizes. Whatever the peer sends within the credit, `retained` stays ≤ `retainedLimit`
 *   (`windowBytes + WINDOW_SLACK`); a stalled reader closes the window.
 */
export class ReceiveBuffer {
  cumTsn: number;
  maxTsn: number;
  /**
   * Highest TSN seen on this channel (initialTsn − 1 before the first): kept here for the
   * Receiver's connection-wide credit, which counts each channel's TSNs up to it.
   */
  highestTsn: number;
  /** Bytes kept alive by this buffer (see the class comment). */
  retained = 0;
  /** Part of `retained` held by delivered messages until `release()`. */
  held = 0;
  /** Bytes one TSN of credit may cost. */
  readonly slotCost: number;
  private readonly grantSlack: number;
  private readonly windowBytes: number;
  private readonly maxSlots: number;
  private readonly maxDatagramSize: number;
  private readonly maxMessageSize: number;
  private readonly sink: MessageSink;
  private readonly channel: number;
  private scanTsn: number;
  /** Fragments beyond the in-order scan; a shared empty map until the first one arrives. */
  private buffered: Map<number, BufferedFragment> = NO_FRAGMENTS;
  /** The unfinished message in TSN order: full chunks, then `tail` (`tailUsed` bytes written). */
  private chunks: Uint8Array[] = NO_CHUNKS;
  private tail: Uint8Array = EMPTY;
  private tailUsed = 0;
  private assembling = false;
  private currentBytes = 0;
  /** Bytes charged for the chunks of the unfinished message. */
  private currentCharge = 0;
  private currentUnordered = false;

  /** Set when the peer broke message framing; the connection must be closed. */
  malformed = false;

  constructor(o: ReceiveBufferOptions) {
    this.windowBytes = o.windowBytes;
    this.maxSlots = o.maxSlots;
    this.maxDatagramSize = o.maxDatagramSize;
    this.maxMessageSize = o.maxMessageSize;
    this.sink = o.sink;
    this.channel = o.channel;
    this.slotCost = o.maxDatagramSize + OBJECT_OVERHEAD;
    // Enough for one more fragment of a message as large as the window (liveness: a message up
    // to windowBytes always completes), while the total stays within WINDOW_SLACK.
    this.grantSlack = Math.max(WINDOW_SLACK - ASSEMBLY_CHUNK - OBJECT_OVERHEAD, ASSEMBLY_CHUNK + this.slotCost);
    this.cumTsn = o.initialTsn - 1;
    this.highestTsn = this.cumTsn;
    this.scanTsn = o.initialTsn;
    this.maxTsn = this.cumTsn + o.maxSlots;
    // `chunks` holds the shared empty array until the first multi-chunk message: mutable from the start.
    unpinFields(this, ['chunks']);
  }

  /** The TSN window announced (`initialWindow`): credit never reaches further past `cumTsn`. */
  get maxSlotsAnnounced(): number {
    return this.maxSlots;
  }

  /** Fragments buffered beyond `cumTsn` (for the window invariant). */
  get bufferedCount(): number {
    return this.buffered.size - (this.cumTsn + 1 - this.scanTsn);
  }

  /** The credit rule's extra room while an unfinished message is all that is held. */
  get slack(): number {
    return this.grantSlack;
  }

  /** An unfinished message is all this buffer holds (or nothing): the slack applies. */
  get onlyAssembling(): boolean {
    return this.retained === this.currentCharge && this.buffered.size === 0;
  }

  /** An unfinished message holds an assembly chunk here (its end not yet written). */
  get holdsChunk(): boolean {
    return this.tail !== EMPTY;
  }

  /** Bytes `retained` may reach at most. */
  get retainedLimit(): number {
    return this.windowBytes + this.grantSlack + ASSEMBLY_CHUNK + OBJECT_OVERHEAD;
  }

  /**
   * Accept fragment `tsn`: the `length` bytes of `bytes` from `start` (the datagram it came in,
   * or a payload of its own). A view of them is kept only if that costs little more than its
   * bytes (retention.ts), else a copy; one copied into the message being assembled needs no view.
   */
  accept(tsn: number, bytes: Uint8Array, start: number, length: number, first: boolean, last: boolean, unordered: boolean): AcceptResult {
    if (tsn <= this.cumTsn || this.buffered.has(tsn)) return 'duplicate';
    if (tsn > this.maxTsn) return 'beyond-window';
    if (tsn === this.scanTsn && tsn === this.cumTsn + 1 && this.buffered.size === 0) {
      // The common case, in order with nothing buffered: consume it at once (no map traffic).
      this.cumTsn = tsn;
      this.scanTsn = tsn + 1;
      this.consume(bytes, start, length, first, last, unordered);
      this.updateCredit();
      return this.malformed ? 'malformed' : 'new';
    }
    return this.acceptOutOfOrder(tsn, bytes, start, length, first, last, unordered);
  }

  /**
   * `accept` of a fragment that cannot be consumed at once (after a gap, or with fragments
   * buffered): kept in the map until the scan reaches it. Out of line, so that the in-order
   * case compiled (and inlined into the Receiver's `onData`) does not carry it (issue 11).
   */
  private acceptOutOfOrder(tsn: number, bytes: Uint8Array, start: number, length: number, first: boolean, last: boolean, unordered: boolean): AcceptResult {
    if (this.buffered === NO_FRAGMENTS) this.buffered = new Map();
    const kept = detach(viewOf(bytes, start, length), this.maxDatagramSize);
    const charge = chargeOf(kept);
    this.retained += charge;
    this.buffered.set(tsn, { payload: kept, charge, first, last, unordered, delivered: false });
    if (tsn === this.cumTsn + 1) {
      let next = tsn + 1;
      while (this.buffered.has(next)) next++;
      this.cumTsn = next - 1;
    }
    if (unordered && tsn > this.cumTsn) this.tryDeliverUnordered(tsn);
    this.scan();
    this.updateCredit();
    return this.malformed ? 'malformed' : 'new';
  }

  /** The application consumed a message that held `credit` bytes. */
  release(credit: number): void {
    const bytes = Math.min(credit, this.held);
    this.held -= bytes;
    this.retained -= bytes;
    this.updateCredit();
  }

  private updateCredit(): void {
    // Without a window of its own the rule cannot raise `maxTsn`: it starts at cumTsn + NO_LIMIT
    // and the rule gives at most cumTsn + (NO_LIMIT + slack) / slotCost. Skipped: the Receiver's
    // buffers never pay for it (and its doubles) per fragment (issue 11).
    if (this.windowBytes >= NO_LIMIT) return;
    // The slack is for one unfinished message alone (a message as large as the window must be
    // able to complete); anything else waits for the application to read.
    const limit = this.onlyAssembling ? this.windowBytes + this.grantSlack : this.windowBytes;
    const room = Math.floor((limit - this.retained) / this.slotCost);
    const credit = this.cumTsn + Math.max(0, Math.min(this.maxSlots, room));
    if (credit > this.maxTsn) this.maxTsn = credit;
  }

  /** Deliver the unordered message around `tsn` if every fragment of it is buffered. */
  private tryDeliverUnordered(tsn: number): void {
    const b = this.buffered;
    // Forward first: while fragments arrive in order this stops at once (the next is missing).
    let end = tsn;
    for (;;) {
      const f = b.get(end);
      if (f === undefined) return;
      if (f.last) break;
      end++;
    }
    let start = tsn;
    for (;;) {
      const f = b.get(start);
      // A missing or already scanned head: the in-order scan owns this message.
      if (f === undefined || start < this.scanTsn) return;
      if (f.first) break;
      start--;
    }
    let bytes = 0;
    let charge = 0;
    for (let t = start; t <= end; t++) {
      const f = b.get(t)!;
      bytes += f.payload.length;
      charge += f.charge;
    }
    if (bytes > this.maxMessageSize) {
      this.malformed = true;
      return;
    }
    const data = start === end ? b.get(start)!.payload : this.sink.allocate(bytes);
    let offset = 0;
    for (let t = start; t <= end; t++) {
      const f = b.get(t)!;
      if (start !== end) {
        data.set(f.payload, offset);
        offset += f.payload.length;
      }
      f.payload = EMPTY;
      f.charge = 0;
      f.delivered = true;
    }
    // The fragments' charges become the message's (less, when it was copied into one buffer).
    const credit = start === end ? charge : bytes + OBJECT_OVERHEAD;
    this.retained += credit - charge;
    this.held += credit;
    this.sink.deliver(data, 'unordered', this.channel, credit);
  }

  private scan(): void {
    const b = this.buffered;
    while (this.scanTsn <= this.cumTsn) {
      const tsn = this.scanTsn++;
      const f = b.get(tsn)!;
      b.delete(tsn);
      this.retained -= f.charge;
      if (!f.delivered) this.consume(f.payload, 0, f.payload.length, f.first, f.last, f.unordered);
    }
  }

  /**
   * The next fragment in TSN order (not charged: the caller released any charge it had): add it
   * to the message being assembled; deliver at its end.
   */
  private consume(bytes: Uint8Array, start: number, length: number, first: boolean, last: boolean, unordered: boolean): void {
    if (first === this.assembling) {
      // A FIRST inside an unfinished message, or a continuation with no message started.
      this.malformed = true;
      return;
    }
    if (first && last) {
      if (length > this.maxMessageSize) {
        this.malformed = true;
        return;
      }
      // A whole message in one fragment: no assembly, and no copy unless the view would keep
      // much more than its bytes alive. The view made here (viewOf's test written out: a
      // helper on the per-message path was compiled alone as well as inlined, issue 11).
      const view = start === 0 && length === bytes.length ? bytes : bytes.subarray(start, start + length);
      const kept = detach(view, this.maxDatagramSize);
      const credit = chargeOf(kept);
      this.retained += credit;
      this.held += credit;
      this.sink.deliver(kept, unordered ? 'unordered' : 'ordered', this.channel, credit);
      return;
    }
    if (first) {
      this.assembling = true;
      this.currentUnordered = unordered;
    }
    if (this.currentBytes + length > this.maxMessageSize) {
      // Without this bound a peer that never sends LAST would grow the message forever.
      this.malformed = true;
      this.resetAssembly();
      return;
    }
    if (last) {
      const data = this.sink.allocate(this.currentBytes + length);
      let offset = 0;
      for (const c of this.chunks) {
        data.set(c, offset);
        offset += c.length;
      }
      data.set(this.tail.subarray(0, this.tailUsed), offset);
      copyInto(data, offset + this.tailUsed, bytes, start, length);
      this.resetAssembly();
      const credit = data.length + OBJECT_OVERHEAD;
      this.retained += credit;
      this.held += credit;
      this.sink.deliver(data, this.currentUnordered ? 'unordered' : 'ordered', this.channel, credit);
      return;
    }
    this.append(bytes, start, length);
  }

  /** Copy a fragment of the unfinished message into its chunks. */
  private append(bytes: Uint8Array, start: number, length: number): void {
    let from = 0;
    while (from < length) {
      if (this.tailUsed === this.tail.length) {
        if (this.tail.length > 0) this.ensureChunks().push(this.tail);
        this.tail = chunkPool.pop() ?? new Uint8Array(ASSEMBLY_CHUNK);
        this.tailUsed = 0;
        // Charged by capacity; a chunk's object overhead is negligible beside its 16 KiB.
        this.currentCharge += ASSEMBLY_CHUNK;
        this.retained += ASSEMBLY_CHUNK;
      }
      const n = Math.min(length - from, this.tail.length - this.tailUsed);
      copyInto(this.tail, this.tailUsed, bytes, start + from, n);
      this.tailUsed += n;
      from += n;
    }
    this.currentBytes += length;
  }

  /** An empty fragment map or chunk list of its own (made by earlier traffic), which a quiet connection gives back. */
  get holdsIdleStorage(): boolean {
    return (this.buffered !== NO_FRAGMENTS && this.buffered.size === 0) || (this.chunks !== NO_CHUNKS && this.chunks.length === 0);
  }

  /**
   * A quiet connection (dormancy.ts `compactIdle`): an empty fragment map and chunk list go
   * back to the shared empty ones (the next out-of-order fragment or long message makes them again).
   */
  releaseIdleStorage(): void {
    if (this.buffered.size === 0) this.buffered = NO_FRAGMENTS;
    if (this.chunks.length === 0) this.chunks = NO_CHUNKS;
  }

  private ensureChunks(): Uint8Array[] {
    if (this.chunks === NO_CHUNKS) this.chunks = [];
    return this.chunks;
  }

  private resetAssembly(): void {
    this.retained -= this.currentCharge;
    this.currentCharge = 0;
    // Emptied by pop(): `length = 0` is a store to an accessor, in the runtime, once per message.
    const chunks = this.chunks;
    while (chunks.length > 0) {
      const c = chunks.pop()!;
      if (chunkPool.length < MAX_POOLED_CHUNKS) chunkPool.push(c);
    }
    if (this.tail.length === ASSEMBLY_CHUNK && chunkPool.length < MAX_POOLED_CHUNKS) chunkPool.push(this.tail);
    this.tail = EMPTY;
    this.tailUsed = 0;
    this.currentBytes = 0;
    this.assembling = false;
  }
}
