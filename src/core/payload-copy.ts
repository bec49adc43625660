/**
 * Copying a fragment's bytes, a range of an application message, into the datagram being built,
 * without a view of the message per fragment (issue 11: a bulk sender made a ~96-byte
 * `subarray` per datagram, kept until the fragment was acknowledged). `TypedArray.set` copies a
 * whole array only, so the message is staged, and the views are of the stage:
 *
 * - a window of the message, up to {@link STAGE_SIZE} bytes from the fragment on, is copied
 *   once into a slot of the stage buffer (no view of the message when that is all of it, else
 *   one per window);
 * - each fragment is `set` into the datagram from a view of the slot at the fragment's place.
 *   Those views are kept, by place and length: a window starts at a fragment and fragments are
 *   cut at multiples of the fragment size after it, the same places message after message. A
 *   cut of another size (a base-size sentinel, the end of a message, a packet with less room)
 *   shifts the places after it: the window is staged again from that fragment on, so the places
 *   are the usual ones again. A bulk sender's views are made during its first messages.
 *
 * Two copies of the bytes instead of one (`set`, a memcpy: tens of ns for a datagram), no
 * allocation. A message is staged from its second fragment cut in a row on (`owner`: its
 * record; or at its first when the message before was fully cut), into one of {@link SLOTS}
 * slots, so up to that many messages interleaved (channels, connections) each keep theirs; a
 * message not staged and not cut in a row (more interleaved than that) gets a view of its own
 * per fragment, as before, instead of restaging a window per fragment. A window is keyed by its
 * owner, the message being cut, and forgotten when the message is fully cut
 * ({@link PayloadCopier.forget}): a buffer the application fills again for a later message is
 * never read from an old window.
 *
 * One copier for every connection of the process (like the slab): single-threaded, and the stage
 * is only read inside `copy()`.
 */

/** Bytes of a message staged at once, per slot. */
export const STAGE_SIZE = 64 * 1024;
/** Messages staged at once (channels or connections whose fragments interleave): least recently used goes. */
const SLOTS = 4;
/** Views kept per slot (places × lengths); beyond that the slot's views are dropped and made again. */
const MAX_SLOT_VIEWS = 256;
/** A view's key: place × LENGTH_KEYS + length % LENGTH_KEYS (a small integer; a collision is a miss). */
const LENGTH_KEYS = 2048;

/** One staged window: `data[from, to)` of message `owner`, at `base` of the stage buffer. */
interface Slot {
  owner: object | null;
  data: Uint8Array | null;
  from: number;
  to: number;
  readonly base: number;
  /** Copy count when last used (least recently used is restaged). */
  used: number;
  /** Views of the slot by place in the window (`start - from`) and length (see LENGTH_KEYS). */
  readonly views: Map<number, Uint8Array>;
}

export class PayloadCopier {
  /** The slots' windows. Made on first use. */
  private buffer: Uint8Array | null = null;
  private readonly slots: Slot[] = [];
  /** The owner of the previous copy: a message is staged from its second copy in a row on. */
  private previous: object | null = null;
  private copies = 0;
  /** Windows staged and views made (tests, diagnostics). */
  staged = 0;
  views = 0;

  constructor() {
    for (let i = 0; i < SLOTS; i++) this.slots.push({ owner: null, data: null, from: 0, to: 0, base: i * STAGE_SIZE, used: 0, views: new Map() });
  }

  /**
   * `target[at, at + length) = data[start, start + length)`. `owner`: the message record the
   * bytes belong to (a new message is a new owner), or null (never staged: a retransmission).
   */
  copy(target: Uint8Array, at: number, owner: object | null, data: Uint8Array, start: number, length: number): void {
    if (start === 0 && length === data.length) {
      target.set(data, at);
      return;
    }
    const previous = this.previous;
    this.previous = owner;
    if (owner === null) {
      this.copyByView(target, at, data, start, length);
      return;
    }
    let slot = this.slotOf(owner, data);
    if (slot === null && owner !== previous && previous !== null) {
      // A message not staged, cut right after another's fragment: a view (messages interleaved
      // fragment by fragment with more than SLOTS others never restage a window per fragment).
      this.copyByView(target, at, data, start, length);
      return;
    }
    if (slot === null || start < slot.from || start + length > slot.to) slot = this.stage(slot, owner, data, start);
    slot.used = ++this.copies;
    let place = start - slot.from;
    if (place % length !== 0) {
      // Not a usual place (a shorter cut before it in this window): the window from here on.
      this.stage(slot, owner, data, start);
      place = 0;
    }
    const key = place * LENGTH_KEYS + (length % LENGTH_KEYS);
    let view = slot.views.get(key);
    if (view === undefined || view.length !== length) {
      if (slot.views.size >= MAX_SLOT_VIEWS) slot.views.clear();
      view = this.buffer!.subarray(slot.base + place, slot.base + place + length);
      slot.views.set(key, view);
      this.views++;
    }
    target.set(view, at);
  }

  /** `owner` is fully cut (or gone): its window is not read again. */
  forget(owner: object): void {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (slot.owner === owner) {
        slot.owner = null;
        slot.data = null;
      }
    }
    if (this.previous === owner) this.previous = null;
  }

  private slotOf(owner: object, data: Uint8Array): Slot | null {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (slot.owner === owner && slot.data === data) return slot;
    }
    return null;
  }

  private copyByView(target: Uint8Array, at: number, data: Uint8Array, start: number, length: number): void {
    this.views++;
    target.set(data.subarray(start, start + length), at);
  }

  /**
   * Stage `data[start, start + STAGE_SIZE)` (clipped to `data`) into `slot`, or else a free slot
   * (the one used last: its views are likeliest to fit), or else the least recently used one.
   */
  private stage(slot: Slot | null, owner: object, data: Uint8Array, start: number): Slot {
    const buffer = (this.buffer ??= new Uint8Array(SLOTS * STAGE_SIZE));
    if (slot === null) {
      const slots = this.slots;
      let free: Slot | null = null;
      let oldest = slots[0]!;
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        if (s.owner === null && (free === null || s.used > free.used)) free = s;
        if (s.used < oldest.used) oldest = s;
      }
      slot = free ?? oldest;
    }
    const to = Math.min(data.length, start + STAGE_SIZE);
    if (start === 0 && to === data.length) buffer.set(data, slot.base);
    else {
      buffer.set(data.subarray(start, to), slot.base);
      this.views++;
    }
    slot.from = start;
    slot.to = to;
    slot.owner = owner;
    slot.data = data;
    this.staged++;
    return slot;
  }
}

/** The copier all connections share. */
export const sharedPayloadCopier = new PayloadCopier();
