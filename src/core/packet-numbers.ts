import { unpinFields } from './mutable-fields.js';
import type { SentPackets } from './sent-packets.js';

/** Packet-number skipping (RFC 9000 §21.4): the gap between skips doubles up to this. */
const MAX_SKIP_PERIOD = 0x1_0000;
/** Skipped packet numbers remembered for optimistic-ACK detection. */
const SKIPPED_REMEMBERED = 16;
/** The skipped numbers of every PacketNumbers before its first skip (never written). */
const NO_SKIPPED: number[] = [];

/**
 * Packet numbers of the packets we send (quic-go's `packet_number_generator`): strictly
 * increasing, with a number skipped now and then so that an ACK for it exposes a peer that
 * acknowledges packets it never received (RFC 9000 §21.4, optimistic ACK attack).
 */
export class PacketNumbers {
  private next: number;
  /** The highest packet number handed out (one below the first before any). */
  largestSent: number;
  private nextSkip: number;
  private skipPeriod = 64;
  /** The shared empty list until the first skip (idle connections stay small): see {@link allocate}. */
  private skipped: number[] = NO_SKIPPED;

  constructor(
    first: number,
    /** The connection's source of randomness (called as `config.random()`). */
    private readonly config: { random(): number },
    /** Where in the first skip period the first skip falls, in [0, 1) (a draw of `config.random()`). */
    firstDraw: number = config.random(),
  ) {
    this.next = first;
    this.largestSent = first - 1;
    this.nextSkip = first + 1 + Math.floor(firstDraw * this.skipPeriod);
    // `skipped` is replaced at the first skip: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['skipped']);
  }

  /** The number of the next packet; a skipped number takes a null slot in `history`. */
  allocate(history: SentPackets): number {
    let pn = this.next;
    if (pn === this.nextSkip) {
      if (this.skipped === NO_SKIPPED) this.skipped = [];
      this.skipped.push(pn);
      if (this.skipped.length > SKIPPED_REMEMBERED) this.skipped.shift();
      history.push(pn, null);
      pn++;
      this.skipPeriod = Math.min(this.skipPeriod * 2, MAX_SKIP_PERIOD);
      this.nextSkip = pn + 1 + Math.floor(this.config.random() * this.skipPeriod);
    }
    this.next = pn + 1;
    this.largestSent = pn;
    return pn;
  }

  /** Does [lo, hi] contain a number we skipped (and so never sent)? */
  skippedIn(lo: number, hi: number): boolean {
    const skipped = this.skipped;
    for (let i = 0; i < skipped.length; i++) {
      const s = skipped[i]!;
      if (s >= lo && s <= hi) return true;
    }
    return false;
  }
}
