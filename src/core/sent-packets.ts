import { emptyHoleyArray } from './deque.js';
import { unpinFields } from './mutable-fields.js';

/** A fragment of a reliable message, kept by the sender until acknowledged. */
export interface SentFragment {
  tsn: number;
  /**
   * The bytes it carries are `data[start, start + length)`: `data` is the message's buffer (a
   * range, not a view of it per fragment kept until the ACK).
   */
  data: Uint8Array;
  start: number;
  length: number;
  /** DataFlag bits (FIRST, LAST, UNORDERED). */
  flags: number;
  acked: boolean;
  /** Packet number of the latest transmission, to ignore losses of older copies. */
  lastPn: number;
  /** Waiting in the retransmission queue. */
  queued: boolean;
  /** Channel (0–255): its own TSN space and retransmission queue. */
  channel: number;
  /**
   * The message this fragment belongs to (receipts and flush()). For an UNRELIABLE fragment
   * tracked for a receipt, `flags` has {@link UNRELIABLE_RECEIPT}: it is never resent.
   */
  message: MessageRecord | null;
  /**
   * Set on a piece of a fragment resent in DATA_PART frames (the path MTU fell below what the
   * fragment was cut for): the whole fragment. `data[start, start + length)` is then the piece,
   * at `offset` of the whole.
   */
  whole: SentFragment | null;
  offset: number;
  /** On a fragment resent in pieces: pieces not yet acknowledged (0: not in pieces). */
  partsLeft: number;
  /**
   * Some other holder than the record of the one packet that first carried it may refer to it:
   * a retransmission or DATA_PART queue, the redundant copies, a piece (`whole`), a second
   * packet. Set by {@link pinFragment} before any of them takes it. An unpinned fragment is
   * carried by exactly one packet, ever: once that packet's record lets go of it acknowledged,
   * nothing refers to it and it is recycled ({@link clearFragments}).
   */
  pinned: boolean;
}

/**
 * Fragments nothing refers to any more (acknowledged, carried by one packet only, whose record
 * let go of them), for the next fragments cut (any connection's): a bulk sender allocates no
 * fragment record per packet. Each slot holds no payload or message (nothing kept alive).
 */
const fragmentPool: SentFragment[] = [];
/** What a pooled fragment holds instead of its payload. */
const NO_PAYLOAD = new Uint8Array(0);
/** Beyond this, freed fragments are left to the GC (a burst's worth; the steady state reuses a few). */
const FRAGMENT_POOL_MAX = 1024;

/**
 * A new fragment record. Every site that makes one goes through here, so that V8 sees one shape
 * (hidden class) for all of them.
 */
export function newFragment(
  tsn: number,
  data: Uint8Array,
  start: number,
  length: number,
  flags: number,
  lastPn: number,
  queued: boolean,
  channel: number,
  message: MessageRecord | null,
  whole: SentFragment | null,
  offset: number,
): SentFragment {
  const f = fragmentPool.pop();
  if (f === undefined) {
    return { tsn, data, start, length, flags, acked: false, lastPn, queued, channel, message, whole, offset, partsLeft: 0, pinned: queued || whole !== null };
  }
  // A recycled record: every field written, in the literal's order.
  f.tsn = tsn;
  f.data = data;
  f.start = start;
  f.length = length;
  f.flags = flags;
  f.acked = false;
  f.lastPn = lastPn;
  f.queued = queued;
  f.channel = channel;
  f.message = message;
  f.whole = whole;
  f.offset = offset;
  f.partsLeft = 0;
  f.pinned = queued || whole !== null;
  return f;
}

/** Another holder than its first packet's record is about to refer to `f`: it is never recycled. */
export function pinFragment(f: SentFragment): void {
  f.pinned = true;
}

/** Fragment records recycled so far, process-wide, modulo 2^30 (a small integer: no heap number per count). */
let recycled = 0;
export function recycledFragments(): number {
  return recycled;
}

