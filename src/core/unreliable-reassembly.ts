interface Partial {
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
}

/**
 * Reassembles fragmented unreliable messages. Nothing is retransmitted, so a message with a
 * lost fragment never completes: at most `maxPartial` messages and `maxBytes` bytes are kept,
 * the oldest dropped first (and counted). Duplicates cannot reach this point because duplicate
 * packet numbers are discarded before frames are read.
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
    let p = this.partial.get(messageId);
    if (p === undefined) {
      if (count > 0x10_0000) return null;
      p = { parts: new Array<Uint8Array | undefined>(count), received: 0, bytes: 0 };
      this.partial.set(messageId, p);
    }
    if (p.parts.length !== count || p.parts[index] !== undefined) return null;
    p.parts[index] = payload;
    p.received++;
    p.bytes += payload.length;
    this.bytes += payload.length;
    if (p.received === count) {
      this.partial.delete(messageId);
      this.bytes -= p.bytes;
      const data = new Uint8Array(p.bytes);
      let offset = 0;
      for (const part of p.parts) {
        data.set(part!, offset);
        offset += part!.length;
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
      if (oldest === keep && this.partial.size === 1) {
        if (this.bytes <= this.maxBytes) return;
      }
      const p = this.partial.get(oldest)!;
      this.partial.delete(oldest);
      this.bytes -= p.bytes;
      this.dropped++;
    }
  }
}
