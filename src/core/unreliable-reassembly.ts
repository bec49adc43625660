interface Partial {
  count: number;
  /** Fragments by index: stored sparsely, so a claimed count costs nothing until data arrives. */
  parts: Map<number, Uint8Array>;
  bytes: number;
}

/**
 * Reassembles fragmented unreliable messages. Nothing is retransmitted, so a message with a
 * lost fragment never completes: at most `maxPartial` messages and `maxBytes` bytes are kept,
 * the oldest dropped first (and counted). Duplicates cannot reach this point because duplicate
 * packet numbers are discarded before frames are read.
 *
 * The fragment count comes from the peer: it is checked against `maxBytes` and never used to
 * size an allocation (a hostile count of 2^20 would otherwise cost an array per frame).
 */
export class UnreliableReassembly {
  private readonly partial = new Map<number, Partial>();
  private bytes = 0;
  dropped = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxPartial = 8,
  ) {}

  /** Returns the whole message when this fragment completes it. */
  add(messageId: number, index: number, count: number, payload: Uint8Array): Uint8Array | null {
    if (count === 1) return payload;
    // Every fragment but the last carries at least one byte: more fragments than bytes allowed
    // cannot make an acceptable message.
    if (count > this.maxBytes + 1) {
      this.dropped++;
      return null;
    }
    let p = this.partial.get(messageId);
    if (p === undefined) {
      p = { count, parts: new Map(), bytes: 0 };
      this.partial.set(messageId, p);
    }
    if (p.count !== count || p.parts.has(index)) return null;
    p.parts.set(index, payload);
    p.bytes += payload.length;
    this.bytes += payload.length;
    if (p.parts.size === count) {
      this.partial.delete(messageId);
      this.bytes -= p.bytes;
      const data = new Uint8Array(p.bytes);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const part = p.parts.get(i)!;
        data.set(part, offset);
        offset += part.length;
      }
      return data;
    }
    this.evict(messageId);
    return null;
  }

  private evict(keep: number): void {
    while (this.partial.size > this.maxPartial || this.bytes > this.maxBytes) {
      // Maps iterate in insertion order: the first key is the oldest message.
      const oldest = this.partial.keys().next().value as number;
      if (oldest === keep && this.partial.size === 1 && this.bytes <= this.maxBytes) return;
      const p = this.partial.get(oldest)!;
      this.partial.delete(oldest);
      this.bytes -= p.bytes;
      this.dropped++;
    }
  }
}