// A fragment's retransmission state is written only when it is lost (or resent in pieces), and
// a recycled record has every field written again: mutable in the shape from the start, so that
// neither the first loss or PTO nor the first recycled fragment deoptimises anything that reads
// them (mutable-fields.ts). Once per shape, here.
unpinFields(newFragment(0, new Uint8Array(0), 0, 0, 0, 0, false, 0, null, null, 0), [
  'tsn',
  'data',
  'start',
  'length',
  'flags',
  'acked',
  'lastPn',
  'queued',
  'channel',
  'message',
  'whole',
  'offset',
  'partsLeft',
  'pinned',
]);

/**
 * A fragment that is never acknowledged, never queued and never written: what a scan of a
 * retransmission queue reads when the queue is empty (SendScheduler.ready), so that the scan's
 * checks always run on a fragment's shape. Nothing may modify it (not frozen: a frozen object
 * has a shape of its own, which is what this is here to avoid).
 */
export const NO_FRAGMENT: SentFragment = newFragment(-1, new Uint8Array(0), 0, 0, 0, -1, false, 0, null, null, 0);
NO_FRAGMENT.pinned = true;

/** Not a wire bit: marks an unreliable fragment tracked only for its message's receipt. */
export const UNRELIABLE_RECEIPT = 0x100;

/** What the sender remembers of one message until it is settled (acknowledged or dropped). */
export interface MessageRecord {
  /** Caller's receipt id, or 0 when nobody waits for this message. */
  receipt: number;
  /** Fragments sent and not yet acknowledged. */
  unacked: number;
  /** Every fragment has been cut (sent once). */
  cut: boolean;
  /** Acknowledged (or, unreliable only, dropped). */
  settled: boolean;
}

export const enum PacketState {
  Outstanding = 0,
  Acked = 1,
  Lost = 2,
}

export interface SentPacket {
  pn: number;
  sentAt: number;
  size: number;
  ackEliciting: boolean;
  inFlight: boolean;
  state: PacketState;
  /**
   * The fragments it carried: `fragments[0 … fragmentCount)`. The array belongs to the record and
   * is reused with it (a pooled record allocates nothing per packet); slots past the count hold
   * NO_FRAGMENT, so a recycled record keeps no payload alive.
   */
  fragments: SentFragment[];
  fragmentCount: number;
  close: boolean;
  /** Was part of the data in this packet a retransmission? */
  retransmission: boolean;
  /**
   * A path-MTU probe's size (0: not a probe). Its loss is reported to path-MTU discovery, not to
   * congestion control; `size` is then what it counts in flight (see LossRecovery.probeAllowed).
   */
  mtuProbe: number;
  // Delivery-rate bookkeeping (draft-cheng-iccrg-delivery-rate-estimation §3.2), kept on the
  // packet record itself so that sampling allocates nothing.
  /** Connection's `delivered` when this packet was sent. */
  delivered: number;
  /** Connection's `deliveredTime` when this packet was sent. */
  deliveredTime: number;
  /** Send time of the first packet of the flight this one belongs to. */
  firstSentTime: number;
  /** Sent while the application was not keeping the pipe full. */
  appLimited: boolean;
}

/** Records of packets that left the history, for the next packets sent (any connection's). */
const pool: SentPacket[] = [];
/** Enough for several full congestion windows; beyond it records are left to the GC. */
const POOL_MAX = 4096;

function recycle(p: SentPacket): void {
  clearFragments(p);
  if (pool.length < POOL_MAX) pool.push(p);
}

/**
 * The record carries no fragments any more (their slots released, the array kept). A fragment
 * it held that is acknowledged and unpinned had no other holder: it goes back to the pool.
 */
export function clearFragments(p: SentPacket): void {
  const list = p.fragments;
  for (let i = 0; i < p.fragmentCount; i++) {
    const f = list[i]!;
    list[i] = NO_FRAGMENT;
    if (f.acked && !f.pinned) recycleFragment(f);
  }
  p.fragmentCount = 0;
}

function recycleFragment(f: SentFragment): void {
  // Pinned from now on, so that a second release of the same record (a bug) cannot pool it twice.
  f.pinned = true;
  if (fragmentPool.length >= FRAGMENT_POOL_MAX) return;
  recycled = (recycled + 1) & 0x3fffffff;
  f.data = NO_PAYLOAD;
  f.message = null;
  f.whole = null;
  fragmentPool.push(f);
}

