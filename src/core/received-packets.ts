import { unpinFields } from './mutable-fields.js';

/**
 * The set of packet numbers received, as at most `maxRanges` disjoint inclusive ranges, plus a
 * floor: every number at or below the floor counts as received. When a new range would exceed
 * the limit, the lowest range is folded into the floor. That keeps memory and ACK size bounded
 * and keeps duplicate detection exact: a packet is new only if it is above the floor and in no
 * range. (A late packet below the floor is dropped; its reliable data is retransmitted.)
 */
export class ReceivedPackets {
  /** Flat ascending pairs [lo0, hi0, lo1, hi1, ...]. */
  private ranges: number[] = [];
  private floor: number;
  /**
   * Ranges ending at or below this are no longer reported (`ignoreBelow`): the peer has seen an
   * ACK covering them. They still count for duplicate detection.
   */
  private reportFloor: number;

  constructor(
    /** Packets below this number were never sent. */
    firstPacketNumber: number,
    private readonly maxRanges = 32,
  ) {
    this.floor = firstPacketNumber - 1;
    this.reportFloor = this.floor;
    // First written when the peer acknowledges one of our ACKs: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['reportFloor']);
  }

  /**
   * RFC 9000 §13.2.4: the peer acknowledged a packet of ours whose ACK frame acknowledged up to
   * `pn`, so it knows about every packet number at or below it; ACK frames stop repeating those
   * ranges. (Without this, each gap a skipped packet number leaves, RFC 9000 §21.4, is reported
   * in every ACK for ever: 8 ranges in each ACK of a long ping-pong.)
   */
  ignoreBelow(pn: number): void {
    if (pn > this.reportFloor) this.reportFloor = pn;
  }

  get largest(): number {
    const n = this.ranges.length;
    return n === 0 ? this.floor : this.ranges[n - 1]!;
  }

  /** Packets in the highest range (the run ending at `largest`); 0 before any. */
  get lastRunLength(): number {
    const n = this.ranges.length;
    return n === 0 ? 0 : this.ranges[n - 1]! - this.ranges[n - 2]! + 1;
  }

  get rangeCount(): number {
    return this.ranges.length / 2;
  }

  has(pn: number): boolean {
    if (pn <= this.floor) return true;
    const r = this.ranges;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      if (pn > r[i + 1]!) return false;
      if (pn >= r[i]!) return true;
    }
    return false;
  }

  /**
   * Record `largest + 1`, which extends the highest range (there is one: `AckScheduler.isNext`
   * checked both), and return it: what `insert(largest + 1)` does in that case, without its
   * search (the receive path's header prediction).
   */
  extendTop(): number {
    const r = this.ranges;
    return ++r[r.length - 1]!;
  }

  /** Record `pn`; returns false if it was already received (a duplicate). */
  insert(pn: number): boolean {
    if (pn <= this.floor) return false;
    const r = this.ranges;
    // Find the last range whose low end is <= pn (scan from the top: new packets are usually there).
    let i = r.length - 2;
    while (i >= 0 && r[i]! > pn) i -= 2;
    if (i >= 0 && pn <= r[i + 1]!) return false;
    const joinsBelow = i >= 0 && r[i + 1]! === pn - 1;
    const above = i + 2;
    const joinsAbove = above < r.length && r[above]! === pn + 1;
    if (joinsBelow && joinsAbove) {
      r[i + 1] = r[above + 1]!;
      r.splice(above, 2);
      // Back to one range (the gap filled): an array of exactly two, not the grown one.
      if (r.length === 2) this.ranges = [r[0]!, r[1]!];
    } else if (r.length === 0) {
      // The first packet: an array of exactly two (an idle connection keeps it for life).
      this.ranges = [pn, pn];
    } else if (joinsBelow) {
      r[i + 1] = pn;
    } else if (joinsAbove) {
      r[above] = pn;
    } else {
      r.splice(above, 0, pn, pn);
      if (r.length / 2 > this.maxRanges) {
        this.floor = r[1]!;
        r.splice(0, 2);
      }
    }
    return true;
  }

  /**
   * The ranges for an ACK frame, highest first, as QUIC encodes them: `firstRange` and
   * flattened (gap, length) pairs. At most `limit` ranges are reported.
   */
  toAck(limit: number): { largest: number; firstRange: number; ranges: number[] } | null {
    const out = { largest: 0, firstRange: 0, ranges: [] as number[] };
    return this.fillAck(out, limit) ? out : null;
  }

  /** `toAck` into a record the caller owns (its `ranges` array is reused); false: nothing to acknowledge. */
  fillAck(out: { largest: number; firstRange: number; ranges: number[] }, limit: number): boolean {
    const r = this.ranges;
    const n = r.length;
    if (n === 0) return false;
    out.largest = r[n - 1]!;
    out.firstRange = out.largest - r[n - 2]!;
    const ranges = out.ranges;
    let k = 0;
    let smallest = r[n - 2]!;
    const reportFloor = this.reportFloor;
    for (let i = n - 4, count = 1; i >= 0 && count < limit; i -= 2, count++) {
      const hi = r[i + 1]!;
      if (hi <= reportFloor) break;
      const lo = r[i]!;
      ranges[k++] = smallest - hi - 2;
      ranges[k++] = hi - lo;
      smallest = lo;
    }
    if (ranges.length !== k) ranges.length = k;
    return true;
  }
}
