/**
 * One byte budget shared by every connection of an endpoint, so that many connections cannot
 * each hold a full receive window (1,000 connections × 4 MiB). Connections report the bytes
 * their peers' data holds (`ConnectionCore.retainedBytes`) and ask before taking a packet that
 * carries data.
 *
 * Rule, with `limit` L and N connections: a packet is admitted while the total stays within
 * L/2 (first come, first served), and beyond that only for a connection that stays within its
 * fair share L/N, and never past L. So the total never exceeds L (plus the estimate error of
 * one packet per connection, and the liveness exception below), the first half goes to whoever needs it, and the second half is
 * shared fairly. A packet that is not admitted is not processed and not acknowledged: its
 * sender retransmits it later, nothing is lost.
 *
 * Liveness: a connection whose bytes are all an unfinished message (nothing its application
 * could release) would wait forever once every connection is in that state at its fair share.
 * So one such connection at a time may go past the rule, until it delivers a message (or
 * closes), while the total stays within L plus `extra` (one connection's receive window): its
 * message completes, and the total never exceeds L + one window.
 */
export class BufferBudget {
  /** Bytes all connections hold now. */
  used = 0;
  /** Connections sharing the budget. */
  connections = 0;
  /** Packets left unacknowledged because the budget was full (all connections). */
  deferred = 0;

  /** The one connection allowed past the rule so that its unfinished message completes. */
  private exempt: object | null = null;

  constructor(readonly limit: number) {}

  /**
   * `admits`' first case alone, which needs neither `stuck` nor `extra`: the total stays within
   * L/2 and `owner` is not the exempt connection (whose exemption `admits` may clear). True:
   * `admits` would say true and change nothing; false: ask `admits`.
   */
  admitsWithinHalf(bytes: number, owner: object): boolean {
    return this.exempt !== owner && this.used + bytes <= this.limit / 2;
  }

  /**
   * May connection `owner`, which holds `held` bytes, take a packet that may add `bytes`?
   * `stuck`: none of what it holds can be released by its application. `extra`: how far past
   * the limit the exempt connection may take the total.
   */
  admits(held: number, bytes: number, owner: object, stuck: boolean, extra: number): boolean {
    const after = this.used + bytes;
    if (this.exempt === owner && !stuck) this.exempt = null;
    if (after <= this.limit / 2) return true;
    if (after <= this.limit && held + bytes <= this.limit / Math.max(1, this.connections)) return true;
    if (!stuck || (this.exempt !== null && this.exempt !== owner) || after > this.limit + extra) return false;
    this.exempt = owner;
    return true;
  }

  /**
   * May one connection's receive window grow to `bytes` (window-tuner.ts)? Only within its fair
   * share, the part of the budget the rule above gives it whatever the others hold.
   */
  allowsWindow(bytes: number): boolean {
    return bytes <= this.limit / Math.max(1, this.connections);
  }

  /** `owner` delivered a message or closed: the exemption (if it had it) is free again. */
  progressed(owner: object): void {
    if (this.exempt === owner) this.exempt = null;
  }
}
