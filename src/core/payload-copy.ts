/**
 * Copying a fragment's bytes, a range of an application message, into the datagram being built,
 * without a view of the message per fragment (issue 11: a bulk sender made a ~96-byte
 * `subarray` per datagram, kept until the fragment was acknowledged). `TypedArray.set` copies a
 * whole array only, and `copyWithin` works within one buffer; so the message is staged:
 *
 * - a window of the message (up to {@link STAGE_SIZE} bytes from the fragment on: the message
 *   itself when it fits whole, else one view per window) is copied once into the stage buffer;
 * - each fragment of it is moved within the stage buffer (`copyWithin`) to the stage's exit, the
 *   region behind the window, and the exit's view of that length (kept, a few lengths) is `set`
 *   into the datagram.
 *
 * Three copies of the bytes instead of one (memcpy: tens of ns for a datagram), no allocation.
 * A message is staged from its second fragment cut in a row on (`owner`: its record), into one
 * of {@link SLOTS} windows, so up to that many messages interleaved (channels, connections)
 * each keep theirs; a message not staged and not cut in a row (more interleaved than that) gets
 * a view per fragment, as before, instead of restaging a window per fragment. A window is keyed
 * by its owner, the message being cut, and forgotten when the message is fully cut
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
/** Longest fragment that goes through the stage (longer ones get a view). */
const EXIT_SIZE = 4096;
/** Where the exit starts in the stage buffer (behind the slots). */
const EXIT = SLOTS * STAGE_SIZE;
/** Lengths of the exit's views kept (a bulk sender's full fragment, its last, window-filling ones). */
const MAX_EXIT_VIEWS = 8;

/** One staged window: `data[from, to)` of message `owner`, at `base` of the stage buffer. */
interface Slot {
  owner: object | null;
  data: Uint8Array | null;
  from: number;
  to: number;
  readonly base: number;
  /** Copy count when last used (least recently used is restaged). */
  used: number;
}

export class PayloadCopier {
  /** The slots' windows, then the exit. Made on first use. */
  private buffer: Uint8Array | null = null;
  private readonly slots: Slot[] = [];
  /** The owner of the previous copy: a message is staged from its second copy in a row on. */
  private previous: object | null = null;
  private copies = 0;
  private readonly exits: Uint8Array[] = [];
  private nextExit = 0;
  /** Windows staged and views made (tests, diagnostics). */
  staged = 0;
  views = 0;

  constructor() {
    for (let i = 0; i < SLOTS; i++) this.slots.push({ owner: null, data: null, from: 0, to: 0, base: i * STAGE_SIZE, used: 0 });
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
    if (owner === null || length > EXIT_SIZE) {
      this.copyByView(target, at, data, start, length);
      return;
    }
    let slot = this.slotOf(owner, data);
    if (slot === null && owner !== previous) {
      // A message not staged, and not cut in a row: a view (messages interleaved fragment by
      // fragment with more than SLOTS others never restage a window per fragment).
      this.copyByView(target, at, data, start, length);
      return;
    }
    if (slot === null || start < slot.from || start + length > slot.to) slot = this.stage(slot, owner, data, start);
    slot.used = ++this.copies;
    const buffer = this.buffer!;
    const from = slot.base + start - slot.from;
    buffer.copyWithin(EXIT, from, from + length);
    target.set(this.exit(buffer, length), at);
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
   * Stage `data[start, start + STAGE_SIZE)` (clipped to `data`; all of `data` when it fits) into
   * `slot`, or the least recently used one.
   */
  private stage(slot: Slot | null, owner: object, data: Uint8Array, start: number): Slot {
    const buffer = (this.buffer ??= new Uint8Array(EXIT + EXIT_SIZE));
    if (slot === null) {
      const slots = this.slots;
      slot = slots[0]!;
      for (let i = 1; i < slots.length; i++) if (slots[i]!.used < slot.used) slot = slots[i]!;
    }
    if (data.length <= STAGE_SIZE) {
      buffer.set(data, slot.base);
      slot.from = 0;
      slot.to = data.length;
    } else {
      const to = Math.min(data.length, start + STAGE_SIZE);
      buffer.set(data.subarray(start, to), slot.base);
      this.views++;
      slot.from = start;
      slot.to = to;
    }
    slot.owner = owner;
    slot.data = data;
    this.staged++;
    return slot;
  }

  /** The exit's view of `length` bytes: a kept one, else a new one kept in place of the oldest. */
  private exit(buffer: Uint8Array, length: number): Uint8Array {
    const exits = this.exits;
    for (let i = 0; i < exits.length; i++) if (exits[i]!.length === length) return exits[i]!;
    const view = buffer.subarray(EXIT, EXIT + length);
    if (exits.length < MAX_EXIT_VIEWS) exits.push(view);
    else exits[(this.nextExit = (this.nextExit + 1) % MAX_EXIT_VIEWS)] = view;
    return view;
  }
}

/** The copier all connections share. */
export const sharedPayloadCopier = new PayloadCopier();
