/**
 * Datagrams are carved out of 64 KiB slabs instead of allocated one by one: an ArrayBuffer per
 * packet costs an allocation and a finalizer each, and dominates garbage collection at high
 * packet rates. A slab region is never reused (the datagram handed out may still sit in the
 * socket's send queue); the slab is simply replaced when full, and collected once every
 * datagram cut from it is gone.
 */
const SLAB_SIZE = 64 * 1024;

/*
 * One allocator for every connection of the process: a connection that sends rarely must not
 * pin a slab of its own (10,000 idle connections would hold 640 MB).
 */

export class Slab {
  private buffer = new Uint8Array(SLAB_SIZE);
  private offset = 0;

  /** A region of `max` bytes to write a datagram into; call `commit()` with the bytes used. */
  take(max: number): Uint8Array {
    if (this.offset + max > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(SLAB_SIZE, max));
      this.offset = 0;
    }
    return this.buffer.subarray(this.offset, this.offset + max);
  }

  /**
   * Like `take`, without a view: `max` bytes at the returned offset of `buffer` (read `buffer`
   * after calling this: a full slab is replaced). Call `commit()` with the bytes used.
   */
  reserve(max: number): number {
    if (this.offset + max > this.buffer.length) {
      this.buffer = new Uint8Array(Math.max(SLAB_SIZE, max));
      this.offset = 0;
    }
    return this.offset;
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
}

/** The allocator all connections share. */
export const sharedSlab = new Slab();