/**
 * Copy `count` fragments from `from` into the record (its own array grows only when it must).
 * A fragment already carried by an earlier packet (a retransmission, a copy) is pinned before it
 * gets here (send-scheduler.ts); the record must be empty (a new or recycled one).
 */
export function setFragments(p: SentPacket, from: readonly SentFragment[], count: number): void {
  if (p.fragmentCount !== 0) clearFragments(p);
  const list = p.fragments;
  for (let i = 0; i < count; i++) list[i] = from[i]!;
  p.fragmentCount = count;
}

/** A packet record to fill in: a recycled one when there is one (no allocation per packet sent). */
export function newSentPacket(): SentPacket {
  return (
    pool.pop() ?? {
      pn: 0,
      sentAt: 0,
      size: 0,
      ackEliciting: true,
      inFlight: true,
      state: PacketState.Outstanding,
      // Created holding a stand-in, so the array has the elements kind it will have with
      // fragments in it (an empty literal has another: a fresh record deoptimised setFragments).
      fragments: [NO_FRAGMENT],
      fragmentCount: 0,
      close: false,
      retransmission: false,
      delivered: 0,
      deliveredTime: 0,
      firstSentTime: 0,
      appLimited: false,
      mtuProbe: 0,
    }
  );
}

/**
 * The storage of every history before its first packet (never written: `grow()` replaces it).
 * Made with the elements kind grown storage has (holey, objects: `new Array(n)` then filled), so
 * that going back to it after a burst (`trim`) is not a new map for the compiled `onAck`/`build`
 * (a "wrong map" deoptimisation at the end of every bulk transfer).
 */
const NO_SLOTS: (SentPacket | null)[] = emptyHoleyArray();
/**
 * First storage: a request/response flow rarely has more packets outstanding than this; the
 * ring doubles when a flow needs more, once (idle connections stay small).
 */
const FIRST_CAPACITY = 2;
/** Storage grown past this for a burst is dropped once the burst is fully acknowledged or lost. */
const KEEP_CAPACITY = 64;

/**
 * Sent packets awaiting an ACK or a loss verdict, in packet-number order (quic-go's
 * `sent_packet_history`). A ring indexed by packet number (power-of-two capacity, grown by
 * doubling): packets leave from the front once they are acknowledged or lost; skipped numbers
 * and ACK-only packets occupy no slot beyond a null. No storage until the first packet, and
 * storage grown for a burst is dropped once nothing is outstanding (idle connections stay small).
 */
export class SentPackets {
  private slots: (SentPacket | null)[] = NO_SLOTS;
  /** Ring index of the slot of `base`. */
  private head = 0;
  /** Slots in use: packet numbers base … base + count − 1. */
  private count = 0;
  /** Packet number of slots[head]. */
  private base: number;
  /** Ack-eliciting packets not yet acked or lost. */
  ackElicitingOutstanding = 0;

  constructor(firstPacketNumber: number) {
    this.base = firstPacketNumber;
    // `slots` holds the shared empty storage until the first packet: mutable from the start.
    unpinFields(this, ['slots']);
  }

