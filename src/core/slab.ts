/**
 * Datagrams are carved out of 64 KiB slabs instead of allocated one by one: an ArrayBuffer per
 * packet costs an allocation and a finalizer each, and dominates garbage collection at high
 * packet rates. A slab region is not reused while the datagram cut from it may still be read
 * (it may sit in the socket's send queue, or in a simulator's network); the slab is simply
 * replaced when full, and collected once every datagram cut from it is gone.
 *
 * Except the last datagram cut, once the shell says it is done with it (`release`): a
 * `dgram.Socket` that sent it at once (its send queue is empty after `send()`: the kernel copied
 * it) holds no reference to it. The next datagram is then written over the same region, and
 * when a datagram of its size was cut there before, handed out as that same view: a bulk sender
 * allocates neither a view nor a slab per packet.
 */
const SLAB_SIZE = 64 * 1024;
/** Sizes of datagram whose views are kept for the released region (see `views`). */
const MAX_VIEWS = 8;

/*
 * One allocator for every connection of the process: a connection that sends rarely must not
 * pin a slab of its own (10,000 idle connections would hold 640 MB).
 */

export class Slab {
  private buffer = new Uint8Array(SLAB_SIZE);
  private offset = 0;
  /** The last datagram cut (`cut`), its region starting at `lastStart` of `buffer`; null: none to reuse. */
  private last: Uint8Array | null = null;
  private lastStart = 0;
  /** The shell released `last`: its region (and the view itself, for the same size) may be reused. */
  private released = false;
  /**
   * Views cut at `viewsStart` of `viewsSlab` (at most MAX_VIEWS, one per size): a bulk sender's
   * full datagrams, its base-size sentinels and the ACK-only packets of a receiver in the same
   * process all reuse the one released region, each size with its own view.
   */
  private readonly views: Uint8Array[] = [];
  private viewsStart = -1;
  private viewsSlab: Uint8Array | null = null;
  private nextView = 0;

  /** A region of `max` bytes to write a datagram into; call `commit()` with the bytes used. */
  take(max: number): Uint8Array {
    this.forgetLast();
    if (this.offset + max > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(SLAB_SIZE, max));
      this.offset = 0;
    }
    return this.buffer.subarray(this.offset, this.offset + max);
  }

  /**
   * Like `take`, without a view: `max` bytes at the returned offset of `buffer` (read `buffer`
   * after calling this: a full slab is replaced). Call `cut()` for the datagram's view, then
   * `commit()` with the bytes used. Over the last datagram's region when it was released.
   */
  reserve(max: number): number {
    if (this.released) {
      // Nothing was cut after it (every cut is the new `last`): its region is the slab's end.
      this.released = false;
      if (this.lastStart + max <= this.buffer.length) this.offset = this.lastStart;
      else this.last = null;
    } else {
      this.last = null;
    }
    if (this.offset + max > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(SLAB_SIZE, max));
      this.offset = 0;
    }
    return this.offset;
  }

  /**
   * The datagram `buffer[start, start + size)` of the region `reserve` gave: a view cut at the
   * same place of the same slab before, when there is one of this size (the region was released
   * and is being reused: a datagram of a size seen there recently), else a new view.
   */
  cut(start: number, size: number): Uint8Array {
    const views = this.views;
    if (start !== this.viewsStart || this.viewsSlab !== this.buffer) {
      views.length = 0;
      this.viewsStart = start;
      this.viewsSlab = this.buffer;
    }
    let view: Uint8Array | null = null;
    for (let i = 0; i < views.length; i++) {
      if (views[i]!.length === size) {
        view = views[i]!;
        break;
      }
    }
    if (view === null) {
      view = this.buffer.subarray(start, start + size);
      // Kept beside the others while there is room, else over the next slot in turn: one store
      // for both, its slot computed for every new view. The first time a region sees a ninth
      // size after this was compiled (sporadic in a bulk transfer) then finds it with type
      // feedback instead of deoptimising `cut` and the packet builder it is inlined into.
      const full = views.length >= MAX_VIEWS;
      const next = (this.nextView + 1) % MAX_VIEWS;
      this.nextView = full ? next : this.nextView;
      views[full ? next : views.length] = view;
    }
    this.last = view;
    this.lastStart = start;
    return view;
  }

  /**
   * The shell is done with `datagram` (the kernel has a copy; nothing else refers to it): if it
   * is the last one cut, the next datagram may be written over it. Any other buffer: ignored.
   */
  release(datagram: Uint8Array): void {
    if (datagram === this.last) this.released = true;
  }

  /** The slab regions are cut from. */
  get current(): Uint8Array {
    return this.buffer;
  }

  /** The last region taken used `used` bytes: the rest stays available. */
  commit(used: number): void {
    // Keep datagrams 8-byte aligned: cheaper copies in the kernel and in zlib.
    this.offset += (used + 7) & ~7;
  }

  private forgetLast(): void {
    this.last = null;
    this.released = false;
  }
}

/** The allocator all connections share. */
export const sharedSlab = new Slab();
