import { chargeOf, detach, OBJECT_OVERHEAD } from './retention.js';

interface Partial {
  count: number;
  /** Fragments by index: stored sparsely, so a claimed count costs nothing until data arrives. */
  parts: Map<number, Uint8Array>;
  bytes: number;
  /** Bytes charged for `parts` (their buffers, see retention.ts). */
  charge: number;
}

/**
 * Reassembles fragmented unreliable messages. Nothing is retransmitted, so a message with a
 * lost fragment never completes: at most `maxPartial` messages are kept, and at most
 * `maxBytes()` bytes (what the fragments keep alive, datagram buffers included: a small fragment
 * of a large datagram is copied out), the oldest dropped first (and counted). Duplicates cannot
 * reach this point because duplicate packet numbers are discarded before frames are read.
 *
 * The fragment count comes from the peer: it is checked against the byte limit and never used
 * to size an allocation (a hostile count of 2^20 would otherwise cost an array per frame).
 */
export class UnreliableReassembly {
  private readonly partial = new Map<number, Partial>();
  /** Bytes charged for every partial message. */
  retained = 0;
  dropped = 0;

  constructor(
    /** The byte limit now (it may shrink while delivered unreliable messages wait to be read). */
    private readonly maxBytes: () => number,
    /** Largest datagram this side accepts: no fragment may keep more alive. */
    private readonly maxDatagramSize: number,
    private readonly maxPartial = 8,
  ) {}

  /** Returns the whole message when this fragment completes it. */
  add(messageId: number, index: number, count: number, payload: Uint8Array): Uint8Array | null {
    const limit = this.maxBytes();
    // Every fragment but the last carries at least one byte: more fragments than bytes allowed
    // cannot make an acceptable message.
    if (count > limit + 1) {
      this.dropped++;
      return null;
    }
    let p = this.partial.get(messageId);
    if (p === undefined) {
      p = { count, parts: new Map(), bytes: 0, charge: 0 };
      this.partial.set(messageId, p);
    }
    if (p.count !== count || p.parts.has(index)) return null;
    const kept = detach(payload, this.maxDatagramSize);
    const charge = chargeOf(kept);
    p.parts.set(index, kept);
    p.bytes += kept.length;
    p.charge += charge;
    this.retained += charge;
    if (p.parts.size === count) {
      this.remove(messageId, p);
      const data = new Uint8Array(p.bytes);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const part = p.parts.get(i)!;
        data.set(part, offset);
        offset += part.length;
      }
      return data;
    }
    this.evict(limit);
    return null;
  }

  /** What a message returned by `add()` is charged once delivered. */
  static chargeOfMessage(data: Uint8Array): number {
    return data.length + OBJECT_OVERHEAD;
  }

  private remove(messageId: number, p: Partial): void {
    this.partial.delete(messageId);
    this.retained -= p.charge;
  }

  private evict(limit: number): void {
    while (this.partial.size > this.maxPartial || this.retained > limit) {
      // Maps iterate in insertion order: the first key is the oldest message.
      const oldest = this.partial.keys().next().value as number;
      const p = this.partial.get(oldest)!;
      this.remove(oldest, p);
      this.dropped++;
    }
  }
}