  push(pn: number, packet: SentPacket | null): void {
    // Numbers arrive strictly increasing; gaps (skipped numbers) become null slots.
    const index = pn - this.base;
    if (index >= this.slots.length) this.grow(index + 1);
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = this.count; i < index; i++) s[(this.head + i) & mask] = null;
    s[(this.head + index) & mask] = packet;
    this.count = index + 1;
    if (packet?.ackEliciting) this.ackElicitingOutstanding++;
  }

  get(pn: number): SentPacket | null {
    const i = pn - this.base;
    if (i < 0 || i >= this.count) return null;
    const s = this.slots;
    return s[(this.head + i) & (s.length - 1)] ?? null;
  }

  /** Lowest packet number still tracked. */
  get first(): number {
    return this.base;
  }

  /** One past the highest packet number tracked. */
  get end(): number {
    return this.base + this.count;
  }

  markDone(packet: SentPacket, state: PacketState): void {
    packet.state = state;
    if (packet.ackEliciting) this.ackElicitingOutstanding--;
  }

  /**
   * Drop finished packets from the front (their records go back to the pool: nothing refers to
   * a packet once it left the history).
   */
  trim(): void {
    const s = this.slots;
    const mask = s.length - 1;
    while (this.count > 0) {
      const p = s[this.head];
      if (p !== null && p !== undefined && p.state === PacketState.Outstanding) break;
      if (p) recycle(p);
      s[this.head] = null;
      this.head = (this.head + 1) & mask;
      this.base++;
      this.count--;
    }
    // Nothing outstanding after a burst (a flight fully acknowledged): give the grown storage
    // back (small ones are kept: a request/response flow would otherwise allocate one per
    // round trip). The size test and the two stores run on every call, not only once the
    // history is empty: a bulk sender whose whole flight is acknowledged mid-transfer (the
    // application late with its next write) then finds them compiled, instead of deoptimising
    // `trim` and the ACK path it is inlined into (LossRecovery.onAck, detectLosses) and
    // compiling them again (issue 11, the warm-up).
    const grown = s.length > KEEP_CAPACITY;
    const release = this.count === 0 && grown;
    this.slots = release ? NO_SLOTS : s;
    this.head = release ? 0 : this.head;
  }

  /**
   * Drop the acknowledged packets from the front, stopping at the first outstanding or lost one
   * (a lost packet stays for loss detection's persistent-congestion run, which `trim` after it
   * then drops). An ACK in order acknowledges the whole front: loss detection, run next, then
   * starts at the first packet it can act on instead of walking the ones just acknowledged
   * (one record per datagram, every ACK: issue 11, the sender's per-packet work).
   */
  dropAcked(): void {
    const s = this.slots;
    const mask = s.length - 1;
    while (this.count > 0) {
      const p = s[this.head];
      if (p !== null && p !== undefined && p.state !== PacketState.Acked) break;
      if (p) recycle(p);
      s[this.head] = null;
      this.head = (this.head + 1) & mask;
      this.base++;
      this.count--;
    }
  }

  /** Slots of storage of its own (0: none yet, or given back). */
  get allocated(): number {
    return this.slots.length;
  }

  /** Nothing tracked: give the storage back (a connection gone quiet; the next packet allocates it again). */
  releaseIfEmpty(): void {
    if (this.count === 0 && this.slots.length > 0) {
      this.slots = NO_SLOTS;
      this.head = 0;
    }
  }

  /** The oldest outstanding ack-eliciting packet. */
  oldestAckEliciting(): SentPacket | null {
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = 0; i < this.count; i++) {
      const p = s[(this.head + i) & mask];
      if (p && p.state === PacketState.Outstanding && p.ackEliciting) return p;
    }
    return null;
  }

  /** Room for `needed` slots from `head`: the next power of two, the live slots moved to the front. */
  private grow(needed: number): void {
    const old = this.slots;
    let capacity = Math.max(old.length * 2, FIRST_CAPACITY);
    while (capacity < needed) capacity *= 2;
    const next = new Array<SentPacket | null>(capacity);
    const mask = old.length - 1;
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & mask]!;
    for (let i = this.count; i < capacity; i++) next[i] = null;
    this.slots = next;
    this.head = 0;
  }
}

/**
 * The owner of what packets carry (the send scheduler), told what became of a packet's content
 * by loss recovery: acknowledged, declared lost, or to be sent again as a PTO probe.
 */
export interface SentContent {
  /** The packet was acknowledged (or an ACK arrived for it after it was declared lost). */
  onAcked(packet: SentPacket): void;
  /** The packet was declared lost: queue what it carried again. */
  onLost(packet: SentPacket): void;
  /** A PTO fired with this packet the oldest outstanding: resend its content as a probe. */
  onProbe(packet: SentPacket): void;
  /** Many packets were declared lost at once, out of send order: resend the oldest data first. */
  sortRetransmissions(): void;
}
